"""`dlrs-provision cluster --check` on the converged sandbox: every phase in Ansible's check
mode reports no change, and nothing changes on any node (its /etc, packages, services, unit
files, containers, images, sysctls, kubelet configuration) nor in the cluster (the stand-in API
server's nodes, namespaces, workloads, CRDs, config maps and secrets)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from e2e_faults import cluster_state, differences, run_watched

from dlrs_provision import paths

pytestmark = pytest.mark.e2e


def test_check_mode_on_the_converged_cluster_reports_no_change_and_changes_nothing(
    cluster, sandbox, monkeypatch
):
    before = cluster_state()
    # the run's artifacts go to the state folder the runs are pointed at (run_watched sets it)
    monkeypatch.setenv(paths.STATE_ENV, str(cluster.state))
    runs = paths.runs_dir(Path(sandbox.inventory))
    known = set(runs.iterdir()) if runs.exists() else set()
    t0 = time.monotonic()
    run = run_watched(sandbox.inventory, cluster.state, "--check")
    seconds = time.monotonic() - t0
    assert run.rc == 0, run.explain()
    # Ansible ran in check mode (the artifacts record its command line), every phase of it
    new = [d for d in runs.iterdir() if d not in known and d.is_dir()]
    assert new, "the run left no artifacts"
    assert any("--check" in (d / "command").read_text() for d in new if (d / "command").exists())
    assert run.phases[0] == "Preflight" and run.phases[-1].startswith("Kubeflow"), run.phases
    assert run.changed() == {"node1": 0, "node2": 0, "node3": 0, "node4": 0}, run.explain()
    assert all(h["failed"] == 0 for h in run.summary["hosts"].values())
    after = cluster_state()
    assert differences(before, after) == []
    print(f"cluster --check on the converged cluster: {seconds:.0f} s")
