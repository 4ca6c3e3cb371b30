"""Benchmark: prints numbers, asserts nothing. Run with `make bench`.

1. the rule-engine step per case (durable_rules evaluate, bundled rules);
2. whole in-process classification (language, signals, engine, combine), and with the schemas;
3. requests per second over HTTP under gunicorn, /v1/classify against a JSON echo view served with
   the same settings in the same run;
4. the stored path: classify with decisions recorded against recording switched off, in-process and
   over HTTP (SQLite in a fresh instance folder; PostgreSQL when TRIAGE_BENCH_DATABASE_URL is set);
5. a backtest of a proposed severity document over 1,000 stored decisions.
"""

import http.client
import json
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from datetime import UTC  # noqa: E402

from app import create_app  # noqa: E402
from app.decide.classify import assign, classify_case, facts, with_environment  # noqa: E402
from app.decide.contract import CaseSchema, DecisionSchema  # noqa: E402
from app.severity.text import words  # noqa: E402

COUNTRY = {"en": "GB", "de": "DE", "ru": "RU", "cs": "CZ", "id": "ID", "pl": "PL", "da": "DK"}
COUNTRY.update({"es": "ES", "fr": "FR", "pt": "PT", "it": "IT", "nl": "NL"})


def sample_bodies(names=("cases.yaml", "holdout.yaml")) -> list[dict]:
    bodies = []
    for name in names:
        sets = yaml.safe_load((ROOT / "tests" / "quality" / name).read_text(encoding="utf-8"))
        for language, items in sets.items():
            for item in items:
                bodies.append(
                    {
                        "subject": item["subject"],
                        "description": item["description"],
                        "customer": {"id": "bench", "plan": "premium", "country": COUNTRY[language]},
                    }
                )
    return bodies


def timed(fn, items, rounds):
    samples = []
    for _ in range(rounds):
        for item in items:
            start = time.perf_counter_ns()
            fn(item)
            samples.append((time.perf_counter_ns() - start) / 1000)
    samples.sort()
    return {
        "n": len(samples),
        "mean_us": statistics.fmean(samples),
        "p50_us": samples[len(samples) // 2],
        "p99_us": samples[int(len(samples) * 0.99)],
        "max_us": samples[-1],
    }


def in_process():
    app = create_app({"INSTANCE_DIR": "/tmp/triage-bench"})
    triage = app.extensions["triage"]
    rules = triage.rulebook.get()
    bodies = sample_bodies()
    load, dump = CaseSchema().load, DecisionSchema().dump  # built once, as flask-smorest does
    cases = [load(b) for b in bodies]
    fact_list, decided = [], []
    for case in cases:
        language = triage.detector.identify(case.text, case.language)
        evidence = with_environment(rules.vocabulary.find(words(case.text)), case.environment)
        fact_list.append(facts(case, language, evidence))
        decided.append(
            (
                case,
                language.code,
                classify_case(case, rules, triage.detector, case.reported_at).severity.level,
                fact_list[-1]["signal"],
            )
        )
    for case in cases:  # warm-up
        classify_case(case, rules, triage.detector, case.reported_at)
    results = {
        "engine step (durable_rules evaluate)": timed(rules.severity_rules.evaluate, fact_list, 200),
        "signals (normalise + vocabulary)": timed(lambda c: rules.vocabulary.find(words(c.text)), cases, 50),
        "language detection (lingua)": timed(lambda c: triage.detector.identify(c.text), cases, 50),
        "routing + deadline (assign)": timed(lambda d: assign(*d, rules, d[0].reported_at), decided, 50),
        "classify_case (core, whole)": timed(lambda c: classify_case(c, rules, triage.detector, c.reported_at), cases, 50),
        "schema load + classify + dump": timed(lambda b: dump(triage.classify(load(b), time_now())), bodies, 50),
    }
    print(
        f"in-process, {len(cases)} realistic cases in 7 languages, {len(rules.severity.rules)} severity rules, "
        f"{len(rules.vocabulary.signals)} signals"
    )
    for name, r in results.items():
        print(f"  {name:36s} mean {r['mean_us']:8.1f} us  p50 {r['p50_us']:8.1f}  p99 {r['p99_us']:8.1f}  (n={r['n']})")
    mail = [load(b) for b in sample_bodies(("mail.yaml",))]
    r = timed(lambda c: classify_case(c, rules, triage.detector, c.reported_at), mail, 20)
    print(
        f"  classify_case, {len(mail)} mails in 12 languages (quotes, signatures): mean {r['mean_us']:.1f} us, "
        f"p50 {r['p50_us']:.1f} us, p99 {r['p99_us']:.1f} us"
    )
    long_case = CaseSchema().load({**bodies[0], "description": (bodies[0]["description"] + " ") * 120})
    r = timed(lambda c: classify_case(c, rules, triage.detector, c.reported_at), [long_case], 200)
    print(f"  classify_case, {len(long_case.description)}-char description: p50 {r['p50_us']:.1f} us, p99 {r['p99_us']:.1f} us")


def stored_in_process(database_url: str):
    import tempfile

    bodies = sample_bodies()
    results = {}
    for record in (False, True):
        app = create_app(
            {"INSTANCE_DIR": tempfile.mkdtemp(prefix="triage-bench-"), "DATABASE_URL": database_url, "RECORD_DECISIONS": record}
        )
        triage = app.extensions["triage"]
        load = CaseSchema().load
        results[record] = timed(
            lambda b, triage=triage, load=load: triage.classify_and_record(load(b), b, time_now()), bodies, 20
        )
        triage.stop()
    print(f"stored path in-process ({database_url.split(':')[0] if database_url else 'sqlite (embedded)'}):")
    for record, r in results.items():
        print(
            f"  {'recording on ' if record else 'recording off'}  mean {r['mean_us']:8.1f} us  p50 {r['p50_us']:8.1f}  p99 {r['p99_us']:8.1f}"
        )
    print(f"  on / off (mean) = {results[True]['mean_us'] / results[False]['mean_us']:.2f}")


def backtest_timing(database_url: str, cases: int = 1000):
    import tempfile

    app = create_app(
        {"INSTANCE_DIR": tempfile.mkdtemp(prefix="triage-bench-"), "DATABASE_URL": database_url, "RULES_SOURCE": "database"}
    )
    triage = app.extensions["triage"]
    bodies, load = sample_bodies(), CaseSchema(clock=None).load  # a year of cases, some later than today
    for index in range(cases):
        body = {
            **bodies[index % len(bodies)],
            "reported_at": f"2026-{index % 12 + 1:02d}-{index % 28 + 1:02d}T{index % 24:02d}:30:00+00:00",
        }
        triage.classify_and_record(load(body), body, time_now())
    proposed = triage.publisher.document("severity")["content"].replace(
        "    level: 3\n    description: The system or one component is slow.",
        "    level: 4\n    description: The system or one component is slow.",
    )
    started = time.perf_counter()
    report = triage.publisher.backtest("severity", proposed, limit=cases)
    seconds = time.perf_counter() - started
    triage.stop()
    print(
        f"backtest: {report['cases']} stored decisions replayed twice in {seconds:.2f} s, {report['changed']} would change, "
        f"golden {report['golden']['passed']} passed / {len(report['golden']['failed'])} failed"
    )


def time_now():
    from datetime import datetime

    return datetime.now(UTC)


# -- HTTP -----------------------------------------------------------------------------------


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _serve(target: str, path: str, body: dict, extra_env: dict, headers: dict):
    port = _free_port()
    env = {**os.environ, "TRIAGE_BIND": f"127.0.0.1:{port}", "TRIAGE_LOG_LEVEL": "warning", **extra_env}
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "-c", "gunicorn.conf.py", "--access-logfile", "/dev/null", target],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # ready when a worker answers, not when the port opens
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("POST", path, body=json.dumps(body), headers={"Content-Type": "application/json", **headers})
            if conn.getresponse().status == 200:
                return process, port
        except OSError:
            pass
        time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"{target} did not start")


