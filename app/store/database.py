"""The decision store: decisions, engineers' feedback and access tokens, on SQLite or PostgreSQL.

SQLAlchemy Core; the schema is created by Alembic (app/migrations). Writes of a decision are
idempotent by decision_id, so replaying a spooled decision never duplicates it.
"""

import math
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from app.store import packing
from app.store.packing import PackedJson


class UtcDateTime(sa.types.TypeDecorator):
    """An instant stored in UTC. SQLite keeps no offset: without this, 10:00+02:00 would be read back
    as 10:00 UTC. Every bound value is converted to UTC and every result is marked UTC."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        if value is not None:
            if value.tzinfo is None:
                raise ValueError(f"a naive datetime cannot be stored as an instant: {value!r}")
            value = value.astimezone(UTC)
            if dialect.name == "sqlite":
                value = value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is not None:
            value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return value


# A client's request as it was validated. On PostgreSQL jsonb (migration 0007): an export reads three
# of its fields a row, and jsonb hands them over without parsing the document again.
Document = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

metadata = sa.MetaData()

decisions = sa.Table(
    "decisions",
    metadata,
    sa.Column("decision_id", sa.String(36), primary_key=True),
    sa.Column("decided_at", UtcDateTime, nullable=False),
    sa.Column("reported_at", UtcDateTime, nullable=False),
    sa.Column("customer_id", sa.String(100), nullable=False),
    sa.Column("plan", sa.String(20), nullable=False),
    sa.Column("severity", sa.Integer, nullable=False),
    sa.Column("source", sa.String(20), nullable=False),
    sa.Column("pool", sa.String(64), nullable=False),
    sa.Column("rules_version", sa.String(64), nullable=False),
    sa.Column("model_version", sa.String(64)),
    sa.Column("request", Document, nullable=False),
    sa.Column("answer", PackedJson, nullable=False),  # the whole answer, packed (app.store.packing)
    sa.Column("stored_at", UtcDateTime, nullable=False),
    sa.Column("case_id", sa.String(100)),  # null on decisions stored before cases had a life
    sa.Column("language", sa.String(16)),  # answer.language.code, for exports (null before 0006 only)
    sa.Column("classifier_level", sa.Integer),  # answer.severity.classifier.level, for the shadow comparison
    # Lists go newest first by decision_id (a UUIDv7, so also by decided_at): each filter has an index
    # that gives its rows in that order; a time window is a range of ids (see find). Severity (four
    # levels) needs none: walking the ids finds a page of any level within a few hundred rows.
    sa.Index("ix_decisions_customer", "customer_id", "decision_id"),
    # severity rides along: pool and severity together are answered from the index alone (see find)
    sa.Index("ix_decisions_pool", "pool", "decision_id", postgresql_include=["severity"]),
    # most decisions come from the rules: walking the ids finds those; the others have a partial index
    # (find() writes the source as a literal, so the planner sees that the index holds what it asks for)
    sa.Index(
        "ix_decisions_source",
        "source",
        "decision_id",
        postgresql_where=sa.text("source <> 'rules'"),
        sqlite_where=sa.text("source <> 'rules'"),
    ),
    sa.Index("ix_decisions_case", "case_id"),  # a case has a decision or two: sorted in place
)

feedback = sa.Table(
    "feedback",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("decision_id", sa.String(36), sa.ForeignKey("decisions.decision_id"), nullable=False, index=True),
    sa.Column("severity", sa.Integer),
    sa.Column("pool", sa.String(64)),
    sa.Column("comment", sa.Text),
    sa.Column("by", sa.String(100), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
)

tokens = sa.Table(
    "tokens",
    metadata,
    sa.Column("id", sa.String(16), primary_key=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("secret_hash", sa.String(64), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("revoked_at", UtcDateTime),
)


rule_versions = sa.Table(
    "rule_versions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("number", sa.Integer, nullable=False),
    sa.Column("content", sa.Text, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("author", sa.String(100), nullable=False),
    sa.Column("comment", sa.Text, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.UniqueConstraint("name", "number", name="uq_rule_versions_name_number"),
)


def utcnow() -> datetime:
    return datetime.now(UTC)


def private_sqlite_file(url: str) -> None:
    """A SQLite database file (and its WAL and shared-memory files) readable by its owner only (0600):
    it holds customers' cases and the token hashes. Created so when missing, made so when not."""
    if not url.startswith("sqlite"):
        return
    database = sa.make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    if not path.exists() and path.parent.is_dir():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    for file in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        try:
            if file.exists() and file.stat().st_mode & 0o077:
                file.chmod(0o600)
        except OSError:  # not ours to change
            pass


