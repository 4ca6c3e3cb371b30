"""Rule management: versioned documents in the database (SQLite, and PostgreSQL when configured)."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from app import create_app
from app.decide.classify import classify_case
from app.decide.contract import CaseSchema
from app.rulebook import book as rulebook

from .conftest import DATABASES, RULES, authed, case, fresh_postgres

SLOW_3 = "    level: 3\n    description: The system or one component is slow."
SLOW_4 = "    level: 4\n    description: The system or one component is slow."


@pytest.fixture(params=DATABASES)
def desk(request, tmp_path):
    """An app whose rules come from a fresh rule store, an ops client, and the environment for the CLI."""
    url, drop = ("", None) if request.param == "sqlite" else fresh_postgres()
    if url:
        from app.store import database as store

        store.upgrade(url)
    config = {
        "INSTANCE_DIR": str(tmp_path / "instance"),
        "DATABASE_URL": url,
        "RULES_SOURCE": "database",
        "RULES_CHECK_INTERVAL": 0,
    }
    app = create_app(config)
    yield app, authed(app, "ops"), {"TRIAGE_INSTANCE_DIR": config["INSTANCE_DIR"], "TRIAGE_DATABASE_URL": url}
    app.extensions["triage"].stop()
    app.extensions["triage"].store.engine.dispose()
    if drop:
        drop()


def test_the_store_is_seeded_from_the_files(desk):
    _, ops, _ = desk
    documents = {d["name"]: d for d in ops.get("/v1/rules").get_json()}
    golden = {f"tests/{path.stem}" for path in (RULES / "tests").glob("*.yaml")}
    assert set(documents) == set(rulebook.SCHEMAS) | golden and all(d["version"] == 1 for d in documents.values())
    current = ops.get("/v1/rules/severity")
    assert current.headers["ETag"] == '"1"' and current.get_json()["content"] == (RULES / "severity.yaml").read_text()


def test_optimistic_concurrency(desk):
    _, ops, _ = desk
    content = ops.get("/v1/rules/severity").get_json()["content"].replace(SLOW_3, SLOW_4)
    assert ops.put("/v1/rules/severity", json={"content": content}).status_code == 428
    body = {"content": content, "comment": "slow is advice", "force": True}  # golden cases say slow is 3
    first = ops.put("/v1/rules/severity", json=body, headers={"If-Match": '"1"'})
    assert first.status_code == 200 and first.headers["ETag"] == '"2"' and first.get_json()["version"] == 2
    stale = ops.put("/v1/rules/severity", json={"content": content + "\n"}, headers={"If-Match": '"1"'})
    assert stale.status_code == 409 and "at version 2" in stale.get_json()["message"]
    assert ops.put("/v1/rules/nonsense", json={"content": "x: 1"}, headers={"If-Match": '"1"'}).status_code == 404


def test_publish_goes_live_and_an_invalid_publish_changes_nothing(desk):
    app, ops, _ = desk
    intake = authed(app, "intake")
    slow = case("Report slow", "The monthly report is slow.")
    assert intake.post("/v1/classify", json=slow).get_json()["severity"]["level"] == 3
    content = ops.get("/v1/rules/severity").get_json()["content"]
    ops.put(
        "/v1/rules/severity",
        json={"content": content.replace(SLOW_3, SLOW_4), "comment": "slow is advice", "force": True},
        headers={"If-Match": '"1"'},
    )
    answer = intake.post("/v1/classify", json=slow).get_json()
    assert answer["severity"]["level"] == 4 and "severity@2" in answer["versions"]["rule_documents"]
    live = app.extensions["triage"].rulebook.get().version

    bad = ops.put(
        "/v1/rules/severity", json={"content": content.replace("all: [slow]", "all: [slw]")}, headers={"If-Match": '"2"'}
    )
    assert bad.status_code == 422
    assert "severity.yaml: rules[slow-response].when.signals.all: undefined signal 'slw'" in bad.get_json()["errors"]["content"]
    assert ops.get("/v1/rules/severity").headers["ETag"] == '"2"'
    assert app.extensions["triage"].rulebook.get().version == live
    assert intake.post("/v1/classify", json=slow).get_json()["severity"]["level"] == 4

    report = ops.post("/v1/rules/severity/validate", json={"content": content.replace("all: [slow]", "all: [slw]")}).get_json()
    assert report["valid"] is False
    assert {
        "file": "severity.yaml",
        "item": "rules[slow-response]",
        "field": "when.signals.all",
        "message": "undefined signal 'slw'",
    } in report["problems"]
    assert ops.post("/v1/rules/severity/validate", json={"content": content}).get_json() == {"valid": True, "problems": []}


def test_rollback_and_audit(desk, caplog):
    app, ops, _ = desk
    original = ops.get("/v1/rules/severity").get_json()["content"]
    ops.put(
        "/v1/rules/severity",
        json={"content": original.replace(SLOW_3, SLOW_4), "comment": "slow is advice", "force": True},
        headers={"If-Match": '"1"'},
    )
    rolled = ops.post("/v1/rules/severity/rollback", json={"version": 1})
    assert rolled.status_code == 201 and rolled.get_json()["version"] == 3
    assert ops.get("/v1/rules/severity").get_json()["content"] == original
    history = ops.get("/v1/rules/severity/versions").get_json()
    author = history[0]["author"]  # the token's name and id: names need not be unique
    assert re.fullmatch(r"test ops \(token [0-9a-f]{8}\)", author)
    assert [(h["version"], h["author"]) for h in history] == [(3, author), (2, author), (1, "seed")]
    assert [h["comment"] for h in history[::2]] == ["rollback to version 1", f"seeded from {RULES}"]
    assert history[1]["comment"].startswith("FORCED past") and history[1]["comment"].endswith("]: slow is advice")
    assert all(h["created_at"] and len(h["sha256"]) == 64 for h in history)
    assert history[0]["sha256"] == history[2]["sha256"]
    assert f"rules severity@2 published (api by {author}" in caplog.text
    assert ops.post("/v1/rules/severity/rollback", json={"version": 9}).status_code == 404


def test_export_import_round_trip(desk, tmp_path):
    _, ops, env = desk
    triage = shutil.which("triage", path=str(Path(sys.executable).parent))
    env = {**os.environ, **env}
    exported = tmp_path / "exported"
    assert subprocess.run([triage, "rules", "export", exported], env=env, capture_output=True, timeout=120).returncode == 0
    for path in RULES.glob("*.yaml"):
        assert (exported / path.name).read_text() == path.read_text()
    assert (exported / "tests" / "severity-en.yaml").read_text() == (RULES / "tests" / "severity-en.yaml").read_text()
    (exported / "severity.yaml").write_text((exported / "severity.yaml").read_text() + "# reviewed in git\n")
    done = subprocess.run(
        [triage, "rules", "import", exported, "--comment", "from git", "--author", "ci"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0 and "severity: version 2 published" in done.stdout, done.stderr
    current = ops.get("/v1/rules/severity").get_json()
    assert (current["version"], current["author"], current["comment"]) == (2, "ci", "from git")
    again = subprocess.run([triage, "rules", "export", tmp_path / "again"], env=env, capture_output=True, timeout=120)
    assert again.returncode == 0 and (tmp_path / "again" / "severity.yaml").read_text() == current["content"]


def test_backtest_reports_what_reclassifying_by_hand_shows(desk):
    app, ops, _ = desk
    intake = authed(app, "intake")
    bodies = [
        case(
            "Report slow",
            "The monthly report is slow.",
            reported_at="2026-03-09T10:00:00+03:00",
            customer={"id": "bt", "plan": "premium", "country": "RU"},
        ),
        case("Question", "How do I add a user?", reported_at="2026-06-17T10:00:00+02:00"),
        case("Production down", "Production is down for all users.", reported_at="2025-12-24T10:00:00+01:00"),
        case(
            "Export error",
            "Exporting fails with an error.",
            reported_at="2026-06-20T12:00:00+02:00",
            customer={"id": "bt", "plan": "advanced", "country": "US"},
        ),
    ]
    stored = [intake.post("/v1/classify", json=body).get_json() for body in bodies]
    live = app.extensions["triage"].rulebook.get().version
    current = ops.get("/v1/rules/severity").get_json()["content"]
    proposed = current.replace(SLOW_3, SLOW_4).replace(
        "    level: 3\n    description: A function fails with an error or a wrong result.",
        "    level: 2\n    description: A function fails with an error or a wrong result.",
    )

    report = ops.post("/v1/rules/severity/backtest", json={"content": proposed}).get_json()

    triage = app.extensions["triage"]
    sources = {n: ops.get(f"/v1/rules/{n}").get_json()["content"] for n in rulebook.SCHEMAS}
    before_book, after_book = rulebook.build(sources), rulebook.build({**sources, "severity": proposed})
    expected = {}
    for body, answer in zip(bodies, stored):
        c = CaseSchema().load(body)
        before = classify_case(c, before_book, triage.detector, c.reported_at)
        after = classify_case(c, after_book, triage.detector, c.reported_at)
        diff = {}
        for kind, value in (
            ("severity", lambda d: d.severity.level),
            ("pool", lambda d: d.routing.pool.id),
            ("respond_in", lambda d: d.routing.respond_in),
            ("due_at", lambda d: d.sla.due_at.isoformat()),
        ):
            if value(before) != value(after):
                diff[kind] = [value(before), value(after)]
        if diff:
            expected[answer["decision_id"]] = diff
    got = {change["decision_id"]: change["changes"] for change in report["changes"]}
    assert got == expected and len(got) == 2  # the slow case (3 -> 4) and the error case (3 -> 2)
    assert report["cases"] >= 4 and report["changed"] == 2
    assert report["counts"]["severity"] == 2 and report["counts"]["due_at"] == 2
    assert set(report["urgent_on_closed_pool"]) == {"before", "after"}
    assert report["golden"]["passed"] > 0 and any(f["name"] == "declared 1 but only slow" for f in report["golden"]["failed"])
    # nothing live changed
    assert app.extensions["triage"].rulebook.get().version == live
    assert ops.get("/v1/rules/severity").headers["ETag"] == '"1"'
    invalid = ops.post("/v1/rules/severity/backtest", json={"content": "levels: {}"})
    assert invalid.status_code == 422


def test_with_rules_from_files_the_store_api_says_so(client):
    listed = client.get("/v1/rules")  # the versions imported from the folder can be read
    assert listed.status_code == 200 and {d["name"] for d in listed.get_json()} >= set(rulebook.SCHEMAS)
    content = (RULES / "severity.yaml").read_text()
    answer = client.put("/v1/rules/severity", json={"content": content}, headers={"If-Match": '"1"'})
    assert answer.status_code == 409 and "TRIAGE_RULES_SOURCE=files" in answer.get_json()["message"]
    assert client.post("/v1/rules/severity/validate", json={"content": content}).get_json()["valid"] is True


def test_an_instance_that_cannot_load_a_published_version_keeps_the_last_good_one(desk):
    """A version another instance published (say, from a newer release) that this one cannot build."""
    from app.store import database as store

    app, ops, _ = desk
    triage = app.extensions["triage"]
    live = triage.rulebook.get().version
    store.RuleVersions(triage.store.engine).publish("severity", "levels: {1: a}\n", "elsewhere", "newer format", 1)
    triage.rulebook.check()  # what the watcher thread does within TRIAGE_RULES_CHECK_INTERVAL
    ready = authed(app).get("/readyz").get_json()["rules"]
    assert ready["version"] == live and ready["refused"]["problems"][0]["file"] == "severity.yaml"
    assert authed(app, "intake").post("/v1/classify", json=case()).get_json()["versions"]["rules"] == live
