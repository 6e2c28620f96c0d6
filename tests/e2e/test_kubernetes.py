"""The Kubernetes phase end to end on the 3-node sandbox, against the kubeadm/kubelet/kubectl
stand-ins (tests/standins/k8s/): every result here rests on them, not on a real Kubernetes.

Test-only preparation, said so because the roles do not do it:
- node2 plays Clear Linux, whose cloud-native-basic bundle (swupd stand-in) carries no binaries:
  the stand-in debs are installed on it with apt before the roles run (its role path is the
  Clear Linux one: `swupd bundle-add cloud-native-basic`);
- apt on the nodes is pointed at the mirror's apt proxy (node_prep's job in a full run);
- no container runtime runs (the containerd role is another phase): where containerd's socket is
  missing, a listener stands in for it so that kubeadm's CRI preflight check can connect;
- a stale sandbox mirror without the stand-in apt repositories gets them copied in.
At the end every node is reset (`kubeadm reset -f`) and the packages are purged.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from dlrs_provision import paths, runner
from dlrs_provision.facts import cached_facts_file

# Not in `make test` yet (make test-heavy): work in progress, see the closing note of this
# session; the first run builds the cluster and a second run changes nothing, two checks of
# this file still fail on the test side.
pytestmark = [pytest.mark.e2e, pytest.mark.heavy]

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOK = Path(__file__).resolve().parent / "kubernetes.yml"
CLI = str(Path(sys.executable).parent / "dlrs-provision")
NODES = ("node1", "node2", "node3")
WORKERS = ("node2", "node3")
PREFIX = "dlrs.intel.com/"
CRI_SOCKET = "/run/containerd/containerd.sock"
NETWORK_MANIFEST = """\
apiVersion: v1
kind: Namespace
metadata:
  name: kube-flannel
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: kube-flannel-cfg
  namespace: kube-flannel
data:
  net-conf.json: '{"Network": "10.244.0.0/16", "Backend": {"Type": "vxlan"}}'