LONG_READ = 120.0  # seconds a report or an export may read (allow_long); every other statement: the database timeout
BACKGROUND_CONNECTIONS = 5
KEEPALIVE_IDLE = 30  # seconds an idle pooled PostgreSQL connection waits before the kernel probes its peer


def engine_for(url: str, timeout: float = 5.0, pool_size: int = 2) -> sa.Engine:
    """An engine for the URL: SQLite in WAL mode, PostgreSQL with a pool per worker process of
    `pool_size` connections (one per request thread) and BACKGROUND_CONNECTIONS more (the spool's flush,
    the scheduler, the watchers, the token refresh).

    `timeout` bounds every wait on the database, so that a request never hangs on it: connecting, the
    pool, a lock (lock_timeout), a statement (statement_timeout) and, should the server or the network
    stop answering altogether, every read from the connection (the server's own timeouts, plus a
    second). A write that fails so goes to the spool; a read answers 503. Reports and exports raise
    their own statements' limit with allow_long."""
    if url.startswith("sqlite"):
        private_sqlite_file(url)
        engine = sa.create_engine(url, connect_args={"timeout": timeout}, pool_timeout=max(timeout, 1.0))

        @sa.event.listens_for(engine, "connect")
        def _pragmas(connection, _):
            cursor = connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    milliseconds = max(1, round(timeout * 1000))
    io_timeout = timeout + 1.0
    options = " ".join(
        filter(
            None,
            [
                str(sa.make_url(url).query.get("options") or ""),
                f"-c lock_timeout={milliseconds}",
                f"-c statement_timeout={milliseconds}",
            ],
        )
    )
    engine = sa.create_engine(
        url,
        pool_size=max(1, pool_size),
        max_overflow=BACKGROUND_CONNECTIONS,
        pool_pre_ping=True,
        pool_timeout=timeout,
        connect_args={
            "connect_timeout": max(1, math.ceil(timeout)),  # libpq waits at least 2 s
            "options": options,
            # a peer gone without a word: idle connections are probed, and unacknowledged data gives up
            "keepalives": 1,
            "keepalives_idle": KEEPALIVE_IDLE,
            "keepalives_interval": 5,
            "keepalives_count": 3,
            "tcp_user_timeout": round(io_timeout * 1000),
        },
    )
    bounded = _bounded_connection()

    @sa.event.listens_for(engine, "do_connect")
    def _connect(dialect, record, cargs, cparams):
        connection = bounded.connect(*cargs, **cparams)
        connection.io_timeout = connection.default_io_timeout = io_timeout
        return connection

    @sa.event.listens_for(engine, "checkin")
    def _checkin(connection, record):
        if connection is not None and hasattr(connection, "default_io_timeout"):
            connection.io_timeout = connection.default_io_timeout

    return engine


def allow_long(conn: sa.Connection, seconds: float = LONG_READ) -> None:
    """Let the statements of this transaction (a report, an export, a list) run up to `seconds` on
    PostgreSQL instead of the database timeout, and wait that long (and a second) for their rows; the
    connection's next user has the timeout again."""
    if conn.dialect.name != "postgresql":
        return
    conn.exec_driver_sql(f"SET LOCAL statement_timeout = {max(1, round(seconds * 1000))}")
    driver = conn.connection.driver_connection
    if driver is not None and hasattr(driver, "io_timeout"):
        driver.io_timeout = seconds + 1.0


_BOUNDED: type | None = None


def _bounded_connection() -> type:
    """psycopg's Connection with every wait for the server bounded by its `io_timeout`: a server, or a
    network path, that stops answering mid-statement (no error, no reset) would otherwise hold the
    thread for ever. Past the bound the connection is closed, and the caller sees an OperationalError
    (the database is away: the spool takes a write)."""
    global _BOUNDED
    if _BOUNDED is None:
        import psycopg

        timed_out = psycopg.errors._WaitTimeout  # what Connection.wait raises when its timeout passes

        class BoundedConnection(psycopg.Connection):
            io_timeout: float | None = None
            default_io_timeout: float | None = None

            def wait(self, gen, interval=0.1, timeout=None):
                try:
                    return super().wait(gen, interval=interval, timeout=timeout if timeout is not None else self.io_timeout)
                except timed_out:
                    self.pgconn.finish()
                    raise psycopg.OperationalError(
                        f"the database did not answer within {self.io_timeout} s; connection closed"
                    ) from None

        _BOUNDED = BoundedConnection
    return _BOUNDED


