"""Promises routing must keep or show (issue 13, items 7-10): sla.at_risk, the coverage check of the
24/7 plans, business-hours plans that wait, escalation tiers over dedicated teams, and local
functionality recognised from the text."""

import time
from datetime import UTC, datetime

import pytest

from app.decide.classify import classify_case
from app.decide.contract import CaseSchema, DecisionSchema
from app.routing import coverage
from app.routing.sla import Sla
from app.rulebook import book as rulebook

from .conftest import RULES
from .helpers import book

SOURCES = rulebook.read_sources(RULES)


def edited(**changes) -> rulebook.Rulebook:
    """The bundled rules with some documents changed: {name: (old, new), ...} or {name: callable}."""
    sources = dict(SOURCES)
    for name, change in changes.items():
        if callable(change):
            sources[name] = change(sources[name])
        else:
            old, new = change
            assert old in sources[name], old
            sources[name] = sources[name].replace(old, new)
    return rulebook.build(sources)


def without_duty_rotas(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if "{pool: duty-l1}" not in line and "-duty}" not in line) + "\n"


def decide(rules, detector, body: dict, at: str | None = None):
    case = CaseSchema(clock=None).load(body)
    return classify_case(case, rules, detector, datetime.fromisoformat(at) if at else case.reported_at)


def body(subject, description, customer, reported_at, **fields):
    return {"subject": subject, "description": description, "customer": customer, "reported_at": reported_at, **fields}


RU_FILING = ("Не работает отчетность в ФНС", "Продуктив - отправка отчетов в налоговую не работает у части пользователей.")
SE_CRASH = ("Crash in report engine", "The report engine fails with an error on large files, some users cannot work.")


# -- 7b: a deadline before the pool opens is at risk, and says why --------------------------------


def test_sla_against_a_later_opening_is_at_risk_with_the_reason():
    due = datetime(2026, 12, 25, 14, tzinfo=UTC)
    sla = Sla("advanced", 240, "24/7", due, True, None)
    assert sla.against("se-global", due, None) is sla  # opening exactly at the deadline keeps it
    late = sla.against("se-global", datetime(2026, 12, 28, 8, tzinfo=UTC), "public holiday Christmas Day in PL")
    assert late.at_risk and late.guaranteed
    assert "se-global opens 2026-12-28T08:00:00+00:00" in late.at_risk_reason
    assert "Christmas Day in PL" in late.at_risk_reason


def test_a_localization_case_on_8_march_is_at_risk_in_the_decision(detector):
    decision = decide(
        book(),
        detector,
        body(
            *RU_FILING,
            {"id": "ru-telecom", "plan": "premium", "country": "RU"},
            "2026-03-08T10:00:00+03:00",
            product_area="localization",
        ),
    )
    assert decision.routing.pool.id == "ru-l1" and not decision.routing.open_now
    answer = DecisionSchema().dump(decision)
    assert answer["sla"]["at_risk"] is True and answer["sla"]["guaranteed"] is True
    assert "International Women's Day" in answer["sla"]["at_risk_reason"]


def test_an_se_escalation_on_christmas_was_at_risk_without_the_on_call_rota(detector):
    case = body(*SE_CRASH, {"id": "gb-bank", "plan": "advanced", "country": "GB"}, "2026-12-25T10:00:00+00:00", tier="SE")
    case["declared_severity"] = 2
    before = decide(edited(routing=without_duty_rotas), detector, case)
    assert before.routing.pool.id == "se-global" and before.sla.at_risk
    assert "se-global opens 2026-12-28" in before.sla.at_risk_reason
    after = decide(book(), detector, case)
    assert after.routing.pool.id == "se-duty" and after.routing.open_now and not after.sla.at_risk
    assert DecisionSchema().dump(after)["sla"]["at_risk_reason"] is None


# -- 7a: the coverage check ------------------------------------------------------------------------

START = datetime(2026, 12, 1, tzinfo=UTC)


def check(rules):
    return coverage.check(rules.routes, rules.pools, rules.terms, rules.regions, rules.routing_rules.evaluate, START)


