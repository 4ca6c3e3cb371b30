"""The service object a process holds: live rules, the language detector, the decision store and
tokens, and the calls views and the CLI make."""
import dataclasses
import logging
import os
from datetime import datetime, timezone
from pathlib import Path

from . import store as store_mod
from .auth import Tokens
from .cases import Case
from .classify import Decision, classify_case
from .language import LanguageDetector
from .live import LiveRules, StoreSource
from .publishing import Publisher
from .registry import LiveModel
from .schemas import DecisionSchema
from .spool import Flusher, Spool

log = logging.getLogger("triage.service")
_dump = DecisionSchema().dump


class Triage:
    def __init__(self, rules: LiveRules, detector: LanguageDetector, store=None, spool=None, tokens=None,
                 record_decisions: bool = True, model: LiveModel | None = None):
        self.rules, self.detector, self.model = rules, detector, model
        self.store, self.spool, self.tokens = store, spool, tokens
        self.record_decisions = record_decisions
        self.flusher = None

    @classmethod
    def from_config(cls, config) -> "Triage":
        languages = [code.strip() for code in str(config["LANGUAGES"]).split(",") if code.strip()]
        instance = Path(config["INSTANCE_DIR"])
        url = config.get("DATABASE_URL") or f"sqlite:///{instance / 'triage.db'}"
        if not config.get("DATABASE_URL"):  # the embedded default migrates itself; a shared database is upgraded by ops
            _upgrade_once(url, instance / ".migrate.lock")
        store = store_mod.Store(store_mod.engine_for(url, float(config["DATABASE_TIMEOUT"])))
        if config["RULES_SOURCE"] not in ("files", "database"):
            raise ValueError(f"TRIAGE_RULES_SOURCE is {config['RULES_SOURCE']!r}; use files or database")
        source, versions = Path(config["RULES_DIR"]), None
        if config["RULES_SOURCE"] == "database":
            versions = store_mod.RuleVersions(store.engine)
            _seed(versions, source)
            source = StoreSource(versions)
        triage = cls(
            LiveRules(source, float(config["RULES_CHECK_INTERVAL"])),
            LanguageDetector(languages, config["DEFAULT_LANGUAGE"]),
            store, Spool(instance / "spool"),
            Tokens(store, instance / "tokens.json", float(config["TOKEN_REFRESH_INTERVAL"])),
            bool(config["RECORD_DECISIONS"]),
            LiveModel(Path(config["MODELS_DIR"]), float(config["MODEL_CHECK_INTERVAL"])),
        )
        triage.publisher = Publisher(versions, triage.rules, store, triage.detector, triage.model,
                                     Path(config["RULES_DIR"]) / "tests")
        triage.flusher = Flusher(triage.spool, store.save, float(config["SPOOL_FLUSH_INTERVAL"]))
        triage.flusher.flush_now()  # decisions left by an earlier run go in first
        triage.flusher.start()
        return triage

    def init_app(self, app) -> None:
        app.extensions["triage"] = self

    # -- cases ------------------------------------------------------------------------------

    def classify(self, case: Case, now: datetime, rules=None) -> Decision:
        """Decide a case (with `rules`, or the rulebook in force); nothing is stored."""
        model, meta = self.model.get() if self.model else (None, None)
        return classify_case(case, rules or self.rules.get(), self.detector, now, (model, meta) if model else None)

    def classify_and_record(self, case: Case, body: dict, now: datetime) -> dict:
        """Decide a case, check the plan's quota, and keep the decision; returns the answer."""
        rules = self.rules.get()  # one rulebook for the whole request, even if a reload lands meanwhile
        decision = self._with_quota(self.classify(case, now, rules), rules)
        answer = _dump(decision)
        if self.record_decisions:
            self._record({
                "decision_id": decision.decision_id, "decided_at": decision.decided_at,
                "reported_at": case.reported_at, "customer_id": case.customer.id, "plan": case.customer.plan,
                "severity": decision.severity.level, "source": decision.severity.source,
                "pool": decision.routing.pool.id, "rules_version": decision.versions["rules"],
                "model_version": decision.versions.get("model"), "request": body, "answer": answer,
            })
        return answer

    def _with_quota(self, decision: Decision, rules) -> Decision:
        case = decision.case
        plan = rules.terms.plans[case.customer.plan]
        if plan.cases_per_quarter is None:
            return decision
        start, end = quarter(case.reported_at)
        label = f"{start.year}-Q{(start.month - 1) // 3 + 1}"
        try:
            earlier = self.store.count_reported(case.customer.id, start, end)
        except Exception as exc:
            log.warning("quota not checked: %s", exc)
            problem = f"the {plan.name} plan's quota of {plan.cases_per_quarter} cases per quarter was not checked: the decision store is unavailable"
        else:
            if earlier < plan.cases_per_quarter:
                return decision
            problem = f"case {earlier + 1} in {label}: the {plan.name} plan includes {plan.cases_per_quarter} cases per quarter"
        entitlement = dataclasses.replace(decision.entitlement, ok=False, problems=(*decision.entitlement.problems, problem))
        return dataclasses.replace(decision, entitlement=entitlement)

    def _record(self, record: dict) -> None:
        try:
            self.store.save([record])
        except Exception as exc:  # the database is away: the spool keeps it until a flush
            log.error("decision %s spooled, the database did not take it: %s", record["decision_id"], exc)
            self.spool.append(record)

    # -- ops --------------------------------------------------------------------------------

    def pools(self, now: datetime) -> list[dict]:
        """Every pool, with whether it is open at `now` and why not."""
        listed = []
        for pool in self.rules.get().pools.values():
            reason = pool.closed_reason(now)
            listed.append({**pool.describe(), "open_now": reason is None, "closed_reason": reason})
        return listed

    def coverage(self, at: datetime) -> dict:
        """Which pools are open at `at`; for the closed ones, why and when they open."""
        open_, closed = [], []
        for pool in self.rules.get().pools.values():
            reason = pool.closed_reason(at)
            if reason is None:
                open_.append(pool.id)
            else:
                closed.append({"pool": pool.id, "reason": reason, "opens_at": pool.calendar.next_opening(at)})
        return {"at": at, "open": open_, "closed": closed}

    def readiness(self) -> dict:
        self.rules.get()  # pick up a pending change so readiness reports what a request would use
        return {"status": "ready", "pid": os.getpid(), "rules": self.rules.status(),
                "languages": list(self.detector.codes), "model": self.model.status() if self.model else None,
                "database": self._database_status(),
                "spool_depth": self.spool.depth()}

    def _database_status(self) -> dict:
        try:
            revision = store_mod.current_revision(self.store.engine)
        except Exception as exc:
            return {"ok": False, "error": f"unreachable: {type(exc).__name__}"}
        head = store_mod.head_revision()
        if revision != head:
            return {"ok": False, "error": f"schema at {revision}, expected {head}: run triage db upgrade"}
        return {"ok": True, "dialect": self.store.engine.dialect.name, "revision": revision}


def quarter(instant: datetime) -> tuple[datetime, datetime]:
    """The calendar quarter (UTC) containing `instant`, as [start, end)."""
    utc = instant.astimezone(timezone.utc)
    first_month = (utc.month - 1) // 3 * 3 + 1
    start = datetime(utc.year, first_month, 1, tzinfo=timezone.utc)
    end = datetime(utc.year + (first_month == 10), (first_month + 2) % 12 + 1, 1, tzinfo=timezone.utc)
    return start, end


def _seed(versions, folder: Path) -> None:
    """An empty rule store starts from the rule files; workers starting together publish once."""
    from .rulebook import read_sources

    if versions.stamp() is not None:
        return
    for name, text in read_sources(folder).items():
        try:
            versions.publish(name, text, "seed", f"seeded from {folder}", None)
        except store_mod.Conflict:
            pass  # another worker seeded it first
    log.info("rule store seeded from %s", folder)


def _upgrade_once(url: str, lock_path: Path) -> None:
    """Migrate the embedded database; workers starting together take turns on a file lock."""
    import fcntl

    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        store_mod.upgrade(url)