@dataclass(frozen=True)
class Page:
    items: list[dict]
    next_cursor: str | None


class Prepared:
    """A statement compiled once for the engine's dialect and run on a driver cursor, each value passed
    through its column type's own bind processor (UTC instants, JSON): what SQLAlchemy does per call,
    minus about 100-150 us of its machinery. For the statements on every request's path."""

    def __init__(self, engine: sa.Engine, sql: str, columns):
        statement = sa.text(sql).bindparams(*[sa.bindparam(column.name, type_=column.type) for column in columns])
        compiled = statement.compile(dialect=engine.dialect)
        self.sql, self.order = compiled.string, compiled.positiontup
        dialect = engine.dialect
        self.binders = {column.name: column.type.dialect_impl(dialect).bind_processor(dialect) or _same for column in columns}

    def run(self, cursor, values: dict) -> int:
        """Execute with `values` (missing ones bind NULL); returns the rows affected."""
        bound = {name: bind(values.get(name)) for name, bind in self.binders.items()}
        cursor.execute(self.sql, [bound[name] for name in self.order] if self.order else bound)
        return cursor.rowcount


def _same(value):
    return value


def insert_ignoring(engine: sa.Engine, table: sa.Table, key: str) -> Prepared:
    """INSERT ... ON CONFLICT (key) DO NOTHING, as SQLite (3.24+) and PostgreSQL both write it (the
    dialects' on_conflict_do_nothing() compiles on every call)."""
    names = [column.name for column in table.columns if column.name != "id" or key == "id"]
    sql = f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({', '.join(':' + n for n in names)}) ON CONFLICT ({key}) DO NOTHING"
    return Prepared(engine, sql, [table.c[name] for name in names])


LIST_TIMEOUT = 5.0  # seconds a list query may run: past it the query is cancelled and the client gets a 503

# what a list of decisions shows: no request, no answer
SUMMARY = [
    decisions.c[name]
    for name in (
        "decision_id",
        "decided_at",
        "reported_at",
        "customer_id",
        "plan",
        "severity",
        "source",
        "pool",
        "rules_version",
        "model_version",
        "case_id",
    )
]


def id_floor(instant: datetime, shift_ms: int = 0) -> str:
    """The smallest UUIDv7 of the millisecond `instant` falls in (moved by `shift_ms`)."""
    millis = (instant - EPOCH) // timedelta(milliseconds=1) + shift_ms
    digits = f"{max(millis, 0):012x}"
    return f"{digits[:8]}-{digits[8:]}-0000-0000-000000000000"


def window(since: datetime | None, until: datetime | None) -> list:
    """decided_at in [since, until), as the range of ids it lies in plus the exact test on the instant.
    The ids' bounds are a millisecond wider than the window on each side: new_decision_id reads the
    instant through a float."""
    conditions = []
    if since is not None:
        conditions += [decisions.c.decision_id >= id_floor(since, -1), decisions.c.decided_at >= since]
    if until is not None:
        conditions += [decisions.c.decision_id < id_floor(until, 2), decisions.c.decided_at < until]
    return conditions


@contextmanager
def bounded(conn: sa.Connection, seconds: float):
    """Within the block, cancel a statement of `conn` that runs longer than `seconds` (PostgreSQL for
    the rest of the transaction): the database raises an OperationalError, which answers 503."""
    if conn.dialect.name == "postgresql":
        allow_long(conn, seconds)  # the statement's limit, and the connection's read bound with it
        yield
        return
    driver = conn.connection.driver_connection
    if driver is None or not hasattr(driver, "set_progress_handler"):
        yield
        return
    deadline = time.monotonic() + seconds
    driver.set_progress_handler(lambda: time.monotonic() > deadline, 100)
    try:
        yield
    finally:
        driver.set_progress_handler(None, 0)  # the pooled connection's next user runs unbounded


