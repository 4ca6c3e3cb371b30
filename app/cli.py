"""The operator CLI, `triage`: rules (check, test, export, import), classify and route one case,
db upgrade, tokens, decisions export, and model (train, evaluate, list, activate, shadow, compare, sample).

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


def _folder_decider(rules_dir: Path):
    """Decide with a rules folder as it is, without the store or the service's threads: what these
    files would do (rules test, classify, route). Raises RulesInvalid for invalid files."""
    from app.classifier.registry import LiveModel, model_key
    from app.decide.classify import classify_case
    from app.rulebook import book
    from app.severity.language import LanguageDetector

    values = settings.load()
    rules = book.build(book.read_sources(rules_dir))
    detector = LanguageDetector(settings.languages(values), values["DEFAULT_LANGUAGE"])
    key = model_key(values["MODEL_KEY"], Path(values["INSTANCE_DIR"]))
    model = LiveModel(Path(values["MODELS_DIR"]), key, settings.bundled("models"))

    def decide(case, at):
        served = model.get()
        return classify_case(case, rules, detector, at, served if served[0] is not None else None)

    return decide


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
    from app.routing import coverage  # warnings, not problems: 24/7 promises no pool can keep

    found = coverage.check(book.routes, book.pools, book.terms, book.regions, book.routing_rules.evaluate, datetime.now(UTC))
    for line in coverage.report(found):
        click.echo(line)


def _publisher():
    """The rule store of TRIAGE_DATABASE_URL (seeded from the rule files when empty)."""
    return _service(RULES_SOURCE="database").publisher


@rules.command("export")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
def rules_export(folder):
    """Write the current version of every document from the rule store to FOLDER/<name>.yaml."""
    publisher = _publisher()
    folder.mkdir(parents=True, exist_ok=True)
    sources = publisher.sources()
    for summary in publisher.documents():
        path = folder / f"{summary['name']}.yaml"  # golden cases (tests/<stem>) into tests/
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(sources[summary["name"]], encoding="utf-8")
        click.echo(f"{summary['name']}.yaml: version {summary['version']} by {summary['author']}")


@rules.command("import")
@click.argument("folder", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--comment", default="imported", show_default=True, help="Why: kept with every version published.")
@click.option("--author", default=lambda: __import__("getpass").getuser(), help="Who: default the login name.")
def rules_import(folder, comment, author):
    """Publish the documents of FOLDER (and its golden cases, FOLDER/tests) that differ from the
    store's, all at once, after the same trial as a publish through the API."""
    from app.manage import golden
    from app.manage.publishing import Busy, NotFound
    from app.rulebook import book as rulebook

    try:
        published = _publisher().import_documents(
            {**rulebook.read_sources(folder), **golden.read(folder / "tests")}, comment, author
        )
    except RulesInvalid as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        raise click.ClickException(f"{len(exc.problems)} problem(s): nothing was published") from None
    except (NotFound, Busy) as exc:
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
        decide = _folder_decider(rules_dir)
        cases = golden.load(rules_dir / "tests")
    except RulesInvalid as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        sys.exit(1)
    outcomes = golden.run(cases, decide)
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
    try:
        return _folder_decider(rules_dir)(case, at)
    except RulesInvalid as exc:
        raise click.ClickException("; ".join(map(str, exc.problems))) from None


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
    from app.lifecycle.report import PeriodInvalid, window

    try:
        window(period)
    except PeriodInvalid as exc:
        raise click.BadParameter(str(exc), param_hint="--period") from None
    triage = _service(SCHEDULER_INTERVAL=0)
    try:
        report = triage.casebook.report(period, customer, datetime.now(UTC))
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
    """Revoke a token by its id (never the last active admin token)."""
    from app.store.database import LastAdminToken

    try:
        revoked = _service().tokens.revoke(token_id)
    except LastAdminToken as exc:
        raise click.ClickException(str(exc)) from None
    if not revoked:
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
@click.option("--until", callback=_instant, help="Only decisions made before this instant (ISO 8601 with offset).")
@click.option("--output", type=click.File("wb"), default="-", help="File to write; default standard output.")
def decisions_export(fmt, since, until, output):
    """Write every decision with its latest correction (the correction wins as the label), oldest
    first, streamed as it is read; CSV cells a spreadsheet would read as a formula start with a quote."""
    from app.store import exports

    budget = exports.Budget(1, settings.load()["EXPORT_ROWS_PER_SECOND"])  # the database it reads serves intake too
    for chunk in exports.stream(_service().store.engine, fmt, since, until, budget):
        output.write(chunk)


