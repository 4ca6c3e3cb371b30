"""The service object a process holds: live rules, the language detector, and the calls views make."""
import os
from datetime import datetime
from pathlib import Path

from .cases import Case
from .classify import Decision, classify_case
from .language import LanguageDetector
from .live import LiveRules


class Triage:
    def __init__(self, rules: LiveRules, detector: LanguageDetector):
        self.rules = rules
        self.detector = detector

    @classmethod
    def from_config(cls, config) -> "Triage":
        languages = [code.strip() for code in str(config["LANGUAGES"]).split(",") if code.strip()]
        return cls(
            LiveRules(Path(config["RULES_DIR"]), float(config["RULES_CHECK_INTERVAL"])),
            LanguageDetector(languages, config["DEFAULT_LANGUAGE"]),
        )

    def init_app(self, app) -> None:
        app.extensions["triage"] = self

    def classify(self, case: Case, now: datetime) -> Decision:
        return classify_case(case, self.rules.get(), self.detector, now)

    def pools(self, now: datetime) -> list[dict]:
        """Every pool, with whether it is open at `now` and why not."""
        return [{**pool.describe(), "open_now": pool.closed_reason(now) is None, "closed_reason": pool.closed_reason(now)}
                for pool in self.rules.get().pools.values()]

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
                "languages": list(self.detector.codes)}
