"""Exactly once, end to end: two gunicorn instances (two workers each, every worker running the
scheduler) share one PostgreSQL database; 200 cases come due at the same moment, and every
escalation step is recorded once."""

import os
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
import requests
import sqlalchemy as sa

from .test_e2e import make_token, start_gunicorn

CASES = 200


@pytest.mark.skipif(not os.environ.get("TRIAGE_TEST_DATABASE_URL"), reason="needs TRIAGE_TEST_DATABASE_URL (PostgreSQL)")
def test_200_cases_due_at_once_are_rerouted_exactly_once_by_two_instances(tmp_path):
    from app.store import database

    from .conftest import fresh_postgres

    url, drop = fresh_postgres()
    database.upgrade(url)
    shared = {"TRIAGE_DATABASE_URL": url, "TRIAGE_SCHEDULER_INTERVAL": "0.5"}
    envs = [{**shared, "TRIAGE_INSTANCE_DIR": str(tmp_path / name)} for name in ("a", "b")]
    token = make_token(envs[0])
    logs = [open(tmp_path / "a.log", "w+"), open(tmp_path / "b.log", "w+")]
    servers = [start_gunicorn(env, log) for env, log in zip(envs, logs)]
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {token}"
    engine = sa.create_engine(url)
    try:
        due = datetime.now(UTC) + timedelta(seconds=20)  # the moment all 200 reroutes come due
        report = due - timedelta(minutes=15)  # premium severity 1: a reroute at 50% of 30 minutes

        def file(index: int) -> int:
            body = {
                "subject": "Production down",
                "description": "Production is down for all users, sales have stopped.",
                "customer": {"id": f"e2e-{index % 20}", "plan": "premium", "country": "DE"},
                "case_id": f"DUE-{index:03d}",
                "reported_at": report.isoformat(),
            }
            base = servers[index % 2][1]
            return http.post(f"{base}/v1/classify", json=body, timeout=30).status_code

        with ThreadPoolExecutor(4) as pool:
            assert set(pool.map(file, range(CASES))) == {200}
        assert datetime.now(UTC) < due, "filing took too long for the test to mean anything"
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM due_actions WHERE step LIKE 'premium-urgent:0'")).scalar() == CASES

        deadline = time.monotonic() + (due - datetime.now(UTC)).total_seconds() + 15
        counts = []
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                counts = conn.execute(
                    sa.text("SELECT case_id, count(*) FROM case_events WHERE type = 'rerouted' GROUP BY case_id")
                ).all()
            if len(counts) == CASES:
                break
            time.sleep(0.5)
        assert len(counts) == CASES, f"{len(counts)} of {CASES} cases rerouted in time"
        assert {n for _, n in counts} == {1}
        with engine.connect() as conn:
            first, last = conn.execute(sa.text("SELECT min(at), max(at) FROM case_events WHERE type = 'rerouted'")).one()
            left = conn.execute(sa.text("SELECT count(*) FROM due_actions WHERE step = 'premium-urgent:0'")).scalar()
        assert left == 0
        assert first >= due and (last - due).total_seconds() < 10, (first, last, due)
        print(
            f"\n200 reroutes recorded once each, {(first - due).total_seconds():.1f}-{(last - due).total_seconds():.1f} s after they came due"
        )
        case = http.get(f"{servers[0][1]}/v1/cases/DUE-007").json()
        assert [e["type"] for e in case["timeline"]] == ["decided", "rerouted"]
        assert case["timeline"][-1]["author"] == "scheduler"
    finally:
        for process, _ in servers:
            process.terminate()
            process.wait(timeout=30)
        for log in logs:
            log.close()
        engine.dispose()
        drop()