def test_coverage_before_the_duty_rotas_names_plan_level_hours_and_holidays():
    found = check(edited(routing=without_duty_rotas))
    l1 = next(s for s in found if s.plan == "advanced" and not s.stays_local and "L1 cases" in s.cases)
    assert [level for level, _, _ in l1.levels] == [2, 3, 4]  # the most urgent first
    assert l1.hours(2) > l1.hours(3) > l1.hours(4) > 0
    text = "\n".join(l1.lines())
    assert "plans.advanced: warning" in text and "severity 2 (240 min)" in text
    assert "every week Sat 0" in text  # the weekend, as one weekly range, not 48 hourly lines
    assert "Christmas Day" in text and "New Year's Day" in text
    assert len(l1.lines()) < 30
    # a weekend arrival is at risk, a Monday-noon one is not
    saturday = datetime(2027, 1, 16, 12, tzinfo=UTC)
    monday = datetime(2027, 1, 18, 12, tzinfo=UTC)
    gaps = l1.levels[0][2]
    assert any(g.start <= saturday < g.end for g in gaps)
    assert not any(g.start <= monday < g.end for g in gaps)
    # escalations are covered too, per tier
    assert any(s.plan == "advanced" and "SE cases" in s.cases for s in found)
    assert any(s.plan == "premium" and "EE cases" in s.cases for s in found)
    assert not any(s.plan == "basic" for s in found)  # a business-hours plan waits for business hours


def test_coverage_after_the_duty_rotas_leaves_only_local_functionality():
    found = check(book())
    assert found, "local functionality stays local by design: its gaps are shown"
    assert all(s.stays_local for s in found), [s.headline() for s in found if not s.stays_local]
    lines = coverage.report(found)
    assert sum("warning" in line for line in lines) == 2  # one per 24/7 plan
    assert any(line.strip().startswith("ru-l1 (") for line in lines)


def test_gaps_are_shortened_by_the_target():
    pool = book().pools["ru-l1"]
    windows = list(pool.calendar.windows(START, until=datetime(2026, 12, 8, tzinfo=UTC)))
    gaps = coverage._gaps([pool], lambda p: windows, {"ru-l1": []}, START, datetime(2026, 12, 7, tzinfo=UTC), 240)
    spans = [(g.start, g.end) for g in gaps]
    # Tue 1 Dec 2026 00:00 UTC is 03:00 in Moscow, which opens at 09:00 (06:00 UTC): at risk until 02:00
    assert spans[0] == (START, datetime(2026, 12, 1, 2, tzinfo=UTC))
    # Moscow closes 18:00 (15:00 UTC) and opens 06:00 UTC: a case is at risk when reported 15:00-02:00 UTC
    assert spans[1] == (datetime(2026, 12, 1, 15, tzinfo=UTC), datetime(2026, 12, 2, 2, tzinfo=UTC))
    # Friday evening to Monday 02:00 UTC: the weekend, one range
    assert (datetime(2026, 12, 4, 15, tzinfo=UTC), datetime(2026, 12, 7, tzinfo=UTC)) in spans


def test_coverage_is_quick():
    rules = edited(routing=without_duty_rotas)
    started = time.perf_counter()
    check(rules)
    assert time.perf_counter() - started < 2.0


