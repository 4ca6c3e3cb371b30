"""Cases with a life, on the real database (SQLite and PostgreSQL): identity, events, the clock,
the scheduler's steps (each exactly once), the quota counting cases, and the penalty report."""

import json
import sqlite3
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app import create_app
from app.decide.contract import CaseSchema
from app.lifecycle.case import EVENTS, STATES
from app.lifecycle.casebook import CaseConflict
from app.store.cases import cases

from .conftest import authed, case

OUTAGE = {"subject": "Production down", "description": "Production is down for all users, sales have stopped."}


def new_id(prefix: str = "T") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def classify(triage, body: dict, now: datetime):
    """Through the service, at a chosen instant (the HTTP layer uses the server's clock)."""
    return triage.classify_and_record(CaseSchema().load(body), body, now)


def event(triage, case_id: str, kind: str, at: datetime, **data):
    return triage.record_event(case_id, {"type": kind, "at": at, "author": "test", "data": data}, at)


@pytest.fixture
def triage(app):
    return app.extensions["triage"]


# -- identity ---------------------------------------------------------------------------------


def test_a_case_id_is_assigned_when_absent_and_another_customers_id_is_refused(client):
    first = client.post("/v1/classify", json=case(customer={"id": new_id("cust"), "plan": "premium", "country": "DE"}))
    assigned = first.get_json()["case_id"]
    assert first.status_code == 200 and assigned
    assert client.get(f"/v1/cases/{assigned}").get_json()["case_id"] == assigned
    other = client.post(
        "/v1/classify", json=case(case_id=assigned, customer={"id": new_id("cust"), "plan": "premium", "country": "DE"})
    )
    assert other.status_code == 409 and "another customer" in other.get_json()["message"]


def test_classifying_a_case_again_adds_a_decision_and_keeps_the_first_report(client):
    customer, case_id = {"id": new_id("cust"), "plan": "premium", "country": "DE"}, new_id()
    first = client.post("/v1/classify", json=case(case_id=case_id, customer=customer, reported_at="2026-11-02T10:00:00+00:00"))
    again = client.post(
        "/v1/classify",
        json=case(
            case_id=case_id, customer=customer, description="Still down for everyone.", reported_at="2026-11-02T11:00:00+00:00"
        ),
    )
    assert again.get_json()["sla"]["due_at"] == first.get_json()["sla"]["due_at"]  # the clock runs from the first report
    view = client.get(f"/v1/cases/{case_id}").get_json()
    assert [e["type"] for e in view["timeline"]] == ["decided", "breached", "decided"]  # late on arrival, once
    assert view["clocks"]["response"]["started_at"] == "2026-11-02T10:00:00+00:00"


def test_a_resubmitted_case_counts_once_for_the_quota(client):
    customer = {"id": new_id("basic"), "plan": "basic", "country": "DE"}
    body = case(case_id=new_id(), customer=customer, reported_at="2026-11-03T10:00:00+00:00")
    for _ in range(11):
        assert client.post("/v1/classify", json=body).get_json()["entitlement"]["ok"]
    for day in range(9):  # nine more cases: ten in the quarter
        other = case(customer=customer, reported_at=f"2026-11-{day + 4:02d}T10:00:00+00:00")
        assert client.post("/v1/classify", json=other).get_json()["entitlement"]["ok"]
    eleventh = client.post("/v1/classify", json=case(customer=customer, reported_at="2026-11-20T10:00:00+00:00")).get_json()
    assert eleventh["entitlement"]["problems"] == ["case 11 in 2026-Q4: the basic plan includes 10 cases per quarter"]


# -- events -----------------------------------------------------------------------------------


def _open_case(client, **fields) -> str:
    case_id = new_id()
    customer = fields.pop("customer", {"id": new_id("cust"), "plan": "premium", "country": "DE"})
    assert client.post("/v1/classify", json=case(case_id=case_id, customer=customer, **fields)).status_code == 200
    return case_id


