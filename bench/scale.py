"""Scale benchmark of the store: prints numbers, asserts nothing.

    TRIAGE_BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/triage_scale \
        .venv/bin/python bench/scale.py [N] [--reuse] [--json FILE]

Loads N decisions (default 1,000,000; one in 50 corrected by an engineer) and N/10 cases with their
events and due moments into the PostgreSQL database named by TRIAGE_BENCH_DATABASE_URL (dropped and
created again unless --reuse), then prints, for the empty and the loaded store: p50/p95 of every list filter of GET /v1/decisions
and of the GET /v1/cases queue views, lookup by id, export rows/s and the process's RSS growth over a
full export, classify latency alone and while two full exports run (and while an SLA report of this
quarter, or a backtest of 20,000 decisions, runs over and over), and bytes per stored decision.

Loading: a few hundred decisions and cases go through the real path (classify_and_record, then
engineers' events through record_event); the rest are copies of those real rows made by the database
(INSERT ... SELECT), each with its own UUIDv7 id and instants spread over the past year, the time
columns shifted together. --reuse keeps a loaded database and only migrates it to the newest schema
(the migration's time is printed): the way to measure the same rows before and after a change.

Everything runs in this process through Flask's test client, the way one gthread worker serves
several requests at once: the exports and the classifications share one interpreter.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from app import create_app  # noqa: E402
from app.decide.contract import CaseSchema  # noqa: E402
from app.store import database  # noqa: E402
from app.store.cases import new_event_id  # noqa: E402
from bench import sample_bodies  # noqa: E402  (bench/bench.py, beside this file)

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/triage_scale"
TEMPLATES = 300  # decisions (each on its own case) through the real path
CUSTOMERS = 500
YEAR = timedelta(days=365)


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]


def recreate(url: str) -> None:
    name = sa.make_url(url).database
    admin = sa.create_engine(sa.make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()


def make_app(url: str):
    return create_app(
        {
            "INSTANCE_DIR": tempfile.mkdtemp(prefix="triage-scale-"),
            "DATABASE_URL": url,
            "SCHEDULER_INTERVAL": 0,
            "SPOOL_FLUSH_INTERVAL": 3600,
        }
    )


# -- loading ------------------------------------------------------------------------------------


def real_rows(triage) -> None:
    """TEMPLATES decisions on their own cases through the real path; most cases then acknowledged and
    resolved, some only acknowledged, a few left open, by engineers' events."""
    load = CaseSchema().load
    bodies = sample_bodies()
    plans = ("basic", "advanced", "premium")
    for i in range(TEMPLATES):
        body = dict(bodies[i % len(bodies)])
        body["customer"] = {**body["customer"], "id": f"tmpl-{i % 7}", "plan": plans[i % 3]}
        body["declared_severity"] = 1 + i % 4
        body["case_id"] = f"tmpl-{i}"
        triage.classify_and_record(load(body), body, datetime.now(UTC))
    later = datetime.now(UTC) + timedelta(seconds=1)
    for i in range(TEMPLATES):
        kinds = ("acknowledged", "resolved") if i % 20 >= 2 else ("acknowledged",) if i % 20 == 1 else ()
        for step, kind in enumerate(kinds):
            event = {
                "event_id": new_event_id(),
                "type": kind,
                "at": later + timedelta(seconds=step),
                "author": "bench",
                "author_id": None,
                "engineer": None,
                "data": {},
            }
            triage.record_event(f"tmpl-{i}", event, later + timedelta(seconds=step))


UUID7 = """(lpad(to_hex({ms}), 12, '0') || '7' || substr({r}, 1, 3) || '8' || substr({r}, 4, 15))"""


def uuid7_sql(ms: str, r: str) -> str:
    h = UUID7.format(ms=ms, r=r)
    return f"(substr({h},1,8)||'-'||substr({h},9,4)||'-'||substr({h},13,4)||'-'||substr({h},17,4)||'-'||substr({h},21,12))"


