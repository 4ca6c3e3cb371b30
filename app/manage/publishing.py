"""Rule management for ops: validate, publish (optimistic concurrency), roll back, import a rules
folder, and backtest a proposed document against stored decisions, without touching what is live.

Every change goes through one guard: the whole candidate (the rules in force with the change in
place, and the golden cases that go with them) is tried in a child process (app.manage.trial).
Problems refuse it; failing golden cases refuse it too, unless the same change updates them or an
explicit `force` with a comment says why (the comment, marked, is kept with the version). Each trial
and its outcome is recorded (app.store.trials); refusals are logged with their reasons."""

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from app import offload
from app.decide.classify import classify_case
from app.decide.contract import CaseSchema
from app.manage import golden, trial
from app.rulebook import book as rulebook
from app.rulelang.documents import Problem, RulesInvalid
from app.rulelang.domain import TRIAL_BUDGET

log = logging.getLogger("triage.rules")
KINDS = ("severity", "pool", "respond_in", "due_at")
REPLAY_START = 60.0  # seconds a backtest's process may take to start and read, beside its budget
API = "api"


class NotFound(Exception):
    pass


class PreconditionRequired(Exception):
    pass


class Busy(Exception):
    """The same candidate is being tried by another process (`outcome` "trying"), or, for a files
    import, was tried already (its outcome): either way it is not tried again here."""

    def __init__(self, message: str, outcome: str):
        super().__init__(message)
        self.outcome = outcome