class Store:
    def __init__(self, engine: sa.Engine):
        self.engine = engine
        self._insert = insert_ignoring(engine, decisions, "decision_id")
        self.list_timeout = LIST_TIMEOUT  # seconds a list query may run before it is cancelled (a 503)

    def transient(self, exc: BaseException) -> bool:
        """Whether a failure means the database is away (unreachable, locked, timed out, a deadlock)
        rather than that it refuses what was sent: the spool takes the first kind, and retries it."""
        dbapi = self.engine.dialect.dbapi
        driver = tuple(
            kind for kind in (getattr(dbapi, "OperationalError", None), getattr(dbapi, "InterfaceError", None)) if kind
        )
        return isinstance(exc, (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.TimeoutError, *driver))

    # -- decisions --------------------------------------------------------------------------

    def save(self, records: list[dict]) -> int:
        """Insert decision records, skipping any decision_id already stored; returns how many were new."""
        if not records:
            return 0
        connection = self.engine.raw_connection()
        try:
            cursor = connection.cursor()
            inserted = sum(self._insert.run(cursor, _row(record)) for record in records)
            connection.commit()
            return inserted
        except BaseException:
            connection.rollback()
            raise
        finally:
            connection.close()  # back to the pool

    def insert_new(self, cursor, record: dict) -> bool:
        """Insert one decision on the caller's driver cursor; False when its decision_id is stored already."""
        return self._insert.run(cursor, _row(record)) == 1

    def insert(self, conn: sa.Connection, record: dict) -> None:
        """Insert one decision within the caller's transaction."""
        row = _row(record)
        conn.execute(sa.insert(decisions).values({column.name: row.get(column.name) for column in decisions.columns}))

    def get(self, decision_id: str) -> dict | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(decisions).where(decisions.c.decision_id == decision_id)).mappings().first()
            if row is None:
                return None
            history = (
                conn.execute(sa.select(feedback).where(feedback.c.decision_id == decision_id).order_by(feedback.c.id))
                .mappings()
                .all()
            )
        return {**_decision(row), "feedback": [_feedback(f) for f in history]}

    def find(
        self,
        *,
        since=None,
        until=None,
        customer=None,
        severity=None,
        pool=None,
        source=None,
        cursor=None,
        limit=50,
        summary=False,
    ) -> Page:
        """Decisions newest first, filtered; `cursor` continues after the last one of a previous page.
        `summary`: only the columns a list shows (no request, no answer), read within `list_timeout`.

        A time window is also a range of ids: a decision's id is a UUIDv7 minted from its decided_at
        (app.decide.classify.new_decision_id), so the window's rows are one stretch of every index
        the list walks, and the planner never walks the whole table filtering on the date."""
        query = sa.select(*SUMMARY) if summary else sa.select(decisions)
        for column, value in (
            (decisions.c.customer_id, customer),
            (decisions.c.severity, severity),
            (decisions.c.pool, pool),
        ):
            if value is not None:
                query = query.where(column == value)
        if source is not None:
            query = query.where(decisions.c.source == sa.bindparam("source", source, type_=sa.String, literal_execute=True))
        query = query.where(*window(since, until))
        if cursor is not None:
            query = query.where(decisions.c.decision_id < cursor)  # UUIDv7 ids sort by creation
        query = query.order_by(decisions.c.decision_id.desc()).limit(limit + 1)
        if pool is not None:
            # the page's ids first (with a severity, from ix_decisions_pool alone, however few of the
            # pool's rows match), then their rows
            ids = query.with_only_columns(decisions.c.decision_id).scalar_subquery()
            columns = SUMMARY if summary else [decisions]
            query = sa.select(*columns).where(decisions.c.decision_id.in_(ids)).order_by(decisions.c.decision_id.desc())
        with self.engine.connect() as conn:
            with bounded(conn, self.list_timeout):
                rows = conn.execute(query).mappings().all()
        items = [_summary(row) if summary else _decision(row) for row in rows[:limit]]
        return Page(items, items[-1]["decision_id"] if len(rows) > limit else None)

    def count_reported(self, customer_id: str, start: datetime, end: datetime) -> int:
        """How many decisions of a customer were reported in [start, end)."""
        query = (
            sa.select(sa.func.count())
            .select_from(decisions)
            .where(decisions.c.customer_id == customer_id, decisions.c.reported_at >= start, decisions.c.reported_at < end)
        )
        with self.engine.connect() as conn:
            return conn.execute(query).scalar_one()

    def export(self, since=None):
        """Every decision, whole, with its latest correction, oldest first (training a model from the
        store). Analysts' exports stream instead: app.store.exports.stream."""
        latest = (
            sa.select(feedback.c.decision_id, sa.func.max(feedback.c.id).label("id")).group_by(feedback.c.decision_id).subquery()
        )
        query = (
            sa.select(decisions, feedback.c.severity.label("corrected_severity"), feedback.c.pool.label("corrected_pool"))
            .outerjoin(latest, latest.c.decision_id == decisions.c.decision_id)
            .outerjoin(feedback, feedback.c.id == latest.c.id)
            .order_by(decisions.c.decision_id)
        )
        query = query.where(*window(since, None))
        with self.engine.connect() as conn:
            allow_long(conn)
            for row in conn.execute(query).mappings():
                yield {**_decision(row), "corrected_severity": row["corrected_severity"], "corrected_pool": row["corrected_pool"]}

    # -- feedback ---------------------------------------------------------------------------

    def add_feedback(self, decision_id: str, severity, pool, comment, by: str) -> dict | None:
        """Record a correction as history; None when there is no such decision."""
        with self.engine.begin() as conn:
            exists = conn.execute(sa.select(decisions.c.decision_id).where(decisions.c.decision_id == decision_id)).first()
            if exists is None:
                return None
            values = {
                "decision_id": decision_id,
                "severity": severity,
                "pool": pool,
                "comment": comment,
                "by": by,
                "created_at": utcnow(),
            }
            new_id = conn.execute(sa.insert(feedback).values(values)).inserted_primary_key[0]  # type: ignore[index]
        return _feedback({**values, "id": new_id})

    # -- tokens -----------------------------------------------------------------------------

    def add_token(self, token_id: str, name: str, role: str, secret_hash: str) -> dict:
        values = {"id": token_id, "name": name, "role": role, "secret_hash": secret_hash, "created_at": utcnow()}
        with self.engine.begin() as conn:
            conn.execute(sa.insert(tokens).values(values))
        return _token(values)

    def tokens(self, include_revoked: bool = True) -> list[dict]:
        query = sa.select(tokens).order_by(tokens.c.created_at)
        if not include_revoked:
            query = query.where(tokens.c.revoked_at.is_(None))
        with self.engine.connect() as conn:
            return [{**_token(row), "secret_hash": row["secret_hash"]} for row in conn.execute(query).mappings()]

    def revoke_token(self, token_id: str) -> bool:
        """Revoke an active token (False: no such active token). The last active admin token stays
        (LastAdminToken): nobody could manage tokens through the API any more."""
        active_admins = sa.select(tokens.c.id).where(tokens.c.role == "admin", tokens.c.revoked_at.is_(None))
        with self.engine.begin() as conn:
            # PostgreSQL: lock the active admin tokens, so that two admins revoking each other's token at
            # once cannot both succeed; SQLite has one writer at a time, and the count follows the update
            conn.execute(active_admins.with_for_update()).all()
            result = conn.execute(
                sa.update(tokens).where(tokens.c.id == token_id, tokens.c.revoked_at.is_(None)).values(revoked_at=utcnow())
            )
            if result.rowcount != 1:
                return False
            role = conn.execute(sa.select(tokens.c.role).where(tokens.c.id == token_id)).scalar()
            if role == "admin" and not conn.execute(active_admins).first():
                raise LastAdminToken(  # leaving the block rolls the revocation back
                    f"token {token_id} is the last active admin token; create another admin token first "
                    "(POST /v1/tokens, or triage tokens create --role admin --name YOU), then revoke this one"
                )
        return True