"""
SOURCES = (
    "Types: deb\nURIs: http://mirror:8080/k8s/core:/stable:/v1.32/deb/\nSuites: /\n"
    "Signed-By: /etc/apt/keyrings/test-k8s.asc\n"
)


def sh(container: str, script: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker", "exec", container, "sh", "-c", script],
        capture_output=True,
        text=True,
        check=check,
        timeout=600,
    )


def kubectl_json(sandbox, *args: str) -> dict:
    out = sh(
        sandbox.node("node1").container,
        "kubectl --kubeconfig /etc/kubernetes/admin.conf " + " ".join(args) + " -o json",
    )
    return json.loads(out.stdout)


def play(sandbox, state: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    os.environ[paths.STATE_ENV] = str(state)
    try:
        env = os.environ | runner.ansible_env(Path(sandbox.inventory))
    finally:
        del os.environ[paths.STATE_ENV]
    env[paths.STATE_ENV] = str(state)
    return subprocess.run(
        [
            str(Path(sys.executable).parent / "ansible-playbook"),
            "-i",
            sandbox.inventory,
            str(PLAYBOOK),
            *extra,
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=900,
    )


def recap(stdout: str) -> dict[str, dict[str, int]]:
    out = {}
    for m in re.finditer(r"^(\S+)\s+:\s+(.*)$", stdout.split("PLAY RECAP", 1)[-1], re.M):
        out[m.group(1)] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(2))}
    return out


def _prepare(sandbox) -> None:
    mirror = sandbox.mirror.container
    key = "/srv/mirror/k8s/core:/stable:/v1.32/deb/Release.key"
    if sh(mirror, f"test -f '{key}'", False).returncode:
        from dlrs_provision.sandbox import k8s_repo

        out = ROOT / ".cache" / "e2e-k8s-repo"
        k8s_repo.build_k8s_repo(ROOT, out)
        subprocess.run(["docker", "cp", f"{out}/.", f"{mirror}:/srv/mirror/k8s"], check=True)
        sh(mirror, "chmod -R a+rX /srv/mirror/k8s")
    for name in NODES:
        c = sandbox.node(name).container
        sh(
            c,
            'printf \'Acquire::http::Proxy "http://mirror:3142";\\n'
            'Acquire::http::Proxy::mirror "DIRECT";\\n\' > /etc/apt/apt.conf.d/01dlrs-e2e-proxy',
        )
        sh(
            c,
            f"test -S {CRI_SOCKET} || systemd-run --unit dlrs-e2e-cri python3 -c "
            f"\"import socket,os; os.makedirs('/run/containerd',exist_ok=True); "
            f"s=socket.socket(socket.AF_UNIX); s.bind('{CRI_SOCKET}'); s.listen(8)\n"
            f'while True: s.accept()[0].close()"',
        )
    node2 = sandbox.node("node2").container
    sh(
        node2,
        "mkdir -p /etc/apt/keyrings && curl -fsS -o /etc/apt/keyrings/test-k8s.asc "
        "'http://mirror:8080/k8s/core:/stable:/v1.32/deb/Release.key' && "
        f"printf '{SOURCES}' > /etc/apt/sources.list.d/test-k8s.sources && "
        "apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "
        "kubeadm kubelet kubectl",
    )


def _restore(sandbox) -> None:
    for name in NODES:
        c = sandbox.node(name).container
        sh(
            c,
            "kubeadm reset -f; systemctl stop kubelet; systemctl stop dlrs-e2e-cri;"
            "apt-mark unhold kubeadm kubelet kubectl; DEBIAN_FRONTEND=noninteractive "
            "apt-get purge -y -q kubeadm kubelet kubectl; rm -rf /etc/kubernetes "
            "/etc/apt/sources.list.d/kubernetes.sources /etc/apt/sources.list.d/test-k8s.sources "
            "/etc/apt/keyrings/kubernetes-apt-keyring.asc /etc/apt/keyrings/test-k8s.asc "
            "/etc/apt/apt.conf.d/01dlrs-e2e-proxy /root/test-network.yaml "
            "/run/containerd/containerd.sock.e2e; systemctl reset-failed dlrs-e2e-cri;"
            "rm -f /usr/share/clear/bundles/cloud-native-basic",
            False,
        )


@pytest.fixture(scope="module")
def cluster(sandbox, tmp_path_factory):
    state = tmp_path_factory.mktemp("k8s-state")
    pre = subprocess.run(
        [CLI, "preflight", sandbox.inventory],
        capture_output=True,
        text=True,
        env=os.environ | {paths.STATE_ENV: str(state)},
        timeout=300,
    )
    assert pre.returncode == 0, pre.stdout + pre.stderr
    try:
        _prepare(sandbox)
        sh(
            sandbox.node("node1").container,
            f"cat > /root/test-network.yaml <<'X'\n{NETWORK_MANIFEST}X",
        )
        digest = hashlib.sha256(NETWORK_MANIFEST.encode()).hexdigest()
        extra = (
            "-e",
            "dlrs_kubernetes_repo_url=http://mirror:8080/k8s",
            "-e",
            "dlrs_kubernetes_version=1.32",
            "-e",
            "dlrs_pod_network_manifest_url=file:///root/test-network.yaml",
            "-e",
            f"dlrs_pod_network_manifest_checksum={digest}",
        )
        first = play(sandbox, state, *extra)
        assert first.returncode == 0, first.stdout[-6000:] + first.stderr[-3000:]
        second = play(sandbox, state, *extra)
        (state / "first-run.log").write_text(first.stdout)  # kept for diagnosis
        (state / "second-run.log").write_text(second.stdout)
        assert second.returncode == 0, second.stdout[-6000:] + second.stderr[-3000:]
        yield {"state": state, "first": first, "second": second, "extra": extra}
    finally:
        _restore(sandbox)


def test_second_run_changes_nothing(cluster):
    counts = recap(cluster["second"].stdout)
    assert set(counts) == set(NODES)
    assert {h: c["changed"] for h, c in counts.items()} == dict.fromkeys(NODES, 0)


def test_master_initialised_once_and_admin_conf_fetched_private(cluster, sandbox):
    admin = cluster["state"] / "admin.conf"
    assert admin.exists() and (admin.stat().st_mode & 0o777) == 0o600
    assert f"admin.conf of the cluster: {admin}" in cluster["first"].stdout
    # the second run skipped init (a re-init would have failed on the existing manifests)
    assert re.search(
        r"TASK \[kubeadm_master : Initialise the control plane.*\]\s*\n"
        r"skipping: \[node1\]",
        cluster["second"].stdout,
    )


def test_all_nodes_ready_with_their_tuning_labels(cluster, sandbox):
    nodes = {n["metadata"]["name"]: n for n in kubectl_json(sandbox, "get", "nodes")["items"]}
    assert set(nodes) == set(NODES)
    for name, node in nodes.items():
        ready = [c for c in node["status"]["conditions"] if c["type"] == "Ready"]
        assert ready and ready[0]["status"] == "True", (name, ready)
        facts = json.loads(cached_facts_file(cluster["state"] / "facts", name).read_text())
        tune = facts["preflight_tuning"]
        labels = node["metadata"]["labels"]
        assert labels[PREFIX + "sockets"] == str(tune["topology"]["sockets"])
        assert labels[PREFIX + "cores"] == str(tune["topology"]["physical_cores"])
        assert labels[PREFIX + "threads-per-core"] == str(tune["topology"]["threads_per_core"])
        assert labels[PREFIX + "variant"] == tune["variant"]
        assert labels[PREFIX + "num-inter-threads"] == str(tune["num_inter_threads"])
        assert labels[PREFIX + "num-intra-threads"] == str(tune["num_intra_threads"])
        has_avx512 = any(f.startswith("avx512") for f in facts["preflight_cpu_features"])
        assert labels[PREFIX + "avx512"] == str(has_avx512).lower()


def test_workers_reserve_the_calculators_cpuset(cluster, sandbox):
    import yaml

    for name in WORKERS:
        facts = cached_facts_file(cluster["state"] / "facts", name)
        tune = json.loads(
            subprocess.run(
                [CLI, "tune", "--facts", str(facts), "--mode", "multi", "--json"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        want = tune["reserved_cpuset"]
        assert want
        c = sandbox.node(name).container
        for path in ("/etc/kubernetes/kubeadm/kubelet.yaml", "/var/lib/kubelet/config.yaml"):
            conf = yaml.safe_load(sh(c, f"cat {path}").stdout)
            assert conf["reservedSystemCPUs"] == want, (name, path)
            assert conf["cpuManagerPolicy"] == "static"
            assert conf["cgroupDriver"] == "systemd"
        node = kubectl_json(sandbox, "get", "node", name)
        note = node["metadata"]["annotations"]
        assert note["kubelet.stand-in.dlrs-provision.io/reserved-system-cpus"] == want
        assert note["kubelet.stand-in.dlrs-provision.io/cpu-manager-policy"] == "static"


def test_join_with_a_wrong_ca_hash_fails_with_the_reason_and_the_reset_hint(cluster, sandbox):
    c = sandbox.node("node3").container
    sh(c, "kubeadm reset -f")
    sh(
        sandbox.node("node1").container,
        "kubectl --kubeconfig /etc/kubernetes/admin.conf delete node node3",
    )
    wrong = play(
        sandbox,
        cluster["state"],
        *cluster["extra"],
        "--limit",
        "node1,node3",
        "-e",
        "kubeadm_worker_ca_cert_hash=sha256:" + "0" * 64,
    )
    assert wrong.returncode != 0
    assert "kubeadm join failed on node3" in wrong.stdout
    assert "none of the public keys" in wrong.stdout and "are pinned" in wrong.stdout
    assert "kubeadm reset -f" in wrong.stdout
    assert cluster["extra"][3] not in wrong.stdout  # no token leaks either way
    again = play(sandbox, cluster["state"], *cluster["extra"])
    assert again.returncode == 0, again.stdout[-4000:]
    names = {n["metadata"]["name"] for n in kubectl_json(sandbox, "get", "nodes")["items"]}
    assert "node3" in names
