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
    assert offload.call(os.nice, 0, seconds=30) == os.nice(0) + offload.NICE


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
