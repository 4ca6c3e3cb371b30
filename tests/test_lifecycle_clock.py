"""The case state machine and the response clock, as pure functions of a timeline (no database)."""

import dataclasses
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from app.lifecycle.case import EVENTS, STATES, Entry, refusal, replay
from app.lifecycle.schedule import due_actions

from .helpers import book

BERLIN = ZoneInfo("Europe/Berlin")
TERMS = book().terms


def decided(at: datetime, level: int, reported: datetime | None = None, pool: str = "de-l1") -> Entry:
    return Entry("decided", at, {"level": level, "pool": pool, "tier": "L1", "reported_at": (reported or at).isoformat()})


def play(plan: str, entries, now, terms=TERMS):
    return replay("c", "cust", plan, entries, terms, now)


# -- business hours: pauses across a weekend, a DST change and a public holiday ---------------


def test_a_pause_over_a_weekend_and_the_dst_change_moves_the_deadline_by_working_time_only():
    report = datetime(2026, 10, 23, 16, 0, tzinfo=BERLIN)  # Friday, CEST; clocks go back on Sunday 25 October
    waiting = datetime(2026, 10, 23, 17, 0, tzinfo=BERLIN)
    replied = datetime(2026, 10, 27, 10, 0, tzinfo=BERLIN)  # Tuesday, CET
    entries = [decided(report, 3), Entry("waiting_on_customer", waiting), Entry("customer_replied", replied)]
    paused = play("basic", entries[:2], datetime(2026, 10, 26, 12, 0, tzinfo=BERLIN)).clock
    assert paused.status == "paused" and paused.due_at is None
    assert paused.paused_minutes == 60 + 180  # Friday 17-18, Monday 09-12 so far
    clock = play("basic", entries, replied).clock
    # 720 business minutes: 60 on Friday before the pause; 660 after Tuesday 10:00 = 480 on Tuesday + 180 on Wednesday
    assert clock.due_at == datetime(2026, 10, 28, 12, 0, tzinfo=BERLIN)
    assert clock.paused_minutes == 60 + 540 + 60  # Friday 17-18, all of Monday, Tuesday 09-10
    acknowledged = play("basic", [*entries, Entry("acknowledged", datetime(2026, 10, 27, 11, 0, tzinfo=BERLIN))], replied)
    assert acknowledged.clock.response_minutes == 60 + 60 and acknowledged.clock.status == "met"


def test_a_pause_over_christmas_skips_the_public_holidays():
    report = datetime(2026, 12, 23, 17, 0, tzinfo=BERLIN)  # Wednesday; 25 and 26 December are holidays in Germany
    entries = [decided(report, 3)]
    assert play("basic", entries, report).clock.due_at == datetime(2026, 12, 28, 11, 0, tzinfo=BERLIN)
    entries += [
        Entry("waiting_on_customer", datetime(2026, 12, 24, 10, 0, tzinfo=BERLIN)),
        Entry("customer_replied", datetime(2026, 12, 28, 10, 0, tzinfo=BERLIN)),
    ]
    clock = play("basic", entries, datetime(2026, 12, 28, 10, 0, tzinfo=BERLIN)).clock
    assert clock.paused_minutes == 480 + 60  # Thursday 10-18, Monday 09-10; Friday and Saturday are holidays
    # 120 used before the pause, 480 on Monday from 10:00, 120 on Tuesday
    assert clock.due_at == datetime(2026, 12, 29, 11, 0, tzinfo=BERLIN)


def test_a_24_7_clock_does_not_pause():
    report = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
    entries = [decided(report, 1), Entry("waiting_on_customer", report + timedelta(minutes=5))]
    view = play("premium", entries, report + timedelta(minutes=10))
    assert view.state == "waiting" and not view.clock.paused
    assert view.clock.due_at == report + timedelta(minutes=30)


# -- regrades ---------------------------------------------------------------------------------


