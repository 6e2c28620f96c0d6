"""Tests of the stand-in cluster's scheduler, DaemonSet controller and training operator
(tests/standins/k8s/k8s_stand_in/scheduler.py and controllers.py).

The filters are tested as functions on plain objects, each with the message kube-scheduler
1.32 gives; then one stand-in cluster (a tainted master and two workers whose kubelets report 4
CPUs, 1 reserved) runs flannel's DaemonSet, a pod that asks for every allocatable CPU, and a
TFJob through the API endpoint stand-in, as `dlrs-provision benchmark --mode multi` would.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from dlrs_harness.sandbox.files import POD_NETWORK_STAND_IN

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "standins" / "k8s"))

from k8s_stand_in import controllers, scheduler  # noqa: E402
from test_k8s_stand_ins import Cluster, crd_path, joined  # noqa: E402

CP_TAINT = {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}


def node(
    name: str,
    cpu: str = "3",
    memory: str = "8Gi",
    pods: str = "110",
    taints: list[dict[str, Any]] | None = None,
    labels: dict[str, str] | None = None,
    ready: str = "True",
) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
        "spec": {"taints": taints or []},
        "status": {
            "allocatable": {"cpu": cpu, "memory": memory, "pods": pods},
            "conditions": [{"type": "Ready", "status": ready}],
        },
    }


def pod(
    name: str,
    cpu: str | None = None,
    memory: str | None = None,
    on: str | None = None,
    labels: dict[str, str] | None = None,
    **spec: Any,
) -> dict[str, Any]:
    requests = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v}
    out: dict[str, Any] = {
        "metadata": {"name": name, "namespace": "default", "labels": labels or {}},
        "spec": {"containers": [{"name": "c", "resources": {"requests": requests}}], **spec},
    }
    if on:
        out["spec"]["nodeName"] = on
    return out


def three_nodes() -> list[dict[str, Any]]:
    return [node("master", taints=[CP_TAINT]), node("worker-1"), node("worker-2")]


def flannel_on(names: list[str]) -> list[dict[str, Any]]:
    return [
        pod(
            f"kube-flannel-ds-{n}",
            cpu="100m",
            memory="50Mi",
            on=n,
            priorityClassName="system-node-critical",
        )
        for n in names
    ]


# --------------------------------------------------------------------------------------------
# the filters, one by one


def test_a_pod_asking_every_allocatable_cpu_stays_pending_with_the_schedulers_words() -> None:
    result = scheduler.schedule(
        pod("worker", cpu="3"), three_nodes(), flannel_on(["master", "worker-1", "worker-2"])
    )
    assert result.node is None
    assert result.message == (
        "0/3 nodes are available: 1 node(s) had untolerated taint "
        "{node-role.kubernetes.io/control-plane: }, 2 Insufficient cpu. preemption: 0/3 nodes "
        "are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims "
        "found for incoming pod."
    )


def test_the_same_pod_fits_once_it_leaves_room_for_the_daemonsets() -> None:
    result = scheduler.schedule(
        pod("worker", cpu="2900m"), three_nodes(), flannel_on(["master", "worker-1", "worker-2"])
    )
    assert result.node == "worker-1"  # equal scores: the first name


def test_taints_are_tolerated_as_core_v1_says() -> None:
    taint = {"key": "dedicated", "value": "ps", "effect": "NoSchedule"}
    assert scheduler.tolerates({"operator": "Exists"}, taint)  # empty key + Exists: all
    assert scheduler.tolerates({"key": "dedicated", "operator": "Exists"}, taint)
    assert scheduler.tolerates({"key": "dedicated", "value": "ps"}, taint)  # Equal by default
    assert not scheduler.tolerates({"key": "dedicated", "value": "worker"}, taint)
    assert not scheduler.tolerates(
        {"key": "dedicated", "operator": "Exists", "effect": "NoExecute"}, taint
    )
    nodes = [node("a", taints=[taint])]
    refused = scheduler.schedule(pod("p"), nodes, [])
    assert refused.message.startswith(
        "0/1 nodes are available: 1 node(s) had untolerated taint {dedicated: ps}. "
    )
    tolerated = pod("p", tolerations=[{"key": "dedicated", "operator": "Equal", "value": "ps"}])
    assert scheduler.schedule(tolerated, nodes, []).node == "a"
    prefer = [node("a", taints=[{"key": "x", "effect": "PreferNoSchedule"}])]
    assert scheduler.schedule(pod("p"), prefer, []).node == "a"


def test_a_node_that_is_not_ready_carries_the_lifecycle_controllers_taint() -> None:
    result = scheduler.schedule(
        pod("p"), [node("a", ready="False"), node("b", ready="Unknown")], []
    )
    assert result.message.startswith(
        "0/2 nodes are available: 1 node(s) had untolerated taint "
        "{node.kubernetes.io/not-ready: }, 1 node(s) had untolerated taint "
        "{node.kubernetes.io/unreachable: }. "
    )


@pytest.mark.parametrize(
    ("requirement", "fits"),
    [
        ({"key": "role", "operator": "In", "values": ["worker"]}, True),
        ({"key": "role", "operator": "In", "values": ["ps"]}, False),
        ({"key": "role", "operator": "NotIn", "values": ["ps"]}, True),
        ({"key": "role", "operator": "NotIn", "values": ["worker"]}, False),
        ({"key": "role", "operator": "Exists"}, True),
        ({"key": "gpu", "operator": "Exists"}, False),
        ({"key": "gpu", "operator": "DoesNotExist"}, True),
        ({"key": "cores", "operator": "Gt", "values": ["16"]}, True),
        ({"key": "cores", "operator": "Gt", "values": ["18"]}, False),
        ({"key": "cores", "operator": "Lt", "values": ["18"]}, False),
        ({"key": "role", "operator": "Gt", "values": ["1"]}, False),  # not an integer
    ],
)
def test_required_node_affinity_follows_each_operator(requirement: dict, fits: bool) -> None:
    nodes = [node("a", labels={"role": "worker", "cores": "18"})]
    affinity = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": [requirement]}]
            }
        }
    }
    result = scheduler.schedule(pod("p", affinity=affinity), nodes, [])
    if fits:
        assert result.node == "a"
    else:
        assert result.message == (
            "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector. "
            "preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling."
        )


def test_node_selector_and_affinity_terms() -> None:
    nodes = [node("a", labels={"role": "ps"}), node("b", labels={"role": "worker"})]
    assert scheduler.schedule(pod("p", nodeSelector={"role": "worker"}), nodes, []).node == "b"
    empty_term = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{}]}
        }
    }
    assert scheduler.schedule(pod("p", affinity=empty_term), nodes, []).node is None
    two_terms = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {"matchExpressions": [{"key": "role", "operator": "In", "values": ["x"]}]},
                    {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["a"]}]},
                ]
            }
        }
    }
    assert scheduler.schedule(pod("p", affinity=two_terms), nodes, []).node == "a"


def test_pod_anti_affinity_by_host_name() -> None:
    term = {
        "labelSelector": {"matchLabels": {"app": "tf"}},
        "topologyKey": "kubernetes.io/hostname",
    }
    anti = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term]}}
    nodes = [node("a"), node("b")]
    first = pod("w0", labels={"app": "tf"}, on="a", affinity=anti)
    second = pod("w1", labels={"app": "tf"}, affinity=anti)
    assert scheduler.schedule(second, nodes, [first]).node == "b"
    third = pod("w2", labels={"app": "tf"}, affinity=anti)
    result = scheduler.schedule(
        third, nodes, [first, {**second, "spec": {**second["spec"], "nodeName": "b"}}]
    )
    assert result.message.startswith(
        "0/2 nodes are available: 2 node(s) didn't match pod anti-affinity rules. "
    )
    plain = pod("other", labels={"app": "tf"})  # no rule of its own: the existing pods' rules
    result = scheduler.schedule(plain, [node("a")], [first])
    assert result.message.startswith(
        "0/1 nodes are available: 1 node(s) didn't satisfy existing pods anti-affinity rules. "
    )


@pytest.mark.parametrize(
    ("spec", "cpu", "memory"),
    [
        (
            {"containers": [{"resources": {"requests": {"cpu": "1", "memory": "1Gi"}}}] * 2},
            2000,
            2**31,
        ),
        (  # init containers: max(init) against sum(containers)
            {
                "initContainers": [{"resources": {"requests": {"cpu": "3"}}}],
                "containers": [{"resources": {"requests": {"cpu": "1", "memory": "1Gi"}}}] * 2,
            },
            3000,
            2**31,
        ),
        (  # a limit alone is the request
            {"containers": [{"resources": {"limits": {"cpu": "500m", "memory": "100Mi"}}}]},
            500,
            100 * 2**20,
        ),
        (  # a restartable init container (sidecar) adds to the sum
            {
                "initContainers": [
                    {"restartPolicy": "Always", "resources": {"requests": {"cpu": "1"}}}
                ],
                "containers": [{"resources": {"requests": {"cpu": "2"}}}],
            },
            3000,
            0,
        ),
    ],
)
def test_pod_requests_as_the_scheduler_computes_them(spec: dict, cpu: int, memory: int) -> None:
    got = scheduler.pod_requests({"spec": spec})
    assert got.get("cpu", 0) == cpu
    assert got.get("memory", 0) == memory


def test_fit_counts_pods_memory_and_bound_pods_only() -> None:
    nodes = [node("a", cpu="2", memory="1Gi", pods="2")]
    full = [pod("x", on="a"), pod("y", on="a")]
    assert scheduler.schedule(pod("p"), nodes, full).message.startswith(
        "0/1 nodes are available: 1 Too many pods. "
    )
    big = pod("p", cpu="3", memory="2Gi")
    assert scheduler.schedule(big, nodes, []).message.startswith(
        "0/1 nodes are available: 1 Insufficient cpu, 1 Insufficient memory. "
    )
    done = pod("old", cpu="2", on="a")
    done["status"] = {"phase": "Succeeded"}
    assert scheduler.schedule(pod("p", cpu="2"), nodes, [done]).node == "a"
    assert scheduler.schedule(pod("p"), [], []).message == "no nodes available to schedule pods"


def test_unschedulable_nodes_are_refused() -> None:
    cordoned = node("a")
    cordoned["spec"]["unschedulable"] = True
    assert scheduler.schedule(pod("p"), [cordoned], []).message.startswith(
        "0/1 nodes are available: 1 node(s) were unschedulable. "
    )


# --------------------------------------------------------------------------------------------
# the training operator's derivations


def tfjob(ps: int = 1, workers: int = 2, **spec: Any) -> dict[str, Any]:
    def replica(n: int) -> dict[str, Any]:
        return {
            "replicas": n,
            "template": {"spec": {"containers": [{"name": "tensorflow", "image": "tf"}]}},
        }

    return {
        "metadata": {"name": "resnet50", "namespace": "bench", "uid": "job-uid"},
        "spec": {"tfReplicaSpecs": {"PS": replica(ps), "Worker": replica(workers)}, **spec},
    }


def test_tfjob_pods_carry_tf_config_exactly_as_the_operator_writes_it() -> None:
    job = tfjob()
    specs = controllers.tfjob_defaults(job)
    worker = controllers.tfjob_pod(job, specs, "Worker", 1)
    assert worker["metadata"]["name"] == "resnet50-worker-1"
    container = worker["spec"]["containers"][0]
    assert container["ports"] == [{"name": "tfjob-port", "containerPort": 2222}]
    assert container["env"] == [
        {
            "name": "TF_CONFIG",
            "value": '{"cluster":{"ps":["resnet50-ps-0.bench.svc:2222"],"worker":['
            '"resnet50-worker-0.bench.svc:2222","resnet50-worker-1.bench.svc:2222"]},'
            '"task":{"type":"worker","index":1},"environment":"cloud"}',
        }
    ]
    assert worker["metadata"]["labels"] == {
        "training.kubeflow.org/operator-name": "tfjob-controller",
        "training.kubeflow.org/job-name": "resnet50",
        "training.kubeflow.org/replica-type": "worker",
        "training.kubeflow.org/replica-index": "1",
    }
    assert worker["spec"]["restartPolicy"] == "Never"
    chief_like = controllers.tfjob_pod(job, specs, "Worker", 0)
    assert chief_like["metadata"]["labels"]["training.kubeflow.org/job-role"] == "master"
    ps = controllers.tfjob_pod(job, specs, "PS", 0)
    assert json.loads(ps["spec"]["containers"][0]["env"][0]["value"])["task"] == {
        "type": "ps",
        "index": 0,
    }
    svc = controllers.tfjob_service(job, specs, "PS", 0)
    assert svc["metadata"]["name"] == "resnet50-ps-0"
    assert svc["spec"]["clusterIP"] == "None"
    assert svc["spec"]["ports"] == [{"name": "tfjob-port", "port": 2222, "protocol": "TCP"}]
    assert svc["spec"]["selector"]["training.kubeflow.org/replica-type"] == "ps"


def test_a_single_replica_gets_no_tf_config_and_exit_code_runs_as_never() -> None:
    job = tfjob(ps=0, workers=1)
    del job["spec"]["tfReplicaSpecs"]["PS"]
    job["spec"]["tfReplicaSpecs"]["Worker"]["restartPolicy"] = "ExitCode"
    specs = controllers.tfjob_defaults(job)
    only = controllers.tfjob_pod(job, specs, "Worker", 0)
    assert "env" not in only["spec"]["containers"][0]
    assert only["spec"]["restartPolicy"] == "Never"


def _phases(job: dict[str, Any], phases: dict[str, str]) -> list[dict[str, Any]]:
    specs = controllers.tfjob_defaults(job)
    out = []
    for name, phase in phases.items():
        rtype, index = name.split("-")
        p = controllers.tfjob_pod(job, specs, rtype, int(index))
        p["status"] = {"phase": phase}
        out.append(p)
    return out


def test_tfjob_conditions_follow_the_pods_phases() -> None:
    job = tfjob()
    job["status"] = {}
    controllers.set_condition(
        job["status"], "Created", "True", "TFJobCreated", "TFJob resnet50 is created."
    )
    controllers.update_tfjob_status(job, _phases(job, {"PS-0": "Pending", "Worker-0": "Pending"}))
    assert [c["type"] for c in job["status"]["conditions"]] == ["Created"]
    pods = _phases(job, {"PS-0": "Running", "Worker-0": "Running", "Worker-1": "Pending"})
    controllers.update_tfjob_status(job, pods)
    running = job["status"]["conditions"][-1]
    assert (running["type"], running["status"], running["reason"], running["message"]) == (
        "Running",
        "True",
        "TFJobRunning",
        "TFJob bench/resnet50 is running.",
    )
    assert job["status"]["replicaStatuses"] == {"PS": {"active": 1}, "Worker": {"active": 1}}
    pods = _phases(job, {"PS-0": "Running", "Worker-0": "Succeeded", "Worker-1": "Running"})
    controllers.update_tfjob_status(job, pods)
    by_type = {c["type"]: c for c in job["status"]["conditions"]}
    assert by_type["Succeeded"]["message"] == "TFJob bench/resnet50 successfully completed."
    assert by_type["Running"]["status"] == "False"


def test_a_failed_replica_fails_the_job() -> None:
    job = tfjob()
    job["status"] = {}
    controllers.update_tfjob_status(job, _phases(job, {"PS-0": "Failed", "Worker-0": "Running"}))
    failed = job["status"]["conditions"][-1]
    assert (failed["type"], failed["reason"], failed["message"]) == (
        "Failed",
        "TFJobFailed",
        "TFJob bench/resnet50 has failed because 1 PS replica(s) failed.",
    )


# --------------------------------------------------------------------------------------------
# one stand-in cluster: master + 2 workers


# the sandbox's pod network manifest: flannel's namespace, net-conf and DaemonSet
# The sandbox's pod network stand-in with flannel's real requests put back (the sandbox leaves
# out its 100m cpu: see tests/harness/dlrs_harness/sandbox/files.py), as kube-flannel.yml v0.26
# has them.
SANDBOX_REQUESTS = "requests: {memory: 50Mi}  # flannel: cpu 100m (see above)"
assert SANDBOX_REQUESTS in POD_NETWORK_STAND_IN
FLANNEL = POD_NETWORK_STAND_IN.replace(SANDBOX_REQUESTS, "requests: {cpu: 100m, memory: 50Mi}")


@pytest.fixture(scope="module")
def three() -> Iterator[Cluster]:
    base = Path(tempfile.mkdtemp(prefix="k8s-", dir="/tmp"))
    # the kubelets report once: keep their nodes Ready however slow this machine is
    grace = os.environ.get("K8S_STAND_IN_NODE_GRACE_S")
    os.environ["K8S_STAND_IN_NODE_GRACE_S"] = "3600"
    try:
        c = Cluster(base)
    finally:
        if grace is None:
            os.environ.pop("K8S_STAND_IN_NODE_GRACE_S")
        else:
            os.environ["K8S_STAND_IN_NODE_GRACE_S"] = grace
    try:
        workers = [joined(c, "worker-1"), joined(c, "worker-2")]
        for host in (c.master, *workers):
            proc = host.kubelet()
            assert proc.returncode == 0, proc.stderr
        yield c
    finally:
        c.close()
        shutil.rmtree(base, ignore_errors=True)


def _get(c: Cluster, *args: str) -> Any:
    proc = c.kubectl("get", *args, "-o", "json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_daemonset_pods_land_on_every_node_and_a_full_cpu_pod_stays_pending(three: Cluster) -> None:
    three.master.file("/flannel.yaml").write_text(FLANNEL)
    assert three.kubectl("apply", "-f", "/flannel.yaml").returncode == 0
    pods = _get(three, "pods", "-n", "kube-flannel")["items"]
    assert sorted(p["spec"]["nodeName"] for p in pods) == ["master", "worker-1", "worker-2"]
    for p in pods:
        assert p["metadata"]["name"].startswith("kube-flannel-ds-")
        assert p["metadata"]["annotations"][controllers.NO_CONTAINERS]
        assert p["status"]["phase"] == "Pending"
        waiting = p["status"]["containerStatuses"][0]["state"]["waiting"]
        assert waiting["reason"] == "ContainerCreating"
    ds = _get(three, "daemonset", "kube-flannel-ds", "-n", "kube-flannel")
    assert ds["status"]["desiredNumberScheduled"] == 3
    assert ds["status"]["currentNumberScheduled"] == 3
    table = three.kubectl("get", "pods", "-n", "kube-flannel", "-o", "wide").stdout.splitlines()
    assert table[0].split() == (
        [
            "NAME",
            "READY",
            "STATUS",
            "RESTARTS",
            "AGE",
            "IP",
            "NODE",
            "NOMINATED",
            "NODE",
            "READINESS",
            "GATES",
        ]
    )
    assert sorted([*line.split()[1:4], line.split()[6]] for line in table[1:]) == [
        ["0/1", "ContainerCreating", "0", node] for node in ("master", "worker-1", "worker-2")
    ]

    nodes = {n["metadata"]["name"]: n for n in _get(three, "nodes")["items"]}
    assert nodes["worker-1"]["status"]["allocatable"]["cpu"] == "3"
    greedy = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "greedy", "namespace": "default"},
        "spec": {
            "containers": [{"name": "c", "image": "tf", "resources": {"requests": {"cpu": "3"}}}]
        },
    }
    three.master.file("/greedy.yaml").write_text(yaml.safe_dump(greedy))
    assert three.kubectl("apply", "-f", "/greedy.yaml").returncode == 0
    got = _get(three, "pod", "greedy")
    assert "nodeName" not in got["spec"]
    cond = next(c for c in got["status"]["conditions"] if c["type"] == "PodScheduled")
    assert (cond["status"], cond["reason"]) == ("False", "Unschedulable")
    assert cond["message"].startswith(
        "0/3 nodes are available: 1 node(s) had untolerated taint "
        "{node-role.kubernetes.io/control-plane: }, 2 Insufficient cpu. preemption: "
    )
    events = _get(three, "events")["items"]
    failed = [e for e in events if e["involvedObject"]["name"] == "greedy"]
    assert [e["reason"] for e in failed] == ["FailedScheduling"]
    assert failed[0]["message"] == cond["message"]
    assert three.kubectl("delete", "pod", "greedy").returncode == 0


def test_a_tfjob_becomes_bound_pods_and_headless_services(three: Cluster) -> None:
    crd = crd_path()
    assert crd is not None
    shutil.copyfile(crd, three.master.file("/crd.yaml"))
    assert three.kubectl("apply", "-f", "/crd.yaml").returncode == 0
    operator = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "training-operator", "namespace": "kube-system"},
        "spec": {
            "selector": {"matchLabels": {"app": "training-operator"}},
            "template": {
                "metadata": {"labels": {"app": "training-operator"}},
                "spec": {"containers": [{"name": "training-operator", "image": "op"}]},
            },
        },
    }
    job = {
        "apiVersion": "kubeflow.org/v1",
        "kind": "TFJob",
        "metadata": {"name": "resnet50", "namespace": "default"},
        "spec": {
            "tfReplicaSpecs": {
                rtype: {
                    "replicas": n,
                    "template": {
                        "spec": {
                            "containers": [
                                {
                                    "name": "tensorflow",
                                    "image": "tf",
                                    "resources": {"requests": {"cpu": "1"}, "limits": {"cpu": "1"}},
                                }
                            ]
                        }
                    },
                }
                for rtype, n in (("PS", 1), ("Worker", 2))
            }
        },
    }
    three.master.file("/job.yaml").write_text(yaml.safe_dump_all([job]))
    assert three.kubectl("apply", "-f", "/job.yaml").returncode == 0
    assert not _get(three, "pods", "-l", "training.kubeflow.org/job-name=resnet50")["items"]
    three.master.file("/operator.yaml").write_text(yaml.safe_dump(operator))
    assert three.kubectl("apply", "-f", "/operator.yaml").returncode == 0
    pods = _get(three, "pods", "-l", "training.kubeflow.org/job-name=resnet50")["items"]
    names = sorted(p["metadata"]["name"] for p in pods)
    assert names == ["resnet50-ps-0", "resnet50-worker-0", "resnet50-worker-1"]
    assert all(p["spec"]["nodeName"] in ("worker-1", "worker-2") for p in pods)
    svcs = _get(three, "services", "-l", "training.kubeflow.org/job-name=resnet50")["items"]
    assert sorted(s["metadata"]["name"] for s in svcs) == names
    assert {s["spec"]["clusterIP"] for s in svcs} == {"None"}
    got = _get(three, "tfjob", "resnet50")
    assert [c["type"] for c in got["status"]["conditions"]] == ["Created"]
    assert got["status"]["conditions"][0]["message"] == "TFJob resnet50 is created."
    assert three.kubectl("delete", "tfjob", "resnet50").returncode == 0
    assert not _get(three, "pods", "-l", "training.kubeflow.org/job-name=resnet50")["items"]
    assert not _get(three, "services", "-l", "training.kubeflow.org/job-name=resnet50")["items"]


# --------------------------------------------------------------------------------------------
# the kubelet's allocatable, which the scheduler fits against


@pytest.mark.parametrize(
    ("eviction", "memory"),
    [
        ("100Mi", 8 * 2**20 - 512 * 2**10 - 100 * 2**10),
        ("10%", 8 * 2**20 - 512 * 2**10 - 8 * 2**20 // 10),
    ],
)
def test_allocatable_memory_subtracts_reservations_and_the_eviction_threshold(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, eviction: str, memory: int
) -> None:
    from k8s_stand_in import kubelet
    from k8s_stand_in.util import Root

    monkeypatch.setattr(kubelet, "_meminfo_kb", lambda: 8 * 2**20)  # 8 GiB
    enforced = {
        "onlineCPUs": "0-3",
        "reservedCPUs": "1",
        "reservedSystemCPUs": "0",
        "kubeReserved": {"memory": "256Mi"},
        "systemReserved": {"memory": "256Mi"},
        "evictionHard": {"memory.available": eviction},
        "maxPods": 110,
        "containerRuntimeEndpoint": "unix:///nonexistent.sock",
        "cgroupDriver": "systemd",
        "cpuManagerPolicy": "static",
        "cpuManagerPolicyOptions": {},
        "exclusiveCPUs": "1-3",
        "topologyManagerPolicy": "none",
        "topologyManagerScope": "container",
        "memoryManagerPolicy": "None",
        "reservedMemory": [],
    }
    status = kubelet.node_status(Root(str(tmp_path)), "n", enforced, "127.0.0.1", None)
    assert status["capacity"]["cpu"] == "4"
    assert status["allocatable"]["cpu"] == "3"
    assert status["capacity"]["pods"] == "110"
    assert status["allocatable"]["memory"] == f"{memory}Ki"


def test_pods_of_a_deleted_node_go_with_it(three: Cluster) -> None:
    before = _get(three, "pods", "-n", "kube-flannel")["items"]
    assert "worker-2" in {p["spec"]["nodeName"] for p in before}
    assert three.kubectl("delete", "node", "worker-2").returncode == 0
    after = _get(three, "pods", "-n", "kube-flannel")["items"]
    assert sorted(p["spec"]["nodeName"] for p in after) == ["master", "worker-1"]
    ds = _get(three, "daemonset", "kube-flannel-ds", "-n", "kube-flannel")
    assert ds["status"]["desiredNumberScheduled"] == 2


def test_a_tfjob_without_a_tensorflow_container_gets_no_pods_and_breaks_nothing(
    tmp_path: Path,
) -> None:
    from k8s_stand_in.apiserver import Store
    from k8s_stand_in.registry import Registry

    crd_file = crd_path()
    assert crd_file is not None
    crd = yaml.safe_load(crd_file.read_text())
    store = Store(tmp_path / "state.json")
    registry = Registry.with_crds([crd])
    deploy = registry.by_gvk("apps", "v1", "Deployment")
    tfjobs = registry.by_gvk("kubeflow.org", "v1", "TFJob")
    assert deploy is not None and tfjobs is not None
    store.put(deploy, {"metadata": {"name": "training-operator", "namespace": "kubeflow"}})
    job = tfjob()
    for spec in job["spec"]["tfReplicaSpecs"].values():
        spec["template"]["spec"]["containers"][0]["name"] = "main"
    store.put(tfjobs, job)
    controllers.Controllers(store, registry).reconcile()
    pods = store.items(registry.by_gvk("", "v1", "Pod"))
    assert pods == []
    assert [c["type"] for c in job["status"]["conditions"]] == ["Created"]
    # one replica: no TF_CONFIG, so the pod is made, and its service has no port to expose
    single = tfjob(workers=1)
    single["metadata"].update(name="single", uid="single-uid")
    del single["spec"]["tfReplicaSpecs"]["PS"]
    single["spec"]["tfReplicaSpecs"]["Worker"]["template"]["spec"]["containers"][0]["name"] = "main"
    store.put(tfjobs, single)
    controllers.Controllers(store, registry).reconcile()
    pods = store.items(registry.by_gvk("", "v1", "Pod"))
    assert [p["metadata"]["name"] for p in pods] == ["single-worker-0"]
    svc = store.get(registry.by_gvk("", "v1", "Service"), "bench", "single-worker-0")
    assert svc is not None and svc["spec"]["ports"] == []


def test_a_daemon_pod_survives_a_new_noschedule_taint_but_not_a_noexecute_one(
    tmp_path: Path,
) -> None:
    from k8s_stand_in.apiserver import Store
    from k8s_stand_in.registry import Registry

    store = Store(tmp_path / "state.json")
    registry = Registry.with_crds([])
    nodes_r, pods_r = registry.by_gvk("", "v1", "Node"), registry.by_gvk("", "v1", "Pod")
    ds_r = registry.by_gvk("apps", "v1", "DaemonSet")
    assert nodes_r is not None and pods_r is not None and ds_r is not None
    n = node("a")
    store.put(nodes_r, n)
    store.put(
        ds_r,
        {
            "metadata": {"name": "agent", "namespace": "kube-system", "uid": "ds-uid"},
            "spec": {"template": {"spec": {"containers": [{"name": "agent", "image": "x"}]}}},
        },
    )
    controllers.Controllers(store, registry).reconcile()
    (daemon,) = store.items(pods_r)
    assert daemon["spec"]["nodeName"] == "a"
    tolerated = {t["key"]: t["effect"] for t in daemon["spec"]["tolerations"]}
    assert tolerated == {
        "node.kubernetes.io/not-ready": "NoExecute",
        "node.kubernetes.io/unreachable": "NoExecute",
        "node.kubernetes.io/disk-pressure": "NoSchedule",
        "node.kubernetes.io/memory-pressure": "NoSchedule",
        "node.kubernetes.io/pid-pressure": "NoSchedule",
        "node.kubernetes.io/unschedulable": "NoSchedule",
    }
    n["spec"]["taints"] = [{"key": "maintenance", "effect": "NoSchedule"}]
    controllers.Controllers(store, registry).reconcile()
    assert [p["metadata"]["name"] for p in store.items(pods_r)] == [daemon["metadata"]["name"]]
    n["spec"]["taints"] = [{"key": "maintenance", "effect": "NoExecute"}]
    controllers.Controllers(store, registry).reconcile()
    assert store.items(pods_r) == []


@pytest.mark.parametrize(
    ("replicas", "port"), [({"PS": 1, "Worker": 2}, 2222), ({"Worker": 3}, 2345), ({"PS": 2}, 2222)]
)
def test_operator_tf_config_agrees_with_the_distributed_tensorflow_test_helper(replicas, port):
    """Two readings of the operator's genTFConfigJSONStr, written apart: the stand-in operator's
    (what sandbox pods get) and tests/tf/tf_config.py's (what the real-TensorFlow test launches
    with). For every replica of these jobs both give the same bytes."""
    sys.path.insert(0, str(REPO / "tests" / "tf"))
    import tf_config

    ports = [{"name": "tfjob-port", "containerPort": port}]
    template = {"spec": {"containers": [{"name": "tensorflow", "ports": ports}]}}
    job = {
        "metadata": {"name": "dlrs-resnet50", "namespace": "default"},
        "spec": {"tfReplicaSpecs": {t: {"replicas": n, "template": template}
                                    for t, n in replicas.items()}},
    }  # fmt: skip
    specs = job["spec"]["tfReplicaSpecs"]
    for rtype, n in replicas.items():
        for index in range(n):
            ours = controllers.tf_config(job, specs, rtype, index)
            assert ours == tf_config.tf_config(job, rtype, index), (rtype, index)
            assert json.loads(ours)["task"] == {"type": rtype.lower(), "index": index}


def test_kubectl_logs_of_a_pod_whose_container_never_started_is_kubelets_refusal(
    three: Cluster,
) -> None:
    """No container runs in the stand-in cluster: `kubectl logs` answers as the real one does
    for a pod in ContainerCreating (the kubelet's validateContainerLogStatus), exit 1."""
    three.master.file("/flannel.yaml").write_text(FLANNEL)
    assert three.kubectl("apply", "-f", "/flannel.yaml").returncode == 0
    pod = _get(three, "pods", "-n", "kube-flannel")["items"][0]["metadata"]["name"]
    logs = three.kubectl("logs", pod, "-n", "kube-flannel", "--tail=5")
    assert logs.returncode == 1 and logs.stdout == ""
    assert logs.stderr.splitlines()[0] == (
        f'Error from server (BadRequest): container "kube-flannel" in pod "{pod}" is waiting '
        "to start: ContainerCreating"
    )
    missing = three.kubectl("logs", "no-such-pod", "-n", "kube-flannel")
    assert missing.returncode == 1
    assert 'Error from server (NotFound): pods "no-such-pod" not found' in missing.stderr