def test_acknowledging_stops_the_clock_and_a_second_acknowledgement_is_refused_naming_the_state(app, tokens):
    client = authed(app, "engineer")
    case_id = _open_case(authed(app, "intake"))
    acked = client.post(f"/v1/cases/{case_id}/events", json={"type": "acknowledged", "engineer": "Jana Nováková"})
    assert acked.status_code == 201
    clock = acked.get_json()["clocks"]["response"]
    assert clock["status"] == "met" and clock["acknowledged_at"] and clock["response_minutes"] is not None
    entry = acked.get_json()["timeline"][-1]
    assert entry["author"] == "test engineer" and entry["engineer"] == "Jana Nováková"
    again = client.post(f"/v1/cases/{case_id}/events", json={"type": "acknowledged"})
    assert again.status_code == 409 and "it is acknowledged" in again.get_json()["message"]


@pytest.mark.parametrize(
    ("steps", "refused", "says"),
    [
        (["resolved"], {"type": "acknowledged"}, "resolved"),
        ([], {"type": "customer_replied"}, "not waiting"),
        ([], {"type": "reopened"}, "not resolved"),
        (["waiting_on_customer"], {"type": "waiting_on_customer"}, "already waiting"),
    ],
)
def test_an_event_the_state_does_not_allow_is_refused_with_409(client, steps, refused, says):
    case_id = _open_case(client)
    for kind in steps:
        assert client.post(f"/v1/cases/{case_id}/events", json={"type": kind}).status_code == 201
    reply = client.post(f"/v1/cases/{case_id}/events", json=refused)
    assert reply.status_code == 409 and says in reply.get_json()["message"]


def test_bad_events_get_a_clear_4xx(client):
    case_id = _open_case(client)
    assert client.post("/v1/cases/nope/events", json={"type": "acknowledged"}).status_code == 404
    cases = {
        "type": {"type": "closed"},
        "level": {"type": "severity_changed", "reason": "x"},
        "tier": {"type": "escalated", "tier": "L1"},
        "pool": {"type": "reassigned", "pool": "atlantis"},
        "at": {"type": "acknowledged", "at": "2030-01-01T00:00:00+00:00"},
    }
    for field, body in cases.items():
        reply = client.post(f"/v1/cases/{case_id}/events", json=body)
        assert reply.status_code == 422 and field in reply.get_json()["errors"], (field, reply.get_json())
    early = client.post(f"/v1/cases/{case_id}/events", json={"type": "acknowledged", "at": "2020-01-01T00:00:00+00:00"})
    assert early.status_code == 422 and "before the case's last entry" in early.get_json()["errors"]["at"][0]


def test_a_regrade_re_targets_the_deadline_and_keeps_both(triage):
    report = datetime(2026, 11, 9, 10, 0, tzinfo=UTC)
    case_id = new_id()
    classify(
        triage, {**case(case_id=case_id, description="How do I export invoices?"), "reported_at": report.isoformat()}, report
    )
    before = triage.casebook.view(case_id, report)
    regraded = event(triage, case_id, "severity_changed", report + timedelta(minutes=20), level=1, reason="whole shop down")
    assert regraded.severity == 1 and regraded.clock.due_at == report + timedelta(minutes=50)
    data = regraded.entries[-1].data
    assert data["previous"] == before.severity
    assert data["due_before"] == before.clock.due_at.isoformat() and data["due_after"] == regraded.clock.due_at.isoformat()


def test_escalation_and_reassignment_route_again_with_a_trace(client):
    case_id = _open_case(client)
    escalated = client.post(f"/v1/cases/{case_id}/events", json={"type": "escalated", "tier": "SE"}).get_json()
    assert escalated["tier"] == "SE" and escalated["timeline"][-1]["data"]["trace"]
    reassigned = client.post(f"/v1/cases/{case_id}/events", json={"type": "reassigned", "pool": "de-l1"}).get_json()
    assert reassigned["pool"] == "de-l1" and reassigned["tier"] == "L1"


# -- the scheduler ----------------------------------------------------------------------------


def _premium_outage(triage, report: datetime) -> str:
    case_id = new_id()
    customer = {"id": new_id("cust"), "plan": "premium", "country": "DE"}
    classify(triage, {**OUTAGE, "customer": customer, "case_id": case_id, "reported_at": report.isoformat()}, report)
    return case_id


