"""What both end-to-end sessions' conftests share (tests/e2e, the mixed sandbox, and
tests/e2e_clearlinux, the all-Clear one): the e2e mark, the progress lines, the cluster run
times printed after the tests, and the session's sandbox from bare hosts."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from dlrs_harness import sandbox as sandbox_api
from dlrs_provision.errors import UsageError

# The cluster runs' times, printed after the tests (the closing notes compare the sandboxes).
RUN_TIMES: list[str] = []


def mark_e2e(items: list[pytest.Item], directory: Path) -> None:
    """Every test under `directory` is an e2e test (`-m "not e2e"` skips them all)."""
    for item in items:
        if directory in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.e2e)


def progress(message: str) -> None:
    print(f"sandbox: {message}", file=sys.stderr, flush=True)


def write_run_times(terminalreporter) -> None:
    for line in RUN_TIMES:
        terminalreporter.write_line(line)


def sandbox_session(
    up: Callable[[], sandbox_api.SandboxState],
    already_up: str,
    after_down: Callable[[], None] = lambda: None,
) -> Iterator[sandbox_api.SandboxState]:
    """The body of a session's `sandbox` fixture: `up()` from bare hosts (a sandbox already up
    is taken down first, with the line `already_up`), taken down after the session, also after
    failures; DLRS_KEEP_SANDBOX=1 reuses one that is up and leaves it up afterwards.
    `after_down` checks what `down` left."""
    keep = os.environ.get("DLRS_KEEP_SANDBOX") == "1"
    if not keep and sandbox_api.status().containers:
        progress(already_up)
        sandbox_api.down(echo=progress)
    try:
        state = up()
    except UsageError:
        # A sandbox of another shape is up: someone else's; refuse, and leave it alone.
        raise
    except BaseException:
        if not keep:
            sandbox_api.down(echo=progress)
        raise
    try:
        yield state
    finally:
        if not keep:
            sandbox_api.down(echo=progress)
            after_down()
