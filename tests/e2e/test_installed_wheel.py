"""`dlrs-provision cluster` from the wheel, installed outside the checkout, on the shared cluster.

tests/package proves validate, plan, tune and preflight of the installed wheel on a local
connection; `cluster` needs the sandbox's hosts, so it is here. The cluster fixture (conftest.py)
builds the wheel, installs it into a fresh venv outside the checkout and runs its `cluster` as a
third run, right after the checkout's two: the wheel's own copy of the playbooks and roles runs
every phase over real SSH and, the cluster being converged, changes nothing on any host.
"""

from __future__ import annotations

from pathlib import Path

from e2e_support import Cluster

REPO = Path(__file__).resolve().parents[2]


def test_cluster_from_the_installed_wheel_runs_every_phase_and_changes_nothing(cluster: Cluster):
    run = cluster.from_wheel
    assert run is not None, cluster.wheel_error
    assert cluster.wheel_package and not cluster.wheel_package.startswith(str(REPO)), (
        cluster.wheel_package
    )
    assert run.rc == 0, run.explain()
    assert run.phases == cluster.second.phases
    changed = run.changed()
    assert set(changed) == set(cluster.second.changed())
    assert all(n == 0 for n in changed.values()), run.explain()
