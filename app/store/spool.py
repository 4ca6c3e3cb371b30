"""Nothing lost: decisions the database could not take wait in an append-only spool file, one JSON
line each, until a flush writes them (idempotently, by decision_id) and empties the file."""

import fcntl
import json
import logging
import os
from pathlib import Path

log = logging.getLogger("triage.spool")


class Spool:
    """Per-process spool files in one folder; any process may flush any of them."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)

    @property
    def path(self) -> Path:
        return self.folder / f"spool-{os.getpid()}.jsonl"

    def append(self, record: dict) -> None:
        line = json.dumps(record, ensure_ascii=False, default=str) + "\n"
        with open(self.path, "a", encoding="utf-8") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())  # the answer has gone out: the record must survive a crash

    def reject(self, record: dict, reason: str) -> None:
        """Set aside a record the database refuses for what it says (never silently dropped)."""
        line = json.dumps({"reason": reason, "record": record}, ensure_ascii=False, default=str) + "\n"
        with open(self.folder / "rejected.jsonl", "a", encoding="utf-8") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            handle.write(line)
        log.error("spooled record set aside in %s: %s", self.folder / "rejected.jsonl", reason)

    def depth(self) -> int:
        total = 0
        for path in self.folder.glob("spool-*.jsonl"):
            try:
                with open(path, "rb") as handle:
                    total += sum(1 for _ in handle)
            except FileNotFoundError:
                continue
        return total

    def flush(self, save) -> int:
        """Hand every spooled record to `save(records)`; a file is emptied only after its save succeeded."""
        written = 0
        for path in sorted(self.folder.glob("spool-*.jsonl")):
            try:
                handle = open(path, "r+", encoding="utf-8")
            except FileNotFoundError:
                continue
            with handle:
                fcntl.flock(handle, fcntl.LOCK_EX)
                records = [json.loads(line) for line in handle if line.strip()]
                if not records:
                    continue
                save(records)  # raises when the database is still away: the file stays as it is
                handle.seek(0)
                handle.truncate()
                written += len(records)
        return written


class Flusher:
    """Writes the spool's records through `save`; the service runs it every few seconds."""

    def __init__(self, spool: Spool, save):
        self.spool, self.save = spool, save

    def flush_now(self) -> int:
        try:
            written = self.spool.flush(self.save)
        except Exception as exc:  # the database is still away; try again next round
            log.warning("spool flush failed, %d decisions wait: %s", self.spool.depth(), exc)
            return 0
        if written:
            log.info("spool flushed: %d decisions written to the database", written)
        return written
