"""Nothing lost: decisions and events the database could not take wait in append-only spool files
(one per process, one JSON line each) until a flush writes them, in the order they were spooled
across every file, and empties what it wrote. A record the database refuses for what it says is set
aside in rejected.jsonl with the reason, so it never blocks the records behind it."""

import fcntl
import json
import logging
import os
import time
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
        line = json.dumps({**record, ORDER: time.time_ns()}, ensure_ascii=False, default=str) + "\n"
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

    def holds_case(self, case_id: str) -> bool:
        """Whether a decision of the case waits in the spool (its case is not in the database yet)."""
        return any(record.get("case_id") == case_id and record.get("kind") != "event" for _, record in self._records())

    def rejected(self) -> int:
        path = self.folder / "rejected.jsonl"
        return sum(1 for _ in open(path, "rb")) if path.exists() else 0

    def oldest(self) -> float | None:
        """Seconds the oldest spooled record has waited, or None."""
        stamps = [record.get(ORDER) for _, record in self._records() if record.get(ORDER)]
        return round((time.time_ns() - min(stamps)) / 1e9, 1) if stamps else None

    def _records(self):
        for path in self.folder.glob("spool-*.jsonl"):
            try:
                with open(path, encoding="utf-8") as handle:
                    yield from ((path, json.loads(line)) for line in handle if line.strip())
            except FileNotFoundError:
                continue

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
        """Hand every spooled record, oldest first across all files, to `save(records)`. What it took
        leaves the files: all of them, or (when it raises FlushStopped, the database being away again)
        those before the one it stopped at; any other failure leaves everything in place."""
        handles = []
        try:
            for path in sorted(self.folder.glob("spool-*.jsonl")):
                try:
                    handle = open(path, "r+", encoding="utf-8")
                except FileNotFoundError:
                    continue
                fcntl.flock(handle, fcntl.LOCK_EX)
                handles.append(handle)
            lines = [(json.loads(line), handle) for handle in handles for line in handle if line.strip()]
            lines.sort(key=lambda entry: entry[0].get(ORDER, 0))
            if not lines:
                return 0
            try:
                save([{k: v for k, v in record.items() if k != ORDER} for record, _ in lines])
                taken, stopped = len(lines), None
            except FlushStopped as stop:
                taken, stopped = stop.taken, stop
            for handle in handles:
                left = [record for record, where in lines[taken:] if where is handle]
                handle.seek(0)
                handle.truncate()
                handle.writelines(json.dumps(record, ensure_ascii=False, default=str) + "\n" for record in left)
                handle.flush()
                os.fsync(handle.fileno())
            if stopped is not None:
                raise stopped
            return taken
        finally:
            for handle in handles:
                handle.close()


class FlushStopped(Exception):
    """The database went away after `taken` records were written."""

    def __init__(self, taken: int, cause: Exception):
        self.taken = taken
        super().__init__(f"stopped after {taken} records: {cause}")


ORDER = "_spooled_ns"  # when a record was spooled: the flush keeps that order across processes


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
