"""The Kubernetes and Kubeflow phases of the session's `dlrs-provision cluster` run (conftest's
`cluster`) on the 3-node sandbox, against the kubeadm/kubelet/kubectl stand-ins
(tests/standins/k8s/): every result here rests on them, not on a real Kubernetes.

What the sandbox's inventory gives these phases (tests/harness/dlrs_harness/sandbox/files.py): the
stand-in packages as a signed apt repo on the mirror (node2, the Clear-Linux-like host, gets them
through the swupd stand-in's cloud-native-basic bundle), and two STAND-IN manifests pinned by sha256
over file:// URLs: a pod network (a Namespace and a ConfigMap) and the training operator (the real
TFJob CRD of v1.9.0 with a Deployment that nothing runs).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from e2e_support import CLI, NODES

from dlrs_provision import kubeadm_api, paths, runner
from dlrs_provision.facts import cached_facts_file, load_facts

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOK = ROOT / "playbooks" / "kubernetes.yml"
WORKERS = ("node2", "node3", "node4")
PREFIX = "dlrs.intel.com/"
INIT = "Initialise the control plane (only a master without admin.conf)"
# kubeadm bootstrap tokens: [a-z0-9]{6}.[a-z0-9]{16}
TOKEN = re.compile(r"\b[a-z0-9]{6}\.[a-z0-9]{16}\b")


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


def cached_facts(state: Path, host: str) -> tuple[Path, dict]:
    """The host's fact-cache file and its facts, read the way dlrs-provision reads them."""
    path = cached_facts_file(state / "facts", host)
    assert path is not None, f"no cached facts of {host} in {state / 'facts'}"
    return path, load_facts(path)


def recap(stdout: str) -> dict[str, dict[str, int]]:
    out = {}
    for m in re.finditer(r"^(\S+)\s+:\s+(.*)$", stdout.split("PLAY RECAP", 1)[-1], re.M):
        out[m.group(1)] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(2))}
    return out


def test_master_initialised_once_and_admin_conf_fetched_private(cluster):
    admin = cluster.state / "admin.conf"
    assert admin.exists() and (admin.stat().st_mode & 0o777) == 0o600
    notes = [x.get("message", "") for x in cluster.first.lines if x["kind"] == "result"]
    assert f"admin.conf of the cluster: {admin}" in notes
    assert [x["status"] for x in cluster.first.results(INIT)] == ["changed"]
    assert [x["status"] for x in cluster.second.results(INIT)] == ["skipped"]
    # the same cluster CA after the second run: kubeadm init did not run again
    assert cluster.ca_sha256[0] == cluster.ca_sha256[1]


def test_kubeadm_configs_use_the_api_the_installed_kubeadm_serves(cluster, sandbox):
    for node, path in (
        ("node1", "/etc/kubernetes/kubeadm/init.yaml"),
        ("node3", "/etc/kubernetes/kubeadm/join.yaml"),
    ):
        container = sandbox.node(node).container
        installed = sh(container, "kubeadm version -o short").stdout.strip()
        want = sandbox.kubernetes_version
        assert installed.lstrip("v").startswith(want)
        text = sh(container, f"cat {path}").stdout
        api = kubeadm_api.api_version(installed)
        assert f"apiVersion: {api}" in text
        assert "kubeadm.k8s.io/v1beta" + ("3" if api.endswith("4") else "4") not in text


def test_join_token_never_reaches_the_output(cluster):
    for run in (cluster.first, cluster.second):
        assert not TOKEN.search(json.dumps(run.lines) + run.stderr)


def test_all_nodes_ready_with_their_tuning_labels(cluster, sandbox):
    nodes = {n["metadata"]["name"]: n for n in kubectl_json(sandbox, "get", "nodes")["items"]}
    assert set(nodes) == set(NODES)
    for name, node in nodes.items():
        ready = [c for c in node["status"]["conditions"] if c["type"] == "Ready"]
        assert ready and ready[0]["status"] == "True", (name, ready)
        _, facts = cached_facts(cluster.state, name)
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
        facts, _ = cached_facts(cluster.state, name)
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
        cluster.state,
        "--limit",
        "node1,node3",
        "-e",
        "kubeadm_worker_ca_cert_hash=sha256:" + "0" * 64,
    )
    assert wrong.returncode != 0
    assert "kubeadm join failed on node3" in wrong.stdout
    assert "none of the public keys" in wrong.stdout and "are pinned" in wrong.stdout
    assert "kubeadm reset -f" in wrong.stdout
    # the token made for the join never reaches the output, failed or not
    assert not TOKEN.search(wrong.stdout + wrong.stderr)
    again = play(sandbox, cluster.state)
    assert again.returncode == 0, again.stdout[-4000:]
    names = {n["metadata"]["name"] for n in kubectl_json(sandbox, "get", "nodes")["items"]}
    assert "node3" in names


def test_kubeflow_phase_leaves_the_tfjob_crd_established_and_the_operator(cluster, sandbox):
    crd = kubectl_json(sandbox, "get", "crd", "tfjobs.kubeflow.org")
    established = [c for c in crd["status"]["conditions"] if c["type"] == "Established"]
    assert established and established[0]["status"] == "True", crd["status"]
    # the stand-in manifest's own CRD: the real one of v1.9.0, with the stand-in's label
    assert crd["metadata"]["labels"]["stand-in.dlrs-provision.io/manifest"] == "true"
    deployment = kubectl_json(sandbox, "get", "deployment", "training-operator", "-n", "kubeflow")
    assert deployment["metadata"]["name"] == "training-operator"
