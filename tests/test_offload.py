"""Long reads in a child process (app.offload): the worker's interpreter stays with intake."""

import operator
import os
import sqlite3
import time

import pytest

from app import offload


def test_the_call_runs_in_another_process_and_gives_its_result():
    assert offload.call(os.getpid, seconds=30) != os.getpid()
    assert offload.call(operator.add, [1], [2], seconds=30) == [1, 2]


def test_what_the_function_prints_does_not_spoil_its_result():
    assert offload.call(print, "a line on standard output", seconds=30) is None
    assert offload.call(os.write, 1, b"bytes written to fd 1 by C code", seconds=30) == 31


def test_the_child_runs_at_a_lower_cpu_priority():
    assert offload.call(os.nice, 0, seconds=30) == min(os.nice(0) + offload.NICE, 19)


def test_what_goes_wrong_in_the_child_is_told_and_a_database_away_is_transient(tmp_path):
    with pytest.raises(offload.Failed, match="ZeroDivisionError") as failed:
        offload.call(operator.truediv, 1, 0, seconds=30)
    assert not failed.value.transient
    with pytest.raises(offload.Failed, match="OperationalError") as away:
        offload.call(sqlite3.connect, str(tmp_path / "no" / "such" / "dir.db"), seconds=30)
    assert away.value.transient
    with pytest.raises(offload.Failed, match="failed in its process"):
        offload.call(os.abort, seconds=30)  # the child dies: no result, and the caller is told


def test_a_child_past_its_time_is_stopped():
    started = time.monotonic()
    with pytest.raises(offload.Overran, match="past its 1 s"):
        offload.call(time.sleep, 60, seconds=1)
    assert time.monotonic() - started < 10


def test_a_worker_runs_one_long_read_of_a_kind_at_a_time():
    with offload.slot("report"):
        with pytest.raises(offload.Overloaded, match="already running a report"):
            with offload.slot("report"):
                pass
        with offload.slot("backtest"):  # another kind has its own slot
            pass
    with offload.slot("report"):  # given back
        pass


def test_a_report_past_the_workers_slot_answers_429(client):
    with offload.slot("report"):
        busy = client.get("/v1/reports/sla?period=2026-Q4")
    assert busy.status_code == 429 and int(busy.headers["Retry-After"]) > 0
    assert "report" in busy.get_json()["message"]
    assert client.get("/v1/reports/sla?period=2026-Q4").status_code == 200


def test_the_child_imports_the_running_app_not_one_in_its_working_directory(tmp_path, monkeypatch):
    planted = tmp_path / "app"
    (planted / "offload").mkdir(parents=True)
    marker = tmp_path / "planted-code-ran"
    (planted / "__init__.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    (planted / "offload" / "__init__.py").write_text("")
    monkeypatch.chdir(tmp_path)
    assert offload.call(operator.add, 1, 2, seconds=30) == 3
    assert not marker.exists()


def test_a_child_whose_worker_is_gone_ends(tmp_path):
    """A worker killed mid-report leaves no child running on."""
    script = "import time\nfrom app import offload\noffload.call(time.sleep, 120, seconds=300)\n"
    import signal
    import subprocess
    import sys

    parent = subprocess.Popen([sys.executable, "-c", script])
    try:
        deadline = time.monotonic() + 30
        child = None
        while child is None and time.monotonic() < deadline:
            found = subprocess.run(["pgrep", "-P", str(parent.pid)], capture_output=True, text=True).stdout.split()
            child = int(found[0]) if found else None
            time.sleep(0.1)
        assert child is not None, "the long read's process never started"
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and os.path.exists(f"/proc/{child}") and _state(child) != "Z":
        time.sleep(0.2)
    assert not os.path.exists(f"/proc/{child}") or _state(child) == "Z"


def _state(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return "gone"


@pytest.mark.parametrize(
    ("failure", "status"),
    [
        (offload.Failed("OperationalError: canceling statement [SQL: SELECT secret FROM cases]", transient=True), 503),
        (offload.Overran("period_report ran past its 150 s and was stopped"), 503),
        (offload.Failed("ValueError: [SQL: SELECT secret FROM cases]"), 500),
    ],
)
def test_a_long_read_that_fails_in_its_process_is_answered_without_its_details(client, monkeypatch, failure, status):
    """A report or a backtest whose process met the database away (or ran past its time) answers 503
    with Retry-After, anything else 500; the answer never quotes what the process said (SQL)."""
    from app.lifecycle import casebook
    from app.manage import publishing

    def failing(*args, **kwargs):
        raise failure

    monkeypatch.setattr(casebook.offload, "call", failing)
    assert publishing.offload is casebook.offload  # one module: the backtest fails the same way
    content = client.get("/v1/rules/severity").get_json()["content"]
    for answer in (
        client.get("/v1/reports/sla?period=2026-Q4"),
        client.post("/v1/rules/severity/backtest", json={"content": content, "limit": 5}),
    ):
        assert answer.status_code == status
        assert "SQL" not in answer.get_data(as_text=True) and "secret" not in answer.get_data(as_text=True)
        assert (status == 503) == ("Retry-After" in answer.headers)
