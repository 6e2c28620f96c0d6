"""Day-2 on the session's converged sandbox cluster (issue 15): remove a worker, then scale it
back in while the existing nodes report no change; scale while another worker is stopped;
remove a worker that is down. Each test starts and ends with node4 joined and labelled; the
module's `restored` fixture starts any stopped container again and joins node4 back, so that
the modules after this one find the cluster as the `cluster` fixture left it.

Time: `scale` of one worker is timed and printed beside the session's first cluster build.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
from e2e_faults import changed_results, differences, node_state, wait_for
from e2e_support import CLI, NODES, ClusterRun, docker, on

from dlrs_harness import sandbox as sandbox_api
from dlrs_provision import paths

pytestmark = pytest.mark.e2e

KUBECTL = "kubectl --kubeconfig /etc/kubernetes/admin.conf"
TIMES: list[str] = []
LABEL_TASK = "Ensure each node carries its hardware and tuning labels"


def day2(
    command: str, inventory: str, state: Path, *args: str, timeout: float = 1800
) -> ClusterRun:
    """`dlrs-provision COMMAND INVENTORY --json ARGS`, read from its JSON lines."""
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


def _running(container: str) -> bool:
    out = docker("inspect", "-f", "{{.State.Running}}", container, check=False).stdout
    return out.strip() == "true"


def _bring_back(sandbox, node: str) -> None:
    """Start a stopped node's container again; `up` rewrites the inventory with the new
    published SSH port (as test_faults.py does)."""
    container = sandbox.node(node).container
    if not _running(container):
        docker("start", container)
    fresh = sandbox_api.up(nodes=len(NODES), os="mixed")
    sandbox.nodes[:] = fresh.nodes
    wait_for(
        lambda: (
            on(node, "systemctl is-system-running || true", check=False).strip()
            in ("running", "degraded")
        ),
        120,
        f"{node}'s systemd after the restart",
    )


def _joined_and_labelled(node: str) -> bool:
    found = _nodes().get(node)
    return (
        found is not None
        and _ready(found)
        and found["metadata"].get("labels", {}).get("dlrs.intel.com/node") == node
    )


def _ensure_node4_joined(sandbox, cluster, *, reset_first: bool = False) -> None:
    """Put node4 back as the cluster fixture left it: joined, Ready, labelled. reset_first:
    node4 was removed while down and kept its kubeadm state; remove-node, now that it answers,
    resets it (the way back the command tells the operator), then scale joins it."""
    if not reset_first and _joined_and_labelled("node4"):
        return
    if reset_first or "node4" in _nodes():  # a Node left by a half-done removal
        run = day2("remove-node", sandbox.inventory, cluster.state, "node4")
        assert run.rc == 0, run.explain()
    run = day2("scale", sandbox.inventory, cluster.state)
    assert run.rc == 0, run.explain()
    wait_for(lambda: _joined_and_labelled("node4"), 180, "node4 joined and labelled again")


@pytest.fixture(scope="module", autouse=True)
def restored(sandbox, cluster):
    yield
    for node in NODES:
        if not _running(sandbox.node(node).container):
            _bring_back(sandbox, node)
    _ensure_node4_joined(sandbox, cluster)
    for line in TIMES:
        print(line)


def _removed(sandbox, cluster, node: str) -> ClusterRun:
    run = day2("remove-node", sandbox.inventory, cluster.state, node, "--timeout", "2m")
    assert run.rc == 0, run.explain()
    assert node not in _nodes(), run.explain()
    return run


def test_remove_a_worker_then_scale_it_back_in_without_changing_the_others(sandbox, cluster):
    assert _joined_and_labelled("node4"), "the cluster fixture should have joined node4"
    try:
        removed = _removed(sandbox, cluster, "node4")
        hosts = removed.summary["hosts"]
        assert set(hosts) == {"node1", "node4"}, removed.explain()  # no other host was used
        assert "left_out" in removed.summary and removed.summary["left_out"] == {}
        # reset on the node: no kubeadm state, the kubelet stopped and disabled
        assert (
            on("node4", "test -e /etc/kubernetes/kubelet.conf && echo yes || echo no").strip()
            == "no"
        )
        assert on("node4", "systemctl is-active kubelet || true").strip() in ("inactive", "failed")
        assert on("node4", "systemctl is-enabled kubelet || true").strip() == "disabled"
        time.sleep(15)  # a kubelet still running would have registered the Node again by now
        assert "node4" not in _nodes()

        before = {n: node_state(n) for n in ("node1", "node2", "node3")}
        t0 = time.monotonic()
        scaled = day2("scale", sandbox.inventory, cluster.state)
        TIMES.append(
            f"scale: one worker (node4) into a 3-node cluster {time.monotonic() - t0:.0f} s"
        )
        assert scaled.rc == 0, scaled.explain()
        assert scaled.summary["added"] == ["node4"], scaled.explain()
        assert scaled.summary["left_out"] == {}
        wait_for(lambda: _joined_and_labelled("node4"), 180, "node4 joined and labelled")

        # existing nodes: only read. The workers change nothing; the master's one change is
        # the label of the new node (a kubectl call it makes, not a change of the master)
        assert scaled.changed()["node2"] == 0 and scaled.changed()["node3"] == 0, changed_results(
            scaled
        )
        on_master = {(p, t) for h, p, t in changed_results(scaled) if h == "node1"}
        assert on_master == {("Scale - label the new nodes", LABEL_TASK)}, on_master
        # no play for new workers ran on an existing node
        assert {h for h, p, _ in changed_results(scaled) if p != "Scale - label the new nodes"} == {
            "node4"
        }
        after = {n: node_state(n) for n in ("node1", "node2", "node3")}
        wrapped = {"nodes": before, "kubernetes": []}
        assert differences(wrapped, {"nodes": after, "kubernetes": []}) == []

        # the same command again: nothing to add, nothing changed anywhere
        again = day2("scale", sandbox.inventory, cluster.state)
        assert again.rc == 0, again.explain()
        assert again.summary["added"] == [], again.explain()
        assert sum(again.changed().values()) == 0, changed_results(again)
    finally:
        _ensure_node4_joined(sandbox, cluster)


def test_scale_goes_on_while_an_existing_worker_is_stopped(sandbox, cluster):
    try:
        _removed(sandbox, cluster, "node4")
        docker("stop", sandbox.node("node3").container)
        scaled = day2("scale", sandbox.inventory, cluster.state)
        assert scaled.rc == 0, scaled.explain()
        assert set(scaled.summary["left_out"]) == {"node3"}, scaled.explain()
        assert scaled.summary["added"] == ["node4"], scaled.explain()
        assert "node3" not in scaled.summary["hosts"], scaled.explain()
        assert scaled.changed()["node2"] == 0, changed_results(scaled)
        wait_for(lambda: _joined_and_labelled("node4"), 180, "node4 joined while node3 is down")
        # node3 is still a Node of the cluster (NotReady while stopped), and node4's /etc/hosts
        # names it: its address came from the cache or from its Node
        assert "node3" in _nodes()
        assert " node3" in on("node4", "cat /etc/hosts")
    finally:
        if not _running(sandbox.node("node3").container):
            _bring_back(sandbox, "node3")
        wait_for(lambda: _ready(_nodes()["node3"]), 180, "node3 Ready again")
        _ensure_node4_joined(sandbox, cluster)


def test_remove_node_of_a_stopped_worker_deletes_its_node_and_says_it_was_not_reset(
    sandbox, cluster
):
    try:
        docker("stop", sandbox.node("node4").container)
        run = day2("remove-node", sandbox.inventory, cluster.state, "node4", "--timeout", "1m")
        assert run.rc == 0, run.explain()
        assert set(run.summary["left_out"]) == {"node4"}, run.explain()
        assert set(run.summary["hosts"]) == {"node1"}, run.explain()
        assert "node4" not in _nodes()

        # no pod is left bound to the deleted Node (DaemonSet pods, which drain leaves, go
        # with it: the pod garbage collector deletes pods of a Node that no longer exists)
        def bound_to_node4() -> list[str]:
            pods = json.loads(on("node1", f"{KUBECTL} get pods -A -o json"))["items"]
            return [p["metadata"]["name"] for p in pods if p["spec"].get("nodeName") == "node4"]

        wait_for(lambda: bound_to_node4() == [], 120, "the pods of node4 gone with its Node")
    finally:
        # back up, node4's kubelet (never reset) registers its Node again: the operator's way
        # back is remove-node now that it answers (which resets it), then scale
        _bring_back(sandbox, "node4")
        _ensure_node4_joined(sandbox, cluster, reset_first=True)


def test_remove_node_refuses_the_master_before_touching_any_host(sandbox, cluster):
    proc = subprocess.run(
        [CLI, "remove-node", sandbox.inventory, "node1"],
        capture_output=True,
        text=True,
        env=os.environ | {paths.STATE_ENV: str(cluster.state)},
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    assert "node1 is the master" in proc.stderr
    assert _ready(_nodes()["node1"])
