"""The case store: cases (one row a case, the snapshot its queue views filter on), their timeline
of events, and the due moments the scheduler acts on. Tables and queries; what a timeline means is
app.lifecycle's business.

Exactly once: a scheduler step's event carries a unique `step_key` (case, step, clock cycle), so a
step two workers or instances both reach is recorded by one of them; PostgreSQL also hands each due
row to one worker (FOR UPDATE SKIP LOCKED)."""

import uuid
from datetime import datetime

import sqlalchemy as sa

from app.store.database import UtcDateTime, decisions, insert_ignoring, metadata, utcnow
from app.store.packing import whole

cases = sa.Table(
    "cases",
    metadata,
    sa.Column("case_id", sa.String(100), primary_key=True),
    sa.Column("customer_id", sa.String(100), nullable=False),
    sa.Column("plan", sa.String(20), nullable=False),
    sa.Column("reported_at", UtcDateTime, nullable=False),
    sa.Column("state", sa.String(20), nullable=False),
    sa.Column("severity", sa.Integer, nullable=False),
    sa.Column("pool", sa.String(64), nullable=False),
    sa.Column("tier", sa.String(4), nullable=False),
    sa.Column("clock_status", sa.String(20), nullable=False),
    sa.Column("due_at", UtcDateTime),
    sa.Column("risk_at", UtcDateTime),  # half the response target gone unacknowledged
    sa.Column("acknowledged_at", UtcDateTime),
    sa.Column("breached", sa.Boolean, nullable=False),
    sa.Column("revision", sa.Integer, nullable=False),  # one more for every change; bumping it locks the row
    sa.Column("updated_at", UtcDateTime, nullable=False),
    # The queue views go in case-id order: each filter has an index that gives its rows in that order
    # (plan and severity have a few values: walking the ids finds a page of them soon), the late and
    # the unacknowledged cases a partial one; a window of first reports is a range of reported_at.
    sa.Index("ix_cases_customer_reported", "customer_id", "reported_at"),  # the plan's quota (count_before)
    sa.Index("ix_cases_state_due", "state", "due_at"),
    sa.Index("ix_cases_pool", "pool", "case_id"),
    sa.Index("ix_cases_customer", "customer_id", "case_id"),
    sa.Index("ix_cases_state", "state", "case_id"),
    sa.Index("ix_cases_tier", "tier", "case_id"),
    sa.Index("ix_cases_reported", "reported_at"),
    sa.Index(
        "ix_cases_unacknowledged",
        "case_id",
        postgresql_where=sa.text("acknowledged_at IS NULL"),
        sqlite_where=sa.text("acknowledged_at IS NULL"),
    ),
    sa.Index("ix_cases_breached", "case_id", postgresql_where=sa.text("breached"), sqlite_where=sa.text("breached")),
)

case_events = sa.Table(
    "case_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.String(36), nullable=False, unique=True),
    sa.Column("case_id", sa.String(100), sa.ForeignKey("cases.case_id"), nullable=False),
    sa.Column("type", sa.String(30), nullable=False),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("recorded_at", UtcDateTime, nullable=False),
    sa.Column("author", sa.String(100), nullable=False),
    sa.Column("author_id", sa.String(16)),  # the token's id (names need not be unique)
    sa.Column("engineer", sa.String(100)),
    sa.Column("data", sa.JSON, nullable=False),
    sa.Column("step_key", sa.String(250), unique=True),  # scheduler steps: case, step and clock cycle
    sa.Index("ix_case_events_case", "case_id", "at", "id"),
)

due_actions = sa.Table(
    "due_actions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("case_id", sa.String(100), sa.ForeignKey("cases.case_id"), nullable=False),
    sa.Column("step", sa.String(120), nullable=False),
    sa.Column("cycle", sa.Integer, nullable=False),
    sa.Column("action", sa.String(20), nullable=False),
    sa.Column("tier", sa.String(4)),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("due_at", UtcDateTime, nullable=False),
    sa.UniqueConstraint("case_id", "step", "cycle", name="uq_due_actions_step"),
    sa.Index("ix_due_actions_due", "due_at"),
)