def copies(engine: sa.Engine, n: int) -> None:
    """N - TEMPLATES copies of the real decisions and N/10 - TEMPLATES copies of the real cases, made
    by the database; every column the table has is copied (the schema of any revision), the known
    ones given new values."""
    now = datetime.now(UTC)
    start = now - YEAR
    with engine.begin() as conn:
        columns = lambda table: [  # noqa: E731
            row[0]
            for row in conn.execute(
                sa.text("SELECT column_name FROM information_schema.columns WHERE table_name = :t ORDER BY ordinal_position"),
                {"t": table},
            )
        ]
        conn.execute(
            sa.text("CREATE TEMP TABLE tmpl_d AS SELECT row_number() OVER (ORDER BY decision_id) - 1 AS k, * FROM decisions")
        )
        conn.execute(sa.text("CREATE TEMP TABLE tmpl_c AS SELECT row_number() OVER (ORDER BY case_id) - 1 AS k, * FROM cases"))
        conn.execute(
            sa.text(
                "CREATE TEMP TABLE tmpl_resolved AS SELECT row_number() OVER () - 1 AS k, case_id FROM cases WHERE state = 'resolved'"
            )
        )
        t_d = conn.execute(sa.text("SELECT count(*) FROM tmpl_d")).scalar_one()
        t_c = conn.execute(sa.text("SELECT count(*) FROM tmpl_c")).scalar_one()
        t_r = conn.execute(sa.text("SELECT count(*) FROM tmpl_resolved")).scalar_one()
        n_cases = max(n // 10, t_c) - t_c
        span_ms = int(YEAR.total_seconds() * 1000)
        start_ms = int(start.timestamp() * 1000)

        # cases: copies of resolved templates, except the newest 1% which copy any template
        case_columns = columns("cases")
        given = {
            "case_id": "'case-' || g",
            "customer_id": f"'cust-' || (g % {CUSTOMERS})",
            "reported_at": "t.reported_at + s.shift",
            "due_at": "t.due_at + s.shift",
            "risk_at": "t.risk_at + s.shift",
            "acknowledged_at": "t.acknowledged_at + s.shift",
            "updated_at": "t.updated_at + s.shift",
        }
        select = ", ".join(given.get(c, f"t.{c}") for c in case_columns)
        conn.execute(
            sa.text(
                f"""
            INSERT INTO cases ({", ".join(case_columns)})
            SELECT {select}
            FROM generate_series(0, {n_cases - 1}) g
            CROSS JOIN LATERAL (SELECT CASE WHEN g >= {n_cases} * 0.99 THEN (SELECT case_id FROM tmpl_c WHERE k = g % {t_c})
                                            ELSE (SELECT case_id FROM tmpl_resolved WHERE k = g % {t_r}) END AS template) pick
            JOIN tmpl_c t ON t.case_id = pick.template
            CROSS JOIN LATERAL (SELECT (timestamptz 'epoch' + ({start_ms} + ({span_ms}::bigint * g) / {max(n_cases, 1)}) * interval '1 millisecond')
                                       - t.reported_at AS shift) s
            """
            )
        )
        conn.execute(
            sa.text(
                f"""CREATE TEMP TABLE case_map AS
            SELECT 'case-' || g AS new_id, pick.template, c.reported_at - t.reported_at AS shift, g
            FROM generate_series(0, {n_cases - 1}) g
            CROSS JOIN LATERAL (SELECT CASE WHEN g >= {n_cases} * 0.99 THEN (SELECT case_id FROM tmpl_c WHERE k = g % {t_c})
                                            ELSE (SELECT case_id FROM tmpl_resolved WHERE k = g % {t_r}) END AS template) pick
            JOIN tmpl_c t ON t.case_id = pick.template
            JOIN cases c ON c.case_id = 'case-' || g"""
            )
        )
        event_columns = [c for c in columns("case_events") if c != "id"]
        given = {
            "event_id": "md5(random()::text || m.g || e.id)::uuid::text",
            "case_id": "m.new_id",
            "at": "e.at + m.shift",
            "recorded_at": "e.recorded_at + m.shift",
            "step_key": "CASE WHEN e.step_key IS NULL THEN NULL ELSE replace(e.step_key, m.template, m.new_id) END",
        }
        select = ", ".join(given.get(c, f"e.{c}") for c in event_columns)
        conn.execute(
            sa.text(
                f"INSERT INTO case_events ({', '.join(event_columns)}) SELECT {select} "
                "FROM case_map m JOIN case_events e ON e.case_id = m.template ORDER BY m.g, e.id"
            )
        )
        due_columns = [c for c in columns("due_actions") if c != "id"]
        given = {"case_id": "m.new_id", "due_at": "a.due_at + m.shift"}
        select = ", ".join(given.get(c, f"a.{c}") for c in due_columns)
        conn.execute(
            sa.text(
                f"INSERT INTO due_actions ({', '.join(due_columns)}) SELECT {select} "
                "FROM case_map m JOIN due_actions a ON a.case_id = m.template"
            )
        )

        # decisions: g-th copy made at an instant spread over the year, on case g / 10
        n_decisions = max(n, t_d) - t_d
        decision_columns = columns("decisions")
        ms = f"({start_ms} + ({span_ms}::bigint * g) / {max(n_decisions, 1)})"
        at = f"(timestamptz 'epoch' + {ms} * interval '1 millisecond')"
        given = {
            "decision_id": uuid7_sql(ms, "md5(random()::text || g)"),
            "decided_at": at,
            "reported_at": f"{at} - (t.decided_at - t.reported_at)",
            "stored_at": at,
            "customer_id": f"'cust-' || ((g / 10) % {CUSTOMERS})",
            "case_id": f"'case-' || least(g / 10, {max(n_cases - 1, 0)})",
        }
        select = ", ".join(given.get(c, f"t.{c}") for c in decision_columns)
        batch = 100_000
        for first in range(0, n_decisions, batch):
            last = min(n_decisions, first + batch) - 1
            conn.execute(
                sa.text(
                    f"INSERT INTO decisions ({', '.join(decision_columns)}) SELECT {select} "
                    f"FROM generate_series({first}, {last}) g JOIN tmpl_d t ON t.k = g % {t_d}"
                )
            )
            print(f"  decisions {last + 1:,}/{n_decisions:,}", file=sys.stderr, flush=True)
        conn.execute(sa.text("DROP TABLE tmpl_d, tmpl_c, tmpl_resolved, case_map"))


# -- measuring ----------------------------------------------------------------------------------


CORRECTED = 50  # one decision in CORRECTED has an engineer's correction


def corrections(engine: sa.Engine) -> None:
    """Engineers' corrections of one decision in CORRECTED (another level), an hour after it: the
    exports and lists read the latest one of each decision."""
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                f"""INSERT INTO feedback (decision_id, severity, pool, comment, "by", created_at)
                SELECT decision_id, 1 + severity % 4, NULL, 'bench correction', 'bench', decided_at + interval '1 hour'
                FROM decisions WHERE abs(hashtext(decision_id)) % {CORRECTED} = 0"""
            )
        )