def test_the_worked_example_rerouted_at_15_acknowledged_at_22(triage):
    report = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)
    case_id = _premium_outage(triage, report)
    first_pool = triage.casebook.view(case_id, report).pool
    triage.casebook.tick(report + timedelta(minutes=14))
    assert [e.type for e in triage.casebook.view(case_id, report).entries] == ["decided"]
    triage.casebook.tick(report + timedelta(minutes=15))
    view = triage.casebook.view(case_id, report + timedelta(minutes=15))
    [rerouted] = [e for e in view.entries if e.type == "rerouted"]
    assert rerouted.data["pool"] != first_pool and view.pool == rerouted.data["pool"]
    assert "not acknowledged at 50% of the 30-minute target" in rerouted.data["reason"]
    acked = event(triage, case_id, "acknowledged", report + timedelta(minutes=22))
    assert acked.clock.status == "met" and acked.clock.response_minutes == 22
    triage.casebook.tick(report + timedelta(minutes=40))
    view = triage.casebook.view(case_id, report + timedelta(minutes=40))
    assert [e.type for e in view.entries] == ["decided", "rerouted", "acknowledged"]


def test_an_unacknowledged_case_is_rerouted_escalated_and_breached_each_once(triage):
    report = datetime(2026, 11, 16, 12, 0, tzinfo=UTC)
    case_id = _premium_outage(triage, report)
    for minute in (15, 15, 24, 24, 30, 31, 45):
        triage.casebook.tick(report + timedelta(minutes=minute))
    view = triage.casebook.view(case_id, report + timedelta(minutes=45))
    assert [e.type for e in view.entries] == ["decided", "rerouted", "escalated", "breached"]
    assert view.tier == "EE" and view.clock.status == "missed" and view.clock.minutes_late == 15
    assert [e.at for e in view.entries[1:]] == [report + timedelta(minutes=m) for m in (15, 24, 30)]
    assert all(e.author == "scheduler" for e in view.entries[1:])


def test_a_case_late_on_arrival_is_breached_at_once_and_once(triage, client):
    report = datetime.now(UTC) - timedelta(hours=2)
    case_id = new_id()
    body = {**OUTAGE, "case_id": case_id, "customer": {"id": new_id("cust"), "plan": "premium", "country": "DE"}}
    client.post("/v1/classify", json={**body, "reported_at": report.isoformat()})
    client.post("/v1/classify", json={**body, "reported_at": report.isoformat()})
    view = client.get(f"/v1/cases/{case_id}").get_json()
    assert [e["type"] for e in view["timeline"]].count("breached") == 1
    assert view["breached"] and view["clocks"]["response"]["status"] == "missed"


def test_steps_that_came_due_while_the_service_was_down_run_once_and_say_so(triage):
    report = datetime(2026, 11, 17, 9, 0, tzinfo=UTC)
    case_id = _premium_outage(triage, report)
    triage.casebook.tick(report + timedelta(minutes=20))  # the scheduler was away until minute 20
    [rerouted] = [e for e in triage.casebook.view(case_id, report).entries if e.type == "rerouted"]
    assert rerouted.data["late_by_seconds"] == 300


def test_queue_views_filter_by_state_risk_and_breach(client, triage):
    customer = {"id": new_id("queue"), "plan": "premium", "country": "DE"}
    now = datetime.now(UTC)
    fresh = _open_case(client, customer=customer, **OUTAGE)
    risky = _open_case(client, customer=customer, reported_at=(now - timedelta(minutes=20)).isoformat(), **OUTAGE)
    late = _open_case(client, customer=customer, reported_at=(now - timedelta(hours=3)).isoformat(), **OUTAGE)
    done = _open_case(client, customer=customer, **OUTAGE)
    client.post(f"/v1/cases/{done}/events", json={"type": "resolved"})

    def ids(**query):
        page = client.get("/v1/cases", query_string={"customer": customer["id"], **query}).get_json()
        return {item["case_id"] for item in page["items"]}

    assert ids() == {fresh, risky, late, done}
    assert ids(state="resolved") == {done}
    assert ids(at_risk="true") == {risky}
    assert ids(breached="true") == {late}
    assert ids(severity=1, state="open") == {fresh, risky, late}
    page = client.get("/v1/cases", query_string={"customer": customer["id"], "limit": 3}).get_json()
    rest = client.get(
        "/v1/cases", query_string={"customer": customer["id"], "limit": 3, "cursor": page["next_cursor"]}
    ).get_json()
    assert len(page["items"]) == 3 and len(rest["items"]) == 1 and rest["next_cursor"] is None


