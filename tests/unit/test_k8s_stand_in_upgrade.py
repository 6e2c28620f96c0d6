"""The day-2 parts of the Kubernetes stand-ins (issue #15): `kubeadm upgrade plan|apply|node`
with kubeadm's version skew policy, the kubelet reporting its own version, and `kubectl
cordon|uncordon|drain` with drain's pod filters and the scheduler's NodeUnschedulable filter.

Each "host" is a temporary root, as in test_k8s_stand_ins.py; the version a tool plays is set
per call with K8S_STAND_IN_VERSION, as an installed package of that version would play it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from test_k8s_stand_ins import (
    PYTHON,
    SCRIPTS,
    Cluster,
    FakeRegistry,
    Host,
    free_port,
    imagepull,
    init_config,
    joined,
)

OLD, NEW = "1.31.7", "1.32.3"


def run(
    host: Host, ver: str, tool: str, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """A tool of the stand-in package of version `ver` on `host`."""
    env = {
        **os.environ,
        "K8S_STAND_IN_ROOT": str(host.root),
        "K8S_STAND_IN_NO_SYSTEMD": "1",
        "K8S_STAND_IN_VERSION": ver,
    }
    env.pop("KUBECONFIG", None)
    return subprocess.run(
        [PYTHON, str(SCRIPTS[tool]), *args],
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def kubelet_once(host: Host, ver: str) -> None:
    flags = host.file("/var/lib/kubelet/kubeadm-flags.env").read_text()
    extra = re.search(r'KUBELET_KUBEADM_ARGS="(.*)"', flags).group(1).split()  # type: ignore[union-attr]
    proc = run(
        host,
        ver,
        "kubelet",
        "--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf",
        "--kubeconfig=/etc/kubernetes/kubelet.conf",
        "--config=/var/lib/kubelet/config.yaml",
        *extra,
        "--node-ip=127.0.0.1",
        "--runonce",
    )
    assert proc.returncode == 0, proc.stderr


class OldCluster:
    """A master and a worker made by the 1.31.7 packages, both kubelets reported once."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.port = free_port()
        self.master = Host(base, "master")
        self.worker = Host(base, "worker")
        self.registry = FakeRegistry()
        for ver in (OLD, NEW):
            for image in imagepull.required_images(
                {"imageRepository": "r", "etcd": {"local": {}}}, "v" + ver
            ):
                self.registry.add(image)
        self.registry.trust_from(self.master.root)
        config = init_config(self.port, repository=self.registry.host)
        self.master.file("/kubeadm.yaml").write_text(config.replace("v1.32.3", "v" + OLD))
        init = run(self.master, OLD, "kubeadm", "init", "--config", "/kubeadm.yaml")
        assert init.returncode == 0, init.stdout + init.stderr
        self.admin = str(self.master.file("/etc/kubernetes/admin.conf"))
        printed = init.stdout.rsplit("kubeadm join ", 1)[1].replace("\\\n", " ")
        join = run(self.worker, OLD, "kubeadm", "join", *printed.split(), "--node-name", "worker")
        assert join.returncode == 0, join.stdout + join.stderr
        # before any kubelet reported, the master's Ready condition is Unknown
        self.plan_before_ready = run(self.master, NEW, "kubeadm", "upgrade", "plan")
        for host in (self.master, self.worker):
            kubelet_once(host, OLD)

    def kubectl(self, *args: str) -> subprocess.CompletedProcess[str]:
        return run(self.master, NEW, "kubectl", "--kubeconfig", self.admin, *args)

    def kubeadm(self, ver: str, *args: str, stdin: str | None = None):
        return run(self.master, ver, "kubeadm", *args, stdin=stdin)

    def image_tag(self, component: str) -> str:
        manifest = self.master.file(f"/etc/kubernetes/manifests/{component}.yaml")
        pod = yaml.safe_load(manifest.read_text())
        return pod["spec"]["containers"][0]["image"].rsplit(":", 1)[1]

    def close(self) -> None:
        run(self.master, NEW, "kubeadm", "reset", "-f")
        for h in (self.master, self.worker):
            h.close()
        self.registry.close()


