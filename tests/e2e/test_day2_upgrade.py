"""Day-2 upgrade on the sandbox (issue 15, item 3): the cluster is reset and built again at
1.31.7, then `dlrs-provision upgrade --to 1.32.3 --batch-size 1` with node3 (Debian) broken so
that its package step fails: the roll-out stops at node3 with the master and node2 upgraded,
node3 cordoned, node4 untouched and serving on 1.31.7. With the break removed the same command
finishes, a third run changes nothing, and `cluster` with the real inventory (1.32.3) changes
nothing either. A downgrade is refused by the playbook's first play with nothing changed.

The module's `restored` fixture removes the break and leaves the cluster at 1.32.3, converged,
as the `cluster` fixture left it (reset and cluster again when it is not), so that the modules
after this one find it so.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
from e2e_faults import changed_results, wait_for
from e2e_support import CLI, ClusterRun, on, run_cluster

from dlrs_provision import paths

pytestmark = pytest.mark.e2e

KUBECTL = "kubectl --kubeconfig /etc/kubernetes/admin.conf"
OLD, NEW = "1.31.7", "1.32.3"
BREAK = "/etc/apt/apt.conf.d/99dlrs-e2e-break"
WORKERS = ("node2", "node3", "node4")  # the batch order: the inventory's group workers


def day2(command: str, inventory: str, state: Path, *args: str, timeout: float = 2400):
    proc = subprocess.run(
        [CLI, command, inventory, "--json", *args],
        capture_output=True,
        text=True,
        env=os.environ | {paths.STATE_ENV: str(state)},
        timeout=timeout,
    )
    lines = [json.loads(ln) for ln in proc.stdout.splitlines() if ln.startswith("{")]
    assert lines and lines[-1]["kind"] == "summary", proc.stdout[-3000:] + proc.stderr[-3000:]
    return ClusterRun(proc.returncode, lines, proc.stderr)


def _nodes() -> dict[str, dict]:
    items = json.loads(on("node1", f"{KUBECTL} get nodes -o json"))["items"]
    return {n["metadata"]["name"]: n for n in items}


def _ready(node: dict) -> bool:
    conditions = node.get("status", {}).get("conditions", [])
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def _kubelet(node: dict) -> str:
    return node["status"]["nodeInfo"]["kubeletVersion"]


def _server_version() -> str:
    return json.loads(on("node1", f"{KUBECTL} version -o json"))["serverVersion"]["gitVersion"]


def _all_at(version: str) -> bool:
    nodes = _nodes()
    return all(
        _ready(n) and _kubelet(n) == f"v{version}" and not n["spec"].get("unschedulable")
        for n in nodes.values()
    )


def _pinned_copy(inventory: str, tmp_path: Path, version: str) -> str:
    text = Path(inventory).read_text()
    pinned, count = re.subn(
        r'dlrs_kubernetes_version: "[0-9.]+"', f'dlrs_kubernetes_version: "{version}"', text
    )
    assert count == 1, "the sandbox inventory should pin dlrs_kubernetes_version once"
    path = tmp_path / f"hosts-{version}.yml"
    path.write_text(pinned)
    return str(path)


def _unbreak() -> None:
    on("node3", f"rm -f {BREAK}", check=False)


def _rebuild(inventory: str, state: Path) -> None:
    run = day2("reset", inventory, state, "--yes")
    assert run.rc == 0, run.explain()
    built = run_cluster(inventory, state)
    assert built.rc == 0, built.explain()


@pytest.fixture(scope="module")
def at_old(sandbox, cluster, tmp_path_factory):
    """The whole cluster reset, then built at 1.31.7 from a copy of the inventory."""
    tmp = tmp_path_factory.mktemp("upgrade")
    old = _pinned_copy(sandbox.inventory, tmp, OLD)
    _rebuild(old, cluster.state)
    wait_for(lambda: _all_at(OLD), 300, f"every node Ready on v{OLD}")
    return old


@pytest.fixture(scope="module", autouse=True)
def restored(sandbox, cluster):
    yield
    _unbreak()
    # the cluster fixture's state: every node on 1.32.3, Ready, schedulable, and `cluster`
    # with the real inventory finding nothing to change
    if not _all_at(NEW) or _server_version() != f"v{NEW}":
        _rebuild(sandbox.inventory, cluster.state)
    again = run_cluster(sandbox.inventory, cluster.state)
    assert again.rc == 0, again.explain()
    wait_for(lambda: _all_at(NEW), 300, f"every node Ready on v{NEW}")


def test_the_cluster_is_built_at_the_old_version(at_old):
    assert _server_version() == f"v{OLD}"
    assert {n: _kubelet(v) for n, v in _nodes().items()} == {
        n: f"v{OLD}" for n in ("node1", *WORKERS)
    }


def test_a_failing_worker_stops_the_roll_out_and_a_resume_finishes_it(sandbox, cluster, at_old):
    try:
        on("node3", f"echo 'DPkg::Pre-Invoke {{\"/bin/false\";}};' > {BREAK}")
        failed = day2("upgrade", at_old, cluster.state, "--to", NEW, "--batch-size", "1")
        assert failed.rc == 1, failed.explain()
        assert _server_version() == f"v{NEW}"
        hosts = failed.summary["hosts"]
        assert hosts["node3"]["state"] == "failed", failed.explain()
        message = hosts["node3"]["failure"]["message"]
        assert "node3 was not upgraded to v1.32.3" in message
        # the step is the package task of role kubernetes_packages that apt's break stops
        assert hosts["node3"]["failure"]["phase"] == "Upgrade - workers"
        assert 'step "Ensure kubeadm, kubelet and kubectl are installed' in message
        assert "stays cordoned" in message
        assert failed.summary["resume"] == f"dlrs-provision upgrade {at_old} --to {NEW}"
        nodes = _nodes()
        assert nodes["node3"]["spec"].get("unschedulable") is True
        assert _kubelet(nodes["node2"]) == f"v{NEW}" and _ready(nodes["node2"])
        assert _kubelet(nodes["node4"]) == f"v{OLD}" and _ready(nodes["node4"])
        assert not nodes["node4"]["spec"].get("unschedulable")
        # node4, in the batch after node3, was not touched at all
        assert hosts.get("node4", {}).get("changed", 0) == 0, changed_results(failed)

        _unbreak()
        resumed = day2("upgrade", at_old, cluster.state, "--to", NEW, "--batch-size", "1")
        assert resumed.rc == 0, resumed.explain()
        wait_for(lambda: _all_at(NEW), 300, f"every node Ready and schedulable on v{NEW}")
        # the nodes upgraded before report no change: not drained again
        changed = resumed.changed()
        assert changed["node2"] == 0, changed_results(resumed)
        assert {h for h, _, _ in changed_results(resumed)} <= {"node1", "node3", "node4"}
        assert resumed.summary["inventory_pin"], resumed.explain()  # the copy pins 1.31.7

        third = day2("upgrade", at_old, cluster.state, "--to", NEW, "--batch-size", "1")
        assert third.rc == 0, third.explain()
        assert sum(third.changed().values()) == 0, changed_results(third)

        # `cluster` with the real inventory (pinned to 1.32.3) finds nothing to change
        converged = run_cluster(sandbox.inventory, cluster.state)
        assert converged.rc == 0, converged.explain()
        assert sum(converged.changed().values()) == 0, changed_results(converged)
    finally:
        _unbreak()


def test_a_downgrade_is_refused_by_the_first_play_with_nothing_changed(sandbox, cluster):
    if _server_version() != f"v{NEW}":
        pytest.fail(f"the cluster should be at v{NEW} after the roll-out test")
    refused = day2("upgrade", sandbox.inventory, cluster.state, "--to", OLD)
    assert refused.rc == 1, refused.explain()
    message = refused.summary["hosts"]["node1"]["failure"]["message"]
    assert "v1.31.7 is older than the cluster's v1.32.3" in message
    assert "no host has been changed" in message
    assert sum(refused.changed().values()) == 0, changed_results(refused)
    assert _all_at(NEW)


def test_cluster_refuses_a_pin_older_than_the_running_cluster(sandbox, cluster, tmp_path):
    old = _pinned_copy(sandbox.inventory, tmp_path, OLD)
    refused = run_cluster(old, cluster.state)
    assert refused.rc == 1, refused.explain()
    assert sum(refused.changed().values()) == 0, changed_results(refused)
    text = json.dumps(refused.summary)
    assert "the running cluster is at v1.32.3, newer than dlrs_kubernetes_version 1.31.7" in text
    assert _all_at(NEW)
