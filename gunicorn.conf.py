# gunicorn reads this file from the checkout; the settings live in the package (app/serving.py).
from app.serving import *  # noqa: F403
