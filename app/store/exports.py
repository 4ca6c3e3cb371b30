"""Stored decisions as analysts take them: one row a decision, the latest correction winning as the label.

An export streams: rows are read from a server-side cursor and encoded as they come, in chunks of
about CHUNK bytes, so memory stays flat however many decisions there are. On PostgreSQL the export,
CSV or JSON lines, is made by the database itself (COPY (SELECT ...) TO STDOUT): the process only
passes bytes on, which keeps it free to serve intake on its other threads. Elsewhere each row is
encoded here from the columns SQL extracted (no stored JSON is decoded in Python). A process's
exports share one Budget: how many at once, and one pace between them all.

CSV cells are safe to open in a spreadsheet: a cell that starts with =, +, -, @, a tab or a carriage
return is prefixed with a single quote (OWASP's advice against formula injection)."""

import csv
import io
import json
import threading
import time
from collections.abc import Generator, Iterator
from datetime import UTC, datetime

import sqlalchemy as sa

from app.store.database import allow_long, decisions, feedback, id_floor, window

COLUMNS = (
    "decision_id",
    "decided_at",
    "reported_at",
    "customer_id",
    "plan",
    "country",
    "language",
    "subject",
    "description",
    "severity",
    "source",
    "pool",
    "corrected_severity",
    "corrected_pool",
    "label",
)
TEXT = ("customer_id", "plan", "country", "language", "subject", "description", "source", "pool", "corrected_pool")
FORMULA = ("=", "+", "-", "@", "\t", "\r")  # what a spreadsheet may read as the start of a formula
CHUNK = 64 * 1024  # bytes handed on at a time
COPY_ROWS = 256  # rows of a COPY handed on at a time (about CHUNK bytes)
EXPORT_SECONDS = 3600.0  # an export's statement may run this long (a slow client reads a large one slowly)
MEDIA = {"csv": "text/csv; charset=utf-8", "jsonl": "application/jsonl; charset=utf-8"}


def safe(cell):
    """A CSV cell a spreadsheet shows as text: one starting like a formula gets a leading quote."""
    if isinstance(cell, str) and cell.startswith(FORMULA):
        return "'" + cell
    return cell


def instant(moment: datetime) -> str:
    """An instant as exports write it: UTC, always with its microseconds (one width for every row)."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def row(record: dict) -> dict:
    """What analysts train on: the correction (when there is one) wins over the assigned level."""
    body, answer = record["request"], record["answer"]
    return {
        "decision_id": record["decision_id"],
        "decided_at": instant(record["decided_at"]),
        "reported_at": instant(record["reported_at"]),
        "customer_id": record["customer_id"],
        "plan": record["plan"],
        "country": body["customer"]["country"],
        "language": answer["language"]["code"],
        "subject": body["subject"],
        "description": body["description"],
        "severity": record["severity"],
        "source": record["source"],
        "pool": record["pool"],
        "corrected_severity": record["corrected_severity"],
        "corrected_pool": record["corrected_pool"],
        "label": record["corrected_severity"] or record["severity"],
    }


def encode(rows, fmt: str) -> Iterator[bytes]:
    """Export rows (dicts of COLUMNS) as CSV (safe cells) or JSONL, in chunks of about CHUNK bytes."""
    out = io.StringIO()
    writer = csv.writer(out)
    if fmt == "csv":
        writer.writerow(COLUMNS)
    for item in rows:
        if fmt == "jsonl":
            out.write(json.dumps(item, ensure_ascii=False) + "\n")
        else:
            writer.writerow([safe(item[name]) if name in TEXT else item[name] for name in COLUMNS])
        if out.tell() >= CHUNK:
            yield out.getvalue().encode()
            out.seek(0)
            out.truncate()
    if out.tell():
        yield out.getvalue().encode()


def _field(path: tuple[str, ...]):
    """A text field of the stored request, read by SQL."""
    return decisions.c.request[path].as_string().label(path[-1])


def _query(since: datetime | None, until: datetime | None):
    """The export's rows, oldest first, where the database does not write them itself (SQLite): SQL
    extracts the request's fields and the latest correction."""

    def corrected(column):  # the latest correction's, each an index probe (ix_feedback_decision_id)
        latest = sa.select(column).where(feedback.c.decision_id == decisions.c.decision_id)
        return latest.order_by(feedback.c.id.desc()).limit(1).scalar_subquery()

    corrected_severity = corrected(feedback.c.severity)
    return (
        sa.select(
            decisions.c.decision_id,
            decisions.c.decided_at,
            decisions.c.reported_at,
            decisions.c.customer_id,
            decisions.c.plan,
            _field(("customer", "country")),
            decisions.c.language,
            _field(("subject",)),
            _field(("description",)),
            decisions.c.severity,
            decisions.c.source,
            decisions.c.pool,
            corrected_severity.label("corrected_severity"),
            corrected(feedback.c.pool).label("corrected_pool"),
        )
        .where(*window(since, until))
        .order_by(decisions.c.decision_id)
    )


