"""Hot reload: a valid edit goes live, an invalid one is refused and the last good version stays."""

import time

from app import create_app
from app.rulebook.live import LiveRulebook

from .conftest import authed, case

OUTAGE_RULE = "  - id: outage-critical\n    level: 1\n"


def test_valid_edit_goes_live_and_invalid_edit_is_refused(rules_dir, caplog):
    live = LiveRulebook(rules_dir)
    first = live.get().version
    severity = rules_dir / "severity.yaml"
    good = severity.read_text()

    severity.write_text(good.replace(OUTAGE_RULE, "  - id: outage-critical\n    level: 2\n"))
    live.check()
    assert live.get().version != first and live.get().severity.rule("outage-critical").level == 2
    second = live.get().version

    severity.write_text(good.replace("signals: {all: [error]}", "signals: {all: [eror]}"))
    live.check()
    assert live.get().version == second  # the last good version stays live
    refused = live.status()["refused"]
    assert refused["problems"] == [
        {
            "file": "severity.yaml",
            "item": "rules[function-error]",
            "field": "when.signals.all",
            "message": "undefined signal 'eror'",
        }
    ]
    assert "refused" in caplog.text and "eror" in caplog.text

    severity.write_text(good)
    live.check()
    assert live.get().version == first and live.status()["refused"] is None


def test_a_request_never_reloads(rules_dir):
    """Only the watcher's check() loads an edit; get() (what a request calls) returns the rulebook in force."""
    live = LiveRulebook(rules_dir)
    first = live.get().version
    (rules_dir / "severity.yaml").write_text((rules_dir / "severity.yaml").read_text() + "\n# edited\n")
    assert live.get().version == first
    live.check()
    assert live.get().version != first


def _until(condition, timeout: float = 5.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the watcher did not pick the change up in time"
        time.sleep(0.05)


def test_app_serves_new_rules_and_reports_a_refused_version(rules_dir, tmp_path):
    client = authed(create_app({"RULES_DIR": str(rules_dir), "RULES_CHECK_INTERVAL": 0.1, "INSTANCE_DIR": str(tmp_path / "i")}))
    body = case("Dashboard slow", "The dashboard takes 30 seconds to load.")
    assert client.post("/v1/classify", json=body).get_json()["severity"]["level"] == 3

    severity = rules_dir / "severity.yaml"
    good = severity.read_text()
    first = client.post("/v1/classify", json=body).get_json()["versions"]["rules"]
    severity.write_text(good.replace("description: The system or one component is slow.", "description: Slow."))
    _until(lambda: client.post("/v1/classify", json=body).get_json()["versions"]["rules"] != first)
    answer = client.post("/v1/classify", json=body).get_json()
    version = answer["versions"]["rules"]
    assert answer["severity"]["matched_rules"][0]["description"] == "Slow."

    severity.write_text(good + "\nbogus: true\n")  # invalid: refused, for every worker
    _until(lambda: client.get("/readyz").get_json()["rules"]["refused"] is not None)
    assert client.post("/v1/classify", json=body).get_json()["versions"]["rules"] == version
    ready = client.get("/readyz").get_json()
    assert ready["rules"]["version"] == version
    assert ready["rules"]["refused"]["problems"][0]["field"] == "bogus"


def test_an_invalid_start_is_an_error(rules_dir, tmp_path):
    (rules_dir / "signals.yaml").write_text("languages: [en]\n")
    try:
        create_app({"RULES_DIR": str(rules_dir), "INSTANCE_DIR": str(tmp_path)})
    except Exception as exc:
        assert "signals.yaml" in str(exc)
    else:
        raise AssertionError("the app started on invalid rules")
