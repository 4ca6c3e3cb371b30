# gunicorn settings for triage; TRIAGE_BIND and TRIAGE_WORKERS override the defaults.
import os

bind = os.environ.get("TRIAGE_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("TRIAGE_WORKERS", "2"))
# The durable_rules extension never releases the GIL, so threads add nothing: sync workers.
worker_class = "sync"
# Each worker builds its own rule engine and language detector after the fork.
preload_app = False
timeout = 30
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("TRIAGE_LOG_LEVEL", "info").lower()
