"""A publish's trial: candidate rules built and tried in a child process before they go live.

Validation catches what it knows; the trial catches the rest. The child builds the rulebook,
evaluates both engines with the worst facts the rules allow (every signal raised, each rule's own
conditions met), matches the vocabularies against the longest text the API accepts, decides a case
for every plan and level at awkward instants, and runs the golden cases. A crash of the rule engine
(the extension can abort the process), an exception, or a run past the time budget refuses the
candidate with the reason, and the live rules stay: the worker that asked never ran the candidate.

Golden cases travel with the rules as documents named `tests/<file stem>`.
"""

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from app import offload
from app.rulelang.documents import Problem
from app.rulelang.domain import LEVELS, MATCH_BUDGET, PLANS, TRIAL_BUDGET

GOLDEN = "tests/"  # the prefix of golden documents among the sources
TRIAL = "(trial)"  # the file named in a problem the trial found outside any document


@dataclass(frozen=True)
class Verdict:
    problems: list[Problem]  # the candidate cannot go live
    golden_passed: int = 0
    golden_failed: list[dict] = field(default_factory=list)  # {file, name, failures}
    seconds: float = 0.0

    @property
    def refused(self) -> list[Problem]:
        """Every reason to refuse the candidate, the failing golden cases included."""
        return self.problems + [
            Problem(case["file"], case["name"], "", "golden case fails: " + "; ".join(case["failures"]))
            for case in self.golden_failed
        ]


def rules_of(sources: dict[str, str]) -> dict[str, str]:
    return {name: text for name, text in sources.items() if not name.startswith(GOLDEN)}


def golden_of(sources: dict[str, str]) -> dict[str, str]:
    return {name: text for name, text in sources.items() if name.startswith(GOLDEN)}


def run(sources: dict[str, str], languages: tuple[list[str], str] = (["all"], "en"), budget: float = TRIAL_BUDGET) -> Verdict:
    """Try the rule documents and golden cases in `sources` in a child process, with a language
    detector of `languages` (its codes and default, as the service's)."""
    started = time.monotonic()
    child = subprocess.Popen(
        [sys.executable, "-P", "-m", "app.manage.trial"],  # -P: never an app folder of the working directory
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
    )
    try:
        out, err = child.communicate(json.dumps({"sources": sources, "languages": languages}), timeout=budget)
    except subprocess.TimeoutExpired:
        child.kill()
        out, err = child.communicate()
        return Verdict([_problem(out, f"the trial ran past its budget of {budget:g} s")], seconds=time.monotonic() - started)
    lines = out.splitlines()
    if child.returncode != 0 or not lines or not lines[-1].startswith("{"):
        if child.returncode < 0:
            how = f"the rule engine crashed ({signal.Signals(-child.returncode).name})"
        else:
            how = f"the trial failed: {(err.strip().splitlines() or ['exit status ' + str(child.returncode)])[-1]}"
        return Verdict([_problem(out, how)], seconds=time.monotonic() - started)
    result = json.loads(lines[-1])
    return Verdict(
        [Problem(**p) for p in result["problems"]],
        result["golden_passed"],
        result["golden_failed"],
        time.monotonic() - started,
    )


def _problem(out: str, how: str) -> Problem:
    """`how` the child ended, at the last step it announced."""
    steps = [line[5:] for line in out.splitlines() if line.startswith("step ")]
    return Problem(TRIAL, steps[-1] if steps else "", "", f"{how}; nothing was published")


# -- the child ------------------------------------------------------------------------------


def _step(what: str) -> None:
    print("step " + what, flush=True)  # the parent names the last step if the engine takes the process down


