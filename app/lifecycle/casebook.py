"""The casebook: cases kept in the store, each change one transaction that appends to the timeline,
re-derives the case from it (app.lifecycle.case) and re-plans its due moments; and the scheduler's
pass over the moments that came due."""

import contextlib
import logging
from datetime import datetime, timedelta

import marshmallow as ma
import sqlalchemy as sa

from app import offload
from app.decide.classify import assign
from app.decide.contract import CaseSchema
from app.lifecycle.case import CaseView, Entry, refusal, replay
from app.lifecycle.clock import instant_after
from app.lifecycle.report import sla_report, window
from app.lifecycle.schedule import BREACH, DueAction, due_actions
from app.routing.contracts import Contracts
from app.routing.sla import Terms
from app.rulebook.book import Rulebook
from app.rulebook.live import LiveRulebook
from app.store import cases as table
from app.store.database import LONG_READ, Store, allow_long, decisions, engine_for

log = logging.getLogger("triage.cases")

AT_RISK_SHARE = 0.5  # a case is at risk once half its response target has gone unacknowledged
LATE_STEP = timedelta(seconds=60)  # a step run this much after its moment says it ran late
RETRY_FAILED_STEP = timedelta(seconds=60)  # a step that failed (not for the database) is tried again after this
REPORT_SECONDS = LONG_READ + 30  # a report's child: its reads may take LONG_READ, then the replay


class CaseConflict(Exception):
    """The request does not fit the case: another customer's case id, or an event its state refuses."""


class CaseNotFound(Exception):
    pass


class ReportedEarlier(Exception):
    """The case exists: its response clock runs from its first report, at `reported_at`."""

    def __init__(self, reported_at: datetime):
        self.reported_at = reported_at
        super().__init__(reported_at.isoformat())