# -- the penalty report -----------------------------------------------------------------------


def test_the_penalty_report_of_a_month_grows_with_misses_up_to_the_cap(triage, client):
    """acme-global's contract: a fee of 40,000, misses cost 2%, 5%, then 10% each, capped at 25%."""
    start = datetime(2026, 10, 5, 9, 0, tzinfo=UTC)
    customer = {"id": "acme-global", "plan": "premium", "country": "DE"}
    minutes_late = [5, 15, 40, 60, None]  # None: never acknowledged
    for index, late in enumerate(minutes_late + [-10, -25]):  # and two met
        report = start + timedelta(days=index)
        case_id = f"ACME-10-{index}"
        classify(triage, {**OUTAGE, "customer": customer, "case_id": case_id, "reported_at": report.isoformat()}, report)
        if late is not None:
            event(triage, case_id, "acknowledged", report + timedelta(minutes=30 + late))
    reply = client.get("/v1/reports/sla", query_string={"period": "2026-10", "customer": "acme-global"})
    report = reply.get_json()
    [acme] = report["customers"]
    assert (acme["cases"], acme["met"], acme["missed"], acme["pending"]) == (7, 2, 5, 0)
    assert acme["attainment"] == pytest.approx(28.57)
    assert [m["penalty"] for m in acme["misses"]] == [800, 2000, 4000, 3200, 0]  # 25% of 40,000 caps the month
    assert [m["minutes_late"] for m in acme["misses"]] == [5, 15, 40, 60, None]
    assert acme["misses"][-1]["unacknowledged"] and acme["penalty_total"] == 10000
    assert acme["median_response_minutes"] == 40 and acme["p90_response_minutes"] == 70  # of 5, 20, 35, 45, 70, 90
    assert report["currency"] == "EUR"
    assert client.get("/v1/reports/sla", query_string={"period": "2026-10", "customer": "acme-global"}).get_json() == report
    assert client.get("/v1/reports/sla", query_string={"period": "2026-13"}).status_code == 422


def test_a_customer_whose_plan_changed_owes_each_plans_contract(triage, client):
    """Misses under the premium plan are numbered and priced by its contract; after the customer moves
    to advanced (no contract), its misses cost nothing, and the report is made (it failed with 500)."""
    customer_id = f"moved-{uuid.uuid4().hex[:8]}"
    start = datetime(2026, 8, 3, 9, 0, tzinfo=UTC)
    for index, plan in enumerate(["premium", "premium", "advanced", "advanced"]):
        report = start + timedelta(days=index)
        customer = {"id": customer_id, "plan": plan, "country": "DE"}
        classify(
            triage,
            {**OUTAGE, "customer": customer, "case_id": f"{customer_id}-{index}", "reported_at": report.isoformat()},
            report,
        )
    reply = client.get("/v1/reports/sla", query_string={"period": "2026-08", "customer": customer_id})
    assert reply.status_code == 200, reply.get_json()
    [moved] = reply.get_json()["customers"]
    assert [(m["case_id"][-1], m["penalty"]) for m in moved["misses"]] == [("0", 250), ("1", 500), ("2", 0), ("3", 0)]


# -- nothing lost -----------------------------------------------------------------------------


