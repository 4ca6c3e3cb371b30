"""The operator CLI, `triage`: rules (check, test, export, import), classify and route one case,
db upgrade, tokens, decisions export, and model (train, evaluate, list, activate, sample).

Settings come from app.settings, as the service's do. Heavy modules (Flask, scikit-learn, numba) are
imported only by the commands that use them, so `triage --help` and `triage rules check` start fast."""

import json
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import click

from app import settings
from app.rulelang.documents import RulesInvalid
from app.store.tokens import ROLES


def _folder(setting: str):
    """A folder option's callback: the given folder, or the one the settings name."""

    def resolve(ctx, param, value):
        return Path(value) if value is not None else Path(settings.load()[setting])

    return resolve


_rules_option = click.option(
    "--rules",
    "rules_dir",
    type=click.Path(file_okay=False, exists=True),
    callback=_folder("RULES_DIR"),
    help="The rules folder; default TRIAGE_RULES_DIR, or the bundled rules.",
)


def _service(**overrides):
    """The service the server runs (settings, TRIAGE_* variables), with overrides; no HTTP."""
    from app.service import Triage

    return Triage.from_settings(settings.load(overrides))


@click.group()
def main():
    """triage: severity triage for technical-support cases."""


@main.command("serve")
def serve():
    """Serve the API under gunicorn (TRIAGE_BIND, TRIAGE_WORKERS; settings as for the service)."""
    import os

    gunicorn = Path(sys.executable).with_name("gunicorn")
    os.execv(gunicorn, [str(gunicorn), "-c", "python:app.serving", "app:create_app()"])


@main.command("openapi")
@click.option("--output", type=click.File("w"), default="-", help="File to write; default standard output.")
def openapi(output):
    """Print the OpenAPI document the service serves at /openapi.json (to generate a client offline)."""
    from app import create_app

    app = create_app({"SCHEDULER_INTERVAL": 0})
    try:
        document = app.test_client().get("/openapi.json").get_json()
    finally:
        app.extensions["triage"].stop()
    output.write(json.dumps(document, indent=2, sort_keys=True) + "\n")


@main.group()
def rules():
    """Check and test the rule documents."""


@rules.command("check")
@_rules_option
def rules_check(rules_dir: Path):
    """Validate every rule document; print each problem with its file, item and field."""
    from app.rulebook import book as rulebook

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


def _publisher():
    """The rule store of TRIAGE_DATABASE_URL (seeded from the rule files when empty)."""
    return _service(RULES_SOURCE="database").publisher


@rules.command("export")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
def rules_export(folder):
    """Write the current version of every document from the rule store to FOLDER/<name>.yaml."""
    publisher = _publisher()
    folder.mkdir(parents=True, exist_ok=True)
    for summary in publisher.documents():
        (folder / f"{summary['name']}.yaml").write_text(publisher.document(summary["name"])["content"], encoding="utf-8")
        click.echo(f"{summary['name']}.yaml: version {summary['version']} by {summary['author']}")