class Statements:
    """The statements on every classification's path, compiled once (app.store.database.Prepared):
    a new case with its first decision is written in one driver transaction without reading back."""

    def __init__(self, engine: sa.Engine):
        self.case = insert_ignoring(engine, cases, "case_id")
        self.event = insert_ignoring(engine, case_events, "event_id")
        self.due = insert_ignoring(engine, due_actions, "case_id, step, cycle")


def new_event_id() -> str:
    return str(uuid.uuid4())


def lock(conn, case_id: str) -> dict | None:
    """Take the case's row for this transaction (a write, so SQLite takes its lock too); its row or None."""
    updated = conn.execute(sa.update(cases).where(cases.c.case_id == case_id).values(revision=cases.c.revision + 1))
    if updated.rowcount == 0:
        return None
    return dict(conn.execute(sa.select(cases).where(cases.c.case_id == case_id)).mappings().one())


def create(conn, case_id: str, customer_id: str, plan: str, reported_at: datetime, snapshot: dict) -> None:
    conn.execute(
        sa.insert(cases).values(
            case_id=case_id, customer_id=customer_id, plan=plan, reported_at=reported_at, revision=0, **snapshot
        )
    )


def update(conn, case_id: str, snapshot: dict) -> None:
    conn.execute(sa.update(cases).where(cases.c.case_id == case_id).values(**snapshot))


def event_row(case_id: str, event: dict) -> dict:
    return {
        "event_id": event.get("event_id") or new_event_id(),
        "case_id": case_id,
        "type": event["type"],
        "at": event["at"],
        "recorded_at": utcnow(),
        "author": event.get("author") or "",
        "author_id": event.get("author_id"),
        "engineer": event.get("engineer"),
        "data": event.get("data") or {},
        "step_key": event.get("step_key"),
    }


def add_event(conn, case_id: str, event: dict) -> int:
    """Append an event; raises IntegrityError for a repeated event_id or step_key."""
    return conn.execute(sa.insert(case_events).values(event_row(case_id, event))).inserted_primary_key[0]


def events(conn, case_id: str) -> list[dict]:
    query = sa.select(case_events).where(case_events.c.case_id == case_id).order_by(case_events.c.at, case_events.c.id)
    return [dict(row) for row in conn.execute(query).mappings()]


def events_of(conn, case_ids: list[str]) -> dict[str, list[dict]]:
    """The timelines of many cases, read in batches."""
    timelines: dict[str, list[dict]] = {case_id: [] for case_id in case_ids}
    for first in range(0, len(case_ids), 500):
        batch = case_ids[first : first + 500]
        query = (
            sa.select(case_events)
            .where(case_events.c.case_id.in_(batch))
            .order_by(case_events.c.case_id, case_events.c.at, case_events.c.id)
        )
        for row in conn.execute(query).mappings():
            timelines[row["case_id"]].append(dict(row))
    return timelines


def latest_decision(conn, case_id: str) -> dict | None:
    columns = ("decision_id", "case_id", "reported_at", "decided_at", "request", "answer")
    query = (
        sa.select(*[decisions.c[name] for name in columns])
        .where(decisions.c.case_id == case_id)
        .order_by(decisions.c.decision_id.desc())
        .limit(1)
    )
    row = conn.execute(query).mappings().first()
    if row is None:
        return None
    answer = whole(row["answer"], row["decision_id"], row["case_id"], row["reported_at"], row["decided_at"])
    return {"decision_id": row["decision_id"], "request": row["request"], "answer": answer}


def due_row(action) -> dict:
    fields = ("case_id", "step", "cycle", "action", "tier", "reason", "due_at")
    return {name: getattr(action, name) for name in fields}


def replace_due(conn, case_id: str, actions) -> None:
    """The case's pending due moments become `actions` (DueAction), all others dropped."""
    conn.execute(sa.delete(due_actions).where(due_actions.c.case_id == case_id))
    if actions:
        conn.execute(sa.insert(due_actions), [due_row(a) for a in actions])