class Conflict(Exception):
    """Someone published a newer version in between."""


class LastAdminToken(Exception):
    """Revoking this token would leave no active admin token."""


class RuleVersions:
    """Immutable versions of the rule documents; the newest of each name is the current one."""

    def __init__(self, engine: sa.Engine):
        self.engine = engine

    def stamp(self) -> int | None:
        """Changes whenever anything is published (the newest id)."""
        with self.engine.connect() as conn:
            return conn.execute(sa.select(sa.func.max(rule_versions.c.id))).scalar()

    def current(self) -> dict[str, dict]:
        """The newest version of every document, by name."""
        newest = (
            sa.select(rule_versions.c.name, sa.func.max(rule_versions.c.number).label("number"))
            .group_by(rule_versions.c.name)
            .subquery()
        )
        query = sa.select(rule_versions).join(
            newest, (rule_versions.c.name == newest.c.name) & (rule_versions.c.number == newest.c.number)
        )
        with self.engine.connect() as conn:
            return {row["name"]: dict(row) for row in conn.execute(query).mappings()}

    def history(self, name: str) -> list[dict]:
        query = sa.select(rule_versions).where(rule_versions.c.name == name).order_by(rule_versions.c.number.desc())
        with self.engine.connect() as conn:
            return [dict(row) for row in conn.execute(query).mappings()]

    def get(self, name: str, number: int) -> dict | None:
        query = sa.select(rule_versions).where(rule_versions.c.name == name, rule_versions.c.number == number)
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        return dict(row) if row else None

    def publish(self, name: str, content: str, author: str, comment: str, expected: int | None) -> dict:
        """Add the next version of `name`, if its current number is still `expected` (None: no version yet)."""
        return self.publish_many({name: (content, expected)}, author, comment)[0]

    def publish_many(self, changes: dict, author: str, comment: str) -> list[dict]:
        """Publish several documents ({name: (content, expected number)}) in one transaction: every
        instance sees all of them or none."""
        import hashlib

        rows = []
        with self.engine.begin() as conn:
            for name, (content, expected) in changes.items():
                current = conn.execute(
                    sa.select(sa.func.max(rule_versions.c.number)).where(rule_versions.c.name == name)
                ).scalar()
                if current != expected:
                    raise Conflict(f"{name} is at version {current}, not {expected}")
                rows.append(
                    {
                        "name": name,
                        "number": (current or 0) + 1,
                        "content": content,
                        "sha256": hashlib.sha256(content.encode()).hexdigest(),
                        "author": author,
                        "comment": comment,
                        "created_at": utcnow(),
                    }
                )
            try:
                conn.execute(sa.insert(rule_versions), rows)
            except sa.exc.IntegrityError:  # a concurrent publish took the same number
                raise Conflict(f"{', '.join(changes)} published concurrently") from None
        return rows


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _row(record: dict) -> dict:
    """The stored row of a decision record: what SQL reads of the answer gets its own column."""
    answer = record.get("answer") or {}
    language = (answer.get("language") or {}).get("code")
    classifier = (answer.get("severity") or {}).get("classifier") or {}
    stored = packing.lean(answer, record["decision_id"], record.get("case_id"), record["reported_at"], record["decided_at"])
    return {
        **record,
        "answer": stored,
        "stored_at": utcnow(),
        "language": language,
        "classifier_level": classifier.get("level"),
    }


