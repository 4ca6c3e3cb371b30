from app.offload import main

main()
