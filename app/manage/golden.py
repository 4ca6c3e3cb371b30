"""Golden cases: a case and the decision ops expect, kept beside the rules in rules/tests/*.yaml."""

from dataclasses import dataclass
from pathlib import Path

import marshmallow as ma

from app.decide.contract import CaseSchema
from app.rulelang import documents
from app.rulelang.documents import RulesInvalid


class _Expect(ma.Schema):
    level = ma.fields.Integer(strict=True, validate=ma.validate.OneOf((1, 2, 3, 4)))
    region = ma.fields.String()
    pool = ma.fields.String()
    respond_in = ma.fields.String()
    open_now = ma.fields.Boolean()
    available_at = ma.fields.AwareDateTime(format="iso")
    due_at = ma.fields.AwareDateTime(format="iso")
    guaranteed = ma.fields.Boolean()
    at_risk = ma.fields.Boolean()
    priority = ma.fields.String(validate=ma.validate.OneOf(("normal", "front")))
    entitled = ma.fields.Boolean()

    @ma.validates_schema
    def _something(self, data, **kwargs):
        if not data:
            raise ma.ValidationError("expect at least one of " + ", ".join(self.fields))


class _Golden(ma.Schema):
    name = ma.fields.String(required=True)
    at = ma.fields.AwareDateTime(format="iso", metadata={"description": "the instant of the decision; default reported_at"})
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
    at: object = None  # datetime | None


@dataclass(frozen=True)
class Outcome:
    case: GoldenCase
    failures: list[str]

    @property
    def passed(self) -> bool:
        return not self.failures


def read(tests_dir: Path) -> dict[str, str]:
    """The golden documents of a folder, named as published: `tests/<file stem>`."""
    return documents.read_texts(tests_dir, "tests/")


def load(tests_dir: Path) -> list[GoldenCase]:
    """Every golden case under `tests_dir`; a malformed file or case is refused with its place named."""
    return parse(read(tests_dir))


def parse(texts: dict[str, str]) -> list[GoldenCase]:
    """The golden cases of documents {`tests/<stem>`: YAML text}; a malformed one is refused with its place named."""
    cases, problems = [], []
    for name, text in sorted(texts.items()):
        file = f"{name}.yaml"
        try:
            doc = documents.load(file, text, _GoldenFile(), item_key="name")
        except RulesInvalid as exc:
            problems += exc.problems
            continue
        for entry in doc["cases"]:
            try:
                _schema(entry.get("at")).load(entry["case"])
            except ma.ValidationError as err:
                problems += documents.problems_from(file, {"cases": {entry["name"]: {"case": err.messages}}}, {})
                continue
            cases.append(GoldenCase(file, entry["name"], entry["case"], entry["expect"], entry.get("at")))
    if problems:
        raise RulesInvalid(problems)
    return cases


def run(cases: list[GoldenCase], classify, announce=None) -> list[Outcome]:
    """Classify each case with `classify(case, now)` and compare with what it expects (`announce`
    hears each case's place before it runs). A case that raises fails with the exception named."""
    outcomes = []
    for golden in cases:
        if announce:
            announce(f"{golden.file} cases[{golden.name}]")
        case = _schema(golden.at).load(golden.body)
        try:
            decision = classify(case, golden.at or case.reported_at)
        except Exception as exc:  # a rule change that breaks deciding: the case fails, the run goes on
            outcomes.append(Outcome(golden, [f"cannot be decided: {type(exc).__name__}: {exc}"]))
            continue
        got = {
            "level": decision.severity.level,
            "region": decision.placement.region,
            "pool": decision.routing.pool.id,
            "respond_in": decision.routing.respond_in,
            "open_now": decision.routing.open_now,
            "available_at": decision.routing.available_at,
            "due_at": decision.sla.due_at,
            "guaranteed": decision.sla.guaranteed,
            "at_risk": decision.sla.at_risk,
            "priority": decision.routing.priority,
            "entitled": decision.entitlement.ok,
        }
        failures = [f"{key} {_show(got[key])}, expected {_show(want)}" for key, want in golden.expect.items() if got[key] != want]
        if failures:
            fired = [r.id for r in decision.severity.matched_rules] or ["no rule"]
            failures.append(f"signals {decision.signals}, severity rules {fired}, trace {list(decision.routing.trace)}")
        outcomes.append(Outcome(golden, failures))
    return outcomes


def _schema(at) -> CaseSchema:
    """A golden case is decided at its own instant (`at`, else its reported_at): it may be reported
    at most a few minutes after `at`, and without `at` at any instant."""
    return CaseSchema(clock=(lambda: at) if at is not None else None)


def _show(value) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else repr(value)
