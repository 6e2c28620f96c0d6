"""What each Kubernetes node can still give a pod, from `kubectl get nodes/pods -o json`.

    rooms = kube_state.rooms(nodes_json, pods_json)
    rooms["xeon-w01"].free_cpu_m     # allocatable millicores less the requests placed there

The scheduler's resource fit (NodeResourcesFit) admits a pod on a node when, per resource, the
pod's request plus the requests of the pods already bound there stays within the node's
allocatable (status.allocatable: capacity less kube-reserved, system-reserved or the kubelet's
reservedSystemCPUs, and the eviction threshold). This module does that arithmetic:

- a pod counts on its node (spec.nodeName) until it is Succeeded or Failed;
- a pod's request is, per resource, the larger of the sum over its containers (restartable
  init containers, "sidecars", included) and the largest init container (with the sidecars
  started before it), plus spec.overhead (the rule of k8s.io/component-helpers resource
  PodRequests);
- a container without a request of a resource asks for none of it (the API server defaults a
  request to its limit when only the limit is given, so the JSON already carries it; a limit
  alone is read as the request all the same).

Quantities use Kubernetes' notation: "1900m", "2", "7Gi", "8012345Ki", "1e3", "100M".
Pure functions, no cluster access: the benchmark role brings the JSON back.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from dlrs_provision.errors import UsageError

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "": Decimal(1),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
}
_QUANTITY = re.compile(r"^([+-]?[0-9.]+)(?:([eE][+-]?[0-9]+)|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?)$")
TERMINATED = ("Succeeded", "Failed")


def quantity(text: Any) -> Decimal:
    """A Kubernetes quantity ("100m", "7Gi", "2", "1e3") as a number of base units."""
    value = str(text).strip()
    match = _QUANTITY.match(value)
    if not match:
        raise ValueError(f"not a Kubernetes quantity: {text!r}")
    number, exponent, suffix = match.groups()
    try:
        base = Decimal(number)
    except InvalidOperation:
        raise ValueError(f"not a Kubernetes quantity: {text!r}") from None
    if exponent:
        return base * (Decimal(10) ** int(exponent[1:]))
    if suffix in _BINARY:
        return base * _BINARY[suffix]
    return base * _DECIMAL[suffix or ""]


def millicores(text: Any) -> int:
    """CPU quantity -> millicores, rounded up as the scheduler does (MilliValue)."""
    value = quantity(text) * 1000
    whole = int(value)
    return whole if whole == value else whole + 1


def mebibytes_floor(n_bytes: int) -> int:
    return n_bytes // 2**20


@dataclass
class Room:
    """One node: what it offers pods and what the pods bound to it already ask for."""

    name: str
    labels: dict[str, str]
    allocatable_cpu_m: int
    allocatable_memory: int  # bytes
    requested_cpu_m: int = 0
    requested_memory: int = 0
    pods: list[str] = field(default_factory=list)  # "namespace/name (cpu, memory)"
    unschedulable: bool = False
    taints: list[dict[str, Any]] = field(default_factory=list)

    @property
    def free_cpu_m(self) -> int:
        return self.allocatable_cpu_m - self.requested_cpu_m

    @property
    def free_memory(self) -> int:
        return self.allocatable_memory - self.requested_memory

    @property
    def free_whole_cpus(self) -> int:
        return max(0, self.free_cpu_m // 1000)

    def describe(self) -> str:
        placed = f" ({', '.join(self.pods)})" if self.pods else ""
        return (
            f"node {self.name}: allocatable cpu {self.allocatable_cpu_m}m, memory "
            f"{mebibytes_floor(self.allocatable_memory)}Mi; requested by {len(self.pods)} "
            f"pod(s) {self.requested_cpu_m}m, {mebibytes_floor(self.requested_memory)}Mi"
            f"{placed}; free {self.free_cpu_m}m, {mebibytes_floor(self.free_memory)}Mi"
        )


def _requests(container: dict[str, Any]) -> tuple[int, int]:
    res = container.get("resources") or {}
    requests = dict(res.get("limits") or {}) | dict(res.get("requests") or {})
    cpu = millicores(requests["cpu"]) if "cpu" in requests else 0
    memory = int(quantity(requests["memory"])) if "memory" in requests else 0
    return cpu, memory


def pod_requests(pod: dict[str, Any]) -> tuple[int, int]:
    """(millicores, bytes) that the scheduler reserves for this pod on its node."""
    spec = pod.get("spec") or {}
    cpu = memory = 0
    for c in spec.get("containers") or []:
        c_cpu, c_mem = _requests(c)
        cpu, memory = cpu + c_cpu, memory + c_mem
    side_cpu = side_mem = 0
    init_cpu = init_mem = 0
    for c in spec.get("initContainers") or []:
        c_cpu, c_mem = _requests(c)
        if c.get("restartPolicy") == "Always":  # a sidecar runs on beside what follows
            side_cpu, side_mem = side_cpu + c_cpu, side_mem + c_mem
            init_cpu, init_mem = max(init_cpu, side_cpu), max(init_mem, side_mem)
        else:
            init_cpu, init_mem = max(init_cpu, side_cpu + c_cpu), max(init_mem, side_mem + c_mem)
    cpu, memory = max(cpu + side_cpu, init_cpu), max(memory + side_mem, init_mem)
    overhead = spec.get("overhead") or {}
    if "cpu" in overhead:
        cpu += millicores(overhead["cpu"])
    if "memory" in overhead:
        memory += int(quantity(overhead["memory"]))
    return cpu, memory


def _items(doc: Any, what: str) -> list[dict[str, Any]]:
    if isinstance(doc, str | bytes):
        try:
            doc = json.loads(doc)
        except ValueError as exc:
            raise UsageError(f"the cluster's {what} are not JSON ({exc})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("items"), list):
        raise UsageError(f"the cluster's {what}: expected a List with items (kubectl -o json)")
    return [i for i in doc["items"] if isinstance(i, dict)]


def rooms(nodes: Any, pods: Any) -> dict[str, Room]:
    """Node name -> Room, from `kubectl get nodes -o json` and `kubectl get pods -A -o json`."""
    result: dict[str, Room] = {}
    for node in _items(nodes, "nodes"):
        meta = node.get("metadata") or {}
        alloc = (node.get("status") or {}).get("allocatable") or {}
        try:
            cpu = millicores(alloc.get("cpu", "0"))
            memory = int(quantity(alloc.get("memory", "0")))
        except ValueError as exc:
            raise UsageError(f"node {meta.get('name')}: {exc}") from None
        spec = node.get("spec") or {}
        result[meta.get("name", "?")] = Room(
            name=meta.get("name", "?"),
            labels=dict(meta.get("labels") or {}),
            allocatable_cpu_m=cpu,
            allocatable_memory=memory,
            unschedulable=bool(spec.get("unschedulable")),
            taints=list(spec.get("taints") or []),
        )
    for pod in _items(pods, "pods"):
        node_name = (pod.get("spec") or {}).get("nodeName")
        phase = (pod.get("status") or {}).get("phase")
        if not node_name or node_name not in result or phase in TERMINATED:
            continue
        try:
            cpu, memory = pod_requests(pod)
        except ValueError as exc:
            raise UsageError(f"pod {(pod.get('metadata') or {}).get('name')}: {exc}") from None
        room = result[node_name]
        room.requested_cpu_m += cpu
        room.requested_memory += memory
        meta = pod.get("metadata") or {}
        room.pods.append(
            f"{meta.get('namespace', 'default')}/{meta.get('name', '?')} "
            f"{cpu}m {mebibytes_floor(memory)}Mi"
        )
    return result


def node_of(rooms_: dict[str, Room], host: str, label: str, node_name: str) -> Room | None:
    """The Room of an inventory host: the node labelled `label`=host, else named node_name."""
    for room in rooms_.values():
        if room.labels.get(label) == host:
            return room
    return rooms_.get(node_name)
