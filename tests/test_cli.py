"""The operator CLI, run as ops run it: the installed console script."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

TRIAGE = shutil.which("triage", path=str(Path(sys.executable).parent))


def run(*args):
    return subprocess.run([TRIAGE, *args], capture_output=True, text=True, timeout=120)


def test_rules_check_passes_on_the_bundled_rules():
    done = run("rules", "check")
    assert done.returncode == 0 and "OK" in done.stdout


def test_rules_check_names_file_item_and_field_and_fails(rules_dir):
    """Structural problems come first (like a compiler's parse errors), then the cross-checks."""
    severity = rules_dir / "severity.yaml"
    good = severity.read_text()
    severity.write_text(good.replace("level: 4\n", "level: 7\n"))
    done = run("rules", "check", "--rules", str(rules_dir))
    assert done.returncode == 1
    assert "severity.yaml: rules[advice].level: a level is 1, 2, 3 or 4" in done.stderr
    severity.write_text(good.replace("all: [slow]", "all: [slw]"))
    done = run("rules", "check", "--rules", str(rules_dir))
    assert done.returncode == 1
    assert "severity.yaml: rules[slow-response].when.signals.all: undefined signal 'slw'" in done.stderr


def test_rules_test_runs_golden_cases_and_reports_failures(rules_dir):
    done = run("rules", "test", "--rules", str(rules_dir))
    assert done.returncode == 0 and " 0 failed" in done.stdout
    severity = rules_dir / "severity.yaml"
    severity.write_text(
        severity.read_text().replace(
            "    level: 3\n    description: The system or one component is slow.",
            "    level: 4\n    description: The system or one component is slow.",
        )
    )
    done = run("rules", "test", "--rules", str(rules_dir))
    assert done.returncode == 1
    assert "FAIL tests/severity-en.yaml declared 1 but only slow: level 4, expected 3" in done.stdout


def test_rules_test_refuses_a_malformed_golden_file(rules_dir):
    (rules_dir / "tests" / "broken.yaml").write_text("cases:\n- name: x\n  case: {subject: s}\n  expect: {level: 9}\n")
    done = run("rules", "test", "--rules", str(rules_dir))
    assert done.returncode == 1
    assert "tests/broken.yaml: cases[x].expect.level" in done.stderr


def test_classify_prints_the_decision(tmp_path):
    path = tmp_path / "case.json"
    path.write_text(
        json.dumps(
            {
                "subject": "Výpadek",
                "description": "Produkční systém je nedostupný pro všechny.",
                "customer": {"id": "c", "plan": "basic", "country": "CZ"},
            }
        )
    )
    done = run("classify", str(path))
    assert done.returncode == 0, done.stderr
    decision = json.loads(done.stdout)
    assert decision["severity"]["level"] == 1 and decision["language"]["code"] == "cs"


@pytest.mark.parametrize("content, words", [("{", "invalid case"), ('{"subject": 1}', "subject")])
def test_classify_refuses_a_bad_case(tmp_path, content, words):
    path = tmp_path / "case.json"
    path.write_text(content)
    done = run("classify", str(path))
    assert done.returncode == 1 and words in done.stderr


def test_route_prints_pool_deadline_and_trace_at_an_instant(tmp_path):
    path = tmp_path / "case.json"
    path.write_text(
        json.dumps(
            {
                "subject": "Сервер не работает",
                "description": "Продуктив лежит, все пользователи без доступа.",
                "customer": {"id": "ru-bank", "plan": "advanced", "country": "RU"},
                "reported_at": "2026-03-09T10:00:00+03:00",
            },
            ensure_ascii=False,
        )
    )
    done = run("route", str(path), "--at", "2026-03-09T10:00:00+03:00")
    assert done.returncode == 0, done.stderr
    assert "pool     id-l1 (L1), answers in en, open now" in done.stdout
    assert "due      2026-03-09T14:00:00+03:00 (advanced, 240 min on the 24/7 clock, not guaranteed)" in done.stdout
    assert "ru-l1: closed, public holiday International Women's Day (observed) in RU" in done.stdout
    later = run("route", str(path), "--at", "2026-03-09T12:00:00+03:00")
    assert "pool     pl-l1 (L1), answers in ru, open now" in later.stdout


def test_route_refuses_a_case_reported_after_the_instant(tmp_path):
    path = tmp_path / "case.json"
    body = {"subject": "x", "description": "y", "customer": {"id": "c", "plan": "basic", "country": "DE"}}
    path.write_text(json.dumps({**body, "reported_at": "2026-03-09T10:10:00+01:00"}))
    done = run("route", str(path), "--at", "2026-03-09T10:00:00+01:00")
    assert done.returncode == 1 and "reported_at" in done.stderr and "in the future" in done.stderr
    assert run("route", str(path), "--at", "2026-03-09T10:06:00+01:00").returncode == 0  # within 5 minutes


def test_route_refuses_an_instant_without_offset(tmp_path):
    path = tmp_path / "case.json"
    path.write_text(json.dumps({"subject": "x", "description": "y", "customer": {"id": "c", "plan": "basic", "country": "DE"}}))
    done = run("route", str(path), "--at", "2026-03-09T10:00:00")
    assert done.returncode == 2 and "has no UTC offset" in done.stderr
