"""Rules and models change safely: a model trained with a report (compared with the active model on
the same held-out rows), and a candidate model shadowing the active one: scored beside every
recorded decision, never used, compared with the active model, the final level and corrections."""

import base64
import json
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from app import create_app
from app.classifier import registry, samples
from app.classifier.model import Columns, heldout_rows, prepare, scores_of, train

from .conftest import MODEL_KEY, authed, case

KEY = MODEL_KEY.encode()

TRIAGE = shutil.which("triage", path=str(Path(sys.executable).parent))
COLUMNS = Columns(("subject", "description"), "level", {str(n): n for n in (1, 2, 3, 4)}, ("language",))
SWAP = {3: 4, 4: 3}  # the candidate learns slow cases as questions and questions as slow cases


def run(*args, env=None):
    return subprocess.run(
        [TRIAGE, *map(str, args)], capture_output=True, text=True, timeout=300, env={**os.environ, **(env or {})}
    )


@pytest.fixture(scope="module")
def two_models(tmp_path_factory):
    """A registry with model A (sample tickets, trained here and active) and model B (the same
    tickets with levels 3 and 4 swapped, trained through the CLI with --report while A is active)."""
    folder = tmp_path_factory.mktemp("shadow")
    models = folder / "models"
    rows = samples.generate(per_level=8)
    inputs, levels = prepare(rows, COLUMNS)
    fitted, metrics = train(inputs, levels, True)
    a = registry.save(
        models,
        fitted,
        {"rows": len(rows), "data": "sample", "data_sha256": "a" * 64, "columns": COLUMNS.to_dict(), "metrics": metrics},
        training_rows=([item["text"] for item in inputs], levels),
        key=KEY,
    )["version"]
    registry.activate(models, a, KEY)
    swapped = [{**row, "level": SWAP.get(row["level"], row["level"])} for row in rows]
    data = folder / "swapped.csv"
    samples.write(data, swapped)
    done = run(
        "model",
        "train",
        "--data",
        data,
        "--text-columns",
        "subject,description",
        "--label-column",
        "level",
        "--label-map",
        "1=1,2=2,3=3,4=4",
        "--feature-columns",
        "language",
        "--report",
        folder / "report",
        env={"TRIAGE_MODELS_DIR": str(models)},
    )
    assert done.returncode == 0, done.stderr
    b = done.stdout.strip().splitlines()[-1]
    assert registry.active_version(models) == a  # training B did not activate it
    return models, a, b, swapped, folder / "report", done