@pytest.fixture(scope="module")
def old() -> Iterator[OldCluster]:
    base = Path(tempfile.mkdtemp(prefix="k8s-", dir="/tmp"))
    c = OldCluster(base)
    try:
        yield c
    finally:
        c.close()
        shutil.rmtree(base, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# kubeadm upgrade: the refusals (nothing changes)


def test_plan_refuses_a_cluster_whose_control_plane_is_not_ready(old: OldCluster) -> None:
    proc = old.plan_before_ready
    assert proc.returncode == 1
    assert (
        "error execution phase preflight: [preflight] Some fatal errors occurred:\n"
        "\t[ERROR ControlPlaneNodesReady]: there are NotReady control-planes in the cluster: "
        "[master]\n" in proc.stderr
    )
    assert "You can now apply the upgrade" not in proc.stdout


def test_apply_with_force_lets_the_skippable_findings_through(old: OldCluster) -> None:
    """A newer patch than kubeadm is --force-able; the refusal of a missing image still stops
    the upgrade before anything changes (the registry has no v1.31.9 images)."""
    proc = old.kubeadm(OLD, "upgrade", "apply", "v1.31.9", "--force")
    assert proc.returncode == 1
    assert (
        "[upgrade/version] Found 1 potential version compatibility errors but skipping since the "
        '--force flag is set: \n\n\t- Specified version to upgrade to "v1.31.9" is higher than '
        'the kubeadm version "v1.31.7"' in proc.stdout
    )
    assert "Are you sure" not in proc.stdout
    assert (
        "[preflight] Some fatal errors occurred:\n\t[ERROR ImagePull]: failed to pull image "
        in (proc.stderr)
    )
    assert "error execution phase" not in proc.stderr  # 1.31 has no phases in upgrade apply
    assert "kube-apiserver:v1.31.9" in proc.stderr
    assert old.image_tag("kube-apiserver") == "v" + OLD


def test_plan_offers_the_next_minor_in_kubeadms_lines(old: OldCluster) -> None:
    proc = old.kubeadm(NEW, "upgrade", "plan")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert "[upgrade/versions] Cluster version: 1.31.7" in lines
    assert "[upgrade/versions] kubeadm version: v1.32.3" in lines
    assert "[upgrade/versions] Target version: v1.32.3" in lines
    assert "You can now apply the upgrade by executing the following command:" in lines
    assert "\tkubeadm upgrade apply v1.32.3" in lines
    assert re.search(r"^kubelet\s+worker\s+v1\.31\.7\s+v1\.32\.3$", proc.stdout, re.M)
    assert re.search(r"^kube-apiserver\s+master\s+v1\.31\.7\s+v1\.32\.3$", proc.stdout, re.M)
    assert re.search(r"^etcd\s+master\s+3\.5\.15-0\s+3\.5\.16-0$", proc.stdout, re.M)
    assert "Note: Before you can perform this upgrade" not in proc.stdout


def test_plan_and_apply_refuse_skipping_a_minor(old: OldCluster) -> None:
    for sub in (["plan", "v1.33.0"], ["apply", "v1.33.0", "-y", "--force"]):
        proc = old.kubeadm(NEW, "upgrade", *sub)
        assert proc.returncode == 1, proc.stdout
        assert "the version argument is invalid due to these fatal errors:" in proc.stderr
        assert (
            '\t- Specified version to upgrade to "v1.33.0" is too high; kubeadm can upgrade only '
            "1 minor version at a time\n" in proc.stderr
        )
        assert (
            '"v1.33.0" is at least one minor release higher than the kubeadm minor release '
            "(33 > 32). Such an upgrade is not supported" in proc.stderr
        )
        assert "Please fix the misalignments highlighted above" in proc.stderr
        assert "--force" not in proc.stderr.split("fatal errors:")[1]
    assert old.image_tag("kube-apiserver") == "v" + OLD


def test_apply_refuses_a_target_of_a_newer_minor_than_kubeadm(old: OldCluster) -> None:
    proc = old.kubeadm(OLD, "upgrade", "apply", "v1.32.3", "--yes")
    assert proc.returncode == 1
    # kubeadm 1.31 (no phases yet) wraps the policy errors in [upgrade/version] FATAL
    assert (
        "[upgrade/version] FATAL: the --version argument is invalid due to these fatal errors:"
        in proc.stderr
    )
    assert "(32 > 31). Such an upgrade is not supported" in proc.stderr
    assert '[upgrade/version] You have chosen to change the cluster version to "v1.32.3"' in (
        proc.stdout
    )


def test_apply_of_a_patch_newer_than_kubeadm_needs_force(old: OldCluster) -> None:
    proc = old.kubeadm("1.32.2", "upgrade", "apply", "v1.32.3", "-y")
    assert proc.returncode == 1
    assert (
        "error execution phase preflight: the version argument is invalid due to these errors:"
        '\n\n\t- Specified version to upgrade to "v1.32.3" is higher than the kubeadm version '
        '"v1.32.2". Upgrade kubeadm first using the tool you used to install kubeadm\n\n'
        "Can be bypassed if you pass the --force flag" in proc.stderr
    )
    assert old.image_tag("kube-apiserver") == "v" + OLD


def test_apply_of_an_older_minor_than_kubeadm_is_refused_without_force(old: OldCluster) -> None:
    proc = old.kubeadm(NEW, "upgrade", "apply", "v" + OLD, "-y")
    assert proc.returncode == 1
    assert "Kubeadm version v1.32.3 can only be used to upgrade to Kubernetes version 1.32" in (
        proc.stderr
    )
    assert "Can be bypassed if you pass the --force flag" in proc.stderr


def test_apply_asks_for_confirmation_and_stops_on_no(old: OldCluster) -> None:
    proc = old.kubeadm(NEW, "upgrade", "apply", "v1.32.3", stdin="n\n")
    assert proc.returncode == 1
    assert "[upgrade] Are you sure you want to proceed? [y/N]: " in proc.stdout
    assert "won't proceed; the user didn't answer (Y|y) in order to continue" in proc.stderr
    assert old.image_tag("kube-apiserver") == "v" + OLD


def test_apply_refuses_kubelets_too_old_for_the_target_unless_forced(old: OldCluster) -> None:
    kubelet_once(old.worker, "1.28.15")
    try:
        table = old.kubectl("get", "nodes").stdout
        assert re.search(r"^worker\s+Ready\s+<none>\s+\S+\s+v1\.28\.15$", table, re.M), table
        proc = old.kubeadm(NEW, "upgrade", "apply", "v1.32.3", "-y")
        assert proc.returncode == 1
        assert (
            "\t- There are kubelets in this cluster that are too old that have these versions "
            "[v1.28.15]\n" in proc.stderr
        )
        assert "Can be bypassed if you pass the --force flag" in proc.stderr
        assert old.image_tag("kube-apiserver") == "v" + OLD
    finally:
        kubelet_once(old.worker, OLD)


def test_upgrade_node_refuses_a_kubeadm_older_than_the_cluster_after_apply(
    old: OldCluster,
) -> None:
    """The good path, in order: apply on the master, the kubelets, `upgrade node` on the worker."""
    kubelet_once(old.master, OLD)  # Ready within the API stand-in's grace period
    before = old.master.file("/var/lib/kubelet/config.yaml").read_text()
    proc = old.kubeadm(NEW, "upgrade", "apply", "v1.32.3", "--yes")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert '[upgrade] SUCCESS! A control plane node of your cluster was upgraded to "v1.32.3".' in (
        lines
    )
    assert "[upgrade/versions] Cluster version: v1.31.7" in lines
    for component in ("kube-apiserver", "kube-controller-manager", "kube-scheduler"):
        assert old.image_tag(component) == "v1.32.3"
    assert old.image_tag("etcd") == "3.5.16-0"
    backups = list(old.master.file("/etc/kubernetes/tmp").glob("kubeadm-backup-manifests-*"))
    assert len(backups) == 1
    backed_up = yaml.safe_load((backups[0] / "kube-apiserver.yaml").read_text())
    assert backed_up["spec"]["containers"][0]["image"].endswith(":v1.31.7")
    # the API server now says it is 1.32.3; the stored ClusterConfiguration too
    server = json.loads(old.kubectl("version", "-o", "json").stdout)["serverVersion"]
    assert server["gitVersion"] == "v1.32.3"
    cm = json.loads(
        old.kubectl("get", "configmap", "-n", "kube-system", "kubeadm-config", "-o", "json").stdout
    )
    stored = yaml.safe_load(cm["data"]["ClusterConfiguration"])
    assert stored["kubernetesVersion"] == "v1.32.3"
    assert stored["apiVersion"] == "kubeadm.k8s.io/v1beta4"
    assert yaml.safe_load(old.master.file("/var/lib/kubelet/config.yaml").read_text()) == (
        yaml.safe_load(before)
    )
    # applying the running version again is allowed and changes no manifest
    again = old.kubeadm(NEW, "upgrade", "apply", "v1.32.3", "-y")
    assert again.returncode == 0, again.stderr
    assert "Current and new manifests of kube-apiserver are equal, skipping upgrade" in again.stdout

    # kubelets report their own package's version
    table = old.kubectl("get", "nodes").stdout
    assert re.search(r"^master\s+Ready\s+control-plane\s+\S+\s+v1\.31\.7$", table, re.M), table
    kubelet_once(old.master, NEW)
    table = old.kubectl("get", "nodes").stdout
    assert re.search(r"^master\s+Ready\s+control-plane\s+\S+\s+v1\.32\.3$", table, re.M), table
    assert re.search(r"^worker\s+Ready\s+<none>\s+\S+\s+v1\.31\.7$", table, re.M), table

    # the worker: a 1.31 kubeadm is refused, the 1.32 one writes the cluster's kubelet config
    refused = run(old.worker, OLD, "kubeadm", "upgrade", "node")
    assert refused.returncode == 1
    assert "older than the cluster (v1.32.3)" in refused.stderr
    old.worker.file("/var/lib/kubelet/config.yaml").write_text("kind: KubeletConfiguration\n")
    node = run(old.worker, NEW, "kubeadm", "upgrade", "node")
    assert node.returncode == 0, node.stdout + node.stderr
    assert "[upgrade] The configuration for this node was successfully updated!" in node.stdout
    assert (
        '[kubelet-start] Writing kubelet configuration to file "/var/lib/kubelet/config.yaml"'
        in (node.stdout)
    )
    written = yaml.safe_load(old.worker.file("/var/lib/kubelet/config.yaml").read_text())
    assert written["cpuManagerPolicy"] == "static"
    assert written["reservedSystemCPUs"] == "0"
    backup = next(old.worker.file("/etc/kubernetes/tmp").glob("kubeadm-kubelet-config*"))
    assert (backup / "config.yaml").read_text() == "kind: KubeletConfiguration\n"
    kubelet_once(old.worker, NEW)
    table = old.kubectl("get", "nodes").stdout
    assert re.search(r"^worker\s+Ready\s+<none>\s+\S+\s+v1\.32\.3$", table, re.M), table

    plan = old.kubeadm(NEW, "upgrade", "plan")
    assert plan.returncode == 0
    assert "Awesome, you're up-to-date! Enjoy!" in plan.stdout
    assert "kubeadm upgrade apply" not in plan.stdout


# --------------------------------------------------------------------------------------------
# kubectl cordon, uncordon, drain


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    base = Path(tempfile.mkdtemp(prefix="k8s-", dir="/tmp"))
    c = Cluster(base)
    try:
        for name in ("w1", "w2"):
            host = joined(c, name)
            assert host.kubelet().returncode == 0
        assert c.master.kubelet().returncode == 0
        yield c
    finally:
        c.close()
        shutil.rmtree(base, ignore_errors=True)


def _apply(cluster: Cluster, doc: dict) -> None:
    proc = cluster.kubectl("apply", "-f", "-", stdin=json.dumps(doc))
    assert proc.returncode == 0, proc.stderr


def _pods(cluster: Cluster) -> dict[str, dict]:
    listed = json.loads(cluster.kubectl("get", "pods", "-A", "-o", "json").stdout)
    return {p["metadata"]["name"]: p for p in listed["items"]}


def _report(cluster: Cluster, node: str) -> None:
    """The node's kubelet posts its status once: Ready for the API stand-in's grace period
    (40 s), so that its pods' evictions finish at once (on a Node that is not Ready they wait
    for a kubelet, as in a real cluster)."""
    host = next(h for h in cluster.hosts if h.name == node)
    assert host.kubelet().returncode == 0


def _pod(name: str, node: str = "", **spec: object) -> dict:
    pod: dict = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"containers": [{"name": "c", "image": "busybox"}], **spec},
    }
    if node:
        pod["spec"]["nodeName"] = node
    return pod