@main.group()
def model():
    """Train, evaluate, list, activate and shadow severity classifiers.

    New models go into the deployment's registry (TRIAGE_MODELS_DIR, default instance/models), which
    also keeps ACTIVE and SHADOW; the registry shipped with triage (the bundled models/) is searched
    after it, so its versions can be listed, activated and shadowed as they are."""


_models_option = click.option(
    "--models-dir",
    type=click.Path(file_okay=False),
    callback=_folder("MODELS_DIR"),
    help="The deployment's registry (new models, ACTIVE, SHADOW); default TRIAGE_MODELS_DIR, or instance/models. "
    "The bundled registry is searched after it.",
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
    """Lines saying what training does, on standard error (written between the progress bars)."""
    import time

    from tqdm import tqdm

    started = time.monotonic()
    return lambda step: tqdm.write(f"[{time.monotonic() - started:6.1f}s] {step}", file=sys.stderr)


def _model_bars():
    """Progress bars (tqdm) for vectorising, cross-validation and fitting, on standard error; none
    when standard error is not a terminal (a log file, CI)."""
    from tqdm import tqdm

    quiet = not sys.stderr.isatty()

    def bar(total: int, description: str, leave: bool = True):
        unit = " texts" if description.startswith("vectorising") else " steps"
        return tqdm(total=total, desc=description, leave=leave, file=sys.stderr, disable=quiet, unit=unit, dynamic_ncols=True)

    return bar


_SAMPLE_NOTE = (
    "[sample data]: measured on held-out rows of the project's own template tickets (triage model sample), which share "
    "their templates with the training rows; it says nothing about real cases"
)


@model.command("train")
@_column_options
@click.option(
    "--language-column",
    default="language",
    show_default=True,
    help="Held-out metrics per language, when the data has this column.",
)
@click.option(
    "--from-store", is_flag=True, help="Train on stored decisions; an engineer's correction wins over the original level."
)
@click.option("--since", callback=_instant, help="With --from-store: decisions made at or after this instant.")
@click.option(
    "--output",
    "output",
    type=click.Path(file_okay=False, path_type=Path),
    help="The registry to save into; default TRIAGE_MODELS_DIR, or instance/models (`make model` gives the bundled models/).",
)
@click.option("--activate", is_flag=True, help="Serve the new model at once (ACTIVE in TRIAGE_MODELS_DIR).")
@click.option(
    "--report",
    "report_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write DIR/report.html (data, held-out metrics per level and language, the confusion matrix, the active model "
    "on the same rows) and DIR/confusion.png (needs matplotlib: triage[plot]).",
)
def model_train(
    data_file,
    text_columns,
    label_column,
    label_map,
    feature_columns,
    language_column,
    from_store,
    since,
    output,
    activate,
    report_dir,
):
    """Train a model, measure it on a held-out share, and save it to the registry."""
    import hashlib

    from app.classifier import registry, samples
    from app.classifier.model import Columns, TrainingError, prepare, read_rows, train

    home, shipped = Path(settings.load()["MODELS_DIR"]), settings.bundled("models")
    output = output or home
    if activate and not any(registry.same_folder(output, folder) for folder in (home, shipped)):
        raise click.ClickException(
            f"--activate: the service looks for models in {home} (TRIAGE_MODELS_DIR) and {shipped} (bundled), not in "
            f"{output}; save the model into one of them, or leave out --activate"
        )
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
        languages = [row.get(language_column) for row in rows] if language_column and language_column in rows[0] else None
        progress(f"{len(rows)} rows, levels {dict(sorted(Counter(levels.tolist()).items()))}")
        fitted, metrics = train(inputs, levels, bool(columns.features), progress, groups=languages, bars=_model_bars())
    except TrainingError as exc:
        raise click.ClickException(str(exc)) from None
    texts = [item["text"] for item in inputs]
    sample = samples.generated_share(texts) >= 0.9
    progress("saving")
    meta = registry.save(
        output,
        fitted,
        {
            "rows": len(rows),
            "data": source,
            "data_sha256": digest,
            "sample_data": sample,
            "columns": columns.to_dict(),
            "options": {"classifier": fitted.classifier, "holdout": 0.2, "precedent_threshold": fitted.precedent_threshold},
            "metrics": metrics,
        },
        training_rows=(texts, levels),
        key=_model_key(),
    )
    click.echo(
        f"model {meta['version']}: held-out macro-F1 {metrics['macro_f1']:.3f}, accuracy {metrics['accuracy']:.3f}, "
        f"{meta['artifact_bytes'] / 1e6:.1f} MB, in {output}"
    )
    _print_scores(metrics, language_column)
    if sample:
        click.echo(
            "note: the data are the project's own template tickets (triage model sample): the held-out rows share their "
            "templates with the training rows, so these metrics say nothing about real cases ([sample data] in model list)"
        )
    if report_dir is not None:
        comparison = _active_on_heldout(home, shipped, rows, levels, columns, progress)
        summary = {
            "rows": len(rows),
            "levels": {str(level): n for level, n in sorted(Counter(levels.tolist()).items())},
            "languages": dict(Counter(str(code or "unknown") for code in languages).most_common()) if languages else None,
        }
        from app.classifier import report

        written = report.write(report_dir, meta, summary, comparison)
        if written["problem"]:
            click.echo(f"report: {written['problem']}; the report has the numbers without the picture", err=True)
        click.echo(f"report written to {written['report']}" + (f" and {written['picture']}" if written["picture"] else ""))
    if activate:
        registry.activate(home, meta["version"], _model_key(), shipped)
        click.echo(f"model {meta['version']} is now active")
    click.echo(meta["version"])


def _print_scores(metrics: dict, language_column: str) -> None:
    """The held-out metrics per level and, when the data has languages, per language."""
    click.echo(f"held-out rows: {metrics['rows']}")
    click.echo("level  precision  recall     f1  support")
    for level, row in metrics["per_level"].items():
        click.echo(f"{level:>5}  {row['precision']:9.3f}  {row['recall']:6.3f}  {row['f1']:5.3f}  {row['support']:7d}")
    if metrics.get("per_language"):
        click.echo(f"{language_column:>8}  rows  accuracy  macro-F1")
        for code, row in metrics["per_language"].items():
            click.echo(f"{code[:8]:>8}  {row['rows']:4d}  {row['accuracy']:8.3f}  {row['macro_f1']:8.3f}")


def _active_on_heldout(home: Path, shipped: Path, rows: list[dict], levels, columns, progress) -> dict | None:
    """The active model measured on the rows the new model held out (None: no model is active)."""
    from app.classifier import overlap, registry
    from app.classifier.model import Columns, heldout_rows, prepare, scores_of

    version = registry.active_version(home)
    if version is None:
        return None
    progress(f"measuring the active model {version} on the same held-out rows")
    try:
        folder = registry.locate(registry.registries(home, shipped), version)
        active, meta = registry.load(folder, version, registry.key_for(folder, shipped, _model_key()))
        theirs = meta["columns"]
        _, test_rows = heldout_rows(levels)
        held = [rows[i] for i in test_rows]
        text = tuple(theirs["text_columns"]) if all(c in rows[0] for c in theirs["text_columns"]) else columns.text
        features = tuple(theirs["feature_columns"])
        held = [{**dict.fromkeys(features, ""), **row} for row in held]  # a field the data lacks is empty, as at intake
        inputs, _ = prepare(held, Columns(text, columns.label, columns.label_map, features), need_labels=False)
        truth = levels[test_rows]
        seen = overlap.seen(folder / version, meta, [item["text"] for item in inputs], truth)
        return {
            "version": version,
            "metrics": scores_of(active.predict(inputs), truth, active.levels),
            "seen": None if seen is None else int(seen.sum()),
        }
    except Exception as exc:  # the report says why; training is not undone for it
        return {"version": version, "problem": f"{type(exc).__name__}: {exc}"}


@model.command("evaluate")
@click.option(
    "--model",
    "model_dir",
    required=True,
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="A version folder of the deployment's or the shipped registry.",
)
@click.option(
    "--trust",
    is_flag=True,
    help="Load a model folder from elsewhere without its signature: loading a model runs code; only for your own files.",
)
@_column_options
@click.option("--json", "as_json", is_flag=True, help="One JSON object instead of tables.")
@click.option("--plot", type=click.Path(dir_okay=False, path_type=Path), help="Write the confusion matrix as a PNG.")
def model_evaluate(model_dir, trust, data_file, text_columns, label_column, label_map, feature_columns, as_json, plot):
    """Score a model on labelled data: accuracy, macro-F1, per level, confusion matrix; warn (stderr,
    and seen_in_training in --json) when the data overlaps the model's training data."""
    from app.classifier import overlap, registry, samples
    from app.classifier.model import TrainingError, prepare, read_rows, scores_of

    try:
        if data_file is None:
            raise TrainingError("give --data FILE")
        home, shipped = Path(settings.load()["MODELS_DIR"]), settings.bundled("models")
        in_registry = any(registry.same_folder(model_dir.parent, folder) for folder in (home, shipped))
        if not (in_registry or trust):
            raise registry.ModelRefused(
                f"{model_dir} is not in a registry ({home} or the shipped one): loading a model runs code; "
                "copy it into the registry and sign it (triage model sign), or pass --trust for your own files"
            )
        key = None if trust else registry.key_for(model_dir.parent, shipped, _model_key())
        fitted, meta = registry.load(model_dir.parent, model_dir.name, key)
        rows, digest = read_rows(data_file)
        inputs, levels = prepare(rows, _columns(text_columns, label_column, label_map, feature_columns))
    except (TrainingError, registry.ModelRefused) as exc:
        raise click.ClickException(str(exc)) from None
    predicted = fitted.predict(inputs)
    metrics = scores_of(predicted, levels, fitted.levels)
    texts = [item["text"] for item in inputs]
    found = overlap.check(model_dir, meta, digest, texts, levels)
    unseen_mask = ~found.pop("mask")
    unseen = None
    if found["seen_in_training"]:
        click.echo(
            f"WARNING: {overlap.describe(meta['version'], found)}. These metrics are not held-out: they measure memory "
            "and overstate how the model does on new cases.",
            err=True,
        )
        if found["rows_seen"] and unseen_mask.any():
            unseen = scores_of(predicted[unseen_mask], levels[unseen_mask], fitted.levels)
    elif found["seen_in_training"] is None:
        click.echo(
            f"note: model {meta['version']} was saved without row hashes: only the file's sha256 was compared (it differs "
            "from the training file's), so rows it was trained on may still be in the data",
            err=True,
        )
    sample = samples.generated_share(texts) >= 0.9
    if sample:
        click.echo(
            "note: the data are the project's own template tickets (triage model sample); metrics on them say "
            "little about real cases",
            err=True,
        )
    if plot:
        _plot_confusion(metrics, plot, f"{meta['version']} on {data_file.name}")
    if as_json:
        click.echo(
            json.dumps(
                {
                    "model": meta["version"],
                    **metrics,
                    "seen_in_training": found["seen_in_training"],
                    "training_overlap": found,
                    "sample_data": sample,
                    **({"unseen_rows": unseen} if unseen else {}),
                }
            )
        )
        return
    click.echo(f"model {meta['version']} on {data_file} ({metrics['rows']} rows)")
    click.echo(f"accuracy {metrics['accuracy']:.3f}   macro-F1 {metrics['macro_f1']:.3f}")
    click.echo("level  precision  recall     f1  support")
    for level, row in metrics["per_level"].items():
        click.echo(f"{level:>5}  {row['precision']:9.3f}  {row['recall']:6.3f}  {row['f1']:5.3f}  {row['support']:7d}")
    click.echo("confusion (rows: true level, columns: predicted) " + " ".join(f"{level:>5}" for level in metrics["levels"]))
    for level, row in zip(metrics["levels"], metrics["confusion_matrix"]):
        click.echo(f"{level:>5} " + " ".join(f"{n:>5}" for n in row))
    if found["seen_in_training"]:
        click.echo(f"seen in training: {overlap.describe(meta['version'], found)}")
        if unseen:
            click.echo(
                f"on the {unseen['rows']} rows it was not trained on: accuracy {unseen['accuracy']:.3f}   "
                f"macro-F1 {unseen['macro_f1']:.3f}"
            )


def _plot_confusion(metrics: dict, path: Path, title: str) -> None:
    from app.classifier.report import PlotUnavailable, plot_confusion

    try:
        plot_confusion(metrics, path, title)
    except PlotUnavailable:
        raise click.ClickException("--plot needs matplotlib: pip install 'triage[plot]'") from None


@model.command("list")
@_models_option
def model_list(models_dir):
    """Every version in the deployment's registry and the bundled one, with its held-out metrics;
    * marks the active one, ~ the shadowed one, [sample data] metrics measured on the sample tickets."""
    from app.classifier import registry

    folders = registry.registries(models_dir, settings.bundled("models"))
    active = registry.active_version(models_dir)
    shadow = registry.active_version(models_dir, registry.SHADOW)
    samples_sha = {registry.sha256_of(path) for folder in folders for path in sorted((folder / "sample").glob("*.csv"))}
    listed, marked = registry.listed(folders), False
    for number, folder in enumerate(folders):
        role = "new models; its ACTIVE and SHADOW choose" if number == 0 else "shipped with triage"
        click.echo(f"registry {folder} ({role})")
        versions = [meta for meta in listed if meta["registry"] == str(folder)]
        if not versions:
            click.echo("  (no models)")
        for meta in versions:
            mark = "*" if meta["version"] == active else "~" if meta["version"] == shadow else " "
            if "error" in meta:
                click.echo(f"{mark} {meta['version']}  {meta['error']}")
                continue
            m = meta["metrics"]
            options = meta.get("options", {})
            precedents = (
                f"precedents >= {options['precedent_threshold']}" if options.get("precedent_threshold") else "no precedents"
            )
            sample = bool(meta.get("sample_data")) or meta.get("data_sha256") in samples_sha
            marked |= sample
            click.echo(
                f"{mark} {meta['version']}  created {meta['created_at'][:19]}  rows {meta['rows']:6d}  "
                f"{options.get('classifier', '-'):8s}  {precedents:18s}  macro-F1 {m['macro_f1']:.3f}  accuracy {m['accuracy']:.3f}"
                f"{'  [sample data]' if sample else ''}  data {meta['data']}"
            )
    known = {meta["version"] for meta in listed}
    for name, version in (("ACTIVE", active), ("SHADOW", shadow)):
        if version is not None and version not in known:
            click.echo(f"{name} names {version}, which no registry has: the service refuses it", err=True)
    click.echo("* active   ~ shadowed (scored beside the decisions, not used)")
    if marked:
        click.echo(_SAMPLE_NOTE)


@model.command("activate")
@click.argument("version")
@_models_option
def model_activate(version, models_dir):
    """Serve VERSION, of either registry (after checking its hash and scikit-learn version); every
    worker picks it up. ACTIVE is written in the deployment's registry."""
    from app.classifier import registry

    try:
        registry.activate(models_dir, version, _model_key(), settings.bundled("models"))
    except registry.ModelRefused as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"model {version} is now active")


