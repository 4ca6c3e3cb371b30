"""triage: severity triage for technical-support cases. `create_app` is the application factory."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask


def create_app(overrides: dict | None = None) -> Flask:
    """The application factory: settings, the live rules and language detector, the views. Its imports
    are here, so that `import app` (the CLI) costs nothing."""
    import logging
    from pathlib import Path

    from flask import Flask

    from app import settings
    from app.service import Triage
    from app.web import access, edge, errors, openapi
    from app.web.blueprints import BLUEPRINTS

    app = Flask(__name__)
    edge.init_app(app)  # the request class and the strict JSON provider
    app.json.sort_keys = False  # type: ignore[attr-defined]  # answer in the schema's order
    app.config.update(openapi.settings())
    app.config.update(settings.load(overrides))
    logger = logging.getLogger("triage")
    logger.setLevel(str(app.config["LOG_LEVEL"]).upper())
    if not logger.handlers:  # publishes, refusals, reloads and model loads: one line each, on stderr (gunicorn's log)
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s [%(process)d] [%(levelname)s] %(name)s: %(message)s"))
        logger.addHandler(handler)
    Path(app.config["INSTANCE_DIR"]).mkdir(parents=True, exist_ok=True)
    app.extensions["triage"] = Triage.from_settings(app.config)
    rest = openapi.TriageApi(app, spec_kwargs={"security": [{"bearerAuth": []}]})
    rest.spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer"})
    for blueprint in BLUEPRINTS:
        rest.register_blueprint(blueprint)
    openapi.complete(rest)
    app.before_request(edge.limit)  # a body over its limit: 413 before anything else
    app.before_request(access.authenticate)
    app.before_request(edge.path_values)
    app.before_request(edge.parse)  # every JSON body parsed strictly, for every endpoint
    errors.init_app(app)
    return app