@rules.command("import")
@click.argument("folder", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--comment", default="imported", show_default=True, help="Why: kept with every version published.")
@click.option("--author", default=lambda: __import__("getpass").getuser(), help="Who: default the login name.")
def rules_import(folder, comment, author):
    """Publish the documents of FOLDER that differ from the store's, all at once, after checking them."""
    from app.manage.publishing import NotFound
    from app.rulebook import book as rulebook

    try:
        published = _publisher().import_documents(rulebook.read_sources(folder), comment, author)
    except RulesInvalid as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        raise click.ClickException(f"{len(exc.problems)} problem(s): nothing was published") from None
    except NotFound as exc:
        raise click.ClickException(str(exc)) from None
    for row in published:
        click.echo(f"{row['name']}: version {row['version']} published")
    if not published:
        click.echo("nothing to publish: the store already has these documents")


@rules.command("test")
@_rules_option
def rules_test(rules_dir: Path):
    """Run the golden cases in <rules>/tests against the rules."""
    from app.manage import golden

    try:
        triage = _service(RULES_DIR=str(rules_dir))
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
        raise click.BadParameter(f"{value!r} is not an ISO 8601 instant") from None
    if at.tzinfo is None:
        raise click.BadParameter(f"{value!r} has no UTC offset") from None
    return at


def _decide(case_file, rules_dir: Path, at):
    from marshmallow import ValidationError

    from app.decide.contract import CaseSchema

    at = at or datetime.now(UTC)
    try:  # reported at most a few minutes after the instant of the decision
        case = CaseSchema(clock=lambda: at).load(json.load(case_file))
    except (ValueError, ValidationError) as exc:
        raise click.ClickException(f"invalid case: {getattr(exc, 'messages', exc)}") from None
    return _service(RULES_DIR=str(rules_dir)).classify(case, at)


_at_option = click.option("--at", callback=_instant, help="The instant of the decision (ISO 8601 with offset); default now.")


@main.command("classify")
@click.argument("case_file", type=click.File("r"))
@_rules_option
@_at_option
def classify(case_file, rules_dir: Path, at):
    """Classify one case (a JSON file, or - for standard input) and print the whole decision as JSON."""
    from app.decide.contract import DecisionSchema

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
    click.echo(f"severity {decision.severity.level} ({decision.severity.name}), region {decision.placement.region}")
    click.echo(
        f"pool     {routing.pool.id} ({routing.pool.tier}), answers in {routing.respond_in}, "
        + ("open now" if routing.open_now else f"opens {routing.available_at.isoformat()}")
    )
    click.echo(
        f"due      {sla.due_at.isoformat()} ({sla.plan}, {sla.target_minutes} min on the {sla.clock} clock"
        + ("" if sla.guaranteed else ", not guaranteed")
        + ")"
    )
    for problem in decision.entitlement.problems:
        click.echo(f"entitlement: {problem}")
    click.echo("trace:")
    for line in routing.trace:
        click.echo(f"  - {line}")


@main.group()
def db():
    """The decision store's schema."""


@db.command("upgrade")
def db_upgrade():
    """Apply the migrations to TRIAGE_DATABASE_URL (default: the SQLite file in the instance folder)."""
    from app.store import database

    resolved = settings.load()
    Path(resolved["INSTANCE_DIR"]).mkdir(parents=True, exist_ok=True)
    database.upgrade(resolved["DATABASE_URL"])
    click.echo(f"database at revision {database.head_revision()}")


@main.group()
def sla():
    """The case lifecycle: the scheduler's pass, and the SLA report with its penalties."""


@sla.command("tick")
def sla_tick():
    """One scheduler pass by hand: act on every escalation step and breach that is due now."""
    triage = _service(SCHEDULER_INTERVAL=0)
    try:
        done = triage.casebook.tick(datetime.now(UTC))
    finally:
        triage.stop()
    click.echo(f"{done} step(s) recorded")


@sla.command("report")
@click.option("--period", required=True, help="A month (2026-11) or a quarter (2026-Q4), UTC.")
@click.option("--customer", help="One customer only.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
def sla_report_command(period, customer, fmt):
    """Per customer: cases, responses met and missed, attainment, response minutes, misses and penalties."""
    from app.lifecycle.report import PeriodInvalid, period_bounds, sla_report

    try:
        start, end = period_bounds(period)
    except PeriodInvalid as exc:
        raise click.BadParameter(str(exc), param_hint="--period") from None
    triage = _service(SCHEDULER_INTERVAL=0)
    try:
        report = sla_report(
            period, triage.casebook.reported(start, end, customer, datetime.now(UTC)), triage.rulebook.get().contracts
        )
    finally:
        triage.stop()
    if fmt == "json":
        click.echo(json.dumps(report, default=str, indent=2))
        return
    if fmt == "csv":
        import csv

        writer = csv.writer(sys.stdout)
        writer.writerow(["customer", "case_id", "severity", "due_at", "acknowledged_at", "minutes_late", "penalty", "currency"])
        for row in report["customers"]:
            for miss in row["misses"]:
                due, acked = miss["due_at"], miss["acknowledged_at"]
                writer.writerow(
                    [
                        row["customer"],
                        miss["case_id"],
                        miss["severity"],
                        due.isoformat() if due else "",
                        acked.isoformat() if acked else "",
                        "" if miss["minutes_late"] is None else miss["minutes_late"],
                        miss["penalty"],
                        report["currency"],
                    ]
                )
        return
    click.echo(
        f"SLA report {period} ({report['start']:%Y-%m-%d} to {report['end']:%Y-%m-%d}, UTC), penalties in {report['currency']}"
    )
    click.echo(
        f"{'customer':24} {'plan':9} {'cases':>5} {'met':>4} {'missed':>6} {'pending':>7} {'attain%':>7} {'median':>7} {'p90':>7} {'penalty':>10}"
    )
    for row in report["customers"]:
        attainment = "-" if row["attainment"] is None else f"{row['attainment']:.1f}"
        median = "-" if row["median_response_minutes"] is None else f"{row['median_response_minutes']:.1f}"
        p90 = "-" if row["p90_response_minutes"] is None else f"{row['p90_response_minutes']:.1f}"
        click.echo(
            f"{row['customer'][:24]:24} {row['plan']:9} {row['cases']:>5} {row['met']:>4} {row['missed']:>6} "
            f"{row['pending']:>7} {attainment:>7} {median:>7} {p90:>7} {row['penalty_total']:>10.2f}"
        )
        for miss in row["misses"]:
            late = "never acknowledged" if miss["unacknowledged"] else f"{miss['minutes_late']:.1f} min late"
            click.echo(
                f"    miss {miss['case_id']} (severity {miss['severity']}, due {miss['due_at']:%Y-%m-%d %H:%M}): {late}, penalty {miss['penalty']:.2f}"
            )
    click.echo(f"total penalties: {report['penalty_total']:.2f} {report['currency']}")


@main.group()
def tokens():
    """Access tokens: create (shown once), list, revoke."""


@tokens.command("create")
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option("--name", required=True, help="Who or what uses it.")
def tokens_create(role, name):
    """Create a token; it is printed alone on the last line, once, and only its hash is kept."""
    record, token = _service().tokens.create(name, role)
    click.echo(f"token {record['id']} for {name} ({role}); keep it now, it is not shown again:")
    click.echo(token)


@tokens.command("list")
def tokens_list():
    """Every token: id, role, name, created, revoked."""
    for t in _service().store.tokens():
        revoked = f"revoked {t['revoked_at'].isoformat()}" if t["revoked_at"] else "active"
        click.echo(f"{t['id']}  {t['role']:8s}  {t['name']}  created {t['created_at'].isoformat()}  {revoked}")


@tokens.command("revoke")
@click.argument("token_id")
def tokens_revoke(token_id):
    """Revoke a token by its id."""
    if not _service().tokens.revoke(token_id):
        raise click.ClickException(f"no active token {token_id}") from None
    click.echo(f"token {token_id} revoked")


@tokens.command("bootstrap")
def tokens_bootstrap():
    """Create a first admin token if there is none (printed once); otherwise say how to make one."""
    triage = _service()
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
    from app.store import exports

    output.write(exports.text(_service().store.export(since), fmt))


@main.group()
def model():
    """Train, evaluate, list and activate severity classifiers."""


_models_option = click.option(
    "--models-dir",
    type=click.Path(file_okay=False),
    callback=_folder("MODELS_DIR"),
    help="The model registry; default TRIAGE_MODELS_DIR, or the bundled models.",
)


def _column_options(command):
    for option in reversed(
        [
            click.option("--data", "data_file", type=click.Path(dir_okay=False, path_type=Path), help="CSV or JSON Lines file."),
            click.option("--text-columns", default="subject,body", show_default=True, help="Columns joined as the case's text."),
            click.option("--label-column", default="priority", show_default=True),
            click.option("--label-map", default="", help="LABEL=LEVEL,... turning the data's labels into severity 1-4."),
            click.option("--feature-columns", default="", help="Structured columns an intake form also has (e.g. language)."),
        ]
    ):
        command = option(command)
    return command


def _columns(text_columns, label_column, label_map, feature_columns):
    from app.classifier.model import Columns, parse_label_map

    split = lambda text: tuple(c.strip() for c in text.split(",") if c.strip())  # noqa: E731
    return Columns(split(text_columns), label_column, parse_label_map(label_map), split(feature_columns))


def _progress():
    import time

    started = time.monotonic()
    return lambda step: click.echo(f"[{time.monotonic() - started:6.1f}s] {step}", err=True)


@model.command("train")
@_column_options
@click.option(
    "--from-store", is_flag=True, help="Train on stored decisions; an engineer's correction wins over the original level."
)
@click.option("--since", callback=_instant, help="With --from-store: decisions made at or after this instant.")
@click.option(
    "--output",
    "models_dir",
    type=click.Path(file_okay=False),
    callback=_folder("MODELS_DIR"),
    help="The registry to save into; default TRIAGE_MODELS_DIR, or the bundled models.",
)
@click.option("--activate", is_flag=True, help="Serve the new model at once.")
def model_train(data_file, text_columns, label_column, label_map, feature_columns, from_store, since, models_dir, activate):
    """Train a model, measure it on a held-out share, and save it to the registry."""
    import hashlib

    from app.classifier import registry
    from app.classifier.model import Columns, TrainingError, prepare, read_rows, train

    progress = _progress()
    try:
        if from_store:
            from app.store import exports

            rows = [exports.row(r) for r in _service().store.export(since)]
            if not rows:
                raise TrainingError("the store has no decisions" + (f" since {since.isoformat()}" if since else ""))
            digest = hashlib.sha256("".join(json.dumps(r, sort_keys=True) for r in rows).encode()).hexdigest()
            columns = Columns(("subject", "description"), "label", {str(n): n for n in (1, 2, 3, 4)}, ("language",))
            rows = [{**r, "label": str(r["label"])} for r in rows]
            source = f"the decision store{' since ' + since.isoformat() if since else ''}"
        else:
            if data_file is None:
                raise TrainingError("give --data FILE, or --from-store")
            columns = _columns(text_columns, label_column, label_map, feature_columns)
            progress(f"reading {data_file}")
            rows, digest = read_rows(data_file)
            source = str(data_file)
        inputs, levels = prepare(rows, columns)
        progress(f"{len(rows)} rows, levels {dict(sorted(Counter(levels.tolist()).items()))}")
        fitted, metrics = train(inputs, levels, bool(columns.features), progress)
    except TrainingError as exc:
        raise click.ClickException(str(exc)) from None
    progress("saving")
    meta = registry.save(
        models_dir,
        fitted,
        {
            "rows": len(rows),
            "data": source,
            "data_sha256": digest,
            "columns": columns.to_dict(),
            "options": {"classifier": fitted.classifier, "holdout": 0.2, "precedent_threshold": fitted.precedent_threshold},
            "metrics": metrics,
        },
    )
    click.echo(
        f"model {meta['version']}: held-out macro-F1 {metrics['macro_f1']:.3f}, accuracy {metrics['accuracy']:.3f}, "
        f"{meta['artifact_bytes'] / 1e6:.1f} MB"
    )
    if activate:
        registry.activate(models_dir, meta["version"])
        click.echo(f"model {meta['version']} is now active")
    click.echo(meta["version"])


@model.command("evaluate")
@click.option(
    "--model",
    "model_dir",
    required=True,
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="A version folder of the registry.",
)
@_column_options
@click.option("--json", "as_json", is_flag=True, help="One JSON object instead of tables.")
@click.option("--plot", type=click.Path(dir_okay=False, path_type=Path), help="Write the confusion matrix as a PNG.")
def model_evaluate(model_dir, data_file, text_columns, label_column, label_map, feature_columns, as_json, plot):
    """Score a model on labelled data: accuracy, macro-F1, per level, confusion matrix."""
    from app.classifier import registry
    from app.classifier.model import TrainingError, evaluate, prepare, read_rows

    try:
        if data_file is None:
            raise TrainingError("give --data FILE")
        fitted, meta = registry.load(model_dir.parent, model_dir.name)
        rows, _ = read_rows(data_file)
        inputs, levels = prepare(rows, _columns(text_columns, label_column, label_map, feature_columns))
    except (TrainingError, registry.ModelRefused) as exc:
        raise click.ClickException(str(exc)) from None
    metrics = evaluate(fitted, inputs, levels)
    if plot:
        _plot_confusion(metrics, plot, f"{meta['version']} on {data_file.name}")
    if as_json:
        click.echo(json.dumps({"model": meta["version"], **metrics}))
        return
    click.echo(f"model {meta['version']} on {data_file} ({metrics['rows']} rows)")
    click.echo(f"accuracy {metrics['accuracy']:.3f}   macro-F1 {metrics['macro_f1']:.3f}")
    click.echo("level  precision  recall     f1  support")
    for level, row in metrics["per_level"].items():
        click.echo(f"{level:>5}  {row['precision']:9.3f}  {row['recall']:6.3f}  {row['f1']:5.3f}  {row['support']:7d}")
    click.echo("confusion (rows: true level, columns: predicted) " + " ".join(f"{level:>5}" for level in metrics["levels"]))
    for level, row in zip(metrics["levels"], metrics["confusion_matrix"]):
        click.echo(f"{level:>5} " + " ".join(f"{n:>5}" for n in row))


def _plot_confusion(metrics: dict, path: Path, title: str) -> None:
    try:
        import matplotlib
    except ImportError:
        raise click.ClickException("--plot needs matplotlib: pip install 'triage[plot]'") from None

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    matrix, levels = metrics["confusion_matrix"], metrics["levels"]
    figure, axes = plt.subplots(figsize=(4.5, 4))
    axes.imshow(matrix, cmap="Blues")
    axes.set_xticks(range(len(levels)), [str(level) for level in levels])
    axes.set_yticks(range(len(levels)), [str(level) for level in levels])
    axes.set_xlabel("predicted level")
    axes.set_ylabel("true level")
    axes.set_title(f"{title}\nmacro-F1 {metrics['macro_f1']:.3f}", fontsize=9)
    peak = max(max(row) for row in matrix) or 1
    for i, row in enumerate(matrix):
        for j, n in enumerate(row):
            axes.text(j, i, str(n), ha="center", va="center", color="white" if n > peak / 2 else "black")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


@model.command("list")
@_models_option
def model_list(models_dir):
    """Every version in the registry with its held-out metrics; * marks the active one."""
    from app.classifier import registry

    active = registry.active_version(models_dir)
    for meta in registry.versions(models_dir):
        mark = "*" if meta["version"] == active else " "
        if "error" in meta:
            click.echo(f"{mark} {meta['version']}  {meta['error']}")
            continue
        m = meta["metrics"]
        options = meta.get("options", {})
        precedents = f"precedents >= {options['precedent_threshold']}" if options.get("precedent_threshold") else "no precedents"
        click.echo(
            f"{mark} {meta['version']}  created {meta['created_at'][:19]}  rows {meta['rows']:6d}  "
            f"{options.get('classifier', '-'):8s}  {precedents:18s}  macro-F1 {m['macro_f1']:.3f}  accuracy {m['accuracy']:.3f}  data {meta['data']}"
        )


@model.command("activate")
@click.argument("version")
@_models_option
def model_activate(version, models_dir):
    """Serve VERSION (after checking its hash and scikit-learn version); every worker picks it up."""
    from app.classifier import registry

    try:
        registry.activate(models_dir, version)
    except registry.ModelRefused as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"model {version} is now active")


@model.command("sample")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--per-level", default=60, show_default=True, help="Rows per language and level.")
def model_sample(output, per_level):
    """Write the project's own sample tickets (seven languages, four levels) as CSV."""
    from app.classifier import samples

    rows = samples.generate(per_level)
    samples.write(output, rows)
    click.echo(f"{len(rows)} sample tickets written to {output}")