def test_an_event_sent_while_the_database_is_away_is_spooled_and_applied_after(tmp_path):
    application = create_app({"INSTANCE_DIR": str(tmp_path), "DATABASE_TIMEOUT": 0.3, "SCHEDULER_INTERVAL": 0})
    triage = application.extensions["triage"]
    try:
        client = authed(application, "engineer")
        intake = authed(application, "intake")
        case_id = new_id()
        assert intake.post("/v1/classify", json=case(case_id=case_id)).status_code == 200
        lock = sqlite3.connect(tmp_path / "triage.db", timeout=10, isolation_level=None)
        lock.execute("BEGIN EXCLUSIVE")
        try:
            reply = client.post(f"/v1/cases/{case_id}/events", json={"type": "acknowledged"})
            assert reply.status_code == 202 and reply.get_json()["accepted"]
        finally:
            lock.execute("ROLLBACK")
            lock.close()
        assert triage.flusher.flush_now() == 1
        view = client.get(f"/v1/cases/{case_id}").get_json()
        assert [e["type"] for e in view["timeline"]] == ["decided", "acknowledged"]
        assert triage.flusher.flush_now() == 0
    finally:
        triage.stop()
        triage.store.engine.dispose()


# -- the CLI ----------------------------------------------------------------------------------


def test_sla_tick_and_report_from_the_command_line(tmp_path):
    import os
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    triage_bin = shutil.which("triage", path=str(Path(sys.executable).parent))
    env = {**os.environ, "TRIAGE_INSTANCE_DIR": str(tmp_path)}
    application = create_app({"INSTANCE_DIR": str(tmp_path), "SCHEDULER_INTERVAL": 0})
    triage = application.extensions["triage"]
    try:
        report = datetime.now(UTC) - timedelta(minutes=20)  # premium severity 1: past its 15-minute reroute
        customer = {"id": "cli-customer", "plan": "premium", "country": "DE"}
        classify(triage, {**OUTAGE, "customer": customer, "case_id": "CLI-1", "reported_at": report.isoformat()}, report)
    finally:
        triage.stop()
        triage.store.engine.dispose()
    ticked = subprocess.run([triage_bin, "sla", "tick"], env=env, capture_output=True, text=True, timeout=120)
    assert ticked.returncode == 0 and ticked.stdout.strip() == "1 step(s) recorded", ticked.stderr
    period = f"{report:%Y-%m}"
    table = subprocess.run(
        [triage_bin, "sla", "report", "--period", period], env=env, capture_output=True, text=True, timeout=120
    )
    assert table.returncode == 0 and "cli-customer" in table.stdout and "total penalties" in table.stdout
    as_json = subprocess.run(
        [triage_bin, "sla", "report", "--period", period, "--format", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    [row] = json.loads(as_json.stdout)["customers"]
    assert (row["cases"], row["pending"]) == (1, 1)
    bad = subprocess.run(
        [triage_bin, "sla", "report", "--period", "2026-13"], env=env, capture_output=True, text=True, timeout=120
    )
    assert bad.returncode == 2 and "not a month" in bad.stderr


# -- any sequence of events, through the store ----------------------------------------------


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(EVENTS), st.integers(0, 90), st.sampled_from([1, 2, 3, 4])), max_size=8))
def test_any_sequence_of_events_through_the_store_leaves_a_legal_state(triage, events):
    """Events through the real store, refused (409) or kept: the stored case is always in a legal state,
    and its response time is the wall-clock minutes from the report to the first response (24/7)."""
    report = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
    case_id = _premium_outage(triage, report)
    at, responded = report, None
    for kind, gap, level in events:
        at += timedelta(minutes=gap)
        data = {"level": level, "reason": "r"} if kind == "severity_changed" else {"tier": "EE"} if kind == "escalated" else {}
        try:
            event(triage, case_id, kind, at, **data)
        except CaseConflict:
            continue
        if kind in ("acknowledged", "resolved") and responded is None:
            responded = at
    view = triage.casebook.view(case_id, at)
    assert view.state in STATES
    with triage.store.engine.connect() as conn:
        stored = conn.execute(sa.select(cases.c.state, cases.c.acknowledged_at).where(cases.c.case_id == case_id)).one()
    assert stored.state == view.state and stored.acknowledged_at == view.clock.acknowledged_at
    if responded is None:
        assert view.clock.response_minutes is None and view.clock.acknowledged_at is None
    else:
        assert view.clock.response_minutes == (responded - report).total_seconds() / 60


