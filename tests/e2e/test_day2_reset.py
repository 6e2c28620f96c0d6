"""`dlrs-provision reset` on the session's converged sandbox cluster (issue 15, item 4), against the
kubeadm/kubelet/kubectl stand-ins (tests/standins/k8s/): every result rests on them.

- Without a terminal and without --yes the reset is refused (exit 2) and nothing changes.
- A worker reset alone (--limit), while another selected worker is stopped: the stopped one is
  named and left out (exit 1), the reachable one loses its cluster state (kubeadm's files, the
  kubelet's folder, CNI configuration and allocations, the KUBE- iptables chains; Docker's chains
  stay) and its Node is deleted on the master, which keeps its cluster. A second reset changes
  nothing.
- Then the stopped worker is started again and `sandbox up`, given no shape, refreshes the
  inventory with its new SSH port (item 7); `cluster` builds the reset worker back into the
  cluster, and a further `cluster` run changes nothing on any node.

The module leaves the cluster as it found it: `finally` starts the stopped container and runs
`cluster` again, whatever failed before.

About 6 minutes (two `cluster` runs): it runs in `make e2e-day2`, not in `make test` (CI's budget).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from e2e_faults import wait_for
from e2e_support import CLI, NODES, docker, on, run_cluster

from dlrs_harness import sandbox as sandbox_api
from dlrs_provision import paths

pytestmark = pytest.mark.e2e

KUBECTL = "kubectl --kubeconfig /etc/kubernetes/admin.conf"
WORKER = "node3"  # Debian: kubeadm from the stand-in packages, in /usr/bin
STOPPED = "node4"
GONE = (
    "/etc/kubernetes/kubelet.conf",
    "/etc/kubernetes/pki/ca.crt",
    "/etc/kubernetes/kubeadm/join.yaml",
    "/var/lib/kubelet",
    "/etc/cni/net.d",
    "/var/lib/cni",
)
# planted before the reset: what kube-proxy, the pod network and the CNI plugins leave
PLANT = (
    "iptables -N KUBE-DLRS-E2E && iptables -A FORWARD -j KUBE-DLRS-E2E && "
    "iptables -t nat -N CNI-DLRS-E2E && iptables -t nat -A POSTROUTING -j CNI-DLRS-E2E && "
    "mkdir -p /etc/cni/net.d /var/lib/cni/networks/cbr0 && "
    "echo '{}' > /etc/cni/net.d/99-dlrs-e2e.conflist && "
    "touch /var/lib/cni/networks/cbr0/10.244.9.9"
)
DOCKER_CHAINS = "iptables-save | grep -E '^:DOCKER|-j DOCKER' | sed 's/\\[[0-9:]*\\]//' | sort"


def run_reset(inventory: str, state: Path, *args: str, timeout: float = 900):
    """`dlrs-provision reset INVENTORY --json ARGS` with no terminal on stdin."""
    proc = subprocess.run(
        [CLI, "reset", inventory, "--json", *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=os.environ | {paths.STATE_ENV: str(state)},
        timeout=timeout,
    )
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    return proc, lines


def _exists(node: str, path: str) -> bool:
    return on(node, f"test -e {path} && echo yes || echo no").strip() == "yes"


def _node_names() -> set[str]:
    items = json.loads(on("node1", f"{KUBECTL} get nodes -o json"))["items"]
    return {n["metadata"]["name"] for n in items}


def _ready(name: str) -> bool:
    out = on("node1", f"{KUBECTL} get node {name} -o json", check=False)
    if not out.strip():
        return False
    conditions = json.loads(out)["status"].get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def _running(container: str) -> bool:
    out = docker("inspect", "-f", "{{.State.Running}}", container, check=False).stdout
    return out.strip() == "true"


def _runs(state: Path) -> set[str]:
    return {p.name for p in (state / "runs").iterdir()} if (state / "runs").is_dir() else set()


def test_reset_without_a_terminal_and_without_yes_is_refused(sandbox, cluster):
    before = _runs(cluster.state)
    proc, _ = run_reset(sandbox.inventory, cluster.state, "--limit", WORKER)
    assert proc.returncode == 2, proc.stderr
    assert "no terminal to answer" in proc.stderr
    assert f"--limit {WORKER} --yes" in proc.stderr
    assert _exists(WORKER, "/etc/kubernetes/kubelet.conf")
    assert WORKER in _node_names()
    assert _runs(cluster.state) == before  # no playbook ran


def test_a_worker_reset_alone_then_cluster_brings_it_back(sandbox, cluster):
    assert _exists(WORKER, "/etc/kubernetes/kubelet.conf") and WORKER in _node_names()
    on(WORKER, PLANT)
    docker_chains = on(WORKER, DOCKER_CHAINS)
    stopped = sandbox.node(STOPPED).container
    docker("stop", stopped)
    try:
        proc, lines = run_reset(
            sandbox.inventory, cluster.state, "--yes", "--limit", f"{WORKER},{STOPPED}"
        )
        summary = lines[-1]
        assert summary["kind"] == "summary", proc.stdout[-3000:] + proc.stderr[-3000:]
        # the stopped worker is named and left out; the other is reset
        assert proc.returncode == 1, json.dumps(summary, indent=1)
        assert set(summary["not_reached"]) == {STOPPED}, summary
        assert set(summary["hosts"]) == {WORKER}, summary
        assert summary["hosts"][WORKER]["state"] == "changed", summary
        assert summary["resume"].endswith(f"--limit {WORKER},{STOPPED} --yes"), summary

        for path in GONE:
            assert not _exists(WORKER, path), path
        saved = on(WORKER, "iptables-save; iptables-save -t nat")
        assert "KUBE-DLRS-E2E" not in saved and "CNI-DLRS-E2E" not in saved
        assert on(WORKER, DOCKER_CHAINS) == docker_chains  # Docker's chains stay
        assert on(WORKER, "systemctl is-active kubelet || true").strip() != "active"
        # its Node is gone from the master, which keeps its cluster and the other nodes
        names = _node_names()
        assert WORKER not in names and {"node1", "node2"} <= names, names
        assert _exists("node1", "/etc/kubernetes/admin.conf")
        assert (cluster.state / "admin.conf").is_file()

        # a second reset changes nothing
        proc2, lines2 = run_reset(sandbox.inventory, cluster.state, "--yes", "--limit", WORKER)
        assert proc2.returncode == 0, proc2.stdout[-3000:] + proc2.stderr[-3000:]
        again = lines2[-1]
        assert again["hosts"][WORKER]["changed"] == 0, json.dumps(again, indent=1)
        assert again["resume"] is None
    finally:
        if not _running(stopped):
            docker("start", stopped)
        # no shape given: up adopts the running sandbox's and rewrites the inventory with the
        # port the restarted container is published on now
        fresh = sandbox_api.up()
        sandbox.nodes[:] = fresh.nodes
        wait_for(
            lambda: (
                on(STOPPED, "systemctl is-system-running || true", check=False).strip()
                in ("running", "degraded")
            ),
            120,
            f"{STOPPED}'s systemd after the restart",
        )
        back = run_cluster(sandbox.inventory, cluster.state)
    assert fresh.os == "mixed" and len(fresh.nodes) == len(NODES)
    assert f"ansible_port: {fresh.node(STOPPED).ssh_port}" in Path(sandbox.inventory).read_text()
    assert back.rc == 0, back.explain()
    assert back.changed()[WORKER] > 0, back.explain()  # built again from scratch
    wait_for(lambda: _ready(WORKER), 120, f"{WORKER} Ready after the cluster run")
    wait_for(lambda: _ready(STOPPED), 120, f"{STOPPED} Ready after its restart")
    assert _node_names() == set(NODES)
    settled = run_cluster(sandbox.inventory, cluster.state)
    assert settled.rc == 0, settled.explain()
    assert settled.changed() == dict.fromkeys(NODES, 0), settled.explain()