class EventInvalid(Exception):
    """An event whose content is wrong for this case (unknown pool, an instant before the report)."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(message)


class CaseBook:
    def __init__(self, store: Store, rulebook: LiveRulebook):
        self.store, self.rulebook = store, rulebook
        self.statements = table.Statements(store.engine)
        self._pipelined = store.engine.dialect.name == "postgresql"

    @property
    def engine(self) -> sa.Engine:
        return self.store.engine

    # -- reading ----------------------------------------------------------------------------

    def count_before(self, customer_id: str, case_id: str, start: datetime, end: datetime) -> int:
        with self.engine.connect() as conn:
            return table.count_before(conn, customer_id, case_id, start, end)

    def view(self, case_id: str, now: datetime) -> CaseView:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(table.cases).where(table.cases.c.case_id == case_id)).mappings().first()
            if row is None:
                raise CaseNotFound(case_id)
            return self._replay(dict(row), table.events(conn, case_id), self.rulebook.get(), now)

    def find(self, filters: dict, now: datetime, cursor: str | None, limit: int):
        with self.engine.connect() as conn:
            return table.find(conn, filters, now, cursor, limit)

    def report(self, period: str, customer: str | None, now: datetime) -> dict:
        """The SLA report of `period` (of one customer) as at `now` (PeriodInvalid), made in a child
        process (app.offload): a quarter replays every case in it, for seconds, which in this process
        would hold the GIL the intake threads need. One at a time per worker (offload.Overloaded)."""
        window(period)  # a period that is no period is refused here, before any process starts
        rules = self.rulebook.get()
        url = self.engine.url.render_as_string(hide_password=False)
        with offload.slot("report"):
            return offload.call(period_report, url, period, customer, now, rules.terms, rules.contracts, seconds=REPORT_SECONDS)

    # -- writing ----------------------------------------------------------------------------

    def record_decision(self, record: dict, now: datetime, as_answered: bool = False) -> None:
        """Store a decision and add it to its case (created at its first decision), in one transaction;
        a repeated decision_id (a spool replay) changes nothing. For a case that exists, a decision made
        on another report instant raises ReportedEarlier (decide again from the first report) unless
        it was `as_answered` already (a spooled one)."""
        rules = self.rulebook.get()
        entry = _decided(record)
        if self._create(record, entry, rules, now):
            return
        with self.engine.begin() as conn:
            exists = conn.execute(
                sa.select(decisions.c.decision_id).where(decisions.c.decision_id == record["decision_id"])
            ).first()
            if exists:
                return
            self.store.insert(conn, record)
            case_id, customer = record["case_id"], record["customer_id"]
            row = table.lock(conn, case_id)
            if row is None:
                view = replay(case_id, customer, record["plan"], [_entry(entry)], rules.terms, now)
                table.create(conn, case_id, customer, record["plan"], record["reported_at"], self._snapshot(view, now))
            elif row["customer_id"] != customer:
                raise CaseConflict(f"case_id {case_id!r} belongs to another customer's case; case ids are unique")
            elif row["reported_at"] != record["reported_at"] and not as_answered:
                raise ReportedEarlier(row["reported_at"])
            elif record["reported_at"] < row["reported_at"]:  # a spooled first report, kept after a later one
                table.update(conn, case_id, {"reported_at": record["reported_at"]})
            table.add_event(conn, case_id, entry)
            self._settle(conn, case_id, rules, now)

    def _create(self, record: dict, entry: dict, rules: Rulebook, now: datetime) -> bool:
        """A new case's first decision, case row, timeline entry and due moments in one driver
        transaction, nothing read back (the path of nearly every classification). False when the case
        exists, or arrives already late: the general path takes it."""
        view = replay(record["case_id"], record["customer_id"], record["plan"], [_entry(entry)], rules.terms, now)
        pending = due_actions(view, rules.escalation, rules.terms)
        if any(action.due_at <= now for action in pending):
            return False
        case_row = {"case_id": view.case_id, "customer_id": view.customer_id, "plan": view.plan, "revision": 0}
        case_row.update(reported_at=record["reported_at"], **self._snapshot(view, now))
        connection = self.engine.raw_connection()
        try:
            case_cursor, cursor = connection.cursor(), connection.cursor()
            # PostgreSQL: every statement in one round trip (psycopg's pipeline), the counts read after
            driver = connection.driver_connection
            with driver.pipeline() if self._pipelined and driver is not None else contextlib.nullcontext():
                self.statements.case.run(case_cursor, case_row)
                self.store.insert_new(cursor, record)  # a decision kept already (a spool replay) has its case too
                self.statements.event.run(cursor, table.event_row(view.case_id, entry))
                for action in pending:
                    self.statements.due.run(cursor, table.due_row(action))
            if case_cursor.rowcount != 1:  # the case exists: the general path adds the decision to it
                connection.rollback()
                return False
            connection.commit()
            return True
        except BaseException:
            connection.rollback()
            raise
        finally:
            connection.close()

    def record_event(self, case_id: str, event: dict, now: datetime, replayed: bool = False) -> CaseView:
        """Apply an engineer's event: refused (CaseConflict) when the case's state does not allow it, and
        (EventInvalid) when it is dated before the case's last entry, unless it is `replayed` from the
        spool, where it waited while the timeline went on."""
        rules = self.rulebook.get()
        with self.engine.begin() as conn:
            if (
                event.get("event_id")
                and conn.execute(
                    sa.select(table.case_events.c.id).where(table.case_events.c.event_id == event["event_id"])
                ).first()
            ):
                return self._view(conn, case_id, rules, now)  # a spool replay of an event already kept
            row = table.lock(conn, case_id)
            if row is None:
                raise CaseNotFound(case_id)
            view = self._replay(row, table.events(conn, case_id), rules, now)
            why = refusal(view, event["type"], event.get("data", {}))
            if why:
                raise CaseConflict(f"{event['type']} refused: {why}")
            latest = view.entries[-1].at
            if event["at"] < latest and not replayed:  # an event is judged by the state it meets, so it comes after the timeline
                raise EventInvalid(
                    "at",
                    f"{event['at'].isoformat()} is before the case's last entry ({latest.isoformat()}); events come in order",
                )
            data = dict(event.get("data") or {})
            if event["type"] in ("escalated", "reassigned"):
                data.update(self._reroute(conn, view, rules, event["at"], data))
            if event["type"] == "severity_changed":  # a re-targeted clock is recorded with both deadlines
                after = replay(
                    view.case_id, view.customer_id, view.plan, (*view.entries, _entry({**event, "data": data})), rules.terms, now
                )
                data.update(
                    previous=view.severity, due_before=_iso_or_none(view.clock.due_at), due_after=_iso_or_none(after.clock.due_at)
                )
            table.add_event(conn, case_id, {**event, "data": data})
            return self._settle(conn, case_id, rules, now, before=view)

    # -- the scheduler ----------------------------------------------------------------------

    def tick(self, now: datetime, limit: int = 1000) -> int:
        """Act on every due moment up to `now` (at most `limit`), each in its own transaction; returns
        how many steps were recorded. Any number of workers and instances may tick at once."""
        done = 0
        for _ in range(limit):
            with self.engine.begin() as conn:
                claimed = table.claim_due(conn, now, 1)
                if not claimed:
                    break
                try:
                    with conn.begin_nested():
                        done += self._act(conn, claimed[0], now)
                except Exception as exc:
                    if self.store.transient(exc):
                        raise
                    # one case's failure must not stop the others: it is tried again a little later
                    log.exception(
                        "scheduler step %s of case %s failed; retried in a minute", claimed[0]["step"], claimed[0]["case_id"]
                    )
                    table.postpone_due(conn, claimed[0]["id"], now + RETRY_FAILED_STEP)
        return done

    def _act(self, conn, due: dict, now: datetime) -> int:
        rules = self.rulebook.get()
        row = table.lock(conn, due["case_id"])
        still = conn.execute(sa.select(table.due_actions.c.id).where(table.due_actions.c.id == due["id"])).first()
        if row is None or still is None:
            return 0  # another worker acted on it first (SQLite), or the case went away
        view = self._replay(row, table.events(conn, due["case_id"]), rules, now)
        wanted = {(a.step, a.cycle): a for a in due_actions(view, rules.escalation, rules.terms)}
        action = wanted.get((due["step"], due["cycle"]))
        if action is None or action.due_at > now:  # acknowledged, regraded or paused meanwhile
            self._settle(conn, due["case_id"], rules, now, before=view)
            return 0
        entry = self._step_entry(conn, view, action, rules, now)
        try:
            with conn.begin_nested():
                table.add_event(conn, view.case_id, entry)
        except sa.exc.IntegrityError:  # the step is on the timeline already: exactly once
            table.drop_due(conn, due["id"])
            return 0
        self._settle(conn, view.case_id, rules, now, before=view)
        return 1

    def _step_entry(self, conn, view: CaseView, action: DueAction, rules: Rulebook, now: datetime) -> dict:
        data: dict = {"step": action.step, "cycle": action.cycle, "reason": action.reason, "due_at": _iso(action.due_at)}
        if now - action.due_at > LATE_STEP:
            data["late_by_seconds"] = round((now - action.due_at).total_seconds())
        if action.action == BREACH:
            kind = "breached"
            data["level"] = view.severity
        else:
            kind = "rerouted" if action.action == "reroute" else "escalated"
            tried = {view.pool} | {e.data["pool"] for e in view.entries if e.type == "rerouted" and e.data.get("pool")}
            change = {"tier": action.tier} if action.action == "escalate" else {}
            data.update(
                self._reroute(conn, view, rules, now, change, exclude=frozenset(tried) if kind == "rerouted" else frozenset())
            )
        step_key = f"{view.case_id}:{action.step}:{action.cycle}"
        at = max(now, view.entries[-1].at)  # never before what the timeline already holds
        return {"type": kind, "at": at, "author": "scheduler", "data": data, "step_key": step_key}

    # -- helpers ----------------------------------------------------------------------------

    def _reroute(self, conn, view: CaseView, rules: Rulebook, at: datetime, change: dict, exclude=frozenset()) -> dict:
        """The pool (and trace) the routes give the case at `at`, with a new tier or area, a pool named
        by hand, or the pools already tried passed over."""
        if "pool" in change and change["pool"] not in rules.pools:
            raise EventInvalid("pool", f"no pool {change['pool']!r}; pools are {', '.join(rules.pools)}")
        if "pool" in change:
            pool = rules.pools[change["pool"]]
            return {"pool": pool.id, "tier": pool.tier, "trace": [f"reassigned by hand to {pool.id} ({pool.tier})"]}
        latest = table.latest_decision(conn, view.case_id)
        assert latest is not None, "every case has a decision"
        body = dict(latest["request"])
        body["tier"] = change.get("tier", view.tier)
        body["reported_at"] = view.clock.started_at.isoformat()  # the deadline runs from the first report
        if change.get("area"):
            body["product_area"] = change["area"]
        try:
            case = CaseSchema(clock=None).load(body)
        except ma.ValidationError as err:  # an area the case cannot take
            raise EventInvalid("area", f"the case cannot be routed with it: {err.messages}") from None
        answer = latest["answer"]
        signals = dict.fromkeys(answer.get("signals", []), True)
        _, _, routing, _ = assign(case, answer["language"]["code"], view.severity, signals, rules, at, exclude=exclude)
        return {"pool": routing.pool.id, "tier": routing.pool.tier, "trace": list(routing.trace)}

    def _settle(self, conn, case_id: str, rules: Rulebook, now: datetime, before: CaseView | None = None) -> CaseView:
        """Re-derive the case from its timeline, record a breach it arrived with, keep its snapshot and
        re-plan its due moments."""
        view = self._view(conn, case_id, rules, now)
        pending = due_actions(view, rules.escalation, rules.terms)
        breach = next((a for a in pending if a.action == BREACH and a.due_at <= now), None)
        if breach is not None and not any(e.type == "breached" and e.data.get("cycle") == breach.cycle for e in view.entries):
            # late on arrival (or on a regrade): one state, recorded once, at once
            try:
                with conn.begin_nested():
                    table.add_event(conn, case_id, self._step_entry(conn, view, breach, rules, now))
            except sa.exc.IntegrityError:
                pass
            view = self._view(conn, case_id, rules, now)
            pending = due_actions(view, rules.escalation, rules.terms)
        table.update(conn, case_id, self._snapshot(view, now))
        table.replace_due(conn, case_id, pending)
        return view

    def _view(self, conn, case_id: str, rules: Rulebook, now: datetime) -> CaseView:
        row = conn.execute(sa.select(table.cases).where(table.cases.c.case_id == case_id)).mappings().one()
        return self._replay(dict(row), table.events(conn, case_id), rules, now)

    @staticmethod
    def _replay(row: dict, events: list[dict], rules: Rulebook, now: datetime) -> CaseView:
        return _replayed(row, events, rules.terms, now)

    def _snapshot(self, view: CaseView, now: datetime) -> dict:
        clock = view.clock
        calendar = self.rulebook.get().terms.clock_of(view.plan)
        unacknowledged = clock.acknowledged_at is None and view.state != "resolved"
        risk_at = instant_after(calendar, clock.segments, clock.target_minutes * AT_RISK_SHARE) if unacknowledged else None
        return {
            "state": view.state,
            "severity": view.severity,
            "pool": view.pool,
            "tier": view.tier,
            "clock_status": clock.status,
            "due_at": clock.due_at,
            "risk_at": risk_at,
            "acknowledged_at": clock.acknowledged_at,
            "breached": view.breached,
            "updated_at": now,
        }


def _entry(row: dict) -> Entry:
    return Entry(
        row["type"],
        row["at"],
        row.get("data") or {},
        row.get("author") or "",
        row.get("engineer"),
        row.get("id"),
        row.get("recorded_at"),
    )


def _decided(record: dict) -> dict:
    """The timeline entry of a decision."""
    return {
        "type": "decided",
        "at": record["decided_at"],
        "author": record.get("author") or "",
        "author_id": record.get("author_id"),
        "data": {
            "decision_id": record["decision_id"],
            "level": record["severity"],
            "pool": record["pool"],
            "tier": record["tier"],
            "reported_at": _iso(record["reported_at"]),
        },
    }


def _iso_or_none(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _iso(value) -> str:
    return value if isinstance(value, str) else value.isoformat()


def _replayed(row: dict, events: list[dict], terms: Terms, now: datetime) -> CaseView:
    return replay(row["case_id"], row["customer_id"], row["plan"], [_entry(e) for e in events], terms, now)


def period_report(url: str, period: str, customer: str | None, now: datetime, terms: Terms, contracts: Contracts) -> dict:
    """The SLA report of `period` from the store at `url`: every case first reported in the quarters
    around it (window) replayed as at `now`. What Casebook.report runs in its child process."""
    start, end = window(period)
    query = sa.select(table.cases).where(table.cases.c.reported_at >= start, table.cases.c.reported_at < end)
    if customer is not None:
        query = query.where(table.cases.c.customer_id == customer)
    engine = engine_for(url, pool_size=1)
    try:
        with engine.connect() as conn:
            allow_long(conn)  # a period's report reads every case in it
            rows = [dict(row) for row in conn.execute(query).mappings()]
            timelines = table.events_of(conn, [row["case_id"] for row in rows])
    finally:
        engine.dispose()
    views = [_replayed(row, timelines[row["case_id"]], terms, now) for row in rows]
    return sla_report(period, views, contracts, terms)
