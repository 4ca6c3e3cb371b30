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


@main.command("classify")
@click.argument("case_file", type=click.File("r"))
@_rules_option
def classify(case_file, rules_dir: Path):
    """Classify one case (a JSON file, or - for standard input) and print the decision."""
    from marshmallow import ValidationError

    try:
        case = CaseSchema().load(json.load(case_file))
    except (ValueError, ValidationError) as exc:
        raise click.ClickException(f"invalid case: {getattr(exc, 'messages', exc)}")
    decision = _triage(rules_dir).classify(case, datetime.now(timezone.utc))
    click.echo(json.dumps(DecisionSchema().dump(decision), indent=2, ensure_ascii=False))
