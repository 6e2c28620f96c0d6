"""End-to-end tests run against the local sandbox (`dlrs-provision sandbox`).

One sandbox serves the whole test session: four hosts, the seed's layout of a master and three
workers (node1 Debian, the master; node2 and node4 Clear-Linux-like; node3 Debian), plus the
mirror host. Tests that use it must not disturb each other
(no host left changed in a way another test would notice). It is taken down at the end of the
session, also after failures, unless DLRS_KEEP_SANDBOX=1 (to look at it, or to save the ~10 s of
a warm `up` on the next run).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_session import RUN_TIMES, mark_e2e, progress, sandbox_session, write_run_times
from e2e_support import Cluster, on, run_cluster, run_cluster_from_wheel, upstream_cursor

from dlrs_harness import sandbox as sandbox_api

E2E_DIR = Path(__file__).resolve().parent
SANDBOX_NODES = 4
SANDBOX_OS = "mixed"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    mark_e2e(items, E2E_DIR)


def pytest_terminal_summary(terminalreporter) -> None:
    write_run_times(terminalreporter)


@pytest.fixture(scope="session")
def sandbox() -> Iterator[sandbox_api.SandboxState]:
    """The session's sandbox, from bare hosts (one already up is taken down first, unless
    DLRS_KEEP_SANDBOX=1 asks to reuse it)."""
    # The cluster fixture starts from bare hosts: a sandbox left up (by `make demo`, or by
    # another checkout's run) already holds a cluster, so it goes first.
    yield from sandbox_session(
        # DLRS_E2E_KUBERNETES_VERSION=1.30.11 runs the kubeadm v1beta3 branch (default 1.32)
        lambda: sandbox_api.up(
            nodes=SANDBOX_NODES,
            os=SANDBOX_OS,
            kubernetes_version=os.environ.get(
                "DLRS_E2E_KUBERNETES_VERSION", sandbox_api.DEFAULT_KUBERNETES_VERSION
            ),
            echo=progress,
        ),
        "a sandbox is up already (make demo?): taking it down to start from bare hosts",
        after_down=_assert_nothing_left,
    )


@pytest.fixture(scope="session")
def cluster(sandbox, tmp_path_factory) -> Cluster:
    """`dlrs-provision cluster` on the bare sandbox (every phase), then once more.

    Built once per session and shared by the modules that check its result (OS, runtime,
    images, Kubernetes, Kubeflow): they must leave it as they found it."""
    state = tmp_path_factory.mktemp("cluster-state")
    cursor = upstream_cursor()
    t0 = time.monotonic()
    first = run_cluster(sandbox.inventory, state)
    RUN_TIMES.append(f"mixed sandbox cluster: first run {time.monotonic() - t0:.0f} s")
    assert first.rc == 0, first.explain()
    ca_first = on("node1", "sha256sum /etc/kubernetes/pki/ca.crt").split()[0]
    between = upstream_cursor()
    t1 = time.monotonic()
    second = run_cluster(sandbox.inventory, state)
    RUN_TIMES.append(f"mixed sandbox cluster: second run {time.monotonic() - t1:.0f} s")
    ca_second = on("node1", "sha256sum /etc/kubernetes/pki/ca.crt").split()[0]
    # The wheel's run comes here, before any module's checks and fault tests can leave a trace.
    # Its failure is test_installed_wheel's, not every module's: kept, not raised.
    wheel_root = Path(tempfile.mkdtemp(prefix="dlrs-wheel-"))
    from_wheel, wheel_package, wheel_error = None, "", ""
    try:
        t2 = time.monotonic()
        from_wheel, wheel_package = run_cluster_from_wheel(sandbox.inventory, state, wheel_root)
        RUN_TIMES.append(f"mixed sandbox cluster: run from the wheel {time.monotonic() - t2:.0f} s")
    except (AssertionError, OSError, subprocess.SubprocessError) as exc:
        wheel_error = f"{type(exc).__name__}: {exc}"
    finally:
        shutil.rmtree(wheel_root, ignore_errors=True)
    return Cluster(
        state,
        cursor,
        between,
        first,
        second,
        (ca_first, ca_second),
        from_wheel=from_wheel,
        wheel_package=wheel_package,
        wheel_error=wheel_error,
    )


def _assert_nothing_left() -> None:
    """`down` removed every container and the network that `up` made."""
    containers = subprocess.run(
        ["docker", "ps", "-aq", "--filter", "label=dlrs-provision.sandbox=1"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    network = subprocess.run(
        ["docker", "network", "inspect", sandbox_api.NETWORK],
        capture_output=True,
        check=False,
    )
    assert containers == [], f"sandbox containers left after down: {containers}"
    assert network.returncode != 0, f"network {sandbox_api.NETWORK} left after down"
    assert not sandbox_api.sandbox_dir(sandbox_api.repo_root()).exists()