def test_drain_refuses_pods_kubectl_refuses_then_evicts_with_the_flags(cluster: Cluster) -> None:
    _apply(
        cluster,
        {
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": {"name": "agent", "namespace": "kube-system"},
            "spec": {
                "selector": {"matchLabels": {"app": "agent"}},
                "template": {
                    "metadata": {"labels": {"app": "agent"}},
                    "spec": {"containers": [{"name": "a", "image": "busybox"}]},
                },
            },
        },
    )
    _apply(
        cluster,
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "c", "image": "busybox"}]},
                },
            },
        },
    )
    rs = json.loads(cluster.kubectl("get", "replicaset", "web", "-o", "json").stdout)
    owned = _pod("cache", "w1", volumes=[{"name": "tmp", "emptyDir": {}}])
    owned["metadata"]["ownerReferences"] = [
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "name": "web",
            "uid": rs["metadata"]["uid"],
            "controller": True,
        }
    ]
    _apply(cluster, owned)
    _apply(cluster, _pod("bare", "w1"))
    ds_pod = next(
        n
        for n, p in _pods(cluster).items()
        if n.startswith("agent-") and p["spec"]["nodeName"] == "w1"
    )
    _report(cluster, "w1")

    proc = cluster.kubectl("drain", "w1")
    assert proc.returncode == 1
    assert proc.stdout == "node/w1 cordoned\n"
    assert 'error: unable to drain node "w1" due to error: [' in proc.stderr
    for line in (
        f"cannot delete DaemonSet-managed Pods (use --ignore-daemonsets to ignore): "
        f"kube-system/{ds_pod}",
        "cannot delete Pods with local storage (use --delete-emptydir-data to override): "
        "default/cache",
        "cannot delete Pods that declare no controller (use --force to override): default/bare",
    ):
        assert f"\n{line}\n" in proc.stderr or proc.stderr.endswith(f"\n{line}\n"), proc.stderr
    assert "There are pending nodes to be drained:\n w1\n" in proc.stderr
    assert {"bare", "cache", ds_pod} <= set(_pods(cluster))
    table = cluster.kubectl("get", "nodes").stdout
    assert re.search(r"^w1\s+Ready,SchedulingDisabled\s", table, re.M), table

    proc = cluster.kubectl("drain", "w1", "--ignore-daemonsets")
    assert proc.returncode == 1
    assert proc.stdout == "node/w1 already cordoned\n"
    assert "DaemonSet-managed" not in proc.stderr

    proc = cluster.kubectl(
        "drain", "w1", "--ignore-daemonsets", "--delete-emptydir-data", "--force", "--timeout=30s"
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.splitlines()
    assert out[0] == "node/w1 already cordoned"
    assert set(out[1:3]) == {"evicting pod default/bare", "evicting pod default/cache"}
    assert set(out[3:5]) == {"pod/bare evicted", "pod/cache evicted"}
    assert out[5:] == ["node/w1 drained"]
    # the local-storage warning is dropped by the later filter, as in kubectl
    assert proc.stderr.count("Warning: ") == 1
    assert f"ignoring DaemonSet-managed Pods: kube-system/{ds_pod}" in proc.stderr
    assert "deleting Pods that declare no controller: default/bare" in proc.stderr
    assert "deleting Pods with local storage" not in proc.stderr
    left = _pods(cluster)
    assert "bare" not in left and "cache" not in left
    assert ds_pod in left
    assert cluster.kubectl("uncordon", "w1").stdout == "node/w1 uncordoned\n"


def test_an_unschedulable_node_gets_no_pods_until_uncordoned(cluster: Cluster) -> None:
    proc = cluster.kubectl("cordon", "w2")
    assert (proc.returncode, proc.stdout) == (0, "node/w2 cordoned\n")
    again = cluster.kubectl("cordon", "node/w2")
    assert again.stdout == "node/w2 already cordoned\n"
    _apply(cluster, _pod("pinned", nodeSelector={"kubernetes.io/hostname": "w2"}))
    pod = _pods(cluster)["pinned"]
    assert not pod["spec"].get("nodeName")
    scheduled = next(c for c in pod["status"]["conditions"] if c["type"] == "PodScheduled")
    assert scheduled["status"] == "False"
    assert "1 node(s) were unschedulable" in scheduled["message"]
    proc = cluster.kubectl("uncordon", "w2")
    assert (proc.returncode, proc.stdout) == (0, "node/w2 uncordoned\n")
    deadline = time.time() + 10
    while not _pods(cluster)["pinned"]["spec"].get("nodeName") and time.time() < deadline:
        time.sleep(0.5)
    assert _pods(cluster)["pinned"]["spec"]["nodeName"] == "w2"
    node = json.loads(cluster.kubectl("get", "node", "w2", "-o", "json").stdout)
    assert "unschedulable" not in node["spec"]
    assert cluster.kubectl("uncordon", "w2").stdout == "node/w2 already uncordoned\n"


def test_cordon_of_a_missing_node_is_not_found(cluster: Cluster) -> None:
    proc = cluster.kubectl("cordon", "nope")
    assert proc.returncode == 1
    assert 'Error from server (NotFound): nodes "nope" not found' in proc.stderr


def test_drain_refuses_a_bad_timeout_and_a_missing_node_name(cluster: Cluster) -> None:
    proc = cluster.kubectl("drain", "w2", "--timeout=soon")
    assert proc.returncode == 1
    assert 'invalid argument "soon" for "--timeout" flag' in proc.stderr
    proc = cluster.kubectl("drain")
    assert proc.returncode == 1
    assert proc.stderr.startswith("error: USAGE: drain NODE [flags]\n"), proc.stderr
    node = json.loads(cluster.kubectl("get", "node", "w2", "-o", "json").stdout)
    assert "unschedulable" not in node["spec"]


# --------------------------------------------------------------------------------------------
# the policy and the stored configuration, in-process


def _state(cluster_version: str, kubelets: dict[str, str]):
    from k8s_stand_in import upgrade

    nodes = [
        {"metadata": {"name": n}, "status": {"nodeInfo": {"kubeletVersion": v}}}
        for n, v in kubelets.items()
    ]
    return upgrade, upgrade.ClusterState(None, {}, None, cluster_version, nodes)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("target", "experimental", "rc", "mandatory", "skippable"),
    [
        ("v1.32.0-rc.1", False, False, 0, 1),  # unstable, not allowed
        ("v1.32.0-rc.1", False, True, 0, 0),  # an rc with --allow-release-candidate-upgrades
        ("v1.32.0-alpha.2", False, True, 0, 1),  # not an rc: the rc flag does not cover it
        ("v1.33.0-alpha.1", True, False, 0, 2),  # too high and newer than kubeadm: skippable
        ("v1.33.0", True, False, 2, 0),  # released: the same two are fatal
        ("v1.29.0", False, False, 2, 1),  # below the minimum and too low; older than kubeadm
    ],
)
def test_version_policy_sorts_findings_as_kubeadm(
    monkeypatch: pytest.MonkeyPatch,
    target: str,
    experimental: bool,
    rc: bool,
    mandatory: int,
    skippable: int,
) -> None:
    monkeypatch.setenv("K8S_STAND_IN_VERSION", "1.32.3")
    upgrade, state = _state("v1.31.7", {"w": "v1.31.7"})
    found = upgrade.enforce_version_policies(
        state, target, upgrade.Semver.parse(target), experimental, rc
    )
    assert (len(found.mandatory), len(found.skippable)) == (mandatory, skippable), found


