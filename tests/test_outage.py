"""Nothing lost: the database goes away under load; every case is answered, and after recovery
every decision is stored exactly once (real gunicorn, real SQLite or PostgreSQL)."""

import sqlite3
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
import sqlalchemy as sa

from .conftest import DATABASES, case, fresh_postgres
from .test_e2e import make_token, start_gunicorn

CASES = 120


class Outage:
    """Makes the database unavailable for writes, and brings it back."""

    def __init__(self, kind, url, instance):
        self.kind, self.url, self.instance = kind, url, instance

    def begin(self):
        if self.kind == "sqlite":
            # as root, permissions cannot make the file unwritable; an exclusive lock held by another
            # connection refuses every write just the same ("database is locked")
            self.lock = sqlite3.connect(self.instance / "triage.db", timeout=10, isolation_level=None)
            self.lock.execute("BEGIN EXCLUSIVE")
        else:
            name = sa.make_url(self.url).database
            with self._admin() as conn:
                conn.execute(sa.text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
                conn.execute(sa.text(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"))

    def end(self):
        if self.kind == "sqlite":
            self.lock.execute("ROLLBACK")
            self.lock.close()
        else:
            with self._admin() as conn:
                conn.execute(sa.text(f'ALTER DATABASE "{sa.make_url(self.url).database}" ALLOW_CONNECTIONS true'))

    def _admin(self):
        from .conftest import POSTGRES

        return sa.create_engine(POSTGRES, isolation_level="AUTOCOMMIT").connect()


@pytest.mark.parametrize("kind", DATABASES)
def test_database_outage_under_load_loses_nothing(kind, tmp_path):
    instance = tmp_path / "instance"
    url, drop = ("", None) if kind == "sqlite" else fresh_postgres()
    env = {
        "TRIAGE_INSTANCE_DIR": str(instance),
        "TRIAGE_DATABASE_URL": url,
        "TRIAGE_DATABASE_TIMEOUT": "0.5",
        "TRIAGE_SPOOL_FLUSH_INTERVAL": "1",
        "TRIAGE_LOG_LEVEL": "warning",
    }
    if url:
        from app.store import database as store

        store.upgrade(url)
    token, ops_token = make_token(env, "intake"), make_token(env, "ops")
    log = open(tmp_path / "gunicorn.log", "w+")
    process, base = start_gunicorn(env, log)
    outage = Outage(kind, url, instance)
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    ops = {"Authorization": f"Bearer {ops_token}"}  # /readyz details (the spool) are for ops
    ids, statuses, spooled_seen = [], [], []
    run = uuid.uuid4().hex[:8]

    def send(index):
        body = case(
            "Report slow",
            "The monthly report is slow.",
            case_id=f"{run}-{index}",
            customer={"id": f"outage-{run}", "plan": "premium", "country": "DE"},
        )
        reply = session.post(f"{base}/v1/classify", json=body, timeout=30)
        statuses.append(reply.status_code)
        if reply.status_code == 200:
            ids.append(reply.json()["decision_id"])

    def watch():  # the spool's folder itself, often: an outage that is flushed within a second is still seen
        from app.store.spool import Spool

        spool = Spool(instance / "spool")
        while len(statuses) < CASES:
            spooled_seen.append(spool.depth())
            time.sleep(0.02)

    try:
        watcher = threading.Thread(target=watch)
        watcher.start()
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(send, range(CASES // 4)))
            outage.begin()
            try:
                list(pool.map(send, range(CASES // 4, CASES * 3 // 4)))
            finally:
                outage.end()
            list(pool.map(send, range(CASES * 3 // 4, CASES)))
        watcher.join()
        assert statuses.count(200) == CASES, statuses  # every case answered, outage or not
        assert max(spooled_seen) > 0, "the outage never reached the spool: the test proved nothing"

        deadline = time.monotonic() + 60
        while requests.get(f"{base}/readyz", timeout=10, headers=ops).json()["spool_depth"] and time.monotonic() < deadline:
            time.sleep(0.5)
        engine = sa.create_engine(url or f"sqlite:///{instance / 'triage.db'}")
        with engine.connect() as conn:
            stored = [
                row[0]
                for row in conn.execute(
                    sa.text("SELECT decision_id FROM decisions WHERE customer_id = :c"), {"c": f"outage-{run}"}
                )
            ]
        engine.dispose()
        assert sorted(stored) == sorted(ids) and len(set(ids)) == CASES  # every one, exactly once
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()
        if drop:
            drop()
