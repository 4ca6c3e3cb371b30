"""gunicorn's settings for triage, from the same settings as the service (TRIAGE_BIND, TRIAGE_WORKERS,
TRIAGE_THREADS, TRIAGE_LOG_LEVEL). `triage serve` and the repository's gunicorn.conf.py both use this module.

gthread workers: each worker process serves TRIAGE_THREADS requests at once, so a slow client (one
sending its headers a byte at a time) or a request waiting on the database holds one thread, not the
worker. Threads add no speed to the rules (the durable_rules extension never releases the GIL and is
serialised by a lock): they are there for waiting. gthread still reads a request inside a thread once
its first byte has come, so as many slow clients as threads can hold a worker: in front of the
internet, put a buffering proxy (nginx) before gunicorn."""

from app import settings

_settings = settings.load()
bind = _settings["BIND"]
workers = _settings["WORKERS"]
worker_class = "gthread"
threads = max(1, _settings["THREADS"])
# Each worker builds its own rule engine and language detector after the fork.
preload_app = False
# gthread: a worker whose main loop stops answering for this long is restarted (a request thread that
# waits does not stop the loop); every wait on the database is bounded by TRIAGE_DATABASE_TIMEOUT.
timeout = 30
# An idle keep-alive connection is parked in the worker's poller, not in a thread, and closed after this.
keepalive = 5
accesslog = "-"
errorlog = "-"
loglevel = _settings["LOG_LEVEL"].lower()
