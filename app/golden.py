"""Golden cases: a case and the decision ops expect, kept beside the rules in rules/tests/*.yaml."""
from dataclasses import dataclass
from pathlib import Path

import marshmallow as ma

from . import documents
from .documents import RulesInvalid
from .schemas import CaseSchema


class _Expect(ma.Schema):
    level = ma.fields.Integer(strict=True, required=True, validate=ma.validate.OneOf((1, 2, 3, 4)))


class _Golden(ma.Schema):
    name = ma.fields.String(required=True)
    case = ma.fields.Dict(required=True)
    expect = ma.fields.Nested(_Expect, required=True)


class _GoldenFile(ma.Schema):
    cases = ma.fields.List(ma.fields.Nested(_Golden), required=True, validate=ma.validate.Length(min=1))


@dataclass(frozen=True)
class GoldenCase:
    file: str
    name: str
    body: dict
    expect: dict


@dataclass(frozen=True)
class Outcome:
    case: GoldenCase
    failures: list[str]

    @property
    def passed(self) -> bool:
        return not self.failures


def load(tests_dir: Path) -> list[GoldenCase]:
    """Every golden case under `tests_dir`; a malformed file or case is refused with its place named."""
    cases, problems = [], []
    for path in sorted(Path(tests_dir).glob("*.yaml")):
        file = f"tests/{path.name}"
        try:
            doc = documents.load(file, path.read_text(encoding="utf-8"), _GoldenFile(), item_key="name")
        except RulesInvalid as exc:
            problems += exc.problems
            continue
        for entry in doc["cases"]:
            try:
                CaseSchema().load(entry["case"])
            except ma.ValidationError as err:
                problems += documents.problems_from(file, {"cases": {entry["name"]: {"case": err.messages}}}, {})
                continue
            cases.append(GoldenCase(file, entry["name"], entry["case"], entry["expect"]))
    if problems:
        raise RulesInvalid(problems)
    return cases


def run(cases: list[GoldenCase], classify) -> list[Outcome]:
    """Classify each case with `classify(case, now)` and compare with what it expects."""
    outcomes = []
    for golden in cases:
        case = CaseSchema().load(golden.body)
        decision = classify(case, case.reported_at)
        failures = []
        if decision.severity.level != golden.expect["level"]:
            fired = [r.id for r in decision.severity.matched_rules] or ["no rule"]
            failures.append(
                f"level {decision.severity.level}, expected {golden.expect['level']} "
                f"(signals {decision.signals}, rules {fired})"
            )
        outcomes.append(Outcome(golden, failures))
    return outcomes



