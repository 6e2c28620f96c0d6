"""`dlrs-provision cluster` with default settings on an all-Clear-Linux sandbox (conftest.py):
from OS 26000 to every node Ready, and a second run that changes nothing. Every Kubernetes and
swupd result here rests on the stand-ins (tests/standins/), not on real Clear Linux or Kubernetes.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from clear_e2e import NODES, sh

from dlrs_provision import kubeadm_api

pytestmark = pytest.mark.e2e

PREFIX = "dlrs.intel.com/"
PHASES = ["Preflight", "OS", "Container runtime", "Images", "Kubernetes", "Kubeflow"]


def test_first_run_goes_through_every_phase(cluster):
    assert cluster.first.rc == 0, cluster.first.explain()
    seen: list[str] = []
    for name in cluster.first.phases:
        phase = next((p for p in PHASES if name.lower().startswith(p.lower())), None)
        assert phase, f"play {name!r} belongs to no known phase"
        if not seen or seen[-1] != phase:
            seen.append(phase)
    assert seen == PHASES, cluster.first.phases


def test_second_run_changes_nothing(cluster):
    assert cluster.second.rc == 0, cluster.second.explain()
    assert cluster.second.changed() == dict.fromkeys(NODES, 0), cluster.second.explain()


@pytest.mark.parametrize("node", NODES)
def test_os_lifted_to_the_floor_with_the_stack_bundles_and_no_autoupdate(cluster, node):
    assert cluster.first.rc == 0, cluster.first.explain()
    info = sh(node, "swupd info --allow-insecure-http")
    assert "Installed version: 26240" in info, info
    assert "VERSION_ID=26240" in sh(node, "cat /usr/lib/os-release")
    bundles = set(sh(node, "ls /usr/share/clear/bundles").split())
    assert {"os-core", "containers-basic", "cloud-native-basic"} <= bundles, bundles
    assert "disabled" in sh(node, "swupd autoupdate --allow-insecure-http", check=False).lower()


def test_registry_cache_runs_as_a_container_of_the_pinned_digest_on_the_clear_master(
    cluster, sandbox
):
    assert cluster.first.rc == 0, cluster.first.explain()
    names = sh("node1", "docker ps --format '{{.Names}} {{.Image}}'")
    line = next((x for x in names.splitlines() if "registry" in x.split()[0]), "")
    assert line, names
    container = line.split()[0]
    image = sh("node1", f"docker inspect --format '{{{{.Image}}}}' {container}").strip()
    digests = sh("node1", f"docker image inspect --format '{{{{json .RepoDigests}}}}' {image}")
    inventory = Path(sandbox.inventory).read_text(encoding="utf-8")
    pinned = inventory.split("dlrs_registry_cache_image_digest:")[1].split()[0].strip("'\"")
    assert pinned.startswith("sha256:") and pinned in digests, (pinned, digests)
    # TLS with the toolkit's CA, by the registry's name, from the worker (curl fails on a
    # certificate it cannot verify); without the cluster's account the registry answers 401
    answer = sh(
        "node2",
        "curl -sS -o /dev/null -w '%{http_code}' --cacert /etc/dlrs-provision/registry-ca.crt"
        " https://node1:5443/v2/",
    )
    assert answer == "401", answer


@pytest.mark.parametrize("node", NODES)
def test_each_node_pulled_the_stack_image_through_the_cache(cluster, node):
    assert cluster.first.rc == 0, cluster.first.explain()
    images = sh(node, "docker images --format '{{.Repository}}:{{.Tag}}'")
    assert any("stacks-dlaas" in x for x in images.splitlines()), images


@pytest.mark.parametrize("node", NODES)
def test_kubeadm_kubelet_kubectl_are_the_cluster_version_from_the_pinned_downloads(
    cluster, sandbox, node
):
    assert cluster.first.rc == 0, cluster.first.explain()
    want = sandbox.kubernetes_version
    for tool, cmd in (
        ("kubeadm", "kubeadm version -o short"),
        ("kubelet", "kubelet --version"),
        ("kubectl", "kubectl version --client -o json"),
    ):
        path = sh(node, f"command -v {tool}").strip()
        assert path == f"/usr/local/bin/{tool}", path
        out = sh(node, cmd)
        if tool == "kubectl":
            out = json.loads(out)["clientVersion"]["gitVersion"]
        assert out.strip().split()[-1].lstrip("v").startswith(want), (tool, out)
    unit = sh(node, "systemctl cat kubelet")
    assert "/usr/local/bin/kubelet" in unit, unit


def test_the_kubeadm_configs_use_the_api_the_installed_kubeadm_serves(cluster):
    assert cluster.first.rc == 0, cluster.first.explain()
    installed = sh("node1", "kubeadm version -o short").strip()
    api = kubeadm_api.api_version(installed)
    assert f"apiVersion: {api}" in sh("node1", "cat /etc/kubernetes/kubeadm/init.yaml")
    assert f"apiVersion: {api}" in sh("node2", "cat /etc/kubernetes/kubeadm/join.yaml")


def test_every_node_ready_with_its_tuning_labels(cluster):
    assert cluster.first.rc == 0, cluster.first.explain()
    got = json.loads(
        sh("node1", "kubectl --kubeconfig /etc/kubernetes/admin.conf get nodes -o json")
    )
    nodes = {n["metadata"]["name"]: n for n in got["items"]}
    assert set(nodes) == set(NODES)
    for name, node in nodes.items():
        ready = [c for c in node["status"]["conditions"] if c["type"] == "Ready"]
        assert ready and ready[0]["status"] == "True", (name, ready)
        labels = node["metadata"]["labels"]
        for key in ("sockets", "cores", "variant", "num-inter-threads", "num-intra-threads"):
            assert PREFIX + key in labels, (name, labels)
    master = nodes["node1"]["spec"].get("taints", [])
    assert any(t["key"] == "node-role.kubernetes.io/control-plane" for t in master), master
