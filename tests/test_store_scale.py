"""The store at a year of traffic: exports stream with flat memory and stay safe in a spreadsheet,
time windows have both ends, a list query past its time limit answers 503, stored answers are
packed, and the migration to the packed form keeps every row and every field (SQLite and PostgreSQL)."""

import csv
import hashlib
import io
import json
import tracemalloc
import uuid
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from app.store import database, exports, packing

from .conftest import DATABASES, POSTGRES, case, fresh_postgres

T0 = datetime(2026, 7, 1, 10, 0, tzinfo=UTC)


def uuid7(at: datetime, serial: int) -> str:
    """A UUIDv7 of the instant, as new_decision_id makes them (the serial in place of the random bits)."""
    digits = f"{int(at.timestamp() * 1000):012x}"
    return f"{digits[:8]}-{digits[8:]}-7000-8000-{serial:012x}"


def answer(level: int = 3, language: str = "de", classifier_level: int | None = None) -> dict:
    return {
        "severity": {
            "level": level,
            "source": "rules",
            "note": "Declared 2 (production system degraded) is less severe than the evidence.",
            "classifier": None if classifier_level is None else {"level": classifier_level, "confidence": 0.8},
        },
        "language": {"code": language, "confidence": 1.0, "source": "detected", "supported": True},
        "routing": {"pool": "de-l1", "trace": ["region EMEA: DE is in EMEA", "chosen de-l1 (L1, EMEA): open now, answers in de"]},
    }


def given(decision_id: str, case_id: str | None, reported_at: datetime, decided_at: datetime, **inner) -> dict:
    """An answer as the service gives it: the ids first, the instants last."""
    return {
        "decision_id": decision_id,
        "case_id": case_id,
        **(inner or answer()),
        "reported_at": reported_at.isoformat(),
        "decided_at": decided_at.isoformat(),
    }


def record(at: datetime, serial: int, **fields) -> dict:
    row = {
        "decision_id": uuid7(at, serial),
        "decided_at": at,
        "reported_at": at - timedelta(minutes=1),
        "customer_id": "c-1",
        "plan": "premium",
        "severity": 3,
        "source": "rules",
        "pool": "de-l1",
        "rules_version": "v1",
        "model_version": None,
        "request": {
            "subject": f"Report {serial} is slow",
            "description": "Die Auswertung braucht seit gestern 40 Sekunden. " * 6,
            "customer": {"id": "c-1", "plan": "premium", "country": "DE"},
        },
        "case_id": f"case-{serial}",
    }
    row["answer"] = given(row["decision_id"], row["case_id"], row["reported_at"], at)
    row.update(fields)
    return row


@pytest.fixture
def store(migrated_engine):
    """An empty store migrated to head: a SQLite file, or a fresh PostgreSQL database."""
    return database.Store(migrated_engine)


def csv_rows(body: bytes) -> list[dict]:
    return list(csv.DictReader(io.StringIO(body.decode())))


# -- exports -------------------------------------------------------------------------------------


def test_an_export_streams_with_flat_memory(store):
    """The first chunk arrives while the query is still open (its connection is held, the rest not yet
    read), and memory stays flat: Python's peak over the whole export is what it was after its first
    quarter, a few chunks and a batch of rows whatever the size of the export."""
    long = {**record(T0, 0)["request"], "description": "Die Auswertung braucht seit gestern 40 Sekunden. " * 40}
    store.save([record(T0 + timedelta(seconds=i), i, request=long) for i in range(6000)])  # 12 MB: more than sockets buffer
    tracemalloc.start()
    chunks = exports.stream(store.engine, "csv")
    first = next(chunks)
    assert first.startswith(b"decision_id,decided_at,")
    assert store.engine.pool.checkedout() == 1  # the query is under way: its connection is still out
    if store.engine.dialect.name == "postgresql":
        with store.engine.connect() as conn:
            running = conn.execute(
                sa.text("SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'COPY (SELECT%' AND state = 'active'")
            ).scalar_one()
        assert running == 1  # the database is still producing the rows
    size, lines, quarter = len(first), first.count(b"\n"), None
    for chunk in chunks:
        size += len(chunk)
        lines += chunk.count(b"\n")
        if quarter is None and lines > 1500:
            quarter = tracemalloc.get_traced_memory()[1]
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert lines == 6001 and size > 10_000_000
    assert quarter is not None and peak < quarter * 1.25 + 256 * 1024 and peak < 3_000_000, (quarter, peak, size)
    assert store.engine.pool.checkedout() == 0  # done: the connection is back


