"""Benchmark of the case lifecycle: prints numbers, asserts nothing.

1. classify with case tracking (the decision, its case, the timeline and the due moments in one
   transaction) against the stored path before cases had a life (classify, then insert the decision);
   in-process, on the embedded SQLite and on PostgreSQL when TRIAGE_BENCH_DATABASE_URL is set;
2. one scheduler pass over N open cases (default 10,000; `python bench/lifecycle.py 2000` for a
   quick run): with nothing due, and acting on 100 steps that came due (PostgreSQL when set).
"""

import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import os  # noqa: E402

from app import create_app  # noqa: E402
from app.decide.contract import CaseSchema, DecisionSchema  # noqa: E402
from bench import sample_bodies, timed  # noqa: E402  (bench/bench.py, beside this file)


def _app(database_url: str):
    if database_url:
        from app.store import database

        database.upgrade(database_url)
    return create_app(
        {"INSTANCE_DIR": tempfile.mkdtemp(prefix="triage-bench-"), "DATABASE_URL": database_url, "SCHEDULER_INTERVAL": 0}
    )


def tracking(database_url: str) -> None:
    app = _app(database_url)
    triage = app.extensions["triage"]
    load, dump = CaseSchema().load, DecisionSchema().dump
    bodies = sample_bodies()

    def before(body):  # the stored path before this change: classify, dump, insert the decision
        now = datetime.now(UTC)
        case = load(body)
        decision = triage.classify(case, now)
        record = {
            "decision_id": decision.decision_id, "decided_at": now, "reported_at": case.reported_at,
            "customer_id": case.customer.id, "plan": case.customer.plan, "severity": decision.severity.level,
            "source": decision.severity.source, "pool": decision.routing.pool.id, "rules_version": decision.versions["rules"],
            "model_version": None, "request": body, "answer": dump(decision),
        }  # fmt: skip
        triage.store.save([record])

    def after(body):  # today: a case per request (new case ids), tracked
        triage.classify_and_record(load(body), {**body, "case_id": uuid.uuid4().hex}, datetime.now(UTC))

    again = iter(range(10**9))

    def resubmitted(body):  # a case classified a second time (the customer edited it)
        case_id = f"bench-again-{next(again)}"
        triage.classify_and_record(load({**body, "case_id": case_id}), body, datetime.now(UTC))
        triage.classify_and_record(load({**body, "case_id": case_id}), body, datetime.now(UTC))

    for body in bodies[:20]:  # warm-up
        before(body)
        after(body)
    results = {}
    for _ in range(3):  # interleaved rounds, so a drift of the machine hits both sides alike
        for name, fn in (
            ("stored path before cases", before),
            ("with case tracking", after),
            ("new case, then again", resubmitted),
        ):
            results.setdefault(name, []).append(timed(fn, bodies, 4))
    where = database_url.split(":")[0] if database_url else "sqlite (embedded)"
    print(f"classify + store in-process ({where}), {len(bodies)} cases x 4 x 3 rounds:")
    means = {}
    for name, rounds in results.items():
        means[name] = statistics.median(r["mean_us"] for r in rounds)
        p99 = statistics.median(r["p99_us"] for r in rounds)
        print(f"  {name:26s} mean {means[name]:8.1f} us  p99 {p99:8.1f} us")
    print(f"  case tracking / before (mean) = {means['with case tracking'] / means['stored path before cases']:.2f}")
    triage.stop()


def scheduler(database_url: str, cases: int) -> None:
    app = _app(database_url)
    triage = app.extensions["triage"]
    casebook = triage.casebook
    body = sample_bodies()[0]
    decision = triage.classify(CaseSchema().load(body), datetime.now(UTC))
    answer = DecisionSchema().dump(decision)
    start = datetime.now(UTC)
    run = uuid.uuid4().hex[:6]
    loaded = time.perf_counter()
    for index in range(cases):  # open premium cases whose first step comes due over the next days
        reported = start + timedelta(seconds=30 * index)
        casebook.record_decision(
            {
                "decision_id": str(uuid.uuid4()),
                "decided_at": reported,
                "reported_at": reported,
                "customer_id": f"bench-{index % 500}",
                "plan": "premium",
                "severity": 1,
                "source": "rules",
                "pool": decision.routing.pool.id,
                "tier": "L1",
                "rules_version": decision.versions["rules"],
                "model_version": None,
                "request": body,
                "answer": answer,
                "case_id": f"bench-{run}-{index:06d}",
            },  # fmt: skip
            reported,
        )
    loaded = time.perf_counter() - loaded
    print(
        f"scheduler ({database_url.split(':')[0] if database_url else 'sqlite (embedded)'}): {cases} open cases loaded in {loaded:.1f} s"
    )
    passes = []
    for _ in range(5):
        began = time.perf_counter()
        done = casebook.tick(start)
        passes.append(time.perf_counter() - began)
    print(f"  a pass with nothing due: {statistics.median(passes) * 1000:.1f} ms (median of 5; {done} steps)")
    due_at = start + timedelta(minutes=15, seconds=30 * 99)  # the first 100 cases' reroutes
    began = time.perf_counter()
    done = casebook.tick(due_at)
    took = time.perf_counter() - began
    print(f"  a pass acting on {done} due steps: {took * 1000:.0f} ms ({took / max(done, 1) * 1000:.1f} ms a step)")
    triage.stop()


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    url = os.environ.get("TRIAGE_BENCH_DATABASE_URL", "")
    tracking("")
    if url:
        tracking(url)
    scheduler(url, count)
