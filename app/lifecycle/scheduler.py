"""The scheduler inside the service: every worker runs a pass every few seconds (the service's
periodic thread). No cron, no broker: the database hands each due moment to one worker, and the
timeline's unique step keys make each step happen once."""

import logging
from datetime import UTC, datetime

log = logging.getLogger("triage.scheduler")


def scheduler_pass(casebook) -> int:
    """One pass over the moments due now; how many steps it recorded (0 while the database is away)."""
    try:
        done = casebook.tick(datetime.now(UTC))
    except Exception as exc:  # the database is away: the moments wait in it for the next pass
        log.warning("scheduler pass failed: %s", exc)
        return 0
    if done:
        log.info("scheduler: %d escalation steps recorded", done)
    return done