@dataclass
class Publisher:
    versions: Any  # database.RuleVersions: the published versions every worker follows
    live: Any  # live.LiveRulebook
    store: Any  # database.Store
    detector: Any  # language.LanguageDetector
    model: Any  # registry.LiveModel
    trials: Any  # trials.RuleTrials
    folder: Path | None = None  # files mode: the rules folder imported into the versions; None: API mode
    backtest_budget: float = 20.0  # seconds a backtest may replay before it reports what it has

    # -- reading ----------------------------------------------------------------------------

    def documents(self) -> list[dict]:
        return [_summary(row) for _, row in sorted(self.versions.current().items())]

    def document(self, name: str) -> dict:
        row = self.versions.current().get(self._known(name))
        if row is None:
            raise NotFound(f"no published version of {name}")
        return {**_summary(row), "content": row["content"]}

    def history(self, name: str) -> list[dict]:
        return [_summary(row) for row in self.versions.history(self._known(name))]

    def sources(self) -> dict[str, str]:
        """The current text of every published document, golden cases (tests/<stem>) included."""
        return {name: row["content"] for name, row in self.versions.current().items()}

    def refused(self) -> dict | None:
        """The newest refused change since the last publish: when, from where, by whom, and why."""
        current = self.versions.current()
        last = max((row["created_at"] for row in current.values()), default=None)
        trial_row = self.trials.last_refused(last)
        if trial_row is None:
            return None
        return {
            "at": trial_row["finished_at"].isoformat(),
            "origin": "files" if trial_row["origin"] != API else API,
            "author": trial_row["author"],
            "problems": trial_row["problems"],
        }

    # -- checking ---------------------------------------------------------------------------

    def problems(self, name: str, content: str) -> list[Problem]:
        """Every reason the guard would refuse `content` in place of the current document."""
        return self._trial({**self.sources(), self._known(name): content}).refused

    def candidate(self, name: str, content: str) -> rulebook.Rulebook:
        return rulebook.build(trial.rules_of({**self.sources(), self._known(name): content}))

    # -- changing ---------------------------------------------------------------------------

    def publish(
        self,
        name: str,
        content: str,
        comment: str,
        author: str,
        if_match: str | None,
        golden_cases: dict[str, str] | None = None,
        force: bool = False,
    ) -> dict:
        """A new version, if `if_match` names the current one and the guard passes it; `golden_cases`
        ({file stem: YAML}) are published with it."""
        from app.store.database import Conflict

        self._api_mode()
        name = self._known(name)
        if if_match is None:
            raise PreconditionRequired(f"send If-Match with the ETag of the version you edited (GET /v1/rules/{name})")
        current = self.versions.current()
        expected = _number(if_match)
        if expected != (current[name]["number"] if name in current else None):
            raise Conflict(f"{name} is at version {current[name]['number'] if name in current else None}; you edited {if_match}")
        changes = {name: content} | {f"{trial.GOLDEN}{stem}": text for stem, text in (golden_cases or {}).items()}
        rows = self._guarded(changes, current, comment, author, API, force)
        return _summary(rows[0])

    def import_documents(self, sources: dict[str, str], comment: str, author: str, origin: str = API) -> list[dict]:
        """Publish every document of a folder (golden cases as tests/<stem>) that differs from the
        current one, all at once, if the guard passes the whole set."""
        unknown = sorted(n for n in sources if n not in rulebook.SCHEMAS and not n.startswith(trial.GOLDEN))
        if unknown:
            raise NotFound(f"no rule document {', '.join(unknown)}; documents are {', '.join(rulebook.SCHEMAS)}")
        current = self.versions.current()
        changes = {n: text for n, text in sources.items() if n not in current or current[n]["content"] != text}
        if not changes:
            return []
        return [_summary(row) for row in self._guarded(changes, current, comment, author, origin, False)]

    def rollback(self, name: str, number: int, comment: str, author: str) -> dict:
        """Publish an earlier version's content again, as a new version (history is never rewritten)."""
        name = self._known(name)
        old = self.versions.get(name, number)
        if old is None:
            raise NotFound(f"{name} has no version {number}")
        current = self.versions.current()[name]
        return self.publish(name, old["content"], comment or f"rollback to version {number}", author, f'"{current["number"]}"')

    def refuse(self, digest: str, origin: str, author: str, problems: list[Problem]) -> None:
        """Record and log a refusal found before any trial (a file that cannot be read)."""
        if self.trials.claim(digest, origin, author, timedelta(seconds=TRIAL_BUDGET + 10), again=False):
            self.trials.finish(digest, "refused", [p.to_dict() for p in problems])
            log.error("rules refused (%s by %s): %s", _line(origin), _line(author), _line("; ".join(map(str, problems))))

    def _guarded(self, changes: dict[str, str], current: dict, comment: str, author: str, origin: str, force: bool) -> list:
        """Try the candidate and publish `changes` if it passes; record the trial either way."""
        sources = {**{n: row["content"] for n, row in current.items()}, **changes}
        digest = rulebook.version_of(sources)
        if not self.trials.claim(digest, origin, author, timedelta(seconds=TRIAL_BUDGET + 10), again=origin == API):
            outcome = (self.trials.get(digest) or {}).get("outcome", "trying")
            raise Busy(f"this change is being tried by another process, or was tried already ({outcome}); see /readyz", outcome)
        try:
            verdict = self._trial(sources)
            refused = verdict.problems or (verdict.golden_failed and not force) or (force and not comment.strip())
            if force and not comment.strip():
                verdict.problems.append(Problem(trial.TRIAL, "", "comment", "force needs a comment saying why"))
            if refused:
                problems = verdict.refused
                self.trials.finish(digest, "refused", [p.to_dict() for p in problems])
                log.error(
                    "rules refused (%s by %s, trial %.1f s): %s",
                    _line(origin),
                    _line(author),
                    verdict.seconds,
                    _line("; ".join(map(str, problems))),
                )
                raise RulesInvalid(problems)
            if verdict.golden_failed:
                names = ", ".join(f"{c['file']} {c['name']}" for c in verdict.golden_failed)
                comment = f"FORCED past {len(verdict.golden_failed)} failing golden case(s) [{names}]: {comment}"
            edited = [n for n in changes if n.startswith(trial.GOLDEN) and n in current]
            if edited:  # the guard's own cases changed with the rules they guard: the history says so
                counts = ", ".join(f"{n}: {_cases(current[n]['content'])} -> {_cases(changes[n])} cases" for n in edited)
                comment = f"GOLDEN CASES CHANGED [{counts}]: {comment}"
            rows = self.versions.publish_many(
                {n: (text, current[n]["number"] if n in current else None) for n, text in changes.items()}, author, comment
            )
        except BaseException:
            if self.trials.get(digest)["outcome"] == "trying":  # a conflict or a failure, not a verdict on the rules
                self.trials.finish(digest, "interrupted", [])
            raise
        self.trials.finish(digest, "published", [])
        log.info(
            "rules %s published (%s by %s, trial %.1f s, %d golden cases passed): %s",
            ", ".join(f"{r['name']}@{r['number']}" for r in rows),
            _line(origin),
            _line(author),
            verdict.seconds,
            verdict.golden_passed,
            _line(comment),
        )
        if self.live is not None:
            self.live.check()  # this process at once; the others within their check interval
        return rows

    # -- backtest ---------------------------------------------------------------------------

    def backtest(
        self, name: str, content: str, limit: int = 1000, since: datetime | None = None, until: datetime | None = None
    ) -> dict:
        """Replay stored decisions at their original instants with the current rules and with the
        proposed document, and report what would change. Nothing live changes. The candidate is
        tried first; the replay runs in a child process (app.offload), one per worker at a time: for
        up to TRIAGE_BACKTEST_BUDGET seconds it would hold this worker's GIL and its rule engine."""
        with offload.slot("backtest"):
            current = self.sources()
            proposed = {**current, self._known(name): content}
            refused = self._trial(proposed).problems
            if refused:  # what crashes or overruns in the trial must not run, here or in the replay's process
                raise RulesInvalid(refused)
            model = self.model.get() if self.model else (None, None)
            url = self.store.engine.url.render_as_string(hide_password=False)
            languages = (list(self.detector.codes), self.detector.default)
            window = (limit, since, until)
            seconds = self.backtest_budget + REPLAY_START
            return offload.call(
                replay, url, name, current, proposed, languages, model, window, self.backtest_budget, seconds=seconds
            )

    # -- helpers ----------------------------------------------------------------------------

    def _trial(self, sources: dict[str, str]) -> trial.Verdict:
        with offload.slot("trial"):
            return trial.run(sources, (list(self.detector.codes), self.detector.default))

    def _api_mode(self) -> None:
        if self.folder is not None:
            from app.store.database import Conflict

            raise Conflict(
                f"this instance reads its rules from files (TRIAGE_RULES_SOURCE=files, {self.folder}): edit the files, "
                "or run with TRIAGE_RULES_SOURCE=database to publish versions"
            )

    @staticmethod
    def _known(name: str) -> str:
        if name not in rulebook.SCHEMAS:
            raise NotFound(f"no rule document {name!r}; documents are {', '.join(rulebook.SCHEMAS)}")
        return name


