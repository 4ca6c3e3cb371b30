"""Rules and models change safely, end to end (real gunicorn, two workers): one version everywhere,
whether a worker is busy or idle, and no request pays for a reload or a model load."""

import shutil
import statistics
import subprocess
import threading
import time

import requests

from .conftest import case
from .test_e2e import BIN, served

SLOW = "    level: 3\n    description: The system or one component is slow."


# a new connection for each look at /readyz: a kept-alive one stays with one (gthread) worker
NEW_CONNECTION = {"Connection": "close"}


def _versions(base: str, http: requests.Session, body: dict, count: int) -> set[str]:
    return {
        http.post(f"{base}/v1/classify", json=body, timeout=30, headers=NEW_CONNECTION).json()["versions"]["rules"]
        for _ in range(count)
    }


def test_a_valid_edit_then_an_invalid_one_leaves_every_worker_on_the_valid_one(rules_dir, tmp_path):
    env = {
        "TRIAGE_RULES_DIR": str(rules_dir),
        "TRIAGE_INSTANCE_DIR": str(tmp_path / "instance"),
        "TRIAGE_RULES_CHECK_INTERVAL": "1",
        "TRIAGE_SCHEDULER_INTERVAL": "0",
    }
    with served(env, tmp_path) as (base, http, _):
        body = case("Dashboard slow", "The dashboard takes 30 seconds to load.")
        [original] = _versions(base, http, body, 10)
        severity = rules_dir / "severity.yaml"
        good = severity.read_text()
        golden = rules_dir / "tests" / "severity-en.yaml"
        # a valid edit that the golden cases agree with: a comment only
        severity.write_text(good + "\n# reviewed\n")
        # as soon as one worker answers with the valid edit (the other may not have looked yet),
        # an invalid edit follows: refused everywhere, and the valid one is what everyone serves
        deadline = time.monotonic() + 15
        while original in (valid := _versions(base, http, body, 1)):
            assert time.monotonic() < deadline, "no worker picked the valid edit up"
        severity.write_text(good + "\n# reviewed\nbogus: true\n")
        time.sleep(4)
        seen = _versions(base, http, body, 20)
        assert seen == valid, seen
        ready = {http.get(f"{base}/readyz", timeout=10, headers=NEW_CONNECTION).json()["rules"]["version"] for _ in range(10)}
        assert ready == seen
        assert golden.exists()


def test_activating_a_model_costs_no_request_its_load(tmp_path):
    """While both workers load a newly activated model (and compile its serving loops), requests are
    answered as fast as before: the load happens in the watcher thread, off the request path."""
    models = tmp_path / "models"
    sample = tmp_path / "sample.csv"
    subprocess.run(
        [str(BIN / "triage"), "model", "sample", "--output", str(sample), "--per-level", "15"], check=True, timeout=120
    )
    trained = subprocess.run(
        [str(BIN / "triage"), "model", "train", "--data", str(sample), "--text-columns", "subject,description"]
        + ["--label-column", "level", "--label-map", "1=1,2=2,3=3,4=4", "--output", str(models)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert trained.returncode == 0, trained.stderr
    version = trained.stdout.strip().splitlines()[-1]
    env = {
        "TRIAGE_INSTANCE_DIR": str(tmp_path / "instance"),
        "TRIAGE_MODELS_DIR": str(models),
        "TRIAGE_MODEL_CHECK_INTERVAL": "0.5",
        "TRIAGE_SCHEDULER_INTERVAL": "0",
    }
    body = case("Dashboard slow", "The dashboard takes 30 seconds to load.")
    with served(env, tmp_path) as (base, http, _):

        def timed(count: int) -> list[float]:
            took = []
            for _ in range(count):
                started = time.perf_counter()
                assert http.post(f"{base}/v1/classify", json=body, timeout=30).status_code == 200
                took.append(time.perf_counter() - started)
            return took

        before = timed(40)
        during: list[float] = []
        runner = threading.Thread(target=lambda: during.extend(timed(80)))
        runner.start()
        assert (
            subprocess.run(
                [str(BIN / "triage"), "model", "activate", version, "--models-dir", str(models)], timeout=120
            ).returncode
            == 0
        )
        runner.join()
        deadline = time.monotonic() + 60
        while {http.get(f"{base}/readyz", timeout=10, headers=NEW_CONNECTION).json()["model"]["active"] for _ in range(6)} != {
            version
        }:
            assert time.monotonic() < deadline, "the model was not picked up by both workers"
            time.sleep(0.5)
        slowest, usual = max(during), statistics.median(before)
        print(
            f"\nrequests while the model loaded: slowest {slowest * 1000:.0f} ms, usual {usual * 1000:.0f} ms (max before {max(before) * 1000:.0f} ms)"
        )
        assert slowest < max(0.5, 10 * usual), (slowest, usual)  # a load inside a request took ~2.3 s
    shutil.rmtree(models, ignore_errors=True)