def lists(client, engine: sa.Engine, now: datetime) -> dict[str, str]:
    """Every list filter of /v1/decisions and every queue view of /v1/cases, as URLs."""
    with engine.connect() as conn:
        pools = conn.execute(sa.text("SELECT pool, count(*) FROM decisions GROUP BY pool ORDER BY 2 DESC")).all()
        case_pools = conn.execute(sa.text("SELECT pool, count(*) FROM cases GROUP BY pool ORDER BY 2 DESC")).all()
        middle = conn.execute(
            sa.text("SELECT decision_id FROM decisions WHERE decided_at <= :at ORDER BY decision_id DESC LIMIT 1"),
            {"at": now - YEAR / 2},
        ).scalar()
    big = pools[0][0] if pools else "de-l1"
    rare = pools[-1][0] if pools else "cz-l1"
    case_pool = case_pools[0][0] if case_pools else "de-l1"

    def month(ago_days: int) -> str:
        since = (now - timedelta(days=ago_days)).isoformat()
        until = (now - timedelta(days=ago_days - 30)).isoformat()
        return f"since={since}&until={until}".replace("+", "%2B")

    day = f"since={(now - timedelta(days=1)).isoformat()}".replace("+", "%2B")
    urls = {
        "decisions (no filter)": "/v1/decisions",
        "decisions page in the middle": f"/v1/decisions?cursor={middle}" if middle else "/v1/decisions",
        "decisions customer": "/v1/decisions?customer=cust-7",
        "decisions pool (largest)": f"/v1/decisions?pool={big}",
        "decisions pool (fewest rows)": f"/v1/decisions?pool={rare}",
        "decisions pool (no rows)": "/v1/decisions?pool=zz-l1",
        "decisions severity=1": "/v1/decisions?severity=1",
        "decisions severity=1&pool=cz-l1": "/v1/decisions?severity=1&pool=cz-l1",
        "decisions source=rules": "/v1/decisions?source=rules",
        "decisions source=classifier": "/v1/decisions?source=classifier",
        "decisions since 1 day": f"/v1/decisions?{day}",
        "decisions month 6 months ago": f"/v1/decisions?{month(180)}",
        "decisions month 11 months ago": f"/v1/decisions?{month(335)}",
        "decisions customer + month 6 ago": f"/v1/decisions?customer=cust-7&{month(180)}",
        "decisions pool + month 11 ago": f"/v1/decisions?pool={rare}&{month(335)}",
        "cases (no filter)": "/v1/cases",
        "cases state=open": "/v1/cases?state=open",
        "cases state=acknowledged": "/v1/cases?state=acknowledged",
        "cases state=resolved": "/v1/cases?state=resolved",
        "cases pool (largest)": f"/v1/cases?pool={case_pool}",
        "cases state=open&pool": f"/v1/cases?state=open&pool={case_pool}",
        "cases customer": "/v1/cases?customer=cust-7",
        "cases plan=basic": "/v1/cases?plan=basic",
        "cases severity=1": "/v1/cases?severity=1",
        "cases tier=EE": "/v1/cases?tier=EE",
        "cases at_risk=true": "/v1/cases?at_risk=true",
        "cases at_risk=false": "/v1/cases?at_risk=false",
        "cases breached=true": "/v1/cases?breached=true",
        "cases breached=false": "/v1/cases?breached=false",
        "cases month 6 months ago": f"/v1/cases?{month(180)}",
        "cases customer + month 6 ago": f"/v1/cases?customer=cust-7&{month(180)}",
    }
    return urls


