"""triage: severity triage for technical-support cases."""
import logging
from pathlib import Path

from flask import Flask
from flask_smorest import Api

from . import api, config, errors
from .service import Triage


def create_app(overrides: dict | None = None) -> Flask:
    """The application factory: settings, the live rules and language detector, the views."""
    app = Flask(__name__)
    app.json.sort_keys = False  # answer in the schema's order: decision_id, then severity, ...
    config.load(app, overrides)
    logging.getLogger("triage").setLevel(str(app.config["LOG_LEVEL"]).upper())
    Path(app.config["INSTANCE_DIR"]).mkdir(parents=True, exist_ok=True)
    Triage.from_config(app.config).init_app(app)
    rest = Api(app, spec_kwargs={"security": [{"bearerAuth": []}]})
    rest.spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer"})
    for blueprint in (api.cases, api.decisions, api.ops, api.rules, api.admin, api.health):
        rest.register_blueprint(blueprint)
    app.before_request(api.authenticate)
    errors.init_app(app)
    return app