def _client(args):
    port, path, bodies, seconds, headers = args
    done, errors, deadline, index = 0, 0, time.monotonic() + seconds, 0
    while time.monotonic() < deadline:
        body = json.dumps(bodies[index % len(bodies)]).encode()
        index += 1
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("POST", path, body=body, headers={"Content-Type": "application/json", **headers})
        response = conn.getresponse()
        response.read()
        conn.close()
        done += response.status == 200
        errors += response.status != 200
    return done, errors


def _load(port, path, bodies, headers, clients=4, seconds=8.0):
    with multiprocessing.Pool(clients) as pool:
        pool.map(_client, [(port, path, bodies, 1.0, headers)] * clients)  # warm-up
        started = time.monotonic()
        results = pool.map(_client, [(port, path, bodies, seconds, headers)] * clients)
        elapsed = time.monotonic() - started
    done = sum(r[0] for r in results)
    errors = sum(r[1] for r in results)
    return done / elapsed, errors


def over_http(database_url: str):
    import tempfile

    bodies = sample_bodies()
    instance = tempfile.mkdtemp(prefix="triage-bench-")
    env = {"TRIAGE_INSTANCE_DIR": instance, "TRIAGE_DATABASE_URL": database_url}
    made = subprocess.run(
        [str(Path(sys.executable).parent / "triage"), "tokens", "create", "--role", "intake", "--name", "bench"],
        env={**os.environ, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    auth = {"Authorization": f"Bearer {made.stdout.strip().splitlines()[-1]}"}
    rates = {}
    runs: tuple[tuple[str, str, str, dict, dict], ...] = (
        ("echo", "bench.echo:app", "/echo", {}, {}),
        ("classify, recording off", "wsgi:app", "/v1/classify", {**env, "TRIAGE_RECORD_DECISIONS": "false"}, auth),
        ("classify, recording on", "wsgi:app", "/v1/classify", env, auth),
    )
    for name, target, path, extra_env, headers in runs:
        process, port = _serve(target, path, bodies[0], extra_env, headers)
        try:
            rates[name], errors = _load(port, path, bodies, headers)
        finally:
            process.terminate()
            process.wait(timeout=30)
        print(f"  {name:24s} {rates[name]:8.0f} requests/s  ({errors} non-200)")
    print(f"  classify (recording on) / echo = {rates['classify, recording on'] / rates['echo']:.2f}")
    print(f"  recording on / off: throughput {rates['classify, recording on'] / rates['classify, recording off']:.2f}")


if __name__ == "__main__":
    database = os.environ.get("TRIAGE_BENCH_DATABASE_URL", "")
    in_process()
    stored_in_process(database)
    backtest_timing(database)
    print(
        "over HTTP: gunicorn (gunicorn.conf.py: 2 gthread workers of TRIAGE_THREADS threads), 4 client processes on the same machine, "
        "a new connection per request"
    )
    over_http(database)