def _rows(result) -> Iterator[dict]:
    for item in result:
        record = dict(item)
        record["decided_at"] = instant(record["decided_at"])
        record["reported_at"] = instant(record["reported_at"])
        record["label"] = record["corrected_severity"] or record["severity"]
        yield record


class Budget:
    """What one process's exports may take together: at most `at_once` stream at a time, and they
    read `rows_per_second` rows between them all (0: unpaced). The database encodes an export as fast
    as a core goes; a pace shared by every export bounds the CPU exports take (the database's and
    ours) however many run, so that intake keeps what it needs: two exports each get half."""

    SLACK = 0.05  # seconds of reading a chunk that the pace forgives (so one export gets the whole pace)

    def __init__(self, at_once: int, rows_per_second: float, clock=time.monotonic):
        self.slots = threading.BoundedSemaphore(at_once)
        self.rows_per_second = rows_per_second
        self._clock = clock
        self._lock = threading.Lock()
        self._paid_until = 0.0  # the instant (monotonic) until which the rows read so far are paid for

    def delay(self, rows: int) -> float:
        """Seconds to wait after reading `rows`, so that all exports together keep the pace."""
        if not self.rows_per_second:
            return 0.0
        with self._lock:
            now = self._clock()
            self._paid_until = max(self._paid_until, now - self.SLACK) + rows / self.rows_per_second
            return self._paid_until - now


def stream(
    engine: sa.Engine,
    fmt: str,
    since: datetime | None = None,
    until: datetime | None = None,
    budget: Budget | None = None,
) -> Iterator[bytes]:
    """Every decision decided in [since, until) with its latest correction, oldest first, as CSV or
    JSONL bytes, read and encoded as it goes. The first chunk is ready when the query has started.
    With a `budget`, the export keeps its pace (see Budget); its slot is the caller's to take."""
    chunks = _stream(engine, fmt, since, until)
    return chunks if budget is None or not budget.rows_per_second else paced(chunks, budget)


def paced(chunks: Generator[bytes, None, None], budget: Budget) -> Iterator[bytes]:
    """The chunks at the budget's pace: after each, wait until its rows are paid for (the database
    waits on the socket in between)."""
    try:
        for chunk in chunks:
            yield chunk
            wait = budget.delay(chunk.count(b"\n"))
            if wait > 0:
                time.sleep(wait)
    finally:
        chunks.close()


def _stream(engine: sa.Engine, fmt: str, since: datetime | None, until: datetime | None) -> Generator[bytes, None, None]:
    with engine.connect() as conn:
        allow_long(conn, EXPORT_SECONDS)
        try:
            if conn.dialect.name == "postgresql":
                yield from _copied(conn, fmt, since, until)
            else:
                query = _query(since, until)
                result = conn.execution_options(stream_results=True, yield_per=500).execute(query)
                yield from encode(_rows(result.mappings()), fmt)
        except GeneratorExit:  # the client went away mid-export: the connection's state is unknown
            conn.invalidate()
            raise


def _iso(column: str) -> str:
    """PostgreSQL's text of an instant as instant() writes it."""
    return f"to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"')"


