"""The classifier: train, evaluate, registry checks, serving, and rules over the model's facts."""

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app import create_app, settings
from app.classifier import registry, samples
from app.classifier.model import Columns, TrainingError, parse_label_map, prepare
from app.settings import bundled

from .conftest import MODEL_KEY, authed, case

KEY = MODEL_KEY.encode()

TRIAGE = shutil.which("triage", path=str(Path(sys.executable).parent))
LEVELS = "--label-map", "1=1,2=2,3=3,4=4"


def run(*args, env=None):
    import os

    return subprocess.run(
        [TRIAGE, *map(str, args)], capture_output=True, text=True, timeout=300, env={**os.environ, **(env or {})}
    )


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A registry with one model trained through the CLI on a small sample file."""
    folder = tmp_path_factory.mktemp("model")
    data = folder / "tickets.csv"
    samples.write(data, samples.generate(per_level=8))
    done = run(
        "model",
        "train",
        "--data",
        data,
        "--text-columns",
        "subject,description",
        "--label-column",
        "level",
        *LEVELS,
        "--feature-columns",
        "language",
        "--output",
        folder / "registry",
    )
    assert done.returncode == 0, done.stderr
    return folder / "registry", done.stdout.strip().splitlines()[-1], data, done


def test_training_saves_artifact_and_metadata(trained):
    models, version, data, done = trained
    assert "fold 1 of 5" in done.stderr and "keeping" in done.stderr and "saving" in done.stderr  # progress
    meta = json.loads((models / version / "model.json").read_text())
    assert meta["options"]["classifier"] in ("svm", "logistic")
    assert set(meta["metrics"]["candidates"]) == {"svm", "logistic"}
    assert meta["metrics"]["compared_by"] == "5-fold cross-validation"
    assert set(meta["metrics"]["precedent_thresholds"]) == {"None", "0.25", "0.3", "0.35", "0.4", "0.5", "0.6"}
    assert "precedent_threshold" in meta["options"]
    assert meta["version"] == version and meta["rows"] == 224 and meta["levels"] == [1, 2, 3, 4]
    assert meta["data_sha256"] == registry.sha256_of(data)
    assert meta["artifact_sha256"] == registry.sha256_of(models / version / "model.joblib")
    assert meta["sklearn_version"] and meta["created_at"] and meta["temperature"] >= 1
    assert meta["columns"] == {
        "text_columns": ["subject", "description"],
        "label_column": "level",
        "label_map": {"1": 1, "2": 2, "3": 3, "4": 4},
        "feature_columns": ["language"],
    }
    assert set(meta["metrics"]) >= {"accuracy", "macro_f1", "per_level", "confusion_matrix"}


def test_evaluate_prints_tables_json_and_a_plot(trained, tmp_path):
    models, version, data, _ = trained
    args = (
        "model",
        "evaluate",
        "--model",
        models / version,
        "--data",
        data,
        "--text-columns",
        "subject,description",
        "--label-column",
        "level",
        *LEVELS,
        "--feature-columns",
        "language",
    )
    registry_env = {"TRIAGE_MODELS_DIR": str(models)}  # evaluate loads only from a registry
    table = run(*args, env=registry_env)
    assert table.returncode == 0 and "macro-F1" in table.stdout and "confusion" in table.stdout
    plot = tmp_path / "cm.png"
    as_json = json.loads(run(*args, "--json", "--plot", plot, env=registry_env).stdout)
    assert set(as_json) >= {"accuracy", "macro_f1", "per_level", "confusion_matrix"}
    assert set(as_json["per_level"]) == {"1", "2", "3", "4"} and len(as_json["confusion_matrix"]) == 4
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _evaluate(model_dir, data, *more):
    return run(
        "model",
        "evaluate",
        "--model",
        model_dir,
        "--data",
        data,
        "--text-columns",
        "subject,description",
        "--label-column",
        "level",
        *LEVELS,
        "--feature-columns",
        "language",
        *more,
        env={"TRIAGE_MODELS_DIR": str(Path(model_dir).parent)},  # evaluate loads only from a registry
    )


def test_training_reports_held_out_metrics_per_level_and_per_language(trained):
    models, version, _, done = trained
    metrics = json.loads((models / version / "model.json").read_text())["metrics"]
    languages = metrics["per_language"]
    assert set(languages) == {"en", "de", "ru", "cs", "id", "pl", "da"}
    assert sum(row["rows"] for row in languages.values()) == metrics["rows"] == 45  # the held-out 20%
    for code, row in languages.items():
        assert set(row) == {"rows", "accuracy", "macro_f1", "per_level"}
        assert f"{code:>8}  {row['rows']:4d}  {row['accuracy']:8.3f}  {row['macro_f1']:8.3f}" in done.stdout
    for level, row in metrics["per_level"].items():
        assert f"{level:>5}  {row['precision']:9.3f}  {row['recall']:6.3f}  {row['f1']:5.3f}  {row['support']:7d}" in done.stdout
    assert "%|" not in done.stderr  # no progress bars when standard error is not a terminal; the step lines stay


def test_evaluating_on_training_data_warns_and_says_seen_in_training(trained, tmp_path):
    models, version, data, _ = trained
    meta = json.loads((models / version / "model.json").read_text())
    distinct = len({(r["subject"], r["description"], r["level"]) for r in samples.generate(per_level=8)})  # 221 of 224
    assert meta["row_hashes"]["distinct_rows"] == distinct and (models / version / "rows.hashes").stat().st_size == distinct * 8
    same = _evaluate(models / version, data, "--json")
    warnings = [line for line in same.stderr.splitlines() if line.startswith("WARNING")]
    assert same.returncode == 0 and len(warnings) == 1 and "224 of 224 rows (100%) were training rows" in warnings[0]
    found = json.loads(same.stdout)
    assert found["seen_in_training"] is True
    assert found["training_overlap"]["same_file"] is True and found["training_overlap"]["rows_seen"] == 224

    # another file with some of the same rows (re-cased and re-spaced: still the same rows)
    rows = samples.generate(per_level=10, seed=7)
    training = {(r["subject"], r["description"]) for r in samples.generate(per_level=8, seed=7)}
    overlapping = sum((r["subject"], r["description"]) in training for r in rows)
    rows[0] = {**rows[0], "subject": rows[0]["subject"].upper() + "  ", "description": " ".join(rows[0]["description"].split())}
    samples.write(tmp_path / "other.csv", rows)
    other = _evaluate(models / version, tmp_path / "other.csv", "--json")
    found = json.loads(other.stdout)
    assert other.stderr.startswith("WARNING") and found["seen_in_training"] is True
    assert found["training_overlap"]["same_file"] is False and 0 < found["training_overlap"]["rows_seen"] < 280
    assert found["training_overlap"]["rows_seen"] >= overlapping - 1  # duplicate texts across levels aside
    assert found["unseen_rows"]["rows"] == 280 - found["training_overlap"]["rows_seen"]

    # a model saved before row hashes were kept: the file's hash alone, and it says so
    old, _ = _copy_registry(trained, tmp_path)
    meta.pop("row_hashes")
    (old / version / "model.json").write_text(json.dumps(meta))
    (old / version / "rows.hashes").unlink()
    same = json.loads(_evaluate(old / version, data, "--json").stdout)
    assert same["seen_in_training"] is True and "sha256 only" in same["training_overlap"]["checked"]
    unknown = _evaluate(old / version, tmp_path / "other.csv", "--json")
    assert json.loads(unknown.stdout)["seen_in_training"] is None
    assert "WARNING" not in unknown.stderr and "only the file's sha256 was compared" in unknown.stderr


def test_list_marks_metrics_measured_on_sample_data_in_both_registries(trained, tmp_path):
    models, version, _, _ = trained
    shipped = registry.versions(bundled("models"))[0]["version"]
    listed = run("model", "list", "--models-dir", models).stdout
    lines = {v: line for line in listed.splitlines() for v in (shipped, version) if line[2:].startswith(f"{v}  created")}
    assert f"registry {models} (new models" in listed and f"registry {bundled('models')} (shipped with triage)" in listed
    assert "macro-F1 1.000  accuracy 1.000  [sample data]" in lines[shipped]  # measured on templates it was trained on
    assert "[sample data]" in lines[version]  # trained here on sample tickets too
    assert "[sample data]: measured on held-out rows of the project's own template tickets" in listed

    # the shipped version is activated and shadowed from the deployment's registry, where ACTIVE and SHADOW live
    mine = tmp_path / "mine"
    assert run("model", "activate", shipped, "--models-dir", mine).returncode == 0
    assert registry.active_version(mine) == shipped and not (bundled("models") / "ACTIVE").exists()
    assert f"* {shipped}" in run("model", "list", "--models-dir", mine).stdout
    assert run("model", "shadow", shipped, "--models-dir", mine).returncode == 0
    assert registry.active_version(mine, registry.SHADOW) == shipped


def test_new_models_go_to_the_instance_registry_and_activation_elsewhere_is_refused(tmp_path):
    resolved = settings.load({"INSTANCE_DIR": str(tmp_path / "i")}, environ={})
    assert resolved["MODELS_DIR"] == str(tmp_path / "i" / "models")
    refused = run(
        "model",
        "train",
        "--data",
        tmp_path / "x.csv",
        "--output",
        tmp_path / "elsewhere",
        "--activate",
        env={"TRIAGE_INSTANCE_DIR": str(tmp_path / "i")},
    )
    assert refused.returncode == 1 and "the service looks for models in" in refused.stderr
    assert not (tmp_path / "elsewhere").exists()


def test_list_and_activate(trained):
    models, version, _, _ = trained
    assert version in run("model", "list", "--models-dir", models).stdout
    assert run("model", "activate", version, "--models-dir", models).returncode == 0
    assert registry.active_version(models) == version
    assert "* " + version in run("model", "list", "--models-dir", models).stdout
    refused = run("model", "activate", "nope", "--models-dir", models)
    assert refused.returncode == 1 and "no model version 'nope'" in refused.stderr


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "content, suffix, options, words",
    [
        ("subject,body,priority\n", ".csv", ("--label-map", "high=2"), "has no rows"),
        ("subject,priority\nx,high\n", ".csv", ("--label-map", "high=2"), "missing column(s) body"),
        (
            "subject,body,priority\n" + "x,y,high\n" * 6 + "x,y,urgent\n" * 6,
            ".csv",
            ("--label-map", "high=2"),
            "unmapped label(s) in priority: 'urgent' (6)",
        ),
        (
            "subject,body,priority\n" + "x,y,high\n" * 6 + "x,y,low\n" * 2,
            ".csv",
            ("--label-map", "high=2,low=4"),
            "too few examples (level 4: 2)",
        ),
        ("subject,body,priority\nx,y,high\n", ".csv", ("--label-map", "high=9"), "not LABEL=LEVEL with a level 1-4"),
        ("{not json\n", ".jsonl", ("--label-map", "high=2"), "line 1 is not JSON"),
        ("a\tb\n", ".tsv", ("--label-map", "high=2"), "give a .csv"),
    ],
)
def test_bad_training_input_is_refused_clearly(tmp_path, content, suffix, options, words):
    data = _write(tmp_path / f"data{suffix}", content)
    done = run("model", "train", "--data", data, *options, "--output", tmp_path / "registry")
    assert done.returncode == 1 and words in done.stderr, done.stderr
    assert not (tmp_path / "registry").exists() or not list((tmp_path / "registry").iterdir())


def test_json_lines_input(tmp_path):
    rows = samples.generate(per_level=6)
    data = _write(tmp_path / "data.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    done = run(
        "model",
        "train",
        "--data",
        data,
        "--text-columns",
        "subject,description",
        "--label-column",
        "level",
        *LEVELS,
        "--output",
        tmp_path / "registry",
    )
    assert done.returncode == 0, done.stderr


def test_label_map_and_prepare_units():
    assert parse_label_map("high=2, medium=3,low=4") == {"high": 2, "medium": 3, "low": 4}
    assert parse_label_map("a=b=1") == {"a=b": 1}
    with pytest.raises(TrainingError):
        parse_label_map("")
    inputs, levels = prepare([{"s": "x", "b": "y", "q": "it", "p": "hi"}], Columns(("s", "b"), "p", {"hi": 1}, ("q",)))
    assert inputs == [{"text": "x\ny", "features": {"q": "it"}}] and levels.tolist() == [1]


def _copy_registry(trained, tmp_path):
    models, version, _, _ = trained
    target = tmp_path / "models"
    shutil.copytree(models, target, ignore=shutil.ignore_patterns("ACTIVE"))
    return target, version


def test_a_tampered_artifact_is_refused_and_the_service_runs_on_rules(trained, tmp_path):
    models, version = _copy_registry(trained, tmp_path)
    registry.activate(models, version, KEY)
    with open(models / version / "model.joblib", "ab") as handle:
        handle.write(b"\0")  # one byte changed after training
    refused = run("model", "activate", version, "--models-dir", models)
    assert refused.returncode == 1 and "does not match its metadata" in refused.stderr
    client = authed(create_app({"INSTANCE_DIR": str(tmp_path / "i"), "MODELS_DIR": str(models)}))
    ready = client.get("/readyz").get_json()["model"]
    assert ready["active"] is None and "does not match its metadata" in ready["refused"]
    answer = client.post("/v1/classify", json=case()).get_json()
    assert answer["severity"]["classifier"] is None and answer["severity"]["level"] == 1 and "model" not in answer["versions"]


def test_a_model_from_another_scikit_learn_is_refused(trained, tmp_path):
    models, version = _copy_registry(trained, tmp_path)
    meta_path = models / version / "model.json"
    meta = json.loads(meta_path.read_text())
    meta_path.write_text(json.dumps({**meta, "sklearn_version": "0.24.2"}))
    with pytest.raises(registry.ModelRefused, match="made with scikit-learn 0.24.2"):
        registry.verify(models, version, KEY)


def test_a_model_of_another_shape_is_refused_when_loaded(trained, tmp_path):
    """An artifact that passes the hash check but whose pipeline this code cannot serve (session 1's
    models named their last step "svm") is refused with a reason, not a stack trace in a request."""
    from sklearn.pipeline import Pipeline

    models, version = _copy_registry(trained, tmp_path)
    model, meta = registry.load(models, version, KEY)
    model.pipeline = Pipeline(
        [("features", model.pipeline.named_steps["features"]), ("svm", model.pipeline.named_steps["classifier"])]
    )
    model.__dict__.pop("_one_case")
    old = registry.save(models, model, {k: meta[k] for k in ("rows", "data", "data_sha256", "columns", "metrics")}, key=KEY)
    with pytest.raises(registry.ModelRefused, match="retrain it"):
        registry.load(models, old["version"], KEY)


def test_activation_is_picked_up_by_a_running_app_and_rules_use_the_model(trained, tmp_path, rules_dir):
    models, version = _copy_registry(trained, tmp_path)
    severity = rules_dir / "severity.yaml"
    severity.write_text(
        severity.read_text()
        + """
  - id: classifier-hint
    level: 2
    description: Whatever the classifier says, a case it has read is at least a 2 (a test rule over model facts).
    when: {model.level: {lte: 4}, signals: {none: [question, how_to]}}