def timings(client, url: str, rounds: int) -> tuple[float, float]:
    for _ in range(2):
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code, response.get_data(as_text=True)[:300])
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        response = client.get(url)
        samples.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    return percentiles(samples)


def export(client, query: str = "", cut: threading.Event | None = None) -> dict:
    """One export, its body read chunk by chunk: rows/s, time to the first byte, the RSS growth
    (`cut`: stop reading when it is set, as a client that goes away)."""
    peak, stop = [rss_mb()], threading.Event()
    base = peak[0]

    def sample():
        while not stop.wait(0.02):
            peak.append(rss_mb())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    start = time.perf_counter()
    response = client.get(f"/v1/exports/decisions?format=csv{query}", buffered=False)
    lines, first, size = 0, None, 0
    for chunk in response.response:
        if cut is not None and cut.is_set():
            break
        if first is None:
            first = time.perf_counter() - start
        data = chunk if isinstance(chunk, bytes) else chunk.encode()
        lines += data.count(b"\n")
        size += len(data)
    response.close()
    elapsed = time.perf_counter() - start
    stop.set()
    sampler.join()
    rows = max(lines - 1, 0)  # the header; a row whose text holds a newline counts twice (rare)
    return {
        "status": response.status_code,
        "rows": rows,
        "seconds": elapsed,
        "rows_per_s": rows / elapsed if elapsed else 0,
        "first_byte_ms": (first or elapsed) * 1000,
        "rss_growth_mb": max(peak) - base,
        "mb": size / 2**20,
    }


def classify_latency(client, bodies: list[dict], rounds: int) -> tuple[float, float, int]:
    samples, errors = [], 0
    for i in range(rounds):
        body = {**bodies[i % len(bodies)], "case_id": f"bench-{uuid.uuid4().hex[:12]}"}
        start = time.perf_counter()
        response = client.post("/v1/classify", json=body)
        samples.append((time.perf_counter() - start) * 1000)
        errors += response.status_code >= 500
    return (*percentiles(samples), errors)


def during(app, token: str, bodies: list[dict], rounds: int, load, readers: int, repeats: int) -> dict:
    """Classify latency alone and while `readers` threads call `load(client, done)` over and over
    (each call one long read, giving its status), measured `repeats` times in turn (the machine's
    other load comes and goes): the median of each round's p50 and p95."""
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    alone, busy, errors, statuses = [], [], 0, set()
    for _ in range(repeats):
        p50, p95, failed = classify_latency(client, bodies, rounds)
        alone.append((p50, p95))
        errors += failed
        done, results = threading.Event(), []

        def reader(done=done, results=results):
            reading = app.test_client()
            reading.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
            while not done.is_set():
                results.append(load(reading, done))

        threads = [threading.Thread(target=reader, daemon=True) for _ in range(readers)]
        for thread in threads:
            thread.start()
        time.sleep(0.5)  # under way
        p50, p95, failed = classify_latency(client, bodies, rounds)
        busy.append((p50, p95))
        errors += failed
        done.set()
        for thread in threads:
            thread.join()
        statuses.update(results)
    median = lambda pairs, i: statistics.median(pair[i] for pair in pairs)  # noqa: E731
    return {
        "alone": (median(alone, 0), median(alone, 1), 0),
        "p50": median(busy, 0),
        "p95": median(busy, 1),
        "errors": errors,
        "statuses": sorted(statuses),
    }