@model.command("sign")
@click.argument("version")
@_models_option
def model_sign(version, models_dir):
    """Trust VERSION, brought into the deployment's registry from elsewhere: sign its artifact with
    this deployment's key (TRIAGE_MODEL_KEY or <instance>/model.key). Loading a model runs code: sign
    only artifacts you made or checked."""
    from app.classifier import registry

    try:
        meta = registry.sign(models_dir, version, _model_key())
    except registry.ModelRefused as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"model {version} signed (sha256 {meta['artifact_sha256'][:12]}…)")


def _model_key() -> bytes:
    from app.classifier import registry

    values = settings.load()
    return registry.model_key(values["MODEL_KEY"], Path(values["INSTANCE_DIR"]))


@model.command("shadow")
@click.argument("version", required=False)
@click.option("--off", is_flag=True, help="Stop shadowing.")
@_models_option
def model_shadow(version, off, models_dir):
    """Shadow VERSION (of either registry): every worker also scores each recorded case with it, off the
    request path, and stores its level and confidence beside the decision without using them (see
    `triage model compare`). Without VERSION, say which model is shadowed."""
    from app.classifier import registry

    if off and version:
        raise click.UsageError("give VERSION or --off, not both")
    if off:
        stopped = registry.clear(models_dir, registry.SHADOW)
        click.echo("shadow mode off" if stopped else "no model was shadowed")
        return
    if version is None:
        current = registry.active_version(models_dir, registry.SHADOW)
        click.echo(f"model {current} is shadowed" if current else "no model is shadowed")
        return
    try:
        registry.activate(models_dir, version, _model_key(), settings.bundled("models"), pointer=registry.SHADOW)
    except registry.ModelRefused as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"model {version} is now shadowed: its scores are stored beside each new decision (triage model compare)")
    if version == registry.active_version(models_dir):
        click.echo("note: it is also the active model, so it will agree with it every time", err=True)


