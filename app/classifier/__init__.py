"""The classifier: training, evaluation and one-case serving of the text model, its n-gram finders
and precedents, the model registry and the project's sample tickets. May import app.rulelang only."""