# -- files mode -------------------------------------------------------------------------------


class FileImporter:
    """Files mode: the rules folder (golden cases in its tests/) imported into the published
    versions, which every worker follows. The first worker to see a change tries it once for
    everyone; a refused change is refused everywhere and the last good version stays live."""

    def __init__(self, publisher: Publisher, folder: Path, author: str = "files", comment: str = "imported from"):
        self.publisher = publisher
        self.folder = Path(folder)
        self.author, self.comment = author, f"{comment} {folder}"
        self._stamp: tuple | None = None

    def check(self) -> None:
        """Import the folder if it changed since the last look (the watcher thread calls this)."""
        from app.rulebook.live import FolderSource

        stamp = (FolderSource(self.folder).stamp(), FolderSource(self.folder / "tests").stamp())
        if stamp == self._stamp:
            return
        try:
            sources = {**rulebook.read_sources(self.folder), **golden.read(self.folder / "tests")}
        except RulesInvalid as exc:  # a file that cannot be read as text is refused like an invalid one
            self.publisher.refuse(rulebook.version_of({"unreadable": repr(stamp)}), str(self.folder), self.author, exc.problems)
            self._stamp = stamp
            return
        try:
            self.publisher.import_documents(sources, self.comment, self.author, origin=str(self.folder))
        except Busy as busy:
            if busy.outcome == "trying":
                return  # another worker is trying it: look again next time
        except offload.Overloaded:
            return  # this worker is trying something else: look again next time
        except RulesInvalid:
            pass  # recorded and logged by the guard; the last good version stays
        self._stamp = stamp

    def first(self, wait: float = TRIAL_BUDGET + 10) -> None:
        """At start: import the folder. A store that has a version serves it at once (the watcher
        follows the outcome of a trial under way); an empty one waits for the first trial's outcome,
        and a refused folder is then an error, not a silent default."""
        deadline = time.monotonic() + wait
        self.check()
        while self._stamp is None and not self.publisher.versions.current() and time.monotonic() < deadline:
            time.sleep(0.2)
            self.check()
        if not self.publisher.versions.current():
            refused = self.publisher.trials.last_refused(None)
            raise RulesInvalid([Problem(**p) for p in refused["problems"]] if refused else [])


