"""TF_CONFIG as kubeflow/training-operator v1.9.0 writes it into each pod of a TFJob.

Followed (read, not copied), training-operator at tag v1.9.0:
- pkg/controller.v1/tensorflow/tensorflow.go: genTFConfigJSONStr and genClusterSpec. The
  cluster is a map from the lower-cased replica type to its addresses
  `<job>-<rtype>-<i>.<namespace>.svc:<port>` (plus `.<CUSTOM_CLUSTER_DOMAIN>` after `svc`
  when that variable is set in the operator); every replica type is in it, Evaluator too. The
  object is TFConfig{cluster, task{type, index}, environment: "cloud"} marshalled by Go's
  encoding/json: struct fields in declaration order, map keys sorted, no spaces. With
  enableDynamicWorker it is SparseTFConfig{cluster{worker: {index: address}, ps}, task}
  instead, with no environment.
- pkg/controller.v1/tensorflow/util.go: GetPortFromTFJob (the container named `tensorflow`,
  its port named `tfjob-port`, else 2222) and isDistributed (TF_CONFIG is set only when the
  replicas of all types add up to more than one; a replica set without `replicas` counts 1).
- pkg/controller.v1/common/util.go: GenGeneralName (`<job>-<lower rtype>-<index>`, "/" -> "-").
- pkg/apis/kubeflow.org/v1/tensorflow_types.go: the replica types and defaults.

`address` lets a test put the replicas somewhere else than the cluster's DNS names (local
processes on 127.0.0.1 ports) while everything else stays as the operator writes it. Only the
standard library: a stand-in of the training operator can use this module as it is.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable

CONTAINER = "tensorflow"
PORT_NAME = "tfjob-port"
DEFAULT_PORT = 2222
CLUSTER_DOMAIN_ENV = "CUSTOM_CLUSTER_DOMAIN"
# the replica types isDistributed counts
REPLICA_TYPES = ("Chief", "Evaluator", "Master", "PS", "Worker")

Address = Callable[[str, int, int], str]  # (lower-case replica type, index, port) -> host:port


def port_of(tfjob: dict, rtype: str) -> int:
    """GetPortFromTFJob: the tfjob-port of the replica's tensorflow container, else 2222."""
    spec = tfjob["spec"]["tfReplicaSpecs"][rtype]
    for container in spec.get("template", {}).get("spec", {}).get("containers", []):
        if container.get("name") == CONTAINER:
            for port in container.get("ports", []) or []:
                if port.get("name") == PORT_NAME:
                    return int(port["containerPort"])
    return DEFAULT_PORT


def replicas_of(spec: dict) -> int:
    value = spec.get("replicas")
    return 1 if value is None else int(value)


def is_distributed(tfjob: dict) -> bool:
    """isDistributed: the operator sets TF_CONFIG only when there is more than one replica."""
    specs = tfjob["spec"]["tfReplicaSpecs"]
    return sum(replicas_of(specs[t]) for t in REPLICA_TYPES if t in specs) != 1


def service_address(tfjob: dict, rtype: str, index: int, port: int) -> str:
    """The headless service's name for one replica, as genClusterSpec writes it."""
    meta = tfjob["metadata"]
    name = f"{meta['name']}-{rtype.lower()}-{index}".replace("/", "-")
    host = f"{name}.{meta.get('namespace') or 'default'}.svc"
    domain = os.environ.get(CLUSTER_DOMAIN_ENV, "")
    if domain:
        host += "." + domain
    return f"{host}:{port}"


def cluster_spec(tfjob: dict, address: Address | None = None) -> dict[str, list[str]]:
    """genClusterSpec: lower-case replica type -> the addresses of its replicas."""
    cluster: dict[str, list[str]] = {}
    for rtype, spec in tfjob["spec"]["tfReplicaSpecs"].items():
        port = port_of(tfjob, rtype)
        rt = rtype.lower()
        cluster[rt] = [
            address(rt, i, port) if address else service_address(tfjob, rt, i, port)
            for i in range(replicas_of(spec))
        ]
    return cluster


def _go_json(value: object) -> str:
    """Go's json.Marshal for these values: compact, map keys sorted, HTML characters escaped."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def tf_config(tfjob: dict, rtype: str, index: int, address: Address | None = None) -> str | None:
    """genTFConfigJSONStr for replica `rtype` (as in tfReplicaSpecs, e.g. "Worker") `index`.

    None where the operator sets no TF_CONFIG (a job of a single replica).
    """
    if not is_distributed(tfjob):
        return None
    cluster = cluster_spec(tfjob, address)
    rt = rtype.lower()
    task = {"type": rt, "index": int(index)}
    if tfjob["spec"].get("enableDynamicWorker"):
        sparse: dict[str, object] = {"worker": {}, "ps": []}
        if rt == "ps":
            sparse["ps"] = [cluster["ps"][index]]
        elif rt == "worker":
            sparse["ps"] = cluster.get("ps")  # a nil slice: null when the job has no PS
            sparse["worker"] = {str(index): cluster["worker"][index]}
        return _go_json({"cluster": sparse, "task": task})
    sorted_cluster = {key: cluster[key] for key in sorted(cluster)}
    return _go_json({"cluster": sorted_cluster, "task": task, "environment": "cloud"})


def local_address(ports: dict[str, list[int]]) -> Address:
    """An `address` that puts replica i of type rt on 127.0.0.1:ports[rt][i]."""

    def address(rt: str, index: int, _port: int) -> str:
        return f"127.0.0.1:{ports[rt][index]}"

    return address
