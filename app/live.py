"""Live rules: the rulebook in force in this process, reloaded when the rule files change on disk.

Each process (gunicorn worker) checks the files at most every `check_interval` seconds, on its
next use: a cheap stat of the folder, then a content hash only if something changed, then a full
build only if the content is new. An invalid version is refused, logged and reported, and the last
good one stays live.
"""
import logging
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

from . import rulebook
from .documents import RulesInvalid

log = logging.getLogger("triage.rules")


class LiveRules:
    def __init__(self, rules_dir: Path, check_interval: float = 2.0, clock=time.monotonic):
        self.rules_dir = Path(rules_dir)
        self.check_interval = check_interval
        self._clock = clock
        self._lock = threading.Lock()
        self._stamp = self._stat()
        sources = rulebook.read_sources(self.rules_dir)
        self.current = rulebook.build(sources)  # an invalid start is an error, not a silent default
        self.loaded_at = _utcnow()
        self.refused: dict | None = None
        self._checked = self._clock()
        log.info("rules %s loaded from %s", self.current.version, self.rules_dir)

    def get(self) -> rulebook.Rulebook:
        """The rulebook in force, after picking up a change on disk if one is due."""
        if self._clock() - self._checked >= self.check_interval:
            self.check()
        return self.current

    def check(self) -> None:
        """Look at the files now; build and swap in a new valid version, or record the refusal."""
        with self._lock:
            self._checked = self._clock()
            stamp = self._stat()
            if stamp == self._stamp:
                return
            self._stamp = stamp
            sources = rulebook.read_sources(self.rules_dir)
            version = rulebook.version_of(sources)
            if version == self.current.version:
                self.refused = None
                return
            if self.refused and self.refused["version"] == version:
                return
            try:
                new = rulebook.build(sources)
            except RulesInvalid as exc:
                self.refused = {
                    "version": version,
                    "at": _utcnow().isoformat(),
                    "problems": [p.to_dict() for p in exc.problems],
                }
                log.error("rules %s refused, %s stays live: %s", version, self.current.version, exc)
                return
            # the old rulebook's engine is freed when the last request holding it lets go
            self.current, self.loaded_at, self.refused = new, _utcnow(), None
            log.info("rules %s loaded from %s", new.version, self.rules_dir)

    def status(self) -> dict:
        return {
            "version": self.current.version,
            "loaded_at": self.loaded_at.isoformat(),
            "source": str(self.rules_dir),
            "refused": self.refused,
        }

    def _stat(self):
        stamp = []
        for path in sorted(self.rules_dir.glob("*.yaml")):
            try:
                st = path.stat()
            except OSError:  # removed between listing and stat: the next check sees the new state
                continue
            stamp.append((path.name, st.st_mtime_ns, st.st_size))
        return tuple(stamp)


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)