def claim_due(conn, now: datetime, limit: int) -> list[dict]:
    """Due rows for this transaction to act on. On PostgreSQL the row's *case* is locked (a case
    another worker holds is skipped): every writer locks a case before its due rows, so the scheduler
    and an engineer's event never wait on each other in opposite orders. On SQLite one writer at a
    time acts anyway."""
    query = (
        sa.select(due_actions)
        .join(cases, cases.c.case_id == due_actions.c.case_id)
        .where(due_actions.c.due_at <= now)
        .order_by(due_actions.c.due_at)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=cases)
    return [dict(row) for row in conn.execute(query).mappings()]


def postpone_due(conn, action_id: int, until: datetime) -> None:
    conn.execute(sa.update(due_actions).where(due_actions.c.id == action_id).values(due_at=until))


def drop_due(conn, action_id: int) -> None:
    conn.execute(sa.delete(due_actions).where(due_actions.c.id == action_id))


def count_before(conn, customer_id: str, case_id: str, start: datetime, end: datetime) -> int:
    """The customer's other cases first reported in [start, end) before `end`."""
    query = (
        sa.select(sa.func.count())
        .select_from(cases)
        .where(
            cases.c.customer_id == customer_id,
            cases.c.reported_at >= start,
            cases.c.reported_at < end,
            cases.c.case_id != case_id,
        )
    )
    return conn.execute(query).scalar_one()


# A list with a time window first looks through the next WALK cases in case-id order; when fewer than
# a page of them lie in the window, it reads the window through ix_cases_reported and sorts it.
# Case ids are the clients' own and need not follow time: the walk alone could pass every case
# outside the window first (measured: 113,599 rows, 44 ms, for a month six months ago).
WALK = 5000


def find(conn, filters: dict, now: datetime, cursor: str | None, limit: int) -> tuple[list[dict], str | None]:
    """Cases in case-id order, filtered; `cursor` continues after the last one of a previous page."""
    conditions = []
    for key in ("state", "pool", "plan", "severity", "tier"):
        if filters.get(key) is not None:
            conditions.append(getattr(cases.c, key) == filters[key])
    if filters.get("customer") is not None:
        conditions.append(cases.c.customer_id == filters["customer"])
    # literals, not bound values, where a partial index's condition must be seen to hold
    if filters.get("breached") is not None:
        late = sa.or_(cases.c.breached, sa.and_(cases.c.acknowledged_at.is_(None), cases.c.due_at <= now))
        conditions.append(late if filters["breached"] else sa.not_(late))
    if filters.get("at_risk") is not None:
        risk = sa.and_(
            cases.c.acknowledged_at.is_(None),
            cases.c.state != sa.literal_column("'resolved'"),
            cases.c.risk_at <= now,
            cases.c.due_at > now,
        )
        conditions.append(risk if filters["at_risk"] else sa.not_(risk))
    if cursor is not None:
        conditions.append(cases.c.case_id > cursor)
    query = sa.select(cases).where(*conditions)
    if not _window(cases, filters):
        rows = _page(conn, query, cases, {}, limit)
    else:
        walk = query.order_by(cases.c.case_id).limit(WALK).subquery()
        rows = _page(conn, sa.select(walk), walk, filters, limit)
        if len(rows) <= limit:  # the window is sparse among the next WALK cases: sort the window
            inside = query.where(*_window(cases, filters)).offset(0).subquery()  # OFFSET 0: read it, then sort
            rows = _page(conn, sa.select(inside), inside, {}, limit)
    items = [dict(row) for row in rows[:limit]]
    return items, items[-1]["case_id"] if len(rows) > limit else None


def _window(table, filters: dict) -> list:
    """The time window's conditions (since, until) on `table`'s reported_at."""
    window = []
    if filters.get("since") is not None:
        window.append(table.c.reported_at >= filters["since"])
    if filters.get("until") is not None:
        window.append(table.c.reported_at < filters["until"])
    return window


def _page(conn, query, table, filters: dict, limit: int) -> list:
    """A page (and one row more) of `query` over `table` in case-id order, within the time window
    that `filters` give."""
    query = query.where(*_window(table, filters)).order_by(table.c.case_id).limit(limit + 1)
    return list(conn.execute(query).mappings())
