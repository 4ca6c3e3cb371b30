"""regions, pools, routing and sla documents: refused with the file, item and field named."""

import pytest

from app.routing import routes
from app.rulebook import book as rulebook
from app.rulelang.documents import RulesInvalid

from .conftest import RULES


def problems_after(name: str, edit) -> list[tuple]:
    sources = rulebook.read_sources(RULES)
    sources[name] = edit(sources[name])
    with pytest.raises(RulesInvalid) as exc:
        rulebook.build(sources)
    return [(p.file, p.item, p.field, p.message) for p in exc.value.problems]


def test_a_country_in_two_regions():
    found = problems_after("regions", lambda t: t.replace("countries: [US, CA,", "countries: [DE, US, CA,"))
    assert ("regions.yaml", "regions.AMER", "countries[0]", "DE is already in regions.EMEA") in found


def test_an_exception_for_a_listed_country_and_an_undefined_region():
    found = problems_after(
        "regions", lambda t: t.replace("  - country: ZA\n    region: EMEA", "  - country: GB\n    region: EUROPE")
    )
    assert ("regions.yaml", "exceptions[0]", "country", "GB is already in regions.EMEA") in found
    assert ("regions.yaml", "exceptions[0]", "region", "undefined region 'EUROPE'") in found


def test_norway_stays_a_country_code():
    book = rulebook.build(rulebook.read_sources(RULES))
    assert book.regions.of("NO").region == "EMEA"


def test_every_country_has_a_region_without_the_default():
    import pycountry

    book = rulebook.build(rulebook.read_sources(RULES))
    unplaced = [c.alpha_2 for c in pycountry.countries if c.alpha_2 not in book.regions.placements]
    assert unplaced == []
    assert book.regions.of("KE").region == "EMEA" and "default" not in book.regions.of("KE").how
    assert book.regions.of("ZA").region == "EMEA" and "by exception" in book.regions.of("ZA").how


def test_a_named_only_pool_is_reached_only_by_name():
    book = rulebook.build(rulebook.read_sources(RULES))
    desk = book.pools["triage-desk"]
    assert desk.named_only and desk.tier == "L1"
    assert all(
        desk not in routes._select(s, list(book.pools.values()), None)
        for r in book.routes
        for s in r.candidates
        if "pool" not in s
    )
    assert routes._select({"pool": "triage-desk"}, list(book.pools.values()), None) == [desk]


def test_language_supported_is_true_or_false_in_routes():
    found = problems_after(
        "routing", lambda t: t.replace("when: {language_supported: {in: [false]}", "when: {language_supported: {in: [no-vocab]}")
    )
    assert ("routing.yaml", "routes[unread-language]", "when.language_supported.in", "'no-vocab' is not true or false") in found


def test_a_region_without_an_l1_pool():
    found = problems_after(
        "pools",
        lambda t: t.replace(
            "    region: APAC\n    countries: [ID, MY, SG]", "    region: EMEA\n    countries: [ID, MY, SG]"
        ).replace("    region: APAC\n    countries: [AU, NZ]", "    region: EMEA\n    countries: [AU, NZ]"),
    )
    assert ("pools.yaml", "", "pools", "region APAC has no L1 pool") in found


