"""The scheduler inside the service: a daemon thread in every worker that acts on the due moments
every few seconds (app.lifecycle.casebook.CaseBook.tick). No cron, no broker: the database hands
each due moment to one worker, and the timeline's unique step keys make each step happen once."""

import logging
import threading
from datetime import UTC, datetime

log = logging.getLogger("triage.scheduler")


class Scheduler:
    def __init__(self, casebook, interval: float):
        self.casebook, self.interval = casebook, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="case-scheduler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def tick(self) -> int:
        try:
            done = self.casebook.tick(datetime.now(UTC))
        except Exception as exc:  # the database is away: the moments wait in it for the next pass
            log.warning("scheduler pass failed: %s", exc)
            return 0
        if done:
            log.info("scheduler: %d escalation steps recorded", done)
        return done

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.tick()