@model.command("compare")
@click.option("--since", callback=_instant, help="Decisions made at or after this instant (ISO 8601 with offset); default all.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object instead of text.")
def model_compare(since, as_json):
    """For decisions with shadow scores: how often the shadow model agrees with the active model, with
    the final level and with engineers' corrections (the latest that gives a severity), with counts."""
    from app.store import database
    from app.store.shadow import ShadowScores

    resolved = settings.load()
    if resolved["EMBEDDED_DATABASE"]:
        Path(resolved["INSTANCE_DIR"]).mkdir(parents=True, exist_ok=True)
        database.upgrade(resolved["DATABASE_URL"])
    engine = database.engine_for(resolved["DATABASE_URL"], resolved["DATABASE_TIMEOUT"])
    try:
        found = ShadowScores(engine).compare(since)
    except Exception as exc:  # unreachable, or not migrated to the shadow_scores table
        raise click.ClickException(
            f"the decision store did not answer ({type(exc).__name__}: {str(exc).splitlines()[0]}); "
            f"is it reachable and migrated (schema {database.head_revision()}: triage db upgrade)?"
        ) from None
    finally:
        engine.dispose()
    if as_json:
        click.echo(json.dumps({**found, "since": since.isoformat() if since else None}, indent=2))
        return
    if not found["models"]:
        click.echo(
            "no shadow scores"
            + (f" since {since.isoformat()}" if since else "")
            + ": shadow a model with triage model shadow VERSION"
        )
        return

    def agreed(part: dict) -> str:
        rate = "-" if part["rate"] is None else f"{part['rate']:.1%}"
        return f"{part['agree']} of {part['compared']} agree ({rate})"

    for summary in found["models"]:
        active, corrections = summary["active_model"], summary["corrections"]
        click.echo(
            f"shadow model {summary['model_version']}: {summary['decisions']} decision(s) scored"
            + (f" since {since.isoformat()}" if since else "")
        )
        versions = ", ".join(f"{version} ({n})" for version, n in active["versions"].items())
        click.echo(f"  with the active model's level   {agreed(active)}" + (f"   [{versions}]" if versions else ""))
        click.echo(f"  with the final level            {agreed(summary['final_level'])}")
        click.echo(
            f"  with engineers' corrections     {agreed(corrections)}"
            + (
                f"; the final level agreed with {corrections['final_level_agree']} of {corrections['compared']}, "
                f"the active model with {corrections['active_model_agree']} of {corrections['active_model_compared']}"
                if corrections["compared"]
                else ""
            )
        )
        levels = summary["levels"]
        shown = sorted(set(levels["shadow"]) | set(levels["final"]))
        click.echo(
            "  levels (shadow/final)           "
            + "  ".join(f"{level}: {levels['shadow'].get(level, 0)}/{levels['final'].get(level, 0)}" for level in shown)
        )


@model.command("sample")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--per-level", default=60, show_default=True, help="Rows per language and level.")
def model_sample(output, per_level):
    """Write the project's own sample tickets (seven languages, four levels) as CSV."""
    from app.classifier import samples

    rows = samples.generate(per_level)
    samples.write(output, rows)
    click.echo(f"{len(rows)} sample tickets written to {output}")
