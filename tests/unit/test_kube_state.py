"""kube_state: what each node can still give, on real-shaped `kubectl get -o json` output."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from dlrs_provision import kube_state
from dlrs_provision.errors import UsageError


def node(name: str, cpu: str, memory: str, labels: dict | None = None, **spec) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
        "spec": spec,
        "status": {
            "capacity": {"cpu": "4", "memory": "8145440Ki", "pods": "110"},
            "allocatable": {"cpu": cpu, "memory": memory, "pods": "110"},
        },
    }


def pod(name: str, node_name: str | None, containers: list, phase="Running", **spec) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "kube-flannel"},
        "spec": ({"nodeName": node_name} if node_name else {}) | {"containers": containers} | spec,
        "status": {"phase": phase},
    }


def box(cpu: str | None = None, memory: str | None = None, limits: dict | None = None) -> dict:
    requests = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v}
    resources = {"requests": requests} if requests else {}
    if limits:
        resources["limits"] = limits
    return {"name": "c", "image": "x", "resources": resources}


def flannel(node_name: str) -> dict:
    # kube-flannel.yml (v0.26): the kube-flannel container requests cpu 100m, memory 50Mi
    return pod(f"kube-flannel-ds-{node_name[-3:]}", node_name, [box("100m", "50Mi")])


def as_list(items: list) -> str:
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": items})


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1900m", Decimal("1.9")),
        ("2", Decimal(2)),
        ("7Gi", Decimal(7 * 2**30)),
        ("8012345Ki", Decimal(8012345 * 1024)),
        ("100M", Decimal(100_000_000)),
        ("1e3", Decimal(1000)),
        ("0.5", Decimal("0.5")),
    ],
)
def test_quantities_read_as_kubernetes_writes_them(text, value):
    assert kube_state.quantity(text) == value


def test_a_bad_quantity_is_refused():
    with pytest.raises(ValueError, match="not a Kubernetes quantity"):
        kube_state.quantity("2 cores")


def test_millicores_round_up():
    assert kube_state.millicores("1900m") == 1900
    assert kube_state.millicores("0.0001") == 1
    assert kube_state.millicores(2) == 2000


def test_daemonset_requests_come_off_the_allocatable():
    nodes = as_list([node("xeon-w01", "1900m", "7Gi"), node("xeon-w02", "2", "8012345Ki")])
    pods = as_list([flannel("xeon-w01"), flannel("xeon-w02")])
    rooms = kube_state.rooms(nodes, pods)
    w01, w02 = rooms["xeon-w01"], rooms["xeon-w02"]
    assert (w01.free_cpu_m, w01.free_whole_cpus) == (1800, 1)
    assert w01.free_memory == 7 * 2**30 - 50 * 2**20
    # a whole 2-CPU node with flannel on it has only one whole CPU left, not two
    assert (w02.free_cpu_m, w02.free_whole_cpus) == (1900, 1)
    assert kube_state.mebibytes_floor(w02.free_memory) == 8012345 // 1024 - 50
    assert "kube-flannel/kube-flannel-ds-w01 100m 50Mi" in w01.describe()


def test_terminated_and_unbound_pods_do_not_count():
    nodes = as_list([node("n1", "4", "8Gi")])
    pods = as_list(
        [
            pod("done", "n1", [box("1", "1Gi")], phase="Succeeded"),
            pod("failed", "n1", [box("1", "1Gi")], phase="Failed"),
            pod("pending", None, [box("1", "1Gi")], phase="Pending"),
            pod("elsewhere", "n9", [box("1", "1Gi")]),
            pod("bound", "n1", [box("500m", "256Mi")], phase="Pending"),
        ]
    )
    room = kube_state.rooms(nodes, pods)["n1"]
    assert (room.requested_cpu_m, room.requested_memory) == (500, 256 * 2**20)


def test_init_containers_count_by_their_largest_and_sidecars_add_up():
    # app 200m + 100m; init 1 CPU: the pod reserves 1 CPU (the init max), memory the app sum
    p = pod("a", "n1", [box("200m", "64Mi"), box("100m", "64Mi")])
    p["spec"]["initContainers"] = [box("1", "32Mi"), box("300m", "16Mi")]
    assert kube_state.pod_requests(p) == (1000, 128 * 2**20)
    # a sidecar (restartPolicy Always) runs beside the app and beside later init containers
    side = box("250m", "10Mi") | {"restartPolicy": "Always"}
    p["spec"]["initContainers"] = [side, box("900m", "1Mi")]
    assert kube_state.pod_requests(p) == (1150, 138 * 2**20)
    p["spec"]["overhead"] = {"cpu": "50m", "memory": "2Mi"}
    assert kube_state.pod_requests(p) == (1200, 140 * 2**20)


def test_a_limit_alone_counts_as_the_request():
    p = pod("a", "n1", [box(limits={"cpu": "2", "memory": "1Gi"}), box()])
    assert kube_state.pod_requests(p) == (2000, 2**30)


def test_a_node_is_found_by_its_inventory_label_first():
    nodes = as_list(
        [
            node("w01.example.com", "2", "4Gi", {"dlrs.intel.com/node": "W01"}),
            node("w02", "2", "4Gi"),
        ]
    )
    rooms = kube_state.rooms(nodes, as_list([]))
    assert kube_state.node_of(rooms, "W01", "dlrs.intel.com/node", "w01").name == "w01.example.com"
    assert kube_state.node_of(rooms, "w02", "dlrs.intel.com/node", "w02").name == "w02"
    assert kube_state.node_of(rooms, "w03", "dlrs.intel.com/node", "w03") is None


def test_output_that_is_not_a_list_is_refused_clearly():
    with pytest.raises(UsageError, match="not JSON"):
        kube_state.rooms("error: the server doesn't have a resource type", "{}")
    with pytest.raises(UsageError, match="expected a List"):
        kube_state.rooms("{}", as_list([]))
