"""One host-changing run per inventory at a time.

The lock is an flock(2) on `run.lock` in the inventory's state folder: the kernel drops it when
the holder ends, however it ends (kill -9 included), so a dead run never blocks the next one.
Beside it, `run.json` says who holds it (command line, start time, host, pid) so that a refused
run can name the one that is running. A `run.json` left by a run that was killed is only a
record: the next run that gets the lock reports it as stale and replaces it.

Read-only commands (validate, plan, tune, render) take no lock.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import socket
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from dlrs_provision import paths
from dlrs_provision.errors import EnvironmentProblem

LOCK_NAME = "run.lock"
RECORD_NAME = "run.json"
# how long a refused run waits for the holder's record: the holder writes it right after it got
# the lock, so a refusal in between would otherwise have nobody to name
RECORD_WAIT_S = 2.0


@dataclass(frozen=True)
class Holder:
    """Who runs (or ran) on the inventory, as recorded in run.json."""

    command: str
    started: str  # ISO 8601, UTC
    host: str
    pid: int

    def describe(self) -> str:
        return f"`{self.command}` (pid {self.pid} on {self.host}, started {self.started})"


class RunInProgress(EnvironmentProblem):
    """Another host-changing run holds the inventory's lock (exit 3)."""


@dataclass
class Lock:
    """A held lock; `stale` is the record of an earlier run that ended without clearing it."""

    path: Path
    fd: int
    stale: Holder | None = None


def _read_record(state: Path) -> Holder | None:
    try:
        data = json.loads((state / RECORD_NAME).read_text(encoding="utf-8"))
        return Holder(
            command=str(data["command"]),
            started=str(data["started"]),
            host=str(data["host"]),
            pid=int(data["pid"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _alive(holder: Holder) -> bool:
    """Whether the recorded process still exists (on this machine; another host's cannot be
    checked, so it counts as alive)."""
    if holder.host != socket.gethostname():
        return True
    try:
        os.kill(holder.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _write_record(state: Path, holder: Holder) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".run-", suffix=".json", dir=state)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(holder.__dict__, f, sort_keys=True)
        os.replace(tmp, state / RECORD_NAME)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _state_folder(inventory: Path) -> Path:
    # the folders the run will write (facts, runs) too: one that cannot be made is exit 3 now
    return paths.ensure_state(inventory)


def acquire(inventory: Path, command: str) -> Lock:
    """Take the inventory's run lock or raise RunInProgress naming the run that holds it."""
    state = _state_folder(inventory)
    path = state / LOCK_NAME
    try:
        # O_NOFOLLOW: a symlink planted in place of the lock file is refused, not followed
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise EnvironmentProblem(
            f"cannot open the run lock {path}: {exc.strerror}",
            "make the state folder writable (a symlink there is refused: remove it)",
        ) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        os.close(fd)
        if exc.errno not in (errno.EWOULDBLOCK, errno.EACCES):
            raise EnvironmentProblem(
                f"cannot lock {path}: {exc.strerror}",
                "keep the state folder on a local file system that supports flock",
            ) from None
        raise _refusal(state, inventory) from None
    stale = _read_record(state)
    _write_record(
        state,
        Holder(
            command=command,
            started=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            host=socket.gethostname(),
            pid=os.getpid(),
        ),
    )
    return Lock(path=path, fd=fd, stale=stale)


def _refusal(state: Path, inventory: Path) -> RunInProgress:
    deadline = time.monotonic() + RECORD_WAIT_S
    holder = _read_record(state)
    while (holder is None or not _alive(holder)) and time.monotonic() < deadline:
        time.sleep(0.05)
        holder = _read_record(state)
    who = holder.describe() if holder else "a run whose record is not readable"
    return RunInProgress(
        f"another run is changing the hosts of {inventory}: {who}; this one was not started "
        "and nothing was changed",
        "wait for it to end (or stop it), then run this command again; the lock goes away "
        "with its process, a killed run leaves none",
    )


def release(lock: Lock) -> None:
    """Clear the record, then drop the lock (the lock file stays: removing it would let two runs
    hold locks on two different files)."""
    state = lock.path.parent
    mine = _read_record(state)
    if mine is not None and mine.pid == os.getpid():
        with contextlib.suppress(OSError):
            (state / RECORD_NAME).unlink()
    fcntl.flock(lock.fd, fcntl.LOCK_UN)
    os.close(lock.fd)


@contextlib.contextmanager
def held(inventory: Path, command: str) -> Iterator[Lock]:
    """`with lock.held(inventory, command_line) as run:` the body runs holding the lock."""
    lock = acquire(inventory, command)
    try:
        yield lock
    finally:
        release(lock)
