"""The service object a process holds: live rules, the language detector, the decision store and
tokens, and the calls views and the CLI make."""

import dataclasses
import logging
import os
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from app.classifier.registry import SHADOW, LiveModel, model_key
from app.classifier.shadow import Shadow
from app.decide.cases import Case
from app.decide.classify import Decision, classify_case, new_decision_id, predict
from app.decide.contract import DecisionSchema
from app.lifecycle.case import CaseView
from app.lifecycle.casebook import CaseBook, CaseNotFound, ReportedEarlier
from app.lifecycle.scheduler import scheduler_pass
from app.manage.publishing import FileImporter, Publisher
from app.rulebook.live import LiveRulebook, StoreSource
from app.settings import SettingsError, bundled, languages
from app.severity.language import LanguageDetector
from app.store import database
from app.store.cases import new_event_id
from app.store.shadow import ShadowScores
from app.store.spool import Flusher, FlushStopped, Spool
from app.store.tokens import Tokens
from app.store.trials import RuleTrials

log = logging.getLogger("triage.service")
_dump = DecisionSchema().dump


class Periodic(threading.Thread):
    """A daemon thread that calls `action` every `interval` seconds while the process lives; an
    action's failure is logged and the next round comes anyway."""

    def __init__(self, name: str, interval: float, action):
        super().__init__(name=name, daemon=True)
        self.interval, self.action = max(interval, 0.05), action  # never a busy loop
        self._stopped = threading.Event()

    def run(self) -> None:
        while not self._stopped.wait(self.interval):
            try:
                self.action()
            except Exception:
                log.exception("%s failed; it runs again in %s s", self.name, self.interval)

    def stop(self) -> None:
        self._stopped.set()


