"""The decision store: decisions, engineers' feedback and access tokens, on SQLite or PostgreSQL.

SQLAlchemy Core; the schema is created by Alembic (app/migrations). Writes of a decision are
idempotent by decision_id, so replaying a spooled decision never duplicates it.
"""

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa


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
    sa.Column("request", sa.JSON, nullable=False),
    sa.Column("answer", sa.JSON, nullable=False),
    sa.Column("stored_at", UtcDateTime, nullable=False),
    sa.Column("case_id", sa.String(100)),  # null on decisions stored before cases had a life
    sa.Index("ix_decisions_customer_reported", "customer_id", "reported_at"),
    sa.Index("ix_decisions_case", "case_id", "decision_id"),
    sa.Index("ix_decisions_decided_at", "decided_at"),
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


def engine_for(url: str, timeout: float = 5.0) -> sa.Engine:
    """An engine for the URL: SQLite in WAL mode, PostgreSQL with a small pool per worker process.
    `timeout` bounds how long a write waits for a locked or unreachable database before the spool
    takes the decision."""
    if url.startswith("sqlite"):
        private_sqlite_file(url)
        engine = sa.create_engine(url, connect_args={"timeout": timeout})

        @sa.event.listens_for(engine, "connect")
        def _pragmas(connection, _):
            cursor = connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    # each sync worker handles one request at a time, plus the background flush: a small pool per process
    return sa.create_engine(
        url,
        pool_size=2,
        max_overflow=2,
        pool_pre_ping=True,
        pool_timeout=timeout,
        connect_args={"connect_timeout": max(1, round(timeout))},
    )


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
        self.binders = {column.name: column.type.bind_processor(engine.dialect) or _same for column in columns}

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


class Store:
    def __init__(self, engine: sa.Engine):
        self.engine = engine
        self._insert = insert_ignoring(engine, decisions, "decision_id")

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
        self, *, since=None, until=None, customer=None, severity=None, pool=None, source=None, cursor=None, limit=50
    ) -> Page:
        """Decisions newest first, filtered; `cursor` continues after the last one of a previous page."""
        query = sa.select(decisions)
        for column, value in (
            (decisions.c.customer_id, customer),
            (decisions.c.severity, severity),
            (decisions.c.pool, pool),
            (decisions.c.source, source),
        ):
            if value is not None:
                query = query.where(column == value)
        if since is not None:
            query = query.where(decisions.c.decided_at >= since)
        if until is not None:
            query = query.where(decisions.c.decided_at < until)
        if cursor is not None:
            query = query.where(decisions.c.decision_id < cursor)  # UUIDv7 ids sort by creation
        query = query.order_by(decisions.c.decision_id.desc()).limit(limit + 1)
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        items = [_decision(row) for row in rows[:limit]]
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
        """Every decision with its latest correction, oldest first, for analysts."""
        latest = (
            sa.select(feedback.c.decision_id, sa.func.max(feedback.c.id).label("id")).group_by(feedback.c.decision_id).subquery()
        )
        query = (
            sa.select(decisions, feedback.c.severity.label("corrected_severity"), feedback.c.pool.label("corrected_pool"))
            .outerjoin(latest, latest.c.decision_id == decisions.c.decision_id)
            .outerjoin(feedback, feedback.c.id == latest.c.id)
            .order_by(decisions.c.decision_id)
        )
        if since is not None:
            query = query.where(decisions.c.decided_at >= since)
        with self.engine.connect() as conn:
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


def _row(record: dict) -> dict:
    return {**record, "stored_at": utcnow()}


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
        "answer": row["answer"],
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