def test_rules_check_prints_the_coverage_warnings_and_still_passes(rules_dir):
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    routing = rules_dir / "routing.yaml"
    routing.write_text(without_duty_rotas(routing.read_text(encoding="utf-8")), encoding="utf-8")
    triage = shutil.which("triage", path=str(Path(sys.executable).parent))
    done = subprocess.run([triage, "rules", "check", "--rules", str(rules_dir)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "OK" in lines[0]
    assert any(line.startswith("sla.yaml: plans.advanced: warning: L1 cases from anywhere") for line in lines)
    assert any(line.startswith("sla.yaml: plans.advanced: warning: SE cases from anywhere") for line in lines)
    assert any("Christmas Day" in line for line in lines)


# -- 8: a business-hours plan never follows the sun -----------------------------------------------


def test_a_basic_outage_at_3_waits_for_the_local_pool(detector):
    decision = decide(
        book(),
        detector,
        body(
            "Serwer produkcyjny nie działa",
            "Od rana nikt w firmie nie może się zalogować, sprzedaż stoi.",
            {"id": "pl-shop", "plan": "basic", "country": "PL"},
            "2026-11-23T03:00:00+01:00",
        ),
    )
    assert decision.severity.level == 1
    assert decision.routing.pool.id == "pl-l1" and not decision.routing.urgent
    assert any("business hours" in step for step in decision.routing.trace)


# -- 9: the tier asked for wins over a dedicated team; mission critical goes first ----------------

ACME = {"id": "acme-global", "plan": "premium", "country": "DE"}


@pytest.mark.parametrize("tier, pool", [("EE", "ee-emea-tech"), ("SE", "se-global")])
def test_an_escalation_of_a_dedicated_customer_goes_to_the_tier_at_the_front(detector, tier, pool):
    decision = decide(book(), detector, body(*SE_CRASH, ACME, "2026-06-17T10:00:00+02:00", tier=tier, product_area="tech"))
    assert decision.routing.pool.id == pool
    assert decision.routing.priority == "front"
    assert DecisionSchema().dump(decision)["routing"]["priority"] == "front"
    assert any("mc-acme: dedicated team of customer acme-global, passed over" in step for step in decision.routing.trace)


def test_first_line_cases_of_others_have_normal_priority(detector):
    decision = decide(book(), detector, body(*SE_CRASH, {**ACME, "id": "other"}, "2026-06-17T10:00:00+02:00", tier="EE"))
    assert decision.routing.priority == "normal"
    first_line = decide(book(), detector, body(*SE_CRASH, ACME, "2026-06-17T10:00:00+02:00"))
    assert first_line.routing.pool.id == "mc-acme" and first_line.routing.priority == "normal"


def test_a_dedicated_team_of_the_tier_asked_for_comes_first(detector):
    team = """  - id: ee-acme
    description: Escalation engineers dedicated to ACME
    tier: EE
    region: EMEA
    customers: [acme-global]
    languages: [en, de]
    areas: [finance, scm, tech, localization]
    timezone: Europe/Berlin
    always_open: true

  - id: se-global
"""
    rules = edited(pools=("  - id: se-global\n", team))
    escalated = decide(rules, detector, body(*SE_CRASH, ACME, "2026-06-20T10:00:00+02:00", tier="EE"))
    assert escalated.routing.pool.id == "ee-acme" and escalated.routing.priority == "front"
    to_se = decide(rules, detector, body(*SE_CRASH, ACME, "2026-06-17T10:00:00+02:00", tier="SE"))
    assert to_se.routing.pool.id == "se-global"


def test_a_route_without_candidates_must_continue():
    with pytest.raises(rulebook.RulesInvalid) as exc:
        edited(routing=("    continue: true\n    priority: front\n", "    priority: front\n"))
    assert any(p.item == "routes[mission-critical-escalation]" and p.field == "candidates" for p in exc.value.problems)


# -- local functionality of a country without a local pool no longer fails --------------------------


def test_local_functionality_without_a_local_pool_falls_to_the_next_route(detector):
    decision = decide(
        book(),
        detector,
        body(
            "Déclaration de TVA",
            "La déclaration de TVA ne se génère pas.",
            {"id": "fr-shop", "plan": "advanced", "country": "FR"},
            "2026-06-17T10:00:00+02:00",
            product_area="localization",
            language="fr",
        ),
    )
    assert decision.routing.routes[:2] == ("local-functionality", "first-line")
    assert decision.routing.pool.tier == "L1"


# -- 10: local functionality from the text (the signal belongs in signals.yaml) --------------------

RU_BANK = {"id": "ru-bank", "plan": "advanced", "country": "RU"}


def test_a_tax_filing_case_without_product_area_stays_in_moscow(detector):
    decision = decide(book(), detector, body(*RU_FILING, RU_BANK, "2026-03-09T12:00:00+03:00"))
    assert "localization" in decision.signals
    assert decision.routing.routes == ("local-functionality-text",)
    assert decision.routing.pool.id == "ru-l1" and not decision.routing.open_now
    assert decision.sla.at_risk  # due 16:00 on the observed holiday; Moscow opens on the 10th


def test_an_ordinary_russian_outage_still_follows_the_sun(detector):
    decision = decide(
        book(),
        detector,
        body("Сервер не работает", "Продуктив лежит, все пользователи без доступа.", RU_BANK, "2026-03-09T12:00:00+03:00"),
    )
    assert "localization" not in decision.signals and decision.routing.pool.id == "pl-l1"


@pytest.mark.parametrize(
    "text, country, pool",
    [
        ("KSeF odrzuca e-faktury, nie możemy wysłać JPK_V7.", "PL", "pl-l1"),
        ("Die Umsatzsteuer-Voranmeldung über ELSTER schlägt fehl.", "DE", "de-l1"),
        ("Kontrolní hlášení nejde odeslat, chyba při exportu.", "CZ", "cz-l1"),
        ("Laporan PPh 21 dan e-Bupot gagal diunggah ke DJP.", "ID", "id-l1"),
        ("Momsangivelse til SKAT fejler ved indsendelse.", "DK", "dk-l1"),
        ("Our VAT return to HMRC under Making Tax Digital fails.", "GB", "gb-l1"),
    ],
)
def test_statutory_topics_raise_localization_per_country(detector, text, country, pool):
    decision = decide(
        book(),
        detector,
        body(text[:40], text, {"id": "x", "plan": "advanced", "country": country}, "2026-06-20T10:00:00+02:00"),
    )
    assert "localization" in decision.signals, decision.evidence
    assert decision.routing.pool.id == pool  # a Saturday: it waits for the local pool


def test_a_stated_product_area_is_not_overruled_by_the_text(detector):
    decision = decide(
        book(),
        detector,
        body(*RU_FILING, RU_BANK, "2026-03-09T12:00:00+03:00", product_area="finance"),
    )
    assert "local-functionality-text" not in decision.routing.routes