class Triage:
    def __init__(
        self,
        rulebook: LiveRulebook,
        detector: LanguageDetector,
        store=None,
        spool=None,
        tokens=None,
        record_decisions: bool = True,
        model: LiveModel | None = None,
    ):
        self.rulebook, self.detector, self.model = rulebook, detector, model
        self.store, self.spool, self.tokens = store, spool, tokens
        self.record_decisions = record_decisions
        self.flusher: Flusher | None = None
        self.threads: list[Periodic] = []
        self.publisher: Publisher | None = None
        self.casebook = CaseBook(store, rulebook)
        # After a request found the database away (every wait on it bounded, but a few seconds each), the
        # next requests for `away_pause` seconds spool at once instead of each waiting out the same failure.
        self.away_pause = 5.0
        self._away_until = 0.0

    @classmethod
    def from_settings(cls, settings: dict) -> "Triage":
        """Everything a process holds, from resolved settings (app.settings.load)."""
        instance = Path(settings["INSTANCE_DIR"])
        url = settings["DATABASE_URL"]
        if settings["EMBEDDED_DATABASE"]:  # the embedded default migrates itself; a shared database is upgraded by ops
            _upgrade_once(url, instance / ".migrate.lock")
        store = database.Store(database.engine_for(url, settings["DATABASE_TIMEOUT"], settings.get("THREADS", 2)))
        if settings["RULES_SOURCE"] not in ("files", "database"):
            raise SettingsError(f"TRIAGE_RULES_SOURCE is {settings['RULES_SOURCE']!r}; use files or database")
        folder = Path(settings["RULES_DIR"])
        # Both modes serve published versions from the store, so every worker follows one numbered
        # version; in files mode the folder is imported into it (tried once, for everyone).
        versions = database.RuleVersions(store.engine)
        files = settings["RULES_SOURCE"] == "files"
        # the deployment's registry (ACTIVE, SHADOW, new models), then the shipped one
        key = model_key(settings["MODEL_KEY"], instance)
        model = LiveModel(Path(settings["MODELS_DIR"]), key, bundled("models"))
        shadow_holder = LiveModel(Path(settings["MODELS_DIR"]), key, bundled("models"), SHADOW)
        model.shadow = Shadow(shadow_holder, predict, ShadowScores(store.engine).add)
        publisher = Publisher(
            versions,
            None,
            store,
            LanguageDetector(languages(settings), settings["DEFAULT_LANGUAGE"]),
            model,
            RuleTrials(store.engine),
            folder if files else None,
            settings["BACKTEST_BUDGET"],
        )
        importer = FileImporter(publisher, folder) if files else FileImporter(publisher, folder, "seed", "seeded from")
        if files or versions.stamp() is None:  # an empty store starts from the folder
            importer.first()
        triage = cls(
            LiveRulebook(StoreSource(versions, "files" if files else "database")),
            publisher.detector,
            store,
            Spool(instance / "spool"),
            Tokens(store, instance / "tokens.json", settings["TOKEN_REFRESH_INTERVAL"]),
            settings["RECORD_DECISIONS"],
            model,
        )
        publisher.live = triage.rulebook
        triage.publisher = publisher
        triage.away_pause = settings["SPOOL_FLUSH_INTERVAL"]
        triage.flusher = Flusher(triage.spool, triage.store_spooled)
        triage.flusher.flush_now()  # decisions left by an earlier run go in first
        # Work off the request path, in every worker: no request pays for a reload or a model load.
        triage.threads = [
            Periodic("spool-flusher", settings["SPOOL_FLUSH_INTERVAL"], triage.flusher.flush_now),
            Periodic("token-refresh", settings["TOKEN_REFRESH_INTERVAL"], triage.tokens.refresh),
            Periodic(
                "rules-watcher", settings["RULES_CHECK_INTERVAL"], lambda: _follow(importer if files else None, triage.rulebook)
            ),
            Periodic("model-watcher", settings["MODEL_CHECK_INTERVAL"], model.check),
            Periodic("model-shadow", settings["MODEL_CHECK_INTERVAL"], model.shadow.check),
        ]
        if settings["SCHEDULER_INTERVAL"] > 0:
            triage.threads.append(
                Periodic("case-scheduler", settings["SCHEDULER_INTERVAL"], lambda: scheduler_pass(triage.casebook))
            )
        triage.tokens.refreshed_in_background = True
        for thread in triage.threads:
            thread.start()
        return triage

    def stop(self, wait: float = 10.0) -> None:
        """Stop the background threads (tests, benchmarks), waiting up to `wait` seconds for a round
        under way to end, so that none opens a connection after."""
        for thread in self.threads:
            thread.stop()
        deadline = time.monotonic() + wait
        for thread in self.threads:
            if thread.is_alive() and thread is not threading.current_thread():
                thread.join(max(deadline - time.monotonic(), 0))

    # -- cases ------------------------------------------------------------------------------

    def classify(self, case: Case, now: datetime, rules=None, count_cases=None) -> Decision:
        """Decide a case (with `rules`, or the rulebook in force); nothing is stored."""
        model, meta = self.model.get() if self.model else (None, None)
        return classify_case(
            case, rules or self.rulebook.get(), self.detector, now, (model, meta) if model else None, count_cases
        )

    def classify_and_record(self, case: Case, body: dict, now: datetime, principal=None) -> Decision:
        """Decide a case and keep the decision on its case: a new case id is assigned when none is
        given; the same id sent for another customer is refused (CaseConflict); a case classified
        again keeps the clock of its first report, and the plan's quota counts distinct cases."""
        case = dataclasses.replace(case, case_id=case.case_id or new_decision_id(now))
        decision = self._decide(case, now)
        if not self.record_decisions:
            return decision
        if self.database_away():  # a request just found it away: the spool, without waiting again
            self.spool.append(self._record_of(decision, body, principal))
            return decision
        try:
            try:
                self.casebook.record_decision(self._record_of(decision, body, principal), now)
            except ReportedEarlier as earlier:  # a case classified again: its clock runs from the first report
                decision = self._decide(dataclasses.replace(case, reported_at=earlier.reported_at), now)
                self.casebook.record_decision(self._record_of(decision, body, principal), now)
        except Exception as exc:
            if not self.store.transient(exc):
                raise
            # the database is away: the spool keeps the decision until a flush
            self._went_away()
            log.error("decision %s spooled, the database did not take it: %s", decision.decision_id, exc)
            self.spool.append(self._record_of(decision, body, principal))
        return decision

    def _decide(self, case: Case, now: datetime) -> Decision:
        """A decision whose quota check counts the customer's other cases first reported before it."""
        customer, case_id = case.customer.id, case.case_id or ""

        def count_cases(start, end):
            if self.database_away():
                raise DatabaseAway("the database did not answer a moment ago")
            try:
                return self.casebook.count_before(customer, case_id, start, min(end, case.reported_at))
            except Exception as exc:
                if self.store.transient(exc):
                    self._went_away()
                raise

        return self.classify(case, now, count_cases=count_cases)

    def _record_of(self, decision: Decision, body: dict, principal) -> dict:
        case = decision.case
        if self.model is not None and self.model.shadow is not None:  # scored later, off the request path
            self.model.shadow.submit(decision.decision_id, case, decision.language.code)
        return {
            "case_id": case.case_id,
            "tier": decision.routing.pool.tier,
            "author": principal.name if principal else "",
            "author_id": principal.token_id if principal else None,
            "decision_id": decision.decision_id,
            "decided_at": decision.decided_at,
            "reported_at": case.reported_at,
            "customer_id": case.customer.id,
            "plan": case.customer.plan,
            "severity": decision.severity.level,
            "source": decision.severity.source,
            "pool": decision.routing.pool.id,
            "rules_version": decision.versions["rules"],
            "model_version": decision.versions.get("model"),
            "request": body,
            "answer": _dump(decision),
        }

    def record_event(self, case_id: str, event: dict, now: datetime) -> CaseView | None:
        """Apply an event to a case; None when the database is away and the spool keeps the event."""
        event = {**event, "event_id": event.get("event_id") or new_event_id()}
        if self.database_away():
            self.spool.append({"kind": "event", "case_id": case_id, **event})
            return None
        try:
            return self.casebook.record_event(case_id, event, now)
        except CaseNotFound:
            if not self.spool.holds_case(case_id):
                raise
            log.warning("event %s waits in the spool behind its case %s's decision", event["event_id"], case_id)
        except Exception as exc:
            if not self.store.transient(exc):
                raise
            log.error("event %s on case %s spooled, the database did not take it: %s", event["event_id"], case_id, exc)
            self._went_away()
        self.spool.append({"kind": "event", "case_id": case_id, **event})
        return None

    def database_away(self) -> bool:
        """Whether a request found the database away (unreachable, locked, silent) in the last
        `away_pause` seconds: writes then go to the spool at once. The spool's flush keeps trying."""
        return time.monotonic() < self._away_until

    def _went_away(self) -> None:
        self._away_until = time.monotonic() + self.away_pause

    def store_spooled(self, records: list[dict]) -> None:
        """Write spooled decisions and events in the order they came. One the database or the case
        refuses for what it says (the case's state moved on, the id is another customer's, a value the
        database cannot store) is set aside with why; the database going away stops the flush there."""
        for taken, record in enumerate(records):
            record = _revived(record)
            try:
                if record.get("kind") == "event":
                    self.casebook.record_event(record["case_id"], record, _utcnow(), replayed=True)
                else:
                    self.casebook.record_decision(record, _utcnow(), as_answered=True)
            except Exception as exc:
                if self.store.transient(exc):
                    raise FlushStopped(taken, exc) from exc
                self.spool.reject(record, f"{type(exc).__name__}: {exc}"[:1000])

    # -- ops --------------------------------------------------------------------------------

    def pools(self, now: datetime) -> list[dict]:
        """Every pool, with whether it is open at `now` and why not."""
        listed = []
        for pool in self.rulebook.get().pools.values():
            reason = pool.closed_reason(now)
            listed.append({**pool.describe(), "open_now": reason is None, "closed_reason": reason})
        return listed

    def coverage(self, at: datetime) -> dict:
        """Which pools are open at `at`; for the closed ones, why and when they open."""
        open_, closed = [], []
        for pool in self.rulebook.get().pools.values():
            reason = pool.closed_reason(at)
            if reason is None:
                open_.append(pool.id)
            else:
                closed.append({"pool": pool.id, "reason": reason, "opens_at": pool.calendar.next_opening(at)})
        return {"at": at, "open": open_, "closed": closed}

    def readiness(self, detailed: bool = False) -> dict:
        """`status` (ready or degraded) and `reason` in a word for anyone; the details for ops. No
        answer names a path or quotes SQL."""
        database_status = self._database_status()
        rules = self.rulebook.status()
        if rules["refused"] is None and self.publisher is not None and database_status["ok"]:
            try:
                rules["refused"] = self.publisher.refused()
            except Exception as exc:  # the database went away in between: /readyz still answers
                log.warning("refused rule changes not read: %s", type(exc).__name__)
        reason = next(
            (
                word
                for word, trouble in (
                    ("database", not database_status["ok"]),
                    ("rules", rules["refused"] is not None or rules["unreadable"] is not None),
                    ("spool", self.spool.rejected() > 0),
                )
                if trouble
            ),
            None,
        )
        status = {"status": "degraded" if reason else "ready", "reason": reason}
        if not detailed:
            return status
        return {
            **status,
            "pid": os.getpid(),
            "rules": rules,
            "languages": list(self.detector.codes),
            "model": self.model.status() if self.model else None,
            "database": database_status,
            "spool_depth": self.spool.depth(),
            "spool_rejected": self.spool.rejected(),
            "spool_oldest_seconds": self.spool.oldest(),
        }

    def _database_status(self) -> dict:
        try:
            revision = database.current_revision(self.store.engine)
        except Exception as exc:
            return {"ok": False, "error": f"unreachable: {type(exc).__name__}"}
        head = database.head_revision()
        if revision != head:
            return {"ok": False, "error": f"schema at {revision}, expected {head}: run triage db upgrade"}
        return {"ok": True, "dialect": self.store.engine.dialect.name, "revision": revision}


class DatabaseAway(Exception):
    """The database was found away a moment ago; it is not asked again yet."""


def _follow(importer, rulebook) -> None:
    """A rules watcher's look: import the folder if it changed (files mode), then follow the store."""
    try:
        if importer is not None:
            importer.check()
    finally:  # whatever the folder holds, the store's versions are followed
        rulebook.check()


def _upgrade_once(url: str, lock_path: Path) -> None:
    """Migrate the embedded database; workers starting together take turns on a file lock."""
    import fcntl

    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        database.upgrade(url)


_INSTANTS = ("decided_at", "reported_at", "at")


def _revived(record: dict) -> dict:
    """A spooled record with its instants as datetimes again (the spool writes them as text)."""
    return {
        key: datetime.fromisoformat(value) if key in _INSTANTS and isinstance(value, str) else value
        for key, value in record.items()
    }


def _utcnow() -> datetime:
    return datetime.now(UTC)