def _cases(text: str) -> int:
    """How many golden cases a golden document holds (0 if it cannot be read)."""
    from app.rulelang.documents import parse_yaml

    try:
        return len((parse_yaml("golden", text) or {}).get("cases") or [])
    except (RulesInvalid, AttributeError):
        return 0


def _line(text: str) -> str:
    """`text` for one log line: line breaks and other control characters escaped, so that a comment
    cannot forge a line of its own."""
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


def _value(decision, kind: str):
    return {
        "severity": decision.severity.level,
        "pool": decision.routing.pool.id,
        "respond_in": decision.routing.respond_in,
        "due_at": decision.sla.due_at.isoformat(),
    }[kind]


def _number(etag: str) -> int | None:
    text = etag.strip().removeprefix("W/").strip('"')
    return int(text) if text.isdigit() else -1


def etag(number: int) -> str:
    return f'"{number}"'


def _summary(row: dict) -> dict:
    return {
        "name": row["name"],
        "version": row["number"],
        "sha256": row["sha256"],
        "author": row["author"],
        "comment": row["comment"],
        "created_at": row["created_at"],
    }


def replay(
    url: str,
    name: str,
    current_sources: dict[str, str],
    proposed_sources: dict[str, str],
    languages: tuple[list[str], str],
    model: tuple,
    window: tuple[int, datetime | None, datetime | None],
    budget: float,
) -> dict:
    """A backtest's replay, in its own process (Publisher.backtest): the newest `limit` decisions
    decided in [since, until) classified with the rules in force and with the proposed ones, for at
    most `budget` seconds, and the golden cases with the proposed rules."""
    from app.severity.language import LanguageDetector
    from app.store.database import Store, engine_for

    current, proposed = (rulebook.build(trial.rules_of(sources)) for sources in (current_sources, proposed_sources))
    detector = LanguageDetector(*languages)
    served = model if model[0] is not None else None
    limit, since, until = window
    engine = engine_for(url, pool_size=1)
    try:
        records = Store(engine).find(since=since, until=until, limit=limit).items
    finally:
        engine.dispose()
    deadline = time.monotonic() + budget
    changed, counts = [], dict.fromkeys(KINDS, 0)
    urgent = {"before": [0, 0], "after": [0, 0]}  # [urgent cases, of which on a closed pool]
    load = CaseSchema(clock=None).load  # stored cases replayed at their own instants
    replayed = 0
    for record in records:
        if time.monotonic() > deadline:
            break
        replayed += 1
        # the instant the customer reported, in the offset they sent it (the store keeps UTC)
        body = {**record["request"], "reported_at": record["request"].get("reported_at") or record["reported_at"].isoformat()}
        case = load(body)
        at = case.reported_at
        before = classify_case(case, current, detector, at, served)
        after = classify_case(case, proposed, detector, at, served)
        seen = {"before": before, "after": after}
        for key, decision in seen.items():
            if decision.routing.urgent:
                urgent[key][0] += 1
                urgent[key][1] += not decision.routing.open_now
        diff = {
            kind: [_value(before, kind), _value(after, kind)] for kind in KINDS if _value(before, kind) != _value(after, kind)
        }
        if diff:
            for kind in diff:
                counts[kind] += 1
            changed.append({"decision_id": record["decision_id"], "reported_at": at.isoformat(), "changes": diff})
    cases = golden.parse(trial.golden_of(current_sources))
    outcomes = golden.run(cases, lambda c, now: classify_case(c, proposed, detector, now, served))
    return {
        "document": name,
        "cases": replayed,
        "complete": replayed == len(records),
        "changed": len(changed),
        "counts": counts,
        "urgent_on_closed_pool": {key: (round(closed / total, 4) if total else 0.0) for key, (total, closed) in urgent.items()},
        "changes": changed,
        "golden": {
            "passed": sum(o.passed for o in outcomes),
            "failed": [{"file": o.case.file, "name": o.case.name, "failures": o.failures} for o in outcomes if not o.passed],
        },
    }