def test_the_report_holds_the_data_the_metrics_the_picture_and_the_active_model(two_models):
    models, a, b, swapped, report, done = two_models
    assert f"report written to {report / 'report.html'} and {report / 'confusion.png'}" in done.stdout
    page = (report / "report.html").read_text(encoding="utf-8")
    meta = json.loads((models / b / "model.json").read_text())
    metrics = meta["metrics"]

    # the data summary: rows, levels, languages
    assert "<td class=n>224</td><td class=n>4</td><td class=n>7</td>" in page
    for code in ("en", "de", "ru", "cs", "id", "pl", "da"):
        assert f"<tr><td>{code}</td><td class=n>32</td></tr>" in page
    # the held-out metrics, per level and per language
    assert f"macro-F1 <b>{metrics['macro_f1']:.3f}</b>" in page and f"accuracy <b>{metrics['accuracy']:.3f}</b>" in page
    for level, row in metrics["per_level"].items():
        numbers = [f"{row[k]:.3f}" for k in ("precision", "recall", "f1")]
        assert (
            f"<tr><td>{level}</td>"
            + "".join(f"<td class=n>{n}</td>" for n in numbers)
            + f"<td class=n>{row['support']}</td></tr>"
            in page
        )
    assert set(metrics["per_language"]) == {"en", "de", "ru", "cs", "id", "pl", "da"}
    for code, row in metrics["per_language"].items():
        assert f"<tr><td>{code}</td><td class=n>{row['rows']}</td><td class=n>{row['accuracy']:.3f}</td>" in page
    # the picture: a PNG beside the report, and the same bytes inlined in an <img>
    png = (report / "confusion.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    inlined = re.search(r'<img alt="confusion matrix of [^"]+" src="data:image/png;base64,([A-Za-z0-9+/=]+)">', page)
    assert inlined and base64.b64decode(inlined.group(1)) == png
    # the active model A on the same held-out rows, measured here independently
    levels = np.array([row["level"] for row in swapped])
    _, test_rows = heldout_rows(levels)
    inputs, _ = prepare([swapped[i] for i in test_rows], COLUMNS)
    active, _ = registry.load(models, a, KEY)
    theirs = scores_of(active.predict(inputs), levels[test_rows], active.levels)
    assert f"The active model {a} on the {len(test_rows)} held-out rows" in page
    assert (
        f"<tr><td>macro-F1</td><td class=n>{metrics['macro_f1']:.3f}</td><td class=n>{theirs['macro_f1']:.3f}</td></tr>" in page
    )
    assert theirs["macro_f1"] < metrics["macro_f1"]  # A calls B's 3s 4s and its 4s 3s
    # A was trained on the same texts: the held-out rows of levels 1 and 2 have the same labels as in A's data
    assert f"trained on {int(np.isin(levels[test_rows], [1, 2]).sum())} of these rows" in page


def test_the_report_says_so_without_matplotlib(two_models, tmp_path, monkeypatch):
    from app.classifier import report

    models, _, b, _, _, _ = two_models
    meta = json.loads((models / b / "model.json").read_text())
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib raises ImportError
    written = report.write(tmp_path, meta, {"rows": 224, "levels": {"1": 56}, "languages": None}, None)
    page = (tmp_path / "report.html").read_text()
    assert written["picture"] is None and not (tmp_path / "confusion.png").exists()
    assert "matplotlib is not installed (pip install &#x27;triage[plot]&#x27;)" in page and "<img" not in page
    assert "No model is active" in page and f"macro-F1 <b>{meta['metrics']['macro_f1']:.3f}</b>" in page


def _copy(two_models, tmp_path):
    models, a, b, *_ = two_models
    target = tmp_path / "models"
    shutil.copytree(models, target)
    return target, a, b


def _wait(condition, what, seconds=30):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def _tickets(count, seed):
    return [
        case(row["subject"], row["description"], customer={"id": f"c-{seed}", "plan": "premium", "country": "DE"})
        for row in samples.generate(per_level=1, seed=seed)[:count]
    ]


def test_shadow_scores_are_stored_beside_decisions_and_compared(two_models, tmp_path):
    from app.store.shadow import ShadowScores

    models, a, b = _copy(two_models, tmp_path)
    instance = tmp_path / "instance"
    env = {"TRIAGE_INSTANCE_DIR": str(instance), "TRIAGE_MODELS_DIR": str(models)}
    app = create_app(
        {"INSTANCE_DIR": str(instance), "MODELS_DIR": str(models), "MODEL_CHECK_INTERVAL": 0, "SCHEDULER_INTERVAL": 0}
    )
    triage = app.extensions["triage"]
    try:
        client = authed(app)
        assert client.get("/readyz").get_json()["model"]["shadow"]["version"] is None
        started = datetime.now(UTC) - timedelta(seconds=1)
        shadowed = run("model", "shadow", b, env=env)
        assert shadowed.returncode == 0 and f"model {b} is now shadowed" in shadowed.stdout, shadowed.stderr
        assert run("model", "shadow", env=env).stdout.strip() == f"model {b} is shadowed"
        _wait(lambda: client.get("/readyz").get_json()["model"]["shadow"]["version"] == b, "the shadow model was not loaded")

        answers = [client.post("/v1/classify", json=body).get_json() for body in _tickets(28, seed=21)]
        for answer in answers:  # the shadow model is never used, nor named
            assert answer["versions"]["model"] == a and answer["severity"]["classifier"]["model_version"] == a
            assert b not in json.dumps(answer)
        engineer = authed(app, "engineer")
        corrections = {answers[0]["decision_id"]: 1, answers[1]["decision_id"]: 2, answers[2]["decision_id"]: 4}
        for decision_id, level in corrections.items():
            assert engineer.post(f"/v1/decisions/{decision_id}/feedback", json={"severity": level}).status_code == 201
        # a later correction of the pool only does not undo the severity correction
        assert engineer.post(f"/v1/decisions/{answers[2]['decision_id']}/feedback", json={"pool": "de-l1"}).status_code == 201
        _wait(lambda: triage.model.shadow.status()["scored"] >= len(answers), "the shadow scores were not stored")

        stored = ShadowScores(triage.store.engine)
        shadow_level = {}
        for answer in answers:
            (score,) = stored.scores(answer["decision_id"])
            assert score["model_version"] == b and 0 < score["confidence"] <= 1 and score["scored_at"] >= started
            shadow_level[answer["decision_id"]] = score["level"]
        ready = client.get("/readyz").get_json()["model"]
        assert ready["active"] == a and ready["shadow"]["scored"] == len(answers) and ready["shadow"]["failed"] == 0

        compared = run("model", "compare", "--since", started.isoformat(), "--json", env=env)
        assert compared.returncode == 0, compared.stderr
        (summary,) = json.loads(compared.stdout)["models"]
        active_agree = sum(shadow_level[x["decision_id"]] == x["severity"]["classifier"]["level"] for x in answers)
        final_agree = sum(shadow_level[x["decision_id"]] == x["severity"]["level"] for x in answers)
        assert summary["model_version"] == b and summary["decisions"] == len(answers)
        assert summary["active_model"] == {
            "compared": len(answers),
            "agree": active_agree,
            "rate": round(active_agree / len(answers), 4),
            "versions": {a: len(answers)},
        }
        assert summary["final_level"]["compared"] == len(answers) and summary["final_level"]["agree"] == final_agree
        assert 0 < active_agree < len(answers)  # B swaps levels 3 and 4: it agrees with A on 1 and 2 only
        by_id = {x["decision_id"]: x for x in answers}
        assert summary["corrections"] == {
            "compared": 3,
            "agree": sum(shadow_level[d] == level for d, level in corrections.items()),
            "rate": round(sum(shadow_level[d] == level for d, level in corrections.items()) / 3, 4),
            "final_level_agree": sum(by_id[d]["severity"]["level"] == level for d, level in corrections.items()),
            "active_model_compared": 3,
            "active_model_agree": sum(by_id[d]["severity"]["classifier"]["level"] == level for d, level in corrections.items()),
        }
        text = run("model", "compare", "--since", started.isoformat(), env=env).stdout
        assert f"shadow model {b}: {len(answers)} decision(s) scored" in text
        assert f"with the active model's level   {active_agree} of {len(answers)} agree" in text
        assert "with engineers' corrections     " in text
        later = run("model", "compare", "--since", "2999-01-01T00:00:00+00:00", env=env).stdout
        assert later.startswith("no shadow scores since")

        assert run("model", "shadow", "--off", env=env).stdout.strip() == "shadow mode off"
        _wait(lambda: client.get("/readyz").get_json()["model"]["shadow"]["version"] is None, "the shadow was not switched off")
        unscored = client.post("/v1/classify", json=_tickets(1, seed=22)[0]).get_json()
        time.sleep(0.3)  # several rounds of the shadow thread
        assert stored.scores(unscored["decision_id"]) == [] and triage.model.shadow.status()["scored"] == len(answers)
    finally:
        triage.stop()
        triage.store.engine.dispose()


def test_a_missing_or_failing_shadow_model_never_touches_a_classification(two_models, tmp_path):
    models, a, b = _copy(two_models, tmp_path)
    (models / "SHADOW").write_text("20200101-000000-deleted0\n")  # named, then removed from the registry
    app = create_app(
        {"INSTANCE_DIR": str(tmp_path / "i"), "MODELS_DIR": str(models), "MODEL_CHECK_INTERVAL": 0, "SCHEDULER_INTERVAL": 0}
    )
    triage = app.extensions["triage"]
    try:
        client = authed(app)
        shadow = client.get("/readyz").get_json()["model"]["shadow"]
        assert shadow["version"] is None and "no model version '20200101-000000-deleted0'" in shadow["refused"]
        answer = client.post("/v1/classify", json=_tickets(1, seed=31)[0])
        assert answer.status_code == 200 and answer.get_json()["versions"]["model"] == a

        registry.activate(models, b, KEY, pointer=registry.SHADOW)
        _wait(lambda: client.get("/readyz").get_json()["model"]["shadow"]["version"] == b, "the shadow model was not loaded")

        def broken(*args):
            raise RuntimeError("the candidate fell over")

        triage.model.shadow.score = broken
        answers = [client.post("/v1/classify", json=body) for body in _tickets(3, seed=32)]
        assert [r.status_code for r in answers] == [200, 200, 200]
        _wait(lambda: triage.model.shadow.status()["failed"] >= 3, "the failures were not counted")
        status = client.get("/readyz").get_json()["model"]["shadow"]
        assert status["scored"] == 0 and "the candidate fell over" in status["problem"]

        from app.decide.classify import predict

        def unstorable(rows):
            raise OSError("disk full")

        triage.model.shadow.score, triage.model.shadow.write = predict, unstorable
        assert client.post("/v1/classify", json=_tickets(1, seed=33)[0]).status_code == 200
        _wait(lambda: "disk full" in (triage.model.shadow.status()["problem"] or ""), "the store failure was not reported")
        assert triage.model.shadow.status()["failed"] == 4
    finally:
        triage.stop()
        triage.store.engine.dispose()


def test_compare_counts_agreements_and_takes_the_latest_severity_correction(migrated_engine):
    from app.store.database import Store
    from app.store.shadow import ShadowScores

    store, scores = Store(migrated_engine), ShadowScores(migrated_engine)
    now = datetime.now(UTC)
    ids = {name: str(uuid.uuid4()) for name in ("d1", "d2", "d3", "old")}

    def decision(name, level, model_level, at):
        classifier = None if model_level is None else {"model_version": "A", "level": model_level, "confidence": 0.9}
        return {
            "decision_id": ids[name],
            "decided_at": at,
            "reported_at": at,
            "customer_id": "c",
            "plan": "premium",
            "severity": level,
            "source": "rules",
            "pool": "de-l1",
            "rules_version": "r",
            "model_version": None if model_level is None else "A",
            "request": {},
            "answer": {"severity": {"level": level, "classifier": classifier}},
        }

    store.save(
        [
            decision("d1", 3, 3, now),
            decision("d2", 1, None, now),
            decision("d3", 4, 4, now),
            decision("old", 2, 2, now - timedelta(days=2)),
        ]
    )
    store.add_feedback(ids["d1"], 2, None, None, "eng")
    store.add_feedback(ids["d1"], None, "pl-l1", None, "eng")  # the pool only: the severity correction stays 2
    store.add_feedback(ids["d3"], 3, None, None, "eng")
    store.add_feedback(ids["d3"], 4, None, None, "eng")  # the latest correction wins
    row = lambda name, version, level: {  # noqa: E731
        "decision_id": ids.get(name, name),
        "model_version": version,
        "level": level,
        "confidence": 0.8,
        "scored_at": now,
    }
    stored = scores.add(
        [
            row("d1", "B", 4),
            row("d2", "B", 1),
            row("d3", "B", 4),
            row("old", "B", 2),
            row("d1", "C", 3),
            row("no-such-decision", "B", 1),
        ]
    )
    assert stored == 6 and scores.add([row("d1", "B", 1)]) == 0  # a decision keeps its first score per model

    found = scores.compare(now - timedelta(hours=1))
    by_version = {summary["model_version"]: summary for summary in found["models"]}
    assert by_version["B"] == {
        "model_version": "B",
        "decisions": 3,  # the old decision is before --since, the orphan score has no decision
        "active_model": {"compared": 2, "agree": 1, "rate": 0.5, "versions": {"A": 2}},
        "final_level": {"compared": 3, "agree": 2, "rate": 0.6667},
        "corrections": {
            "compared": 2,
            "agree": 1,
            "rate": 0.5,
            "final_level_agree": 1,
            "active_model_compared": 2,
            "active_model_agree": 1,
        },
        "levels": {"shadow": {"1": 1, "4": 2}, "final": {"1": 1, "3": 1, "4": 1}},
    }
    assert by_version["C"]["decisions"] == 1 and by_version["C"]["corrections"]["agree"] == 0
    assert by_version["C"]["active_model"]["agree"] == 1 and by_version["C"]["final_level"]["agree"] == 1
    assert scores.compare()["models"][0]["decisions"] == 4  # without --since, the old decision counts too