def during_exports(app, token: str, bodies: list[dict], rounds: int) -> dict:
    """Classify latency alone and while two full exports run on other threads."""
    return during(app, token, bodies, rounds, lambda client, done: export(client, cut=done)["status"], readers=2, repeats=5)


def during_long_reads(app, token: str, bodies: list[dict], rounds: int) -> dict:
    """Classify latency alone and while one long read runs over and over on another thread: the
    SLA report of this quarter, and a backtest of the most decisions a backtest takes (20,000)."""
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    now = datetime.now(UTC)
    quarter = f"{now.year}-Q{(now.month - 1) // 3 + 1}"
    content = client.get("/v1/rules/severity").get_json()["content"] + "\n# bench\n"
    report = lambda reading, done: reading.get(f"/v1/reports/sla?period={quarter}").status_code  # noqa: E731
    backtest = lambda reading, done: (
        reading.post(  # noqa: E731
            "/v1/rules/severity/backtest", json={"content": content, "limit": 20000}
        ).status_code
    )
    return {
        "report": during(app, token, bodies, rounds, report, readers=1, repeats=2),
        "backtest": during(app, token, bodies, rounds, backtest, readers=1, repeats=2),
    }


def sizes(engine: sa.Engine) -> dict:
    with engine.connect() as conn:
        n = conn.execute(sa.text("SELECT count(*) FROM decisions")).scalar_one()
        table = conn.execute(sa.text("SELECT pg_table_size('decisions')")).scalar_one()
        total = conn.execute(sa.text("SELECT pg_total_relation_size('decisions')")).scalar_one()
        cases = conn.execute(sa.text("SELECT count(*) FROM cases")).scalar_one()
        events = conn.execute(sa.text("SELECT count(*) FROM case_events")).scalar_one()
        case_bytes = conn.execute(
            sa.text("SELECT pg_total_relation_size('cases') + pg_total_relation_size('case_events')")
        ).scalar_one()
    return {
        "decisions": n,
        "cases": cases,
        "events": events,
        "bytes_per_decision_table": table / n if n else 0,
        "bytes_per_decision_with_indexes": total / n if n else 0,
        "bytes_per_case_with_events": case_bytes / cases if cases else 0,
    }


def measure(app, engine: sa.Engine, token: str, rounds: int, label: str) -> dict:
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    now = datetime.now(UTC)
    out: dict = {"lists": {}}
    for name, url in lists(client, engine, now).items():
        out["lists"][name] = timings(client, url, rounds)
        print(f"  [{label}] {name}: p50 {out['lists'][name][0]:.1f} ms, p95 {out['lists'][name][1]:.1f} ms", file=sys.stderr)
    with engine.connect() as conn:
        some = conn.execute(sa.text("SELECT decision_id FROM decisions ORDER BY decision_id LIMIT 1 OFFSET 7")).scalar()
    out["lookup"] = timings(client, f"/v1/decisions/{some}", rounds) if some else (0.0, 0.0)
    bodies = sample_bodies()
    classify_latency(client, bodies, 10)  # warm

    since30 = f"&since={(now - timedelta(days=30)).isoformat()}".replace("+", "%2B")
    out["export_30_days"] = export(client, since30)
    out["export_full"] = export(client)
    print(f"  [{label}] export {out['export_full']}", file=sys.stderr)
    out["classify_during_exports"] = during_exports(app, token, bodies, max(rounds * 10, 150))
    out["classify_alone"] = out["classify_during_exports"]["alone"]
    out["classify_during_long_reads"] = during_long_reads(app, token, bodies, max(rounds * 10, 150))
    out["sizes"] = sizes(engine)
    return out


