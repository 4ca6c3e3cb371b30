"""Settings, read one way for the service, the CLI and gunicorn: the defaults below, then a JSON file
named by TRIAGE_SETTINGS, then TRIAGE_* environment variables, then the caller's overrides.

A variable's value is read as JSON when it parses (`TRIAGE_WORKERS=4`, `TRIAGE_RECORD_DECISIONS=false`)
and as text otherwise, then converted to the default's type, so a wrong value fails at start with the
setting named."""

import json
import os
from collections.abc import Mapping
from importlib.resources import files
from pathlib import Path
from typing import Any

from app.rulelang.domain import MAX_RULE_DOCUMENT

PREFIX = "TRIAGE_"


def bundled(name: str) -> Path:
    """A folder that travels inside the installed package: `rules` or `models`."""
    return Path(str(files("app.bundled"))) / name


DEFAULTS: dict[str, Any] = {
    "RULES_DIR": "",  # empty: the bundled rules
    "INSTANCE_DIR": "instance",  # relative to the working directory
    "MODELS_DIR": "",  # empty: <instance>/models; new models, ACTIVE and SHADOW (the bundled registry is searched too)
    "MODEL_KEY": "",  # the key models are signed with (HMAC-SHA256); empty: <instance>/model.key, made once
    "MODEL_CHECK_INTERVAL": 2.0,  # seconds between looks at the registry's ACTIVE
    "RULES_SOURCE": "files",  # files: edit the rules folder; database: publish versions through the API
    "RULES_CHECK_INTERVAL": 2.0,  # seconds between looks at the rules' source
    "LANGUAGES": "all",  # the detector's languages: all (see app/severity/language.py) or ISO 639-1 codes, a,b,c
    "DEFAULT_LANGUAGE": "en",
    "MAX_CONTENT_LENGTH": 64 * 1024,  # bytes of a request body
    "MAX_RULES_CONTENT_LENGTH": MAX_RULE_DOCUMENT,  # bytes of a request body to /v1/rules/*
    "LOG_LEVEL": "INFO",
    "DATABASE_URL": "",  # empty: a SQLite file in the instance folder, migrated on start
    "DATABASE_TIMEOUT": 5.0,  # seconds to connect, wait for a lock or run a statement; a write past it goes to the spool
    "RECORD_DECISIONS": True,
    "SPOOL_FLUSH_INTERVAL": 5.0,  # seconds between attempts to write spooled decisions
    "TOKEN_REFRESH_INTERVAL": 5.0,  # seconds a process trusts its copy of the tokens
    "SCHEDULER_INTERVAL": 2.0,  # seconds between the scheduler's passes over due escalation steps; 0: off
    "BACKTEST_BUDGET": 20.0,  # seconds a backtest may replay stored cases before it reports what it has
    "BIND": "127.0.0.1:8000",  # gunicorn's address
    "WORKERS": 2,  # gunicorn worker processes
    "EXPORTS": 2,  # exports one worker process streams at once; more wait (503, Retry-After): its other threads serve intake
    "EXPORT_ROWS_PER_SECOND": 60000,  # rows/s one worker's exports read together (0: unpaced): the CPU intake keeps
    "THREADS": 8,  # threads per worker (gthread): requests that wait on a slow client or the database
}


def languages(values: dict) -> list[str]:
    """The detector's languages of resolved settings: ["all"] or ISO 639-1 codes."""
    return [code.strip() for code in str(values["LANGUAGES"]).split(",") if code.strip()]


class SettingsError(ValueError):
    """A setting whose value cannot be used; the message names it."""


def load(overrides: dict | None = None, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Every setting, resolved (folders and the database URL filled in)."""
    if environ is None:
        environ = os.environ
    values = dict(DEFAULTS)
    if environ.get("TRIAGE_SETTINGS"):
        path = Path(environ["TRIAGE_SETTINGS"])
        try:
            values.update(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            raise SettingsError(f"TRIAGE_SETTINGS {path}: {exc}") from exc
    for key, raw in environ.items():
        if key.startswith(PREFIX) and key != "TRIAGE_SETTINGS":
            try:
                values[key[len(PREFIX) :]] = json.loads(raw)
            except ValueError:
                values[key[len(PREFIX) :]] = raw
    values.update(overrides or {})
    for key, default in DEFAULTS.items():
        values[key] = _typed(key, values[key], default)
    values["RULES_DIR"] = values["RULES_DIR"] or str(bundled("rules"))
    values["INSTANCE_DIR"] = str(Path(values["INSTANCE_DIR"]).absolute())
    values["MODELS_DIR"] = values["MODELS_DIR"] or str(Path(values["INSTANCE_DIR"]) / "models")
    values["DATABASE_URL"] = values["DATABASE_URL"] or f"sqlite:///{Path(values['INSTANCE_DIR']) / 'triage.db'}"
    values["EMBEDDED_DATABASE"] = values["DATABASE_URL"] == f"sqlite:///{Path(values['INSTANCE_DIR']) / 'triage.db'}"
    return values


def _typed(key: str, value: Any, default: Any) -> Any:
    kind = type(default)
    if kind is bool:
        if isinstance(value, bool):
            return value
        if str(value).lower() in ("true", "1", "yes", "on", "false", "0", "no", "off"):
            return str(value).lower() in ("true", "1", "yes", "on")
    elif kind in (int, float):
        try:
            number = kind(value)
        except (TypeError, ValueError):
            pass
        else:
            if number >= 0 and not isinstance(value, bool):
                return number
    else:
        return str(value)
    raise SettingsError(f"{PREFIX}{key} is {value!r}; expected {kind.__name__}")
