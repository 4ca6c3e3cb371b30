"""Data that travels inside the installed package: `rules` and `models`, which the repository keeps
at its top level (pyproject.toml maps them here). Read them with app.settings.bundled()."""
