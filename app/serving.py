"""gunicorn's settings for triage, from the same settings as the service (TRIAGE_BIND, TRIAGE_WORKERS,
TRIAGE_LOG_LEVEL). `triage serve` and the repository's gunicorn.conf.py both use this module."""

from app import settings

_settings = settings.load()
bind = _settings["BIND"]
workers = _settings["WORKERS"]
# The durable_rules extension never releases the GIL, so threads add nothing: sync workers.
worker_class = "sync"
# Each worker builds its own rule engine and language detector after the fork.
preload_app = False
timeout = 30
accesslog = "-"
errorlog = "-"
loglevel = _settings["LOG_LEVEL"].lower()