# -- what a review found ------------------------------------------------------------------------


def test_a_customers_edit_keeps_the_clock_of_the_first_report(triage):
    """Sent again as an outage 50 minutes after a question, the case was due at 09:30: late, once."""
    report = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    case_id, customer = new_id(), {"id": new_id("cust"), "plan": "premium", "country": "DE"}
    question = {"subject": "Invoice export", "description": "How do I export invoices?", "customer": customer, "case_id": case_id}
    classify(triage, {**question, "reported_at": report.isoformat()}, report)
    edited = {**OUTAGE, "customer": customer, "case_id": case_id, "reported_at": (report + timedelta(minutes=50)).isoformat()}
    answer = classify(triage, edited, report + timedelta(minutes=50))
    assert answer.sla.due_at == report + timedelta(minutes=30)
    view = triage.casebook.view(case_id, report + timedelta(minutes=51))
    assert view.severity == 1 and view.clock.cycle == 0 and view.clock.due_at == report + timedelta(minutes=30)
    assert view.breached and [e.type for e in view.entries].count("breached") == 1


def test_a_regrade_after_a_breach_does_not_undo_the_miss(triage, client):
    report = datetime(2026, 9, 8, 9, 0, tzinfo=UTC)
    customer = {"id": new_id("regrade"), "plan": "premium", "country": "DE"}
    case_id = new_id()
    classify(triage, {**OUTAGE, "customer": customer, "case_id": case_id, "reported_at": report.isoformat()}, report)
    triage.casebook.tick(report + timedelta(minutes=45))  # rerouted, escalated, breached at 09:30
    event(triage, case_id, "severity_changed", report + timedelta(minutes=50), level=2, reason="workaround found")
    met_later = event(triage, case_id, "acknowledged", report + timedelta(minutes=55))
    assert met_later.clock.status == "met" and met_later.breached  # this clock was met; the promise was not
    rows = client.get("/v1/reports/sla", query_string={"period": "2026-09", "customer": customer["id"]}).get_json()
    [row] = rows["customers"]
    assert (row["met"], row["missed"]) == (0, 1)
    [miss] = row["misses"]
    assert miss["due_at"] == "2026-09-08T09:30:00+00:00" and miss["severity"] == 1 and miss["minutes_late"] == 25
    assert miss["penalty"] == 250


def test_misses_are_numbered_in_their_contract_period_whatever_the_report(triage, client):
    """A premium month: 250 for the first miss, 500 for the second; a quarter's report says the same."""
    customer = {"id": new_id("months"), "plan": "premium", "country": "DE"}
    for day in (30, 31):  # two misses in October, the second due on 1 November
        report = datetime(2026, 10, day, 23, 50, tzinfo=UTC)
        case_id = new_id()
        classify(triage, {**OUTAGE, "customer": customer, "case_id": case_id, "reported_at": report.isoformat()}, report)
        event(triage, case_id, "acknowledged", report + timedelta(minutes=45))
    report = datetime(2026, 11, 10, 9, 0, tzinfo=UTC)  # and one in November
    case_id = new_id()
    classify(triage, {**OUTAGE, "customer": customer, "case_id": case_id, "reported_at": report.isoformat()}, report)
    event(triage, case_id, "acknowledged", report + timedelta(minutes=45))

    def penalties(period):
        [row] = client.get("/v1/reports/sla", query_string={"period": period, "customer": customer["id"]}).get_json()["customers"]
        return [m["penalty"] for m in row["misses"]]

    assert penalties("2026-10") == [250, 500]
    assert penalties("2026-11") == [250]
    assert penalties("2026-Q4") == [250, 500, 250]


