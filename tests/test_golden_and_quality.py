"""Golden cases beside the rules, and severity quality on realistic cases in seven languages."""

from collections import Counter
from pathlib import Path

import pytest
import yaml

from app.decide.contract import CaseSchema
from app.manage import golden

from .conftest import RULES

GOLDEN = golden.load(RULES / "tests")
COUNTRY = {"en": "GB", "de": "DE", "ru": "RU", "cs": "CZ", "id": "ID", "pl": "PL", "da": "DK"}


def test_golden_cases_cover_seven_languages(detector):
    languages = {detector.identify(CaseSchema().load(c.body).text).code for c in GOLDEN}
    assert set(COUNTRY) <= languages


@pytest.mark.parametrize("case", GOLDEN, ids=lambda c: f"{c.file}:{c.name}")
def test_golden_case(app, case):
    [outcome] = golden.run([case], app.extensions["triage"].classify)
    assert outcome.passed, outcome.failures


def _quality(app, name):
    sets = yaml.safe_load((Path(__file__).parent / "quality" / name).read_text(encoding="utf-8"))
    results = []
    for language, items in sets.items():
        for item in items:
            body = {
                "subject": item["subject"],
                "description": item["description"],
                "customer": {"id": "q", "plan": "premium", "country": COUNTRY[language]},
            }
            case = CaseSchema().load(body)
            decision = app.extensions["triage"].classify(case, case.reported_at)
            results.append((language, item["level"], decision.severity.level, item["subject"]))
    return results


@pytest.mark.parametrize("name", ["cases.yaml", "holdout.yaml", "fresh.yaml"])
def test_severity_quality(app, name):
    results = _quality(app, name)
    assert set(COUNTRY) == {language for language, *_ in results}
    missed_outages = [r for r in results if r[1] == 1 and r[2] >= 3]
    assert missed_outages == [], "a severity-1 outage came out as 3 or 4"
    exact = Counter(language for language, want, got, _ in results if want == got)
    total = Counter(language for language, *_ in results)
    for language in total:  # three in four exact, in every language, not just on average
        assert exact[language] / total[language] >= 0.75, (language, [r for r in results if r[0] == language and r[1] != r[2]])


def test_severity_quality_on_the_untuned_set(app):
    """The issue's criterion on a set nobody tuned the vocabularies to (measured once: 17/22, no
    severity-1 as 3 or 4). Per language it is uneven (English 1 of 4), so only the whole is asserted."""
    results = _quality(app, "untuned.yaml")
    assert [r for r in results if r[1] == 1 and r[2] >= 3] == []
    assert sum(want == got for _, want, got, _ in results) / len(results) >= 0.75