def _safe_sql(expression: str) -> str:
    """safe() in SQL: ascii() reads the first character's code without making a text of it."""
    codes = ", ".join(str(ord(c)) for c in FORMULA)
    return f"CASE WHEN ascii({expression}) IN ({codes}) THEN '''' || ({expression}) ELSE {expression} END"


# The export's rows for COPY, written for PostgreSQL: the request's fields read from its jsonb, each
# decision's latest correction joined (the planner merges the corrections, sorted by decision, with
# the decisions in id order: a third cheaper than a probe a row), the window as a range of ids.
COPY_SOURCE = """
FROM decisions d
LEFT JOIN (
    SELECT DISTINCT ON (f.decision_id) f.decision_id, f.severity, f.pool FROM feedback f ORDER BY f.decision_id, f.id DESC
) c ON c.decision_id = d.decision_id
"""
COPY_COLUMNS = {
    "decision_id": "d.decision_id",
    "decided_at": _iso("d.decided_at"),
    "reported_at": _iso("d.reported_at"),
    "customer_id": "d.customer_id",
    "plan": "d.plan",
    "country": "(d.request -> 'customer' ->> 'country')",
    "language": "d.language",
    "subject": "(d.request ->> 'subject')",
    "description": "(d.request ->> 'description')",
    "severity": "d.severity",
    "source": "d.source",
    "pool": "d.pool",
    "corrected_severity": "c.severity",
    "corrected_pool": "c.pool",
    "label": "coalesce(c.severity, d.severity)",
}


def _copied(conn: sa.Connection, fmt: str, since: datetime | None, until: datetime | None) -> Iterator[bytes]:
    """The export made by PostgreSQL (COPY ... TO STDOUT), handed on in chunks: CSV with the instants
    and the safe cells written in SQL, or JSON lines built by json_build_object."""
    if fmt == "csv":
        columns = ", ".join(
            f"{_safe_sql(COPY_COLUMNS[name]) if name in TEXT else COPY_COLUMNS[name]} AS {name}" for name in COLUMNS
        )
        options = "FORMAT csv, HEADER"
    else:  # COPY's text format doubles each backslash of the JSON (nothing else in it needs escaping)
        columns = "json_build_object(" + ", ".join(f"'{name}', {COPY_COLUMNS[name]}" for name in COLUMNS) + ")::text"
        options = "FORMAT text"
    conditions: list[str] = ["true"]
    params: dict = {}
    if since is not None:
        conditions.append("d.decision_id >= %(since_id)s AND d.decided_at >= %(since)s")
        params.update(since_id=id_floor(since, -1), since=since)
    if until is not None:
        conditions.append("d.decision_id < %(until_id)s AND d.decided_at < %(until)s")
        params.update(until_id=id_floor(until, 2), until=until)
    sql = (
        f"COPY (SELECT {columns} {COPY_SOURCE} WHERE {' AND '.join(conditions)} ORDER BY d.decision_id) "
        f"TO STDOUT WITH ({options})"
    )
    driver = conn.connection.driver_connection
    assert driver is not None, "a live connection"
    cursor = driver.cursor()
    # The decisions in id order through their key, by one backend, not compiled: with other statistics
    # the planner chose two parallel workers, a hash join and a sort of everything (first byte after
    # 1.3 s, three backends' CPU: classify p95 6x), and JIT delayed the first byte by ~150 ms for no speed.
    cursor.execute("SET LOCAL max_parallel_workers_per_gather = 0; SET LOCAL enable_seqscan = off; SET LOCAL jit = off")
    pending: list = []  # one row each (psycopg hands each row over in its own buffer)
    append = pending.append

    def chunk() -> bytes:
        data = b"".join(pending)
        pending.clear()
        return data if fmt == "csv" else data.replace(b"\\\\", b"\\")

    with cursor.copy(sql, params) as copy:
        for row in copy:  # the only Python work per row: keep it to an append and a length
            append(row)
            if len(pending) >= COPY_ROWS:
                yield chunk()
    if pending:
        yield chunk()