"""
    )
    client = authed(
        create_app(
            {
                "INSTANCE_DIR": str(tmp_path / "i"),
                "MODELS_DIR": str(models),
                "MODEL_CHECK_INTERVAL": 0,
                "RULES_DIR": str(rules_dir),
            }
        )
    )
    quiet = case("Ticket 4711", "See attachment.", declared_severity=4)
    before = client.post("/v1/classify", json=quiet).get_json()
    assert before["severity"]["classifier"] is None and before["severity"]["source"] == "declared"
    assert client.get("/readyz").get_json()["model"]["active"] is None

    assert run("model", "activate", version, "--models-dir", models).returncode == 0  # no restart
    deadline = time.monotonic() + 30  # the watcher thread loads it, off the request path
    while client.get("/readyz").get_json()["model"]["active"] != version:
        assert time.monotonic() < deadline, "the model was not picked up"
        time.sleep(0.1)
    after = client.post("/v1/classify", json=quiet).get_json()
    classifier = after["severity"]["classifier"]
    assert classifier["model_version"] == version and after["versions"]["model"] == version
    assert set(classifier["probabilities"]) == {"1", "2", "3", "4"}
    assert abs(sum(classifier["probabilities"].values()) - 1) < 1e-3
    assert classifier["confidence"] == max(classifier["probabilities"].values())
    assert (after["severity"]["level"], after["severity"]["source"]) == (2, "classifier")
    assert client.get("/readyz").get_json()["model"]["active"] == version

    # a severity-1 rule is never lowered by the model
    outage = client.post("/v1/classify", json=case("Production down", "Nobody can work, production is down.")).get_json()
    assert outage["severity"]["level"] == 1 and outage["severity"]["source"] == "rules"


def test_fallback_rule_takes_the_models_level_only_when_no_rule_matched(trained, tmp_path, rules_dir):
    models, version = _copy_registry(trained, tmp_path)
    registry.activate(models, version, KEY)
    severity = rules_dir / "severity.yaml"
    severity.write_text(
        severity.read_text().replace("when: {model.confidence: {gte: 0.6}}", "when: {model.confidence: {gte: 0.0}}")
    )
    client = authed(create_app({"INSTANCE_DIR": str(tmp_path / "i"), "MODELS_DIR": str(models), "RULES_DIR": str(rules_dir)}))
    silent = client.post("/v1/classify", json=case("Ticket 4711", "See attachment.")).get_json()
    assert silent["severity"]["source"] == "classifier"
    assert silent["severity"]["level"] == silent["severity"]["classifier"]["level"]
    assert silent["severity"]["matched_rules"][0]["id"] == "classifier-when-rules-silent"
    loud = client.post("/v1/classify", json=case("Report slow", "The report is slow.")).get_json()
    assert loud["severity"]["source"] == "rules" and loud["severity"]["level"] == 3  # a rule matched: no fallback


def test_train_from_store_lets_corrections_win(tmp_path):
    env = {"TRIAGE_INSTANCE_DIR": str(tmp_path / "i"), "TRIAGE_MODELS_DIR": str(tmp_path / "m")}
    app = create_app({"INSTANCE_DIR": env["TRIAGE_INSTANCE_DIR"], "MODELS_DIR": env["TRIAGE_MODELS_DIR"]})
    client = authed(app)
    slow = [
        client.post("/v1/classify", json=case(f"Report {i} slow", "The monthly report is slow.")).get_json() for i in range(11)
    ]
    for i in range(6):
        client.post("/v1/classify", json=case(f"Question {i}", "How do I add a user?"))
    for answer in slow[:5]:
        client.post(f"/v1/decisions/{answer['decision_id']}/feedback", json={"severity": 2})
    done = run("model", "train", "--from-store", env=env)
    assert done.returncode == 0, done.stderr
    meta = json.loads((tmp_path / "m" / done.stdout.strip().splitlines()[-1] / "model.json").read_text())
    assert meta["rows"] == 17 and meta["levels"] == [2, 3, 4] and meta["data"] == "the decision store"
    later = run("model", "train", "--from-store", "--since", "2999-01-01T00:00:00+00:00", env=env)
    assert later.returncode == 1 and "the store has no decisions since" in later.stderr


def _inputs_of(rows):
    from app.classifier.model import as_input

    return [as_input({"s": r["subject"], "d": r["description"]}, {"language": r["language"]}) for r in rows]


@pytest.mark.parametrize(
    "classifier, levels", [("svm", (1, 2, 3, 4)), ("logistic", (1, 2, 3, 4)), ("svm", (1, 4)), ("logistic", (2, 3))]
)
def test_serving_margins_equal_the_pipelines(classifier, levels):
    """The one-case serving path computes what scikit-learn's pipeline computes, for either
    classifier, with four levels or two, and leans to the same precedents as the batch path."""
    import numpy as np

    from app.classifier.model import SeverityModel, as_input, build_pipeline, words_of
    from app.classifier.precedents import PRECEDENT_WEIGHT, Precedents

    training = [r for r in samples.generate(per_level=10, seed=3) if r["level"] in levels]
    training_levels = np.array([r["level"] for r in training])
    pipeline = build_pipeline(True, classifier).fit(_inputs_of(training), training_levels)
    inputs = _inputs_of(samples.generate(per_level=4, seed=11))
    inputs += [
        as_input({"s": "Ticket", "d": ""}, {"language": "xx"}),
        as_input({"s": "", "d": ""}, {}),
        as_input({"s": "Сервер не работает " * 400, "d": "x"}, {"language": "ru"}),
        as_input({"s": "Ünïcode\u00a0spaces\t\ttabs", "d": "a b c de de de DE\n\n!!"}, {}),
    ]
    inputs += [{**item, "text": item["text"] + " thanks"} for item in _inputs_of(training[::7])]  # repeats
    batch = pipeline.decision_function(inputs)
    batch = batch if batch.ndim == 2 else np.column_stack([-batch, batch])

    plain = SeverityModel(pipeline, levels)
    one_by_one = np.array([plain.margins([item])[0] for item in inputs])
    assert np.allclose(one_by_one, plain.margins(inputs))  # more than 16 cases: scikit-learn's own path
    assert np.allclose(one_by_one, batch)

    features = pipeline.named_steps["features"]
    precedents = Precedents.of(words_of(features, features.transform(_inputs_of(training))), training_levels, 0.5)
    leaning = SeverityModel(pipeline, levels, precedents=precedents)
    one_by_one = np.array([leaning.margins([item])[0] for item in inputs])
    assert np.allclose(one_by_one, leaning.margins(inputs))
    added = one_by_one - batch
    assert set(np.round(added.sum(axis=1), 6)) == {0, PRECEDENT_WEIGHT}  # one level gains, or none
    repeats = added[-len(training[::7]) :]
    assert (repeats.argmax(axis=1) == [levels.index(r["level"]) for r in training[::7]]).all()
    assert np.allclose(repeats.sum(axis=1), PRECEDENT_WEIGHT)


def test_precedents_find_the_nearest_case_by_its_rarer_words():
    """One case and a batch find the same nearest case; words in more than RARE_SHARE of the
    training cases (and more than RARE_CASES) are left out of the comparison."""
    import numpy as np
    import scipy.sparse as sp

    from app.classifier.precedents import RARE_CASES, RARE_SHARE, Precedents

    rng = np.random.default_rng(5)
    common = np.ones((2000, 1))  # a word in every case: too common to say which case is alike
    cases = sp.hstack([common, sp.random(2000, 299, density=0.01, random_state=6)]).tocsr()
    levels = rng.integers(1, 5, size=2000)
    precedents = Precedents.of(cases, levels)
    assert precedents.cases[:, 0].nnz == 0 and int(precedents.cases.getnnz(axis=0).max()) <= max(RARE_SHARE * 2000, RARE_CASES)
    queries = sp.random(30, 300, density=0.05, random_state=7, format="csr")
    similarity, nearest = precedents.nearest(queries)
    for row in range(30):
        columns, values = queries[row].indices, queries[row].data
        doubled = np.concatenate([columns, columns]), np.concatenate([values, values]) / 2  # a repeated column adds up
        for hits in ((columns, values), doubled):
            one_similarity, one_level = precedents.nearest_one(*hits)
            assert one_similarity == pytest.approx(similarity[row], rel=1e-5) and one_level == nearest[row]
    assert precedents.nearest_one(np.array([0]), np.array([1.0]))[0] == 0  # only a common word: nothing alike


def test_choosing_a_classifier_needs_more_than_a_lucky_lead():
    """Another candidate replaces the default only when its lead on unseen cases is beyond noise."""
    import numpy as np

    from app.classifier.model import choose

    rng = np.random.default_rng(0)
    truth = rng.integers(1, 5, size=400)
    default = np.where(rng.random(400) < 0.6, truth, rng.integers(1, 5, size=400))
    wrong, right = np.flatnonzero(default != truth), np.flatnonzero(default == truth)
    slightly = default.copy()  # right on 12 more cases, wrong on 10 others: a lead, but luck could make it
    slightly[wrong[:12]] = truth[wrong[:12]]
    slightly[right[:10]] = truth[right[:10]] % 4 + 1
    clearly = np.where(rng.random(400) < 0.85, truth, default)
    best, scores = choose(truth, {"svm": default, "logistic": slightly})
    assert best == "svm" and scores["logistic"] > scores["svm"]
    best, scores = choose(truth, {"svm": default, "logistic": clearly})
    assert best == "logistic" and scores["logistic"] > scores["svm"] + 0.1


def test_macro_f1_agrees_with_scikit_learn():
    import numpy as np
    from sklearn.metrics import f1_score

    from app.classifier.model import _macro_f1

    rng = np.random.default_rng(1)
    for _ in range(20):
        truth, guess = rng.integers(1, 5, size=50), rng.integers(2, 5, size=50)
        labels = np.unique(np.concatenate([truth, guess]))
        assert _macro_f1(truth, guess, labels) == pytest.approx(f1_score(truth, guess, average="macro"))


def test_every_shipped_model_loads():
    """The bundled models can be served: an artifact pickled under a module path that no longer
    exists (as happened when the code moved into packages) fails here, not in a worker."""
    from app.settings import bundled

    shipped = [meta["version"] for meta in registry.versions(bundled("models")) if "error" not in meta]
    assert shipped
    for version in shipped:
        model, meta = registry.load(bundled("models"), version, None)
        assert model.levels is not None and meta["version"] == version