def _summary(row) -> dict:
    return {column.name: row[column.name] for column in SUMMARY}


def _decision(row) -> dict:
    return {
        "decision_id": row["decision_id"],
        "decided_at": row["decided_at"],
        "reported_at": row["reported_at"],
        "customer_id": row["customer_id"],
        "plan": row["plan"],
        "severity": row["severity"],
        "source": row["source"],
        "pool": row["pool"],
        "rules_version": row["rules_version"],
        "model_version": row["model_version"],
        "request": row["request"],
        "answer": packing.whole(row["answer"], row["decision_id"], row.get("case_id"), row["reported_at"], row["decided_at"]),
        "stored_at": row["stored_at"],
        "case_id": row.get("case_id"),
    }


def _feedback(row) -> dict:
    return {
        "id": row["id"],
        "severity": row["severity"],
        "pool": row["pool"],
        "comment": row["comment"],
        "by": row["by"],
        "created_at": row["created_at"],
    }


def _token(row) -> dict:
    return {
        "id": row["id"],
        "name": row["name"],
        "role": row["role"],
        "created_at": row["created_at"],
        "revoked_at": row.get("revoked_at"),
    }


def upgrade(url: str) -> None:
    """Bring the database schema to the newest migration."""
    from alembic import command
    from alembic.config import Config

    private_sqlite_file(url)
    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(config, "head")


def current_revision(engine: sa.Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    return str(ScriptDirectory.from_config(config).get_current_head())
