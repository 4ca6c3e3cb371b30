"""Long reads off the worker's interpreter: a function called in a child Python process.

An SLA report over a quarter, or a backtest, replays thousands of cases in Python for seconds. In
a worker's own interpreter that holds the GIL (and the rule engine's lock) the intake threads need:
measured, classify p95 3.5 ms -> 115 ms while a quarter's report ran. In a child process at a lower
CPU priority it takes neither. Each worker runs one at a time of each kind (one more: Overloaded,
answered 429 with Retry-After), each within its time (past it the child is killed: Overran).

The child gets the function's name and its arguments pickled on stdin and gives the result (or
what went wrong) pickled on stdout: both ends are this code, so nothing from outside is unpickled.
Imports nothing of the app: what runs in the child imports what it needs itself.
"""

import importlib
import os
import pickle
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager

NICE = 19  # the lowest CPU priority: when intake and a long read both want a core, intake gets it
# -P: the child imports the app the parent runs, never a folder named app in its working directory
CHILD = [sys.executable, "-P", "-m", "app.offload"]
_SLOTS: dict[str, threading.BoundedSemaphore] = {}
_LOCK = threading.Lock()


class Overloaded(Exception):
    """This worker runs a long read of the kind already; try again in a few seconds."""


class Overran(Exception):
    """The child ran past its time and was stopped."""


class Failed(Exception):
    """The child failed; `transient` when the database was away (the caller answers 503)."""

    def __init__(self, message: str, transient: bool = False):
        super().__init__(message)
        self.transient = transient


@contextmanager
def slot(kind: str):
    """This worker's one slot for long reads of `kind`, or Overloaded."""
    with _LOCK:
        semaphore = _SLOTS.setdefault(kind, threading.BoundedSemaphore(1))
    if not semaphore.acquire(blocking=False):
        raise Overloaded(f"this worker is already running a {kind}; try again in a few seconds")
    try:
        yield
    finally:
        semaphore.release()


def call(function: Callable, *args, seconds: float):
    """`function(*args)` in a child process (a module-level function; its arguments and its result
    picklable): its result, or Failed / Overran."""
    name = f"{function.__module__}:{function.__qualname__}"
    child = subprocess.Popen(CHILD, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = child.communicate(pickle.dumps((name, args)), timeout=seconds)
    except subprocess.TimeoutExpired:
        child.kill()
        child.communicate()
        raise Overran(f"{function.__name__} ran past its {seconds:g} s and was stopped") from None
    if child.returncode != 0 or not out:
        last = (err.decode(errors="replace").strip().splitlines() or [f"exit status {child.returncode}"])[-1]
        raise Failed(f"{function.__name__} failed in its process: {last}")
    ok, value = pickle.loads(out)
    if ok:
        return value
    raise Failed(*value)


def main() -> None:
    """The child's side (python -m app.offload)."""
    os.nice(NICE)
    threading.Thread(target=_orphaned, args=(os.getppid(),), daemon=True).start()
    result_to = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # whatever the function (or a C extension) prints goes to stderr, not into the result
    sys.stdout = sys.stderr
    name, args = pickle.load(sys.stdin.buffer)
    module, _, qualname = name.partition(":")
    function = getattr(importlib.import_module(module), qualname)
    try:
        result = (True, function(*args))
    except Exception as exc:  # handed to the parent: a database away is transient (503), the rest is not
        transient = type(exc).__name__ in ("OperationalError", "InterfaceError", "TimeoutError")
        result = (False, (f"{type(exc).__name__}: {exc}", transient))
    result_to.write(pickle.dumps(result))
    result_to.flush()


def _orphaned(parent: int) -> None:
    """End the child once its parent is gone (a worker killed mid-report): nobody waits for it."""
    while os.getppid() == parent:
        time.sleep(1)
    os._exit(1)