def test_since_and_until_bound_the_export_and_the_list(store):
    """[since, until): since inclusive, until exclusive, to the microsecond, whatever the offset."""
    # (instants with microseconds: SQLite rows written by the prepared insert keep none when they are 0)
    start = T0 + timedelta(microseconds=123)
    instants = [start, start + timedelta(microseconds=400), start + timedelta(hours=1), start + timedelta(days=1)]
    store.save([record(at, i) for i, at in enumerate(instants)])
    since, until = instants[1], instants[3].astimezone(timezone(timedelta(hours=-5)))

    def exported(**window):
        body = b"".join(exports.stream(store.engine, "jsonl", **window))
        return [json.loads(line)["decision_id"] for line in body.decode().splitlines()]

    ids = [uuid7(at, i) for i, at in enumerate(instants)]
    assert exported(since=since, until=until) == ids[1:3]
    assert exported(until=instants[1]) == ids[:1]
    assert exported(since=instants[3] + timedelta(microseconds=1)) == []
    listed = store.find(since=since, until=until, summary=True).items
    assert [item["decision_id"] for item in listed] == list(reversed(ids[1:3]))
    assert set(listed[0]) == {c.name for c in database.SUMMARY}  # no request, no answer in a list


def test_csv_cells_that_start_like_a_formula_are_neutralised(store):
    """=, +, -, @, tab and carriage return at a cell's start get a leading single quote (OWASP); the
    JSONL export keeps the text as it is."""
    hostile = {
        "subject": '=HYPERLINK("http://evil", "x")',
        "description": "+1+2",
        "customer": {"id": "-c", "plan": "premium", "country": "DE"},
    }
    store.save(
        [
            record(T0, 1, request=hostile, customer_id="@SUM(A1)", pool="\tde-l1"),
            record(T0 + timedelta(seconds=1), 2, request={**hostile, "subject": "\rsubject", "description": "fine - dash"}),
        ]
    )
    rows = csv_rows(b"".join(exports.stream(store.engine, "csv")))
    assert rows[0]["subject"] == '\'=HYPERLINK("http://evil", "x")'
    assert rows[0]["description"] == "'+1+2"
    assert rows[0]["customer_id"] == "'@SUM(A1)"
    assert rows[0]["pool"] == "'\tde-l1"
    assert rows[1]["subject"] == "'\rsubject"
    assert rows[1]["description"] == "fine - dash"  # only the start of a cell counts
    assert rows[0]["label"] == "3" and rows[0]["language"] == "de"
    first = json.loads(b"".join(exports.stream(store.engine, "jsonl")).splitlines()[0])
    assert first["subject"] == hostile["subject"] and first["customer_id"] == "@SUM(A1)"


def test_instants_are_written_one_way_with_their_microseconds(store):
    """Every instant in UTC with six digits of microseconds, zero ones included, in CSV and JSONL, on
    either database (PostgreSQL writes the CSV itself)."""
    store.save([record(T0, 1), record(T0 + timedelta(seconds=1, microseconds=20), 2)])
    rows = csv_rows(b"".join(exports.stream(store.engine, "csv")))
    lines = [json.loads(line) for line in b"".join(exports.stream(store.engine, "jsonl")).splitlines()]
    expected = ["2026-07-01T10:00:00.000000+00:00", "2026-07-01T10:00:01.000020+00:00"]
    assert [r["decided_at"] for r in rows] == [r["decided_at"] for r in lines] == expected
    assert datetime.fromisoformat(rows[1]["reported_at"]) == datetime.fromisoformat(lines[1]["reported_at"])