def test_a_case_older_than_a_year_still_reads(client, triage):
    report = datetime(2025, 9, 3, 10, 0, tzinfo=UTC)  # a basic case on business hours, never acknowledged
    customer = {"id": new_id("old"), "plan": "basic", "country": "DE"}
    case_id = new_id()
    body = {"subject": "Report wrong", "description": "One column of the report is wrong.", "customer": customer}
    classify(triage, {**body, "case_id": case_id, "reported_at": report.isoformat()}, report)
    assert client.get(f"/v1/cases/{case_id}").get_json()["clocks"]["response"]["status"] == "missed"
    assert client.get("/v1/reports/sla", query_string={"period": "2025-Q3", "customer": customer["id"]}).status_code == 200


def test_an_event_the_case_cannot_take_is_a_4xx_not_a_spooled_202(client):
    case_id = _open_case(client)
    reply = client.post(f"/v1/cases/{case_id}/events", json={"type": "escalated", "tier": "EE", "area": "  "})
    assert reply.status_code == 422, reply.get_json()


def test_the_spool_replays_in_the_order_records_came_across_processes(tmp_path):
    """A decision spooled by one worker, its acknowledgement by another with a lower pid: the flush
    writes the decision first, and a record the database refuses is set aside, not in the way."""
    application = create_app({"INSTANCE_DIR": str(tmp_path), "SCHEDULER_INTERVAL": 0})
    triage = application.extensions["triage"]
    try:
        now = datetime.now(UTC)
        body = case(case_id=new_id())
        decision = triage.classify(CaseSchema().load(body), now)
        record = triage._record_of(decision, body, None)
        spool = triage.spool
        (spool.folder / "spool-900.jsonl").write_text(json.dumps({**record, "_spooled_ns": 1}, default=str) + "\n")
        ack = {
            "kind": "event",
            "case_id": body["case_id"],
            "event_id": str(uuid.uuid4()),
            "type": "acknowledged",
            "at": now.isoformat(),
        }
        broken = {
            "kind": "event",
            "case_id": "never-seen",
            "event_id": str(uuid.uuid4()),
            "type": "resolved",
            "at": now.isoformat(),
        }
        (spool.folder / "spool-100.jsonl").write_text(
            json.dumps({**ack, "_spooled_ns": 2}) + "\n" + json.dumps({**broken, "_spooled_ns": 3}) + "\n"
        )
        assert triage.flusher.flush_now() == 3 and spool.depth() == 0
        view = triage.casebook.view(body["case_id"], now)
        assert [e.type for e in view.entries] == ["decided", "acknowledged"]
        assert spool.rejected() == 1
        assert authed(application, "ops").get("/readyz").get_json()["spool_rejected"] == 1
    finally:
        triage.stop()
        triage.store.engine.dispose()


def test_a_pause_over_a_weekend_and_the_dst_change_through_the_store(triage):
    """The same business-hours arithmetic as tests/test_lifecycle_clock.py, on the real database:
    a basic case waits on the customer from Friday 17:00 (CEST) to Tuesday 10:00 (CET)."""
    from zoneinfo import ZoneInfo

    berlin = ZoneInfo("Europe/Berlin")
    report = datetime(2026, 10, 23, 16, 0, tzinfo=berlin)
    customer = {"id": new_id("pause"), "plan": "basic", "country": "DE"}
    case_id = new_id()
    body = {"subject": "Report wrong", "description": "One column of the report is wrong.", "customer": customer}
    classify(triage, {**body, "case_id": case_id, "reported_at": report.isoformat()}, report)
    assert triage.casebook.view(case_id, report).severity == 3  # 720 business minutes on the basic plan
    event(triage, case_id, "waiting_on_customer", datetime(2026, 10, 23, 17, 0, tzinfo=berlin))
    replied = event(triage, case_id, "customer_replied", datetime(2026, 10, 27, 10, 0, tzinfo=berlin))
    assert replied.clock.paused_minutes == 60 + 540 + 60  # Friday 17-18, Monday, Tuesday 09-10
    assert replied.clock.due_at == datetime(2026, 10, 28, 12, 0, tzinfo=berlin)
    acked = event(triage, case_id, "acknowledged", datetime(2026, 10, 27, 11, 0, tzinfo=berlin))
    assert acked.clock.response_minutes == 120 and acked.clock.status == "met"