def test_a_regrade_re_targets_the_clock_by_the_sla_policy():
    report = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
    regrade = report + timedelta(minutes=20)
    entries = [decided(report, 3), Entry("severity_changed", regrade, {"level": 1, "reason": "whole shop down"})]
    before = play("premium", entries[:1], regrade).clock
    assert before.due_at == report + timedelta(minutes=720)
    after = play("premium", entries, regrade)
    assert after.severity == 1 and after.regraded and after.clock.cycle == 1
    assert TERMS.severity_change == "from_change"  # the shipped policy: the new target runs from the regrade
    assert after.clock.due_at == regrade + timedelta(minutes=30)
    from_report = play("premium", entries, regrade, dataclasses.replace(TERMS, severity_change="from_report")).clock
    assert from_report.due_at == report + timedelta(minutes=30)


def test_a_classification_after_a_regrade_does_not_override_the_provider():
    report = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
    entries = [
        decided(report, 3),
        Entry("severity_changed", report + timedelta(minutes=5), {"level": 2, "reason": "checked"}),
        decided(report + timedelta(minutes=9), 4, report),
    ]
    assert play("premium", entries, report + timedelta(minutes=10)).severity == 2


# -- the scheduler's steps ----------------------------------------------------------------------


def test_premium_severity_1_steps_come_due_at_their_share_of_the_target():
    report = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
    view = play("premium", [decided(report, 1)], report)
    steps = {(a.action, a.due_at) for a in due_actions(view, book().escalation, TERMS)}
    assert steps == {
        ("reroute", report + timedelta(minutes=15)),
        ("escalate", report + timedelta(minutes=24)),
        ("breach", report + timedelta(minutes=30)),
    }
    acknowledged = play("premium", [decided(report, 1), Entry("acknowledged", report + timedelta(minutes=22))], report)
    assert due_actions(acknowledged, book().escalation, TERMS) == []


# -- any sequence of events -------------------------------------------------------------------

PAUSABLE_24_7 = dataclasses.replace(TERMS, pausable=frozenset({"24/7"}))


def _by_hand(report: datetime, accepted: list[Entry]) -> float | None:
    """The first response time in wall minutes minus the time spent waiting on the customer before it,
    computed from the accepted events alone (the clock is 24/7 and pausable)."""
    waiting_since, paused = None, timedelta()
    for entry in accepted:
        if entry.type == "waiting_on_customer" and waiting_since is None:
            waiting_since = entry.at
        elif entry.type in ("customer_replied", "acknowledged", "resolved") and waiting_since is not None:
            paused += entry.at - waiting_since
            waiting_since = None
        if entry.type in ("acknowledged", "resolved"):
            return (entry.at - report - paused).total_seconds() / 60
    return None


_EVENT = st.tuples(st.sampled_from(EVENTS), st.integers(min_value=0, max_value=240), st.sampled_from([1, 2, 3, 4]))


@settings(max_examples=300, deadline=None)
@given(st.lists(_EVENT, max_size=12), st.sampled_from([1, 2, 3, 4]))
def test_any_sequence_of_events_leaves_a_legal_state_and_the_response_time_computed_by_hand(events, level):
    report = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
    accepted = [decided(report, level)]
    at = report
    for kind, gap, new_level in events:
        at += timedelta(minutes=gap)
        data = (
            {"level": new_level, "reason": "r"} if kind == "severity_changed" else {"tier": "EE"} if kind == "escalated" else {}
        )
        view = play("premium", accepted, at, PAUSABLE_24_7)
        if refusal(view, kind, data) is None:
            accepted.append(Entry(kind, at, data, id=len(accepted)))
        else:  # what the API answers 409 for: the state stays as it was
            assert play("premium", accepted, at, PAUSABLE_24_7).state == view.state
    view = play("premium", accepted, at, PAUSABLE_24_7)
    assert view.state in STATES
    responded = any(e.type in ("acknowledged", "resolved") for e in accepted)
    assert (view.clock.acknowledged_at is not None) == responded
    assert view.clock.status in (("met", "missed") if responded else ("running", "paused", "missed"))
    expected = _by_hand(report, accepted[1:])
    if expected is None:
        assert view.clock.response_minutes is None
    else:
        assert abs(view.clock.response_minutes - expected) < 0.01
    if view.state == "resolved":
        assert refusal(view, "acknowledged", {}) is not None
    if view.clock.acknowledged_at is not None:
        assert refusal(view, "acknowledged", {}) is not None
