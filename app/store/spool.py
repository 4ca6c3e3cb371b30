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
                    lines = handle.readlines()
            except FileNotFoundError:
                continue
            for line in lines:
                try:
                    yield path, json.loads(line)
                except ValueError:  # a line another thread or process is still writing (we read without the lock)
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
        those before the one it stopped at; any other failure leaves every record in place.

        One flush at a time (a lock file), but the spool files are locked only to read them and to
        rewrite them, never while `save` waits on the database: a request that spools meanwhile appends
        at once, and what it appended stays behind what was read."""
        with open(self.folder / ".flush.lock", "a") as guard:
            fcntl.flock(guard, fcntl.LOCK_EX)
            read: dict[Path, int] = {}  # bytes read from each file
            lines, cut = [], False
            for path in sorted(self.folder.glob("spool-*.jsonl")):
                try:
                    with open(path, "rb") as handle:
                        fcntl.flock(handle, fcntl.LOCK_EX)  # no append is half-written while we read
                        data = handle.read()
                except FileNotFoundError:
                    continue
                read[path] = len(data)
                for line in data.splitlines(keepends=True):
                    try:
                        lines.append((json.loads(line), path))
                    except ValueError:  # cut short by a crash mid-write (appends hold the lock: not one in progress)
                        if line.strip():
                            self.reject(
                                {"line": line.decode(errors="replace")}, "not a JSON line (cut short when the process stopped?)"
                            )
                            cut = True
            lines.sort(key=lambda entry: entry[0].get(ORDER, 0))
            if not lines and not cut:
                return 0
            taken, stopped, failed = 0, None, None
            try:
                if lines:
                    save([{k: v for k, v in record.items() if k != ORDER} for record, _ in lines])
                    taken = len(lines)
            except FlushStopped as stop:
                taken, stopped = stop.taken, stop
            except Exception as exc:  # nothing taken; the cut lines are set aside all the same
                failed = exc
            for path, length in read.items():
                left = b"".join(
                    (json.dumps(record, ensure_ascii=False, default=str) + "\n").encode()
                    for record, where in lines[taken:]
                    if where == path
                )
                with open(path, "r+b") as handle:
                    fcntl.flock(handle, fcntl.LOCK_EX)
                    handle.seek(length)
                    appended = handle.read()  # spooled while `save` ran
                    handle.seek(0)
                    handle.truncate()
                    handle.write(left + appended)
                    handle.flush()
                    os.fsync(handle.fileno())
            if failed is not None:
                raise failed
            if stopped is not None:
                raise stopped
            return taken


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