def _try(sources: dict[str, str], languages: list[str], default: str) -> dict:
    from app.decide.classify import classify_case
    from app.decide.contract import CaseSchema
    from app.manage import golden
    from app.rulebook import book as rulebook
    from app.rulelang.documents import RulesInvalid
    from app.severity.language import LanguageDetector
    from app.severity.text import words

    _step("building the rules")
    try:
        book = rulebook.build(rules_of(sources))
        cases = golden.parse(golden_of(sources))
    except RulesInvalid as exc:
        return {"problems": [p.to_dict() for p in exc.problems], "golden_passed": 0, "golden_failed": []}
    detector = LanguageDetector(languages, default)
    problems = []

    # the engines with every signal raised and each rule's own conditions met
    every_signal = dict.fromkeys(book.vocabulary.signals, True)
    for label, ruleset, rules in (
        ("severity", book.severity_rules, book.severity.rules),
        ("routing", book.routing_rules, book.routes),
    ):
        common: dict = {}  # every field some rule tests, so that as many rules as possible match together
        for rule in rules:
            common.update(_meeting(rule.when))
        for rule in rules:
            own = rule.when.get("signals", {})
            needed = dict.fromkeys([*own.get("all", []), *own.get("any", [])], True)
            _step(f"{label}.yaml rules[{rule.id}]: the {label} engine, every signal raised")
            ruleset.evaluate({**common, **_meeting(rule.when), "signal": every_signal})
            _step(f"{label}.yaml rules[{rule.id}]: the {label} engine, the rule's own signals")
            ruleset.evaluate({**common, **_meeting(rule.when), "signal": needed})

    # the vocabularies on the longest text the API accepts
    _step("signals.yaml: the vocabularies on the longest case")
    longest = _longest_text(sources.get("signals", ""))
    book.vocabulary.find(words(longest[:1000]))  # RE2 builds its automata on first use
    started = time.process_time()  # CPU time: what the patterns cost, however loaded the machine is
    book.vocabulary.find(words(longest))
    took = time.process_time() - started
    if took > MATCH_BUDGET:
        problems.append(
            Problem(
                "signals.yaml",
                "",
                "",
                f"the signals take {took:.2f} s on a case of {len(longest):,} characters; the budget is {MATCH_BUDGET:g} s "
                "(fewer or simpler patterns)",
            )
        )

    # a decision for every plan and level at awkward instants: nights, weekends, holidays
    load = CaseSchema(clock=None).load
    for at in _awkward_instants():
        for plan in PLANS:
            for level in LEVELS:
                what = f"a {plan} case declared {level} at {at.isoformat()}"
                _step(f"sla.yaml: {what}")
                case = load(
                    {
                        "subject": "trial",
                        "description": "",
                        "customer": {"id": "trial", "plan": plan, "country": "DE"},
                        "declared_severity": level,
                        "reported_at": at.isoformat(),
                    }
                )
                try:
                    classify_case(case, book, detector, at)
                except Exception as exc:  # any exception here would be a 500 for real cases
                    problems.append(Problem(TRIAL, "", "", f"{what} cannot be decided: {type(exc).__name__}: {exc}"))

    passed, failed = 0, []
    for outcome in golden.run(cases, lambda c, now: classify_case(c, book, detector, now), announce=_step):
        if outcome.passed:
            passed += 1
        else:
            failed.append({"file": outcome.case.file, "name": outcome.case.name, "failures": outcome.failures})
    return {"problems": [p.to_dict() for p in problems], "golden_passed": passed, "golden_failed": failed}


def _meeting(when: dict) -> dict:
    """A fact that meets a rule's field conditions (signals aside), dotted names nested."""
    fact: dict = {}
    for name, cond in when.items():
        if name == "signals":
            continue
        if "in" in cond:
            value = cond["in"][0]
        elif "gte" in cond or "lte" in cond:
            value = cond.get("gte", cond.get("lte"))
        elif "gt" in cond:
            value = cond["gt"] + 1
        elif "lt" in cond:
            value = cond["lt"] - 1
        elif cond.get("present") is False or "not_in" in cond:
            continue
        else:
            value = "trial"
        *parents, leaf = name.split(".")
        holder = fact
        for parent in parents:
            holder = holder.setdefault(parent, {})
        holder[leaf] = value
    return fact


def _longest_text(signals_yaml: str) -> str:
    """As long as the longest subject and description the API accepts, made of the vocabularies'
    own words so that patterns start matching everywhere."""
    from app.decide.contract import CaseSchema

    fields = CaseSchema().fields
    length = sum(int(getattr(v, "max", 0) or 0) for name in ("subject", "description") for v in fields[name].validators)
    seed = signals_yaml or "the quick brown fox "
    return (seed * (length // max(len(seed), 1) + 1))[:length]


def _awkward_instants() -> list[datetime]:
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    saturday_night = now + timedelta(days=(5 - now.weekday()) % 7, hours=(3 - now.hour) % 24)
    christmas = datetime(now.year, 12, 25, 10, tzinfo=UTC)
    return [now, saturday_night, christmas, datetime(now.year + 1, 1, 1, 0, 30, tzinfo=UTC)]


def main() -> None:
    os.nice(offload.NICE)  # a candidate's trial waits for intake, as every long read does
    request = json.load(sys.stdin)
    print(json.dumps(_try(request["sources"], *request["languages"])), flush=True)


if __name__ == "__main__":
    main()
