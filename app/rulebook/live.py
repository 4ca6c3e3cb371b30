"""Live rules: the rulebook in force in this process, reloaded when its source changes.

The source is the rules folder (edit the files) or the database (ops publish versions through the
API; every instance sharing the database follows). A watcher thread in each process looks at the
source every few seconds (TRIAGE_RULES_CHECK_INTERVAL), never a request: a cheap stamp first, then
the texts only if the stamp moved, then a full build only if the content is new; the new rulebook
is swapped in whole. An invalid version is refused, logged and
reported, and the last good one stays live; so is a source that cannot be read.
"""

import dataclasses
import logging
import threading
from datetime import UTC, datetime
from pathlib import Path

from app.rulebook import book as rulebook
from app.rulelang.documents import RulesInvalid

log = logging.getLogger("triage.rules")


class FolderSource:
    """Rule documents as YAML files in a folder."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)

    def describe(self) -> str:
        return str(self.folder)

    def stamp(self):
        stamp = []
        for path in sorted(self.folder.glob("*.yaml")):
            try:
                st = path.stat()
            except OSError:  # removed between listing and stat: the next check sees the new state
                continue
            stamp.append((path.name, st.st_mtime_ns, st.st_size))
        return tuple(stamp)

    def read(self) -> tuple[dict[str, str], str]:
        return rulebook.read_sources(self.folder), ""


class StoreSource:
    """Rule documents as published versions in the database (the newest of each)."""

    def __init__(self, versions, description: str = "database"):
        self.versions = versions
        self.description = description

    def describe(self) -> str:
        return self.description

    def stamp(self):
        return self.versions.stamp()

    def read(self) -> tuple[dict[str, str], str]:
        current = {name: row for name, row in self.versions.current().items() if not name.startswith("tests/")}
        label = " ".join(f"{name}@{row['number']}" for name, row in sorted(current.items()))
        return {name: row["content"] for name, row in current.items()}, label


class LiveRulebook:
    def __init__(self, source):
        self.source = source if not isinstance(source, (str, Path)) else FolderSource(Path(source))
        self._lock = threading.Lock()
        self._stamp = self.source.stamp()
        self.current = self._build(*self.source.read())  # an invalid start is an error, not a silent default
        self.loaded_at = _utcnow()
        self.refused: dict | None = None
        self.unreadable: str | None = None
        log.info("rules %s loaded from %s", self.current.version, self.source.describe())

    @staticmethod
    def _build(sources: dict[str, str], label: str) -> rulebook.Rulebook:
        return dataclasses.replace(rulebook.build(sources), documents=label)

    def get(self) -> rulebook.Rulebook:
        """The rulebook in force. A request never reloads: the service's watcher thread calls check()."""
        return self.current

    def check(self) -> None:
        """Look at the files now; build and swap in a new valid version, or record the refusal."""
        with self._lock:
            try:
                stamp = self.source.stamp()
                if stamp == self._stamp:
                    self.unreadable = None
                    return
                sources, label = self.source.read()
            except Exception as exc:  # the database is away: the rules in force stay
                self.unreadable = f"{type(exc).__name__}: {exc}"[:300]
                log.warning("rules source %s unreadable, %s stays live: %s", self.source.describe(), self.current.version, exc)
                return
            self.unreadable = None
            self._stamp = stamp
            version = rulebook.version_of(sources)
            if version == self.current.version:
                self.refused = None
                return
            if self.refused and self.refused["version"] == version:
                return
            try:
                new = self._build(sources, label)
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
            log.info("rules %s loaded from %s", new.version, self.source.describe())

    def status(self) -> dict:
        return {
            "version": self.current.version,
            "documents": self.current.documents or None,
            "loaded_at": self.loaded_at.isoformat(),
            "source": self.source.describe(),
            "refused": self.refused,
            "unreadable": self.unreadable,
        }


def _utcnow() -> datetime:
    return datetime.now(UTC)