def table(results: dict) -> str:
    labels = list(results)
    rows = [("measure", *labels)]
    names = list(next(iter(results.values()))["lists"])
    for name in names:
        rows.append((f"{name} p50/p95 ms", *(f"{r['lists'][name][0]:.1f} / {r['lists'][name][1]:.1f}" for r in results.values())))
    rows.append(("lookup by id p50/p95 ms", *(f"{r['lookup'][0]:.1f} / {r['lookup'][1]:.1f}" for r in results.values())))
    for key, title in (("export_30_days", "export last 30 days"), ("export_full", "export everything")):
        rows.append(
            (
                f"{title}: rows, rows/s, first byte ms, RSS +MB, status",
                *(
                    f"{r[key]['rows']:,}, {r[key]['rows_per_s']:,.0f}, {r[key]['first_byte_ms']:.0f}, "
                    f"{r[key]['rss_growth_mb']:.0f}, {r[key]['status']}"
                    for r in results.values()
                ),
            )
        )
    rows.append(
        (
            "classify alone p50/p95 ms (5xx), median of 5 rounds",
            *(
                f"{r['classify_alone'][0]:.1f} / {r['classify_alone'][1]:.1f} ({r['classify_alone'][2]})"
                for r in results.values()
            ),
        )
    )
    rows.append(
        (
            "classify during 2 full exports p50/p95 ms (5xx; export statuses), median of 5 rounds",
            *(
                f"{r['classify_during_exports']['p50']:.1f} / {r['classify_during_exports']['p95']:.1f} "
                f"({r['classify_during_exports']['errors']}; {r['classify_during_exports']['statuses']})"
                for r in results.values()
            ),
        )
    )
    rows.append(
        (
            "classify p50/p95 during 2 full exports / alone (goal: p95 at most 2x)",
            *(
                f"{r['classify_during_exports']['p50'] / r['classify_alone'][0]:.2f}x / "
                f"{r['classify_during_exports']['p95'] / r['classify_alone'][1]:.2f}x"
                for r in results.values()
            ),
        )
    )
    for kind, title in (("report", "this quarter's SLA report"), ("backtest", "a backtest of 20,000 decisions")):
        rows.append(
            (
                f"classify p50/p95 ms alone -> while {title} runs over and over (5xx; its statuses)",
                *(
                    f"{r['classify_during_long_reads'][kind]['alone'][0]:.1f} / {r['classify_during_long_reads'][kind]['alone'][1]:.1f}"
                    f" -> {r['classify_during_long_reads'][kind]['p50']:.1f} / {r['classify_during_long_reads'][kind]['p95']:.1f} "
                    f"({r['classify_during_long_reads'][kind]['errors']}; {r['classify_during_long_reads'][kind]['statuses']})"
                    for r in results.values()
                ),
            )
        )
    for key in ("decisions", "cases", "events"):
        rows.append((key, *(f"{r['sizes'][key]:,}" for r in results.values())))
    for key in ("bytes_per_decision_table", "bytes_per_decision_with_indexes", "bytes_per_case_with_events"):
        rows.append((key.replace("_", " "), *(f"{r['sizes'][key]:,.0f}" for r in results.values())))
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(" | ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)) for row in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("n", nargs="?", type=int, default=1_000_000, help="decisions to load (cases: n/10)")
    parser.add_argument("--reuse", action="store_true", help="keep the loaded database; migrate it and measure")
    parser.add_argument("--rounds", type=int, default=40, help="requests per list filter")
    parser.add_argument("--json", help="also write the numbers to this file")
    args = parser.parse_args()
    url = os.environ.get("TRIAGE_BENCH_DATABASE_URL", DEFAULT_URL)
    results = {}
    if not args.reuse:
        recreate(url)
        database.upgrade(url)
        app = make_app(url)
        triage = app.extensions["triage"]
        token = triage.tokens.create("bench", "admin")[1]
        results["empty"] = measure(app, triage.store.engine, token, args.rounds, "empty")
        with triage.store.engine.begin() as conn:  # the empty run's classifications go: the copies start clean
            for name in ("due_actions", "case_events", "feedback", "decisions", "cases"):
                conn.execute(sa.text(f"DELETE FROM {name}"))
        start = time.perf_counter()
        real_rows(triage)
        copies(triage.store.engine, args.n)
        corrections(triage.store.engine)
        print(f"loaded in {time.perf_counter() - start:.0f} s", file=sys.stderr)
        app.extensions["triage"].stop()
        triage.store.engine.dispose()
    else:
        start = time.perf_counter()
        database.upgrade(url)
        print(f"migrated to the newest schema in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text("VACUUM ANALYZE"))
    engine.dispose()
    app = make_app(url)
    triage = app.extensions["triage"]
    token = triage.tokens.create("bench", "admin")[1]
    results["loaded"] = measure(app, triage.store.engine, token, args.rounds, "loaded")
    triage.stop()
    print(table(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, default=str), encoding="utf-8")


if __name__ == "__main__":
    main()
