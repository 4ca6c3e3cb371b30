"""The operator CLI: `triage rules check`, `triage rules test`, `triage classify`."""
import json
import sys
from datetime import datetime, timezone
from pathlib import Path

import click

from . import golden, rulebook
from .config import DEFAULTS
from .documents import RulesInvalid
from .schemas import CaseSchema, DecisionSchema

_rules_option = click.option(
    "--rules", "rules_dir", type=click.Path(file_okay=False, exists=True, path_type=Path),
    envvar="TRIAGE_RULES_DIR", default=DEFAULTS["RULES_DIR"], show_default="the bundled rules/",
    help="The rules folder (env TRIAGE_RULES_DIR).",
)


@click.group()
def main():
    """triage: severity triage for technical-support cases."""


@main.group()
def rules():
    """Check and test the rule documents."""


@rules.command("check")
@_rules_option
def rules_check(rules_dir: Path):
    """Validate every rule document; print each problem with its file, item and field."""
    try:
        book = rulebook.build(rulebook.read_sources(rules_dir))
    except RulesInvalid as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        click.echo(f"{len(exc.problems)} problem(s) in {rules_dir}", err=True)
        sys.exit(1)
    click.echo(
        f"rules {book.version} OK: {len(book.vocabulary.signals)} signals in "
        f"{len(book.vocabulary.languages)} languages, {len(book.severity.rules)} severity rules"
    )


def _triage(rules_dir: Path):
    """The same service the server runs (settings, TRIAGE_* variables), on the given rules."""
    from . import create_app

    return create_app({"RULES_DIR": str(rules_dir)}).extensions["triage"]


@rules.command("test")
@_rules_option
def rules_test(rules_dir: Path):
    """Run the golden cases in <rules>/tests against the rules."""
    try:
        triage = _triage(rules_dir)
        cases = golden.load(rules_dir / "tests")
    except RulesInvalid as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        sys.exit(1)
    outcomes = golden.run(cases, triage.classify)
    for outcome in outcomes:
        if not outcome.passed:
            click.echo(f"FAIL {outcome.case.file} {outcome.case.name}: {'; '.join(outcome.failures)}")
    passed = sum(o.passed for o in outcomes)
    click.echo(f"golden cases: {passed} passed, {len(outcomes) - passed} failed")
    sys.exit(0 if passed == len(outcomes) else 1)


def _instant(ctx, param, value):
    if value is None:
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 instant")
    if at.tzinfo is None:
        raise click.BadParameter(f"{value!r} has no UTC offset")
    return at


def _decide(case_file, rules_dir: Path, at):
    from marshmallow import ValidationError

    try:
        case = CaseSchema().load(json.load(case_file))
    except (ValueError, ValidationError) as exc:
        raise click.ClickException(f"invalid case: {getattr(exc, 'messages', exc)}")
    return _triage(rules_dir).classify(case, at or datetime.now(timezone.utc))


_at_option = click.option("--at", callback=_instant, help="The instant of the decision (ISO 8601 with offset); default now.")


@main.command("classify")
@click.argument("case_file", type=click.File("r"))
@_rules_option
@_at_option
def classify(case_file, rules_dir: Path, at):
    """Classify one case (a JSON file, or - for standard input) and print the whole decision as JSON."""
    decision = _decide(case_file, rules_dir, at)
    click.echo(json.dumps(DecisionSchema().dump(decision), indent=2, ensure_ascii=False))


@main.command("route")
@click.argument("case_file", type=click.File("r"))
@_rules_option
@_at_option
def route(case_file, rules_dir: Path, at):
    """Route one case as at an instant: the pool, the deadline, and the trace of why."""
    decision = _decide(case_file, rules_dir, at)
    routing, sla = decision.routing, decision.sla
    click.echo(f"severity {decision.severity.level} ({decision.severity.name}), region {decision.region.region}")
    click.echo(f"pool     {routing.pool.id} ({routing.pool.tier}), answers in {routing.respond_in}, "
               + ("open now" if routing.open_now else f"opens {routing.available_at.isoformat()}"))
    click.echo(f"due      {sla.due_at.isoformat()} ({sla.plan}, {sla.target_minutes} min on the {sla.clock} clock"
               + ("" if sla.guaranteed else ", not guaranteed") + ")")
    for problem in decision.entitlement.problems:
        click.echo(f"entitlement: {problem}")
    click.echo("trace:")
    for line in routing.trace:
        click.echo(f"  - {line}")
