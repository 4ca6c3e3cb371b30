"""Settings: defaults, then a JSON file named by TRIAGE_SETTINGS, then TRIAGE_* variables, then overrides."""
import os
from pathlib import Path

from flask import Flask

ROOT = Path(__file__).resolve().parent.parent

DEFAULTS = {
    "RULES_DIR": str(ROOT / "rules"),
    "INSTANCE_DIR": str(Path.cwd() / "instance"),
    "MODELS_DIR": str(ROOT / "models"),  # the model registry; ACTIVE names the served version
    "MODEL_CHECK_INTERVAL": 2.0,  # seconds between looks at models/ACTIVE
    "RULES_SOURCE": "files",  # files: edit rules/ on disk; database: publish versions through the API
    "RULES_CHECK_INTERVAL": 2.0,  # seconds between looks at the rules' source
    "LANGUAGES": "en,de,ru,cs,id,pl,da",
    "DEFAULT_LANGUAGE": "en",
    "MAX_CONTENT_LENGTH": 64 * 1024,
    "LOG_LEVEL": "INFO",
    "DATABASE_URL": "",  # empty: a SQLite file in the instance folder, migrated on start
    "DATABASE_TIMEOUT": 5.0,  # seconds a write may wait for the database before the spool takes it
    "RECORD_DECISIONS": True,
    "SPOOL_FLUSH_INTERVAL": 5.0,  # seconds between attempts to write spooled decisions
    "TOKEN_REFRESH_INTERVAL": 5.0,  # seconds a process trusts its copy of the tokens
    # flask-smorest
    "API_TITLE": "triage",
    "API_VERSION": "1",
    "OPENAPI_VERSION": "3.0.3",
    "OPENAPI_URL_PREFIX": "/",
    "OPENAPI_JSON_PATH": "openapi.json",
}


def load(app: Flask, overrides: dict | None) -> None:
    app.config.update(DEFAULTS)
    settings_file = os.environ.get("TRIAGE_SETTINGS")
    if settings_file:
        import json

        app.config.from_file(settings_file, load=json.load)
    app.config.from_prefixed_env("TRIAGE")
    app.config.update(overrides or {})
