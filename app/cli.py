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


def _app(**overrides):
    from . import create_app

    return create_app(overrides)


@main.group()
def db():
    """The decision store's schema."""


@db.command("upgrade")
def db_upgrade():
    """Apply the migrations to TRIAGE_DATABASE_URL (default: the SQLite file in the instance folder)."""
    from . import config, store
    from flask import Flask

    app = Flask("triage-cli")
    config.load(app, None)
    url = app.config["DATABASE_URL"] or f"sqlite:///{Path(app.config['INSTANCE_DIR']) / 'triage.db'}"
    Path(app.config["INSTANCE_DIR"]).mkdir(parents=True, exist_ok=True)
    store.upgrade(url)
    click.echo(f"database at revision {store.head_revision()}")


@main.group()
def tokens():
    """Access tokens: create (shown once), list, revoke."""


@tokens.command("create")
@click.option("--role", required=True, type=click.Choice(["intake", "engineer", "ops", "analyst", "admin"]))
@click.option("--name", required=True, help="Who or what uses it.")
def tokens_create(role, name):
    """Create a token; it is printed alone on the last line, once, and only its hash is kept."""
    record, token = _app().extensions["triage"].tokens.create(name, role)
    click.echo(f"token {record['id']} for {name} ({role}); keep it now, it is not shown again:")
    click.echo(token)


@tokens.command("list")
def tokens_list():
    """Every token: id, role, name, created, revoked."""
    for t in _app().extensions["triage"].store.tokens():
        revoked = f"revoked {t['revoked_at'].isoformat()}" if t["revoked_at"] else "active"
        click.echo(f"{t['id']}  {t['role']:8s}  {t['name']}  created {t['created_at'].isoformat()}  {revoked}")


@tokens.command("revoke")
@click.argument("token_id")
def tokens_revoke(token_id):
    """Revoke a token by its id."""
    if not _app().extensions["triage"].tokens.revoke(token_id):
        raise click.ClickException(f"no active token {token_id}")
    click.echo(f"token {token_id} revoked")


@tokens.command("bootstrap")
def tokens_bootstrap():
    """Create a first admin token if there is none (printed once); otherwise say how to make one."""
    triage = _app().extensions["triage"]
    if any(t["role"] == "admin" and t["revoked_at"] is None for t in triage.store.tokens()):
        click.echo("an admin token exists; make more with: .venv/bin/triage tokens create --role admin --name YOU")
        return
    record, token = triage.tokens.create("first admin", "admin")
    click.echo(f"first admin token {record['id']} (shown once; use it as Authorization: Bearer <token>):")
    click.echo(token)


@main.group()
def decisions():
    """Stored decisions, for analysts."""


@decisions.command("export")
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), default="csv", show_default=True)
@click.option("--since", callback=_instant, help="Only decisions made at or after this instant (ISO 8601 with offset).")
@click.option("--output", type=click.File("w"), default="-", help="File to write; default standard output.")
def decisions_export(fmt, since, output):
    """Write every decision with its latest correction (the correction wins as the label)."""
    from .api import export_text

    output.write(export_text(_app().extensions["triage"].store.export(since), fmt))