def test_jsonl_and_csv_carry_the_same_text_whichever_database_writes_them(store):
    """Backslashes, quotes, line breaks, tabs and any script come out of both formats as they went in
    (PostgreSQL writes both exports itself: its JSON lines pass through COPY's text format), with the
    latest correction as the label."""
    tricky = 'C:\\new\\table "quoted" \\n not a break\nnext line\ttab é 日本 😀 \u2028 end \\'
    request = {
        "subject": '\\\\server\\share "x"',
        "description": tricky,
        "customer": {"id": "c-1", "plan": "premium", "country": "DE"},
    }
    store.save([record(T0, 1, request=request), record(T0 + timedelta(seconds=1), 2)])
    with store.engine.begin() as conn:
        for severity in (2, 1):
            conn.execute(
                sa.insert(database.feedback).values(
                    decision_id=uuid7(T0, 1), severity=severity, pool="cz-l1", comment="x", by="e", created_at=T0
                )
            )
    lines = [json.loads(line) for line in b"".join(exports.stream(store.engine, "jsonl")).decode().split("\n") if line]
    rows = csv_rows(b"".join(exports.stream(store.engine, "csv")))
    assert [line["description"] for line in lines] == [tricky, record(T0, 2)["request"]["description"]]
    assert lines[0]["subject"] == request["subject"] and lines[0]["country"] == "DE"
    assert (lines[0]["corrected_severity"], lines[0]["corrected_pool"], lines[0]["label"]) == (1, "cz-l1", 1)
    assert (lines[1]["corrected_severity"], lines[1]["label"]) == (None, 3)
    assert [{key: str(value) if value is not None else "" for key, value in line.items()} for line in lines] == rows


def test_the_export_is_an_attachment_that_is_not_sniffed(client):
    response = client.get("/v1/exports/decisions?format=csv")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith('attachment; filename="decisions-') and disposition.endswith('.csv"')
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    jsonl = client.get("/v1/exports/decisions?format=jsonl")
    assert jsonl.headers["Content-Disposition"].endswith('.jsonl"') and jsonl.headers["X-Content-Type-Options"] == "nosniff"


def test_an_export_past_the_workers_slots_waits_with_retry_after(app, client):
    """A worker streams at most EXPORTS exports at once; one more answers 503 with Retry-After, and
    a finished export gives its slot back."""
    client.get("/v1/exports/decisions")  # the slots exist
    slots = app.extensions["export_budget"].slots
    taken = 0
    while slots.acquire(blocking=False):
        taken += 1
    try:
        assert taken == app.config["EXPORTS"]
        busy = client.get("/v1/exports/decisions")
        assert busy.status_code == 503 and int(busy.headers["Retry-After"]) > 0
        assert "export" in busy.get_json()["message"]
    finally:
        for _ in range(taken):
            slots.release()
    for _ in range(app.config["EXPORTS"] + 1):  # each one read to the end gives its slot back
        assert client.get("/v1/exports/decisions").status_code == 200


def _paced_rows(budget: exports.Budget, clock: list[float], readers: int, seconds: float) -> list[int]:
    """Readers taking turns on one clock: each reads a chunk of 256 rows (1 ms), then waits what the
    budget says; the rows each has read after `seconds`."""
    ready, rows = [0.0] * readers, [0] * readers
    while True:
        reader = min(range(readers), key=ready.__getitem__)
        clock[0] = ready[reader] + 0.001
        if clock[0] > seconds:
            return rows
        rows[reader] += 256
        ready[reader] = clock[0] + max(budget.delay(256), 0.0)


def test_the_exports_of_a_worker_share_one_pace():
    """One export reads at the whole pace (its own reading time forgiven); two together read the same
    rows per second between them, half each, so that exports never take more CPU than one would."""
    for readers in (1, 2):
        clock = [0.0]
        budget = exports.Budget(2, 60000, clock=lambda clock=clock: clock[0])
        rows = _paced_rows(budget, clock, readers, 10.0)
        assert 59000 * 10 <= sum(rows) <= 60000 * 10 + 256 * 200, rows
        assert max(rows) - min(rows) <= 256 * 2
    assert exports.Budget(2, 0).delay(10**6) == 0.0  # unpaced


def test_the_cli_export_streams_safe_cells_and_until(store, tmp_path):
    store.save(
        [
            record(T0, 1, request={**record(T0, 1)["request"], "subject": "=1+1"}),
            record(T0 + timedelta(hours=2), 2),
        ]
    )
    from app.cli import main

    url = store.engine.url.render_as_string(hide_password=False)
    env = {"TRIAGE_DATABASE_URL": url, "TRIAGE_INSTANCE_DIR": str(tmp_path), "TRIAGE_SCHEDULER_INTERVAL": "0"}
    until = (T0 + timedelta(hours=1)).isoformat()
    result = CliRunner().invoke(main, ["decisions", "export", "--until", until], env=env)
    assert result.exit_code == 0, result.output
    rows = csv_rows(result.stdout_bytes)
    assert [row["decision_id"] for row in rows] == [uuid7(T0, 1)]
    assert rows[0]["subject"] == "'=1+1"


# -- lists ---------------------------------------------------------------------------------------