def test_upgrade_stores_a_v1beta3_configuration_of_1_30_as_v1beta4(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("K8S_STAND_IN_VERSION", "1.31.7")
    from k8s_stand_in import upgrade

    stored = upgrade._upgraded_cluster_doc(
        {
            "apiVersion": "kubeadm.k8s.io/v1beta3",
            "kind": "ClusterConfiguration",
            "kubernetesVersion": "v1.30.11",
            "apiServer": {
                "extraArgs": {"bind-address": "127.0.0.1"},
                "timeoutForControlPlane": "4m",
            },
            "networking": {"serviceSubnet": "10.96.0.0/12", "podSubnet": "10.244.0.0/16"},
        },
        "v1.31.7",
    )
    assert stored["apiVersion"] == "kubeadm.k8s.io/v1beta4"
    assert stored["kubernetesVersion"] == "v1.31.7"
    assert stored["apiServer"]["extraArgs"] == [{"name": "bind-address", "value": "127.0.0.1"}]
    assert "timeoutForControlPlane" not in stored["apiServer"]
    assert stored["networking"]["podSubnet"] == "10.244.0.0/16"


def test_drain_of_a_node_that_is_not_ready_waits_for_a_graceful_delete_until_its_timeout(
    cluster: Cluster,
) -> None:
    # a Node whose kubelet never reported (as one that is down): its Ready condition is
    # Unknown, and a graceful eviction of its pod is only marked, as no kubelet confirms it
    _apply(cluster, {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "dead1"}})
    try:
        _apply(cluster, _pod("stuck", "dead1"))
        proc = cluster.kubectl("drain", "dead1", "--force", "--timeout=2s")
        assert proc.returncode == 1, proc.stdout + proc.stderr
        assert "evicting pod default/stuck" in proc.stdout
        assert "drain did not complete within 2s" in proc.stderr
        stuck = _pods(cluster)["stuck"]["metadata"]
        assert stuck["deletionGracePeriodSeconds"] == 30
        assert stuck["deletionTimestamp"]

        # no grace period: the pod is deleted at once, whatever its node
        proc = cluster.kubectl("drain", "dead1", "--force", "--grace-period=0", "--timeout=20s")
        assert proc.returncode == 0, proc.stderr
        assert "pod/stuck evicted" in proc.stdout and "node/dead1 drained" in proc.stdout
        assert "stuck" not in _pods(cluster)

        # a pod left on the Node goes with it (the pod GC's orphans)
        _apply(cluster, _pod("left", "dead1"))
        proc = cluster.kubectl("drain", "dead1", "--force", "--timeout=1s")
        assert proc.returncode == 1
        assert "left" in _pods(cluster)
    finally:
        cluster.kubectl("delete", "node", "dead1", "--ignore-not-found")
    assert "left" not in _pods(cluster)


def test_drain_of_a_ready_node_evicts_at_once(cluster: Cluster) -> None:
    _apply(cluster, _pod("quick", "w2"))
    _report(cluster, "w2")
    proc = cluster.kubectl("drain", "w2", "--ignore-daemonsets", "--force", "--timeout=20s")
    try:
        assert proc.returncode == 0, proc.stderr
        assert "pod/quick evicted" in proc.stdout
        assert "quick" not in _pods(cluster)
    finally:
        cluster.kubectl("uncordon", "w2")
