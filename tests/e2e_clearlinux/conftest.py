"""End-to-end on a sandbox of Clear-Linux-like hosts only (issue #12): the seed's own platform.

Two hosts, both Clear-Linux-like (tests/sandbox/host-clearlinux: Debian underneath, with the
swupd and clrtrust stand-ins), the master included, start below the floor (OS 26000) and get
`dlrs-provision cluster` with the sandbox inventory's settings and nothing else: the site's
mirror, registry and Kubernetes downloads (what any site must give), every choice left at its
default. Then a second run, which must change nothing.

This directory has a sandbox of its own shape, so it runs in a pytest session of its own
(pyproject's norecursedirs keeps `pytest tests` out of it; run-all.sh has a stage for it, and
`make e2e-clearlinux` runs it alone). DLRS_KEEP_SANDBOX=1 keeps the sandbox up afterwards.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from clear_e2e import CLEAR_START, NODES
from e2e_session import RUN_TIMES, mark_e2e, progress, sandbox_session, write_run_times
from e2e_support import ClusterRun, run_cluster

from dlrs_harness import sandbox as sandbox_api

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    mark_e2e(items, HERE)


def pytest_terminal_summary(terminalreporter) -> None:
    write_run_times(terminalreporter)


@pytest.fixture(scope="session")
def sandbox() -> Iterator[sandbox_api.SandboxState]:
    yield from sandbox_session(
        lambda: sandbox_api.up(
            nodes=len(NODES), os="clearlinux", clear_version=CLEAR_START, echo=progress
        ),
        "a sandbox is up already: taking it down to start from bare hosts",
    )


@dataclass
class Runs:
    state: Path
    first: ClusterRun
    second: ClusterRun
    seconds: tuple[float, float]


@pytest.fixture(scope="session")
def cluster(sandbox, tmp_path_factory) -> Runs:
    """`dlrs-provision cluster` on the bare all-Clear sandbox, then once more; the times go to
    the terminal (the closing notes compare them with the mixed sandbox's)."""
    state = tmp_path_factory.mktemp("clear-cluster-state")
    t0 = time.monotonic()
    first = run_cluster(sandbox.inventory, state)
    t1 = time.monotonic()
    second = run_cluster(sandbox.inventory, state) if first.rc == 0 else first
    t2 = time.monotonic()
    times = f"all-Clear cluster: first run {t1 - t0:.0f} s, second run {t2 - t1:.0f} s"
    progress(times)
    RUN_TIMES.append(times)
    return Runs(state, first, second, (t1 - t0, t2 - t1))