def test_a_list_query_past_its_time_limit_answers_503_and_the_worker_goes_on(app, client):
    """The query is cancelled by the database (PostgreSQL: statement_timeout, here while it waits
    for a lock; SQLite: the progress handler), the client gets a 503 with Retry-After, and the same
    worker then answers the next list at once."""
    client.post("/v1/classify", json=case())
    store = app.extensions["triage"].store
    limit = store.list_timeout
    blocker = None
    try:
        if store.engine.dialect.name == "postgresql":
            store.list_timeout = 0.3
            blocker = store.engine.connect()
            blocker.exec_driver_sql("LOCK TABLE decisions IN ACCESS EXCLUSIVE MODE")
        else:
            # enough rows that the scan outlasts the progress handler's first call
            store.save([record(T0 + timedelta(seconds=i), 900_000 + i, customer_id="slow-list") for i in range(300)])
            store.list_timeout = 0.0  # any statement runs past it
        slow = client.get("/v1/decisions?severity=1")
        assert slow.status_code == 503 and slow.headers["Retry-After"]
        assert slow.get_json()["code"] == 503
    finally:
        store.list_timeout = limit
        if blocker is not None:
            blocker.rollback()
            blocker.close()
    assert client.get("/v1/decisions?severity=1").status_code == 200


# -- the stored form -----------------------------------------------------------------------------


def test_the_packing_dictionary_never_changes_and_answers_round_trip():
    """Stored answers are read with exactly these bytes: changing them would make every stored
    answer unreadable (a new dictionary is a new format)."""
    assert hashlib.sha256(packing.DICTIONARY_1).hexdigest() == "6e6d9a6f86512bb40ae936dcc5381e7a2fff42e16e06dcccec179f5550f11fe2"
    document = {**answer(classifier_level=2), "note": "Zákazník píše česky: ß, 日本, \u2028"}
    stored = packing.pack(document)
    assert stored[:1] == packing.FORMAT and packing.unpack(stored) == document
    assert len(stored) < len(json.dumps(document)) / 2


def _alembic(url: str):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(database.__file__).parent / "migrations"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


@pytest.mark.parametrize("backend", DATABASES)
def test_the_migration_keeps_every_row_and_every_field(backend, tmp_path):
    """A store populated at 0005 (answers as JSON) and migrated to head: every decision is there with
    every field as it was, its answer whole, language and classifier level in their columns; the
    corrections, cases and events untouched; and the downgrade gives the JSON back."""
    from alembic import command

    if backend == "sqlite":
        url, drop = f"sqlite:///{tmp_path / 'old.db'}", None
    else:
        url, drop = fresh_postgres()
    try:
        command.upgrade(_alembic(url), "0005")
        engine = sa.create_engine(url)
        old = sa.table(
            "decisions",
            *[sa.column(c.name, c.type) for c in database.decisions.columns if c.name not in ("language", "classifier_level")],
        )
        old.c.answer.type = sa.JSON()
        records = []
        for i in range(2500):  # more than one batch of the migration
            at = T0 + timedelta(seconds=i, microseconds=i)
            row = record(at, i, severity=1 + i % 4)
            inner = answer(1 + i % 4, ("de", "pl", "cs")[i % 3], i % 5 or None)
            if i % 10 == 9:  # not as the service gives it (an instant at another offset): kept whole
                row["answer"] = given(
                    row["decision_id"], row["case_id"], row["reported_at"], at.astimezone(timezone(timedelta(hours=2))), **inner
                )
            elif i % 10 == 8:  # an answer of another shape: kept whole
                row["answer"] = inner
            else:
                row["answer"] = given(row["decision_id"], row["case_id"], row["reported_at"], at, **inner)
            records.append({**row, "stored_at": T0})
        with engine.begin() as conn:
            conn.execute(sa.insert(old), records)
            conn.execute(
                sa.insert(database.feedback),
                [
                    {
                        "decision_id": records[7]["decision_id"],
                        "severity": 2,
                        "pool": None,
                        "comment": "x",
                        "by": "e",
                        "created_at": T0,
                    }
                ],
            )
        engine.dispose()

        database.upgrade(url)
        store = database.Store(database.engine_for(url))
        with store.engine.connect() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(database.decisions)).scalar_one() == 2500
        for original in records:
            stored = store.get(original["decision_id"])
            for key, value in original.items():
                assert stored[key] == value, (original["decision_id"], key)
            assert list(stored["answer"]) == list(original["answer"])  # in its order, too
        assert store.get(records[7]["decision_id"])["feedback"][0]["severity"] == 2
        with store.engine.connect() as conn:
            columns = conn.execute(
                sa.select(database.decisions.c.language, database.decisions.c.classifier_level).where(
                    database.decisions.c.decision_id == records[3]["decision_id"]
                )
            ).one()
        assert tuple(columns) == ("de", 3)
        rows = csv_rows(b"".join(exports.stream(store.engine, "csv")))
        assert len(rows) == 2500 and rows[7]["label"] == "2"
        store.engine.dispose()

        command.downgrade(_alembic(url), "0005")
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            back = dict(conn.execute(sa.select(old.c.decision_id, old.c.answer)).all())
        engine.dispose()
        assert all(back[r["decision_id"]] == r["answer"] for r in records)
    finally:
        if drop:
            drop()