@pytest.mark.parametrize(
    "old, new, item, field, words",
    [
        ("timezone: Europe/Moscow", "timezone: Europe/Moskva", "pools[ru-l1]", "timezone", "unknown time zone 'Europe/Moskva'"),
        (
            "holiday_calendar: {country: RU}",
            "holiday_calendar: {country: XX}",
            "pools[ru-l1]",
            "holiday_calendar.country",
            "knows no country 'XX'",
        ),
        (
            "holiday_calendar: {country: CZ}\n\n  - id: gb-l1",
            "holiday_calendar: {country: CZ, subdivision: ZZ}\n\n  - id: gb-l1",
            "pools[cz-l1]",
            "holiday_calendar.subdivision",
            "CZ has no subdivision 'ZZ'",
        ),
        (
            "categories: [public, optional]",
            "categories: [public, bank]",
            "pools[dk-l1]",
            "holiday_calendar.categories",
            "DK has no category 'bank'",
        ),
        ("languages: [ru, en]", "languages: [russian]", "pools[ru-l1]", "languages[0]", "not an ISO 639-1 code"),
        ("  - id: pl-l1", "  - id: ru-l1", "pools[ru-l1]", "id", "duplicate pool id 'ru-l1'"),
        (
            '    hours:\n      mon: ["08:00-20:00"]',
            '    hours:\n      mon: ["20:00-08:00"]',
            "pools[us-l1]",
            "hours.mon[0]",
            "must end after it starts",
        ),
        ("    plans: [premium]", "    plans: [gold]", "pools[premium-247]", "plans[0]", "Must be one of"),
    ],
)
def test_bad_pools(old, new, item, field, words):
    found = problems_after("pools", lambda t: t.replace(old, new, 1))
    assert any((f, i, fl) == ("pools.yaml", item, field) and words in m for f, i, fl, m in found), found


@pytest.mark.parametrize(
    "old, new, item, field, words",
    [
        (
            "      - {pool: premium-247}",
            "      - {pool: premium-365}",
            "routes[premium-urgent]",
            "candidates[0].pool",
            "undefined pool 'premium-365'",
        ),
        (
            "    when: {tier: {in: [SE]}}",
            "    when: {tier: {in: [L3]}}",
            "routes[sustained-engineering]",
            "when.tier.in",
            "'L3' is not one of",
        ),
        (
            "    when: {plan: {in: [premium]}, severity: {lte: 2}}",
            "    when: {plan: {in: [premium]}, region: {in: [EUROPE]}}",
            "routes[premium-urgent]",
            "when.region.in",
            "'EUROPE' is not one of",
        ),
        (
            "      - {tier: SE}",
            "      - {tier: SE, region: MARS}",
            "routes[sustained-engineering]",
            "candidates[0].region",
            "'MARS' is not",
        ),
        ("      - {tier: SE}", "      - {}", "routes[sustained-engineering]", "candidates[0]", "a selector needs pool"),
        ("    priority: front\n", "    priority: urgent\n", "routes[mission-critical-escalation]", "priority", "Must be one of"),
        (
            "    continue: true\n    priority: front\n",
            "    priority: front\n",
            "routes[mission-critical-escalation]",
            "candidates",
            "only a route that continues may give none",
        ),
        (
            "  - id: first-line\n",
            "  - id: first-line\n    when: {plan: {in: [basic]}}\n",
            "routes[first-line]",
            "when",
            "must match every case",
        ),
    ],
)
def test_bad_routes(old, new, item, field, words):
    found = problems_after("routing", lambda t: t.replace(old, new, 1))
    assert any((f, i, fl) == ("routing.yaml", item, field) and words in m for f, i, fl, m in found), found


@pytest.mark.parametrize(
    "old, new, item, field, words",
    [
        (
            "    clock: business-hours\n    channels: [ticket]",
            "    clock: office\n    channels: [ticket]",
            "plans.basic",
            "clock",
            "undefined clock 'office'",
        ),
        ("targets: {3: 720, 4: 2160}", "targets: {3: 720, 5: 2160}", "plans.basic", "targets[5]", "Must be one of"),
        ("    timezone: Europe/Berlin", "    timezone: CET+1", "clocks.business-hours", "timezone", "unknown time zone"),
        ("  premium:\n", "  platinum:\n", "plans.platinum", "", "unknown plan"),
    ],
)
def test_bad_sla(old, new, item, field, words):
    found = problems_after("sla", lambda t: t.replace(old, new, 1))
    assert any((f, i, fl) == ("sla.yaml", item, field) and words in m for f, i, fl, m in found), found