def test_a_time_window_lists_its_cases_in_case_id_order_however_the_ids_fall(app, client, monkeypatch):
    """Case ids are the clients' own and need not follow time. A window whose cases lie behind many
    others in case-id order (read through the reported_at index, then sorted) and a window that the
    walk in case-id order fills both page through exactly their cases, in case-id order."""
    from app.store import cases as case_store

    monkeypatch.setattr(case_store, "WALK", 5)  # a short walk, so that both ways of reading are taken
    run = uuid.uuid4().hex[:8]
    customer = {"id": f"c-{run}", "plan": "premium", "country": "DE"}

    def opened(case_id: str, reported: datetime):
        body = case(case_id=case_id, reported_at=reported.isoformat(), customer=customer)
        assert client.post("/v1/classify", json=body).status_code == 200

    inside = [f"m-{run}-{i:02}" for i in range(10)]
    for i, case_id in enumerate(inside):
        opened(case_id, datetime(2001, 1, 5, tzinfo=UTC) + timedelta(days=i))
    for i in range(30):  # ahead of them in case-id order, outside the window
        opened(f"a-{run}-{i:02}", datetime(2001, 6, 1, tzinfo=UTC) + timedelta(hours=i))

    def listed(query: str) -> list[str]:
        ids, cursor = [], None
        while True:
            page = client.get(f"/v1/cases?{query}&limit=3" + (f"&cursor={cursor}" if cursor else "")).get_json()
            ids += [item["case_id"] for item in page["items"]]
            cursor = page.get("next_cursor")
            if not cursor:
                return ids

    january = "since=2001-01-01T00:00:00%2B00:00&until=2001-02-01T00:00:00%2B00:00"
    assert listed(january) == inside
    year = f"customer=c-{run}&since=2001-01-01T00:00:00%2B00:00&until=2002-01-01T00:00:00%2B00:00"
    assert listed(year) == sorted(inside + [f"a-{run}-{i:02}" for i in range(30)])


@pytest.mark.skipif(not POSTGRES, reason="PostgreSQL only: jsonb (0007) changes nothing on SQLite")
def test_the_jsonb_migration_keeps_a_request_that_held_a_nul():
    """Requests stored before the contract refused control characters may hold U+0000, which jsonb
    refuses: 0007 keeps the row, with U+FFFD in its place, and every other request as it was."""
    from alembic import command

    url, drop = fresh_postgres()
    try:
        command.upgrade(_alembic(url), "0006")
        engine = sa.create_engine(url)
        old = sa.table("decisions", *[sa.column(c.name, c.type) for c in database.decisions.columns])
        old.c.request.type = sa.JSON()
        held = record(T0, 1, request={**record(T0, 1)["request"], "description": "before\x00after", "note": ["\x00"]})
        quoted = record(T0 + timedelta(seconds=1), 2, request={**record(T0, 2)["request"], "subject": "a literal \\u0000"})
        plain = record(T0 + timedelta(seconds=2), 3)
        with engine.begin() as conn:
            conn.execute(sa.insert(old), [{**r, "stored_at": T0} for r in (held, quoted, plain)])
        engine.dispose()
        database.upgrade(url)
        store = database.Store(database.engine_for(url))
        assert store.get(held["decision_id"])["request"]["description"] == "before\ufffdafter"
        assert store.get(held["decision_id"])["request"]["note"] == ["\ufffd"]
        assert store.get(quoted["decision_id"])["request"] == quoted["request"]
        assert store.get(plain["decision_id"])["request"] == plain["request"]
        store.engine.dispose()
    finally:
        drop()
