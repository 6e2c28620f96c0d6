"""The distributed benchmark as a Kubeflow TFJob (kubeflow.org/v1, training-operator v1.9).

    manifests = tfjob.build(inv, workers=["xeon-w01", "xeon-w02"], ps=1)
    manifests.to_yaml()      # the ConfigMap (launcher, calculator, synthetic benchmark), the TFJob

One PS replica set and one Worker replica set (ports 2222, container `tensorflow`, the operator's
defaults).

Placement (place()): the seed's layout by default: the masters run no workload (the
control-plane taint is not tolerated), each PS replica is pinned by required node affinity on
the label `dlrs.intel.com/node` (kubeadm_master's labels task sets it to each node's inventory
name) to a worker node of its own, and the Workers may use only the other worker nodes
(affinity In [...]) with required pod anti-affinity between them on kubernetes.io/hostname, so
each gets a node to itself. One template per replica type cannot pin worker-N to a named node:
which index lands where is the scheduler's choice among those nodes. With fewer nodes than PS
+ 2 workers, the PS shares the first node with a worker (the fallback: a distributed run keeps
at least 2 workers), or, when that node cannot hold both, has it to itself and the job runs one
worker fewer; an inventory without workers runs everything on its masters, the taint
tolerated. Manifests.placement says where each replica goes and why.

Sizing (Guaranteed QoS, so that the kubelet's static CPU manager gives exclusive cores): from
the facts, a worker may have the node's logical CPUs minus the ones reserved for IO (the
calculator's multi-node reservation, hyper-thread siblings included, which the kubelet holds
back as reservedSystemCPUs) minus a PS sharing the node; memory from ansible_memtotal_mb less
what the system keeps. Given the cluster's state (rooms: kube_state, from `kubectl get nodes`
and `get pods -A`), that is capped by what the node can really give: allocatable less the
requests already bound there (DaemonSets such as flannel's 100m), in whole CPUs. One Worker
template has one request, so it fits the smallest node; a node that cannot give 1 CPU and
1024Mi (or the PS its size) is refused, naming what takes its room.

Per-node numbers: the ConfigMap carries nodes.json, {node name: {"host", "worker": {...},
"ps": {...}}} with each node's calculator values (inventory overrides included, per host)
capped by the CPUs its pod gets; the pod learns its node from the downward API
(DLRS_NODE_NAME = spec.nodeName) and the launcher (benchmark/launcher.py) takes that entry,
then, unless the host's thread counts are overridden, derives them again from the cpuset the
pod was really given. Only what one container image fixes must agree between the workers:
dlrs_variant and the image.

Benchmarks: `tf_cnn_benchmarks` (checked out by an init container from a git URL and ref;
tensorflow/benchmarks' cnn_tf_v1.12_compatible branch for the seed's TensorFlow 1.x images) or
`synthetic` (the project's tf.keras ResNet50, for TensorFlow 2 images). The synthetic benchmark
trains across the workers with MultiWorkerMirroredStrategy (collective all-reduce among the
workers, tf_cnn_benchmarks' --variable_update=collective_all_reduce), which has no parameter
server, so its TFJob has Worker replicas only. The default follows the variant.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from dlrs_provision import benchmark_defaults, catalog, kube_state, paths, tuning
from dlrs_provision.benchmark import flags, launcher, synthetic
from dlrs_provision.errors import UsageError
from dlrs_provision.facts import cached_facts_file, load_facts
from dlrs_provision.inventory import Inventory
from dlrs_provision.plan import overrides_of

API_VERSION = "kubeflow.org/v1"
KIND = "TFJob"
CONTAINER = "tensorflow"  # the training operator's default container name
PORT_NAME = "tfjob-port"  # and port name
DEFAULT_PORT = 2222
LABEL_PREFIX = "dlrs.intel.com/"
NODE_LABEL = LABEL_PREFIX + "node"  # the inventory name of the node
VARIANT_LABEL = LABEL_PREFIX + "variant"  # the node's TensorFlow build
JOB_NAME_LABEL = "training.kubeflow.org/job-name"  # set by the training operator on each pod
REPLICA_TYPE_LABEL = "training.kubeflow.org/replica-type"  # "ps", "worker" (lower case)
CONTROL_PLANE_TAINT = "node-role.kubernetes.io/control-plane"
CPU_LIMIT_ENV = launcher.CPU_LIMIT_ENV
NODE_NAME_ENV = launcher.NODE_NAME_ENV  # the pod's node, from the downward API
NODES_FILE = "nodes.json"  # ConfigMap key and file: each node's numbers for its pods

MOUNT = "/opt/dlrs"
BENCHMARKS_DIR = "/benchmarks"
TF_CNN_SCRIPT = BENCHMARKS_DIR + "/scripts/tf_cnn_benchmarks/tf_cnn_benchmarks.py"
DEFAULT_GIT_URL = benchmark_defaults.BENCHMARK_REPO
TF1_GIT_REF = catalog.VARIANTS["mkl"].benchmark_ref  # the branch for TensorFlow 1.12 images
# the init container's git, pinned by digest: a tag of alpine/git is rebuilt and pushed again
# (v2.47.2 has carried several digests), and this image reads the benchmark code the job runs
DEFAULT_GIT_IMAGE = (
    "alpine/git:v2.47.2@sha256:062a01ad7a0eb17cff382bc5e26086b4d710e56dfdfdf001109a49b6d9bd378c"
)
# The init container's script: the one commit, fetched alone (GitHub, and any git server
# allowing uploadpack.allowReachableSHA1InWant, serves a commit by its id), checked out and
# checked. Its values come as the positional parameters $0 (folder), $1 (URL), $2 (commit), never
# spliced into the script; `--` ends git's options before each of them.
GIT_FETCH_SCRIPT = (
    'git init -q -- "$0" && cd "$0" && git fetch -q --depth=1 -- "$1" "$2" '
    "&& git -c advice.detachedHead=false checkout -q FETCH_HEAD "
    '&& test "$(git rev-parse HEAD)" = "$2"'
)
BENCHMARKS = ("tf_cnn_benchmarks", "synthetic")
COLLECTIVE = synthetic.COLLECTIVE  # the synthetic benchmark's variable_update across workers
# the benchmark each variant's images can run (the catalog owns the rule)
DEFAULT_BENCHMARK = {name: v.benchmark for name, v in catalog.VARIANTS.items()}

SEED_LEARNING_RATE = "0.0001"
SEED_RANDOM_SEED = 8286
SYSTEM_MEMORY_MB = 2048  # kept for the system: at least this, or a tenth of the memory
INIT_RESOURCES = {"cpu": "1", "memory": "512Mi"}
PS_MIN_MEMORY_MB = 512

_PACKAGE = Path(__file__).resolve().parent
# ConfigMap key -> (file in this package, path under MOUNT)
SHIPPED = {
    "launcher.py": (_PACKAGE / "benchmark" / "launcher.py", "launcher.py"),
    "synthetic.py": (_PACKAGE / "benchmark" / "synthetic.py", "synthetic.py"),
    "dlrs_provision.__init__.py": (_PACKAGE / "__init__.py", "dlrs_provision/__init__.py"),
    "dlrs_provision.tuning.py": (_PACKAGE / "tuning.py", "dlrs_provision/tuning.py"),
    "dlrs_provision.catalog.py": (_PACKAGE / "catalog.py", "dlrs_provision/catalog.py"),
    # catalog's variants name their benchmark commit from it
    "dlrs_provision.benchmark_defaults.py": (
        _PACKAGE / "benchmark_defaults.py",
        "dlrs_provision/benchmark_defaults.py",
    ),
}
_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


@dataclass
class NodeShape:
    """What one worker node offers TensorFlow, from its facts and the calculator."""

    host: str
    tuning: tuning.Tuning
    logical_cpus: int
    reserved_cpus: int  # logical CPUs held back for IO (kubelet reservedSystemCPUs)
    ps_cpus: int  # taken by PS replicas placed on this node
    tf_cpus: int
    memory_mb: int | None
    tf_memory_mb: int | None
    room: kube_state.Room | None = None  # what the cluster says the node has free

    def to_dict(self) -> dict[str, Any]:
        t = self.tuning
        return {
            "num_inter_threads": t.num_inter_threads,
            "num_intra_threads": t.num_intra_threads,
            "data_format": t.data_format,
            "logical_cpus": self.logical_cpus,
            "reserved_cpus": self.reserved_cpus,
            "reserved_cpuset": t.reserved_cpuset,
            "tf_cpus": self.tf_cpus,
            "tf_memory_mb": self.tf_memory_mb,
        }


@dataclass
class Manifests:
    tfjob: dict[str, Any]
    configmap: dict[str, Any]
    shapes: list[NodeShape]
    warnings: list[str] = field(default_factory=list)
    placement: list[str] = field(default_factory=list)  # where each replica goes, and why
    nodes: dict[str, Any] = field(default_factory=dict)  # nodes.json: node name -> numbers

    def objects(self) -> list[dict[str, Any]]:
        return [self.configmap, self.tfjob]

    def to_yaml(self) -> str:
        return yaml.dump_all(self.objects(), Dumper=_Dumper, sort_keys=False, width=100)


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:  # plain YAML: no &anchors or *aliases
        return True


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


# --------------------------------------------------------------------------- facts and sizing


def _preflight_hint(inv: Inventory) -> str:
    return (
        f"run `dlrs-provision preflight {inv.path}` first: it reads every host's hardware "
        "into the inventory's fact cache"
    )


def _memory_mb(facts: dict[str, Any]) -> int | None:
    for key in ("ansible_memtotal_mb", "memtotal_mb"):
        value = facts.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


def _reserved_logical(t: tuning.Tuning) -> int:
    if t.reserved_cpuset is not None:
        return len(launcher.parse_cpuset(t.reserved_cpuset))
    return t.reserved_cores * t.topology.threads_per_core


def shapes(
    inv: Inventory,
    hosts: list[str],
    facts_dir: Path,
    ps_on: dict[str, int],
    ps_cpus: int,
    ps_memory_mb: int,
    spare_cpus: int = 0,
    need_memory: bool = True,
) -> list[NodeShape]:
    """Each worker host's calculator values (multi-node) and what its pod can have.

    ps_on: host -> PS replicas that may land there. Every missing or unusable fact file is
    reported at once, naming the hosts and the preflight command.
    """
    missing: list[str] = []
    broken: list[str] = []
    result: list[NodeShape] = []
    for host in hosts:
        facts_file = cached_facts_file(facts_dir, host)
        if facts_file is None:
            missing.append(host)
            continue
        try:
            facts = load_facts(facts_file)
            values, sources = overrides_of(inv, host)
            t = tuning.compute(
                facts,
                mode="multi",
                variant=inv.setting(host, "dlrs_variant"),
                overrides=values,
                override_sources=sources,
                image=inv.image(host),
            )
        except (UsageError, tuning.FactsError, ValueError) as exc:
            broken.append(f"{host} ({facts_file}): {getattr(exc, 'message', exc)}")
            continue
        memory = _memory_mb(facts)
        if memory is None and need_memory:
            broken.append(f"{host} ({facts_file}): missing fact ansible_memtotal_mb")
            continue
        reserved = _reserved_logical(t)
        taken = ps_on.get(host, 0) * ps_cpus
        tf_cpus = t.topology.logical_cpus - reserved - taken - spare_cpus
        tf_memory = None
        if memory is not None:
            system = max(SYSTEM_MEMORY_MB, memory // 10)
            tf_memory = (memory - system - ps_on.get(host, 0) * ps_memory_mb) // 1024 * 1024
        result.append(
            NodeShape(
                host=host,
                tuning=t,
                logical_cpus=t.topology.logical_cpus,
                reserved_cpus=reserved,
                ps_cpus=taken,
                tf_cpus=tf_cpus,
                memory_mb=memory,
                tf_memory_mb=tf_memory,
            )
        )
    problems = []
    if missing:
        problems.append(f"no facts for host(s) {', '.join(missing)} in {facts_dir}")
    problems += [f"facts unusable for host {b}" for b in broken]
    if problems:
        raise UsageError("; ".join(problems), _preflight_hint(inv))
    return result


# --------------------------------------------------------------------------- pieces


def launcher_configmap(name: str, namespace: str, labels: dict[str, str]) -> dict[str, Any]:
    """The ConfigMap mounted at /opt/dlrs: launcher, synthetic benchmark, tuning calculator."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
        "data": {key: src.read_text(encoding="utf-8") for key, (src, _) in SHIPPED.items()},
    }


def _volume(configmap: str) -> dict[str, Any]:
    return {
        "name": "dlrs",
        "configMap": {
            "name": configmap,
            "defaultMode": 0o444,
            "items": [{"key": key, "path": rel} for key, (_, rel) in SHIPPED.items()]
            + [{"key": NODES_FILE, "path": NODES_FILE}],
        },
    }


def benchmark_args(
    t: tuning.Tuning,
    model: str,
    batch_size: int,
    num_batches: int,
    num_warmup_batches: int,
    variable_update: str = "parameter_server",
) -> list[str]:
    """tf_cnn_benchmarks' arguments: the seed's, with the calculator's values."""
    args = [
        f"--model={model}",
        f"--batch_size={batch_size}",
        f"--num_batches={num_batches}",
        f"--num_warmup_batches={num_warmup_batches}",
        f"--data_format={t.data_format}",
        f"--num_inter_threads={t.num_inter_threads}",
        f"--num_intra_threads={t.num_intra_threads}",
        f"--variable_update={variable_update}",
        "--local_parameter_device=cpu",
        "--device=cpu",
        f"--init_learning_rate={SEED_LEARNING_RATE}",
        f"--tf_random_seed={SEED_RANDOM_SEED}",
        "--nodistortions",
    ]
    if catalog.variant(t.variant).openmp:
        # --mkl makes tf_cnn_benchmarks set KMP_* itself, from these flags (its defaults differ)
        args += [
            "--mkl=True",
            f"--kmp_blocktime={t.env['KMP_BLOCKTIME']}",
            f"--kmp_affinity={t.env['KMP_AFFINITY']}",
        ]
    return args


def _resources(cpus: int, memory_mb: int) -> dict[str, Any]:
    amount = {"cpu": str(cpus), "memory": f"{memory_mb}Mi"}
    return {"requests": dict(amount), "limits": dict(amount)}


def _node_affinity(hosts: list[str]) -> dict[str, Any]:
    return {
        "requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [
                {"matchExpressions": [{"key": NODE_LABEL, "operator": "In", "values": list(hosts)}]}
            ]
        }
    }


def _pod_spec(
    *,
    image: str,
    command: list[str],
    args: list[str],
    env: dict[str, str],
    cpus: int,
    memory_mb: int,
    port: int,
    configmap: str,
    hosts: list[str],
    masters: list[str],
    anti_affinity: dict[str, str] | None,
    node_selector: dict[str, str] | None,
    init: dict[str, Any] | None,
    working_dir: str | None,
) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": CONTAINER,
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "command": list(command),
        "args": list(args),
        "env": [{"name": k, "value": v} for k, v in env.items()]
        + [
            {"name": NODE_NAME_ENV, "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
            {
                "name": CPU_LIMIT_ENV,
                "valueFrom": {
                    "resourceFieldRef": {
                        "containerName": CONTAINER,
                        "resource": "limits.cpu",
                        "divisor": "1",
                    }
                },
            },
        ],
        "ports": [{"name": PORT_NAME, "containerPort": port, "protocol": "TCP"}],
        "resources": _resources(cpus, memory_mb),
        "volumeMounts": [{"name": "dlrs", "mountPath": MOUNT, "readOnly": True}],
    }
    volumes: list[dict[str, Any]] = [_volume(configmap)]
    spec: dict[str, Any] = {}
    if init is not None:
        container["volumeMounts"].append({"name": "benchmarks", "mountPath": BENCHMARKS_DIR})
        volumes.append({"name": "benchmarks", "emptyDir": {}})
        spec["initContainers"] = [copy.deepcopy(init)]
    if working_dir:
        container["workingDir"] = working_dir
    spec["containers"] = [container]
    spec["volumes"] = volumes
    affinity: dict[str, Any] = {"nodeAffinity": _node_affinity(hosts)}
    if anti_affinity:
        affinity["podAntiAffinity"] = {
            "requiredDuringSchedulingIgnoredDuringExecution": [
                {
                    "labelSelector": {"matchLabels": anti_affinity},
                    "topologyKey": "kubernetes.io/hostname",
                }
            ]
        }
    spec["affinity"] = affinity
    if node_selector:
        spec["nodeSelector"] = node_selector
    if any(h in masters for h in hosts):
        spec["tolerations"] = [
            {"key": CONTROL_PLANE_TAINT, "operator": "Exists", "effect": "NoSchedule"}
        ]
    return spec


# --------------------------------------------------------------------------- render


def _git_commit(ref: str) -> str:
    """The commit of tf_cnn_benchmarks to fetch: a full commit id, or a known branch's pin."""
    try:
        return benchmark_defaults.benchmark_commit(ref)
    except ValueError as exc:
        raise UsageError(
            f"git_ref: {exc}", "give the commit the nodes should run (git rev-parse BRANCH)"
        ) from None


def _check_name(name: str) -> None:
    if not _NAME_RE.match(name) or len(name) > 40:
        raise UsageError(
            f"job name {name!r} is not usable",
            "use at most 40 lower-case letters, digits and '-', starting and ending with a "
            "letter or digit (pods and services are named NAME-worker-N)",
        )


def _hosts(inv: Inventory, hosts: list[str], what: str) -> list[str]:
    unknown = [h for h in hosts if h not in inv.hosts]
    if unknown:
        raise UsageError(
            f"{what}: {', '.join(unknown)} not in the inventory {inv.path}",
            f"choose among: {', '.join(inv.hosts)}",
        )
    if len(set(hosts)) != len(hosts):
        raise UsageError(f"{what}: a host is named twice: {', '.join(hosts)}")
    return list(hosts)


def node_name(inv: Inventory, host: str) -> str:
    """The Kubernetes node name of a host: kubeadm names it after the host, lower-cased."""
    for key in ("kubeadm_worker_node_name", "kubeadm_master_node_name"):
        var = inv.host_vars(host).get(key)
        if var is not None and isinstance(var.value, str) and var.value and "{" not in var.value:
            return var.value
    return host.lower()


@dataclass
class Placement:
    """Where the replicas go: PS i pinned to ps[i], one Worker on each host of `workers`."""

    ps: list[str]
    workers: list[str]
    layout: str  # seed, shared, chosen, workers-only
    masters: list[str]
    lines: list[str] = field(default_factory=list)

    def shared(self) -> list[str]:
        return [h for h in self.ps if h in self.workers]


def place(
    inv: Inventory,
    worker_hosts: list[str],
    ps: int,
    ps_hosts: list[str] | None,
    ps_cpus: int,
    own_nodes_because: str | None = None,
) -> Placement:
    """The seed's layout where the nodes allow it (see the module's notes), else the fallback.

    seed: PS replicas on the first `ps` worker nodes, one Worker on each of the others (needs
    ps + 2 nodes: a distributed run has at least 2 workers). shared (fewer nodes): PS on the
    first nodes, beside a Worker there; own (when the shared node has no room for both,
    `own_nodes_because` says why): PS on nodes of their own, fewer workers. chosen: PS on
    `ps_hosts`. The masters run no replica
    unless they are the only nodes (an inventory without workers).
    """
    masters = [m for m in inv.masters]
    n = len(worker_hosts)
    if ps == 0:
        placement = Placement([], list(worker_hosts), "workers-only", masters)
    elif ps_hosts:
        if len(ps_hosts) < ps:
            raise UsageError(
                f"{ps} PS replica(s) need a node each: ps_hosts names {len(ps_hosts)}",
                "name as many ps_hosts as PS replicas",
            )
        chosen = list(ps_hosts[:ps])
        rest = [h for h in worker_hosts if h not in chosen]
        placement = Placement(chosen, rest or list(worker_hosts), "chosen", masters)
    elif n >= ps + 2:
        placement = Placement(list(worker_hosts[:ps]), list(worker_hosts[ps:]), "seed", masters)
    elif own_nodes_because is not None and n >= ps + 1:
        placement = Placement(list(worker_hosts[:ps]), list(worker_hosts[ps:]), "own", masters)
    elif n >= ps:
        placement = Placement(list(worker_hosts[:ps]), list(worker_hosts), "shared", masters)
    else:
        raise UsageError(
            f"{ps} PS replica(s) need a node each, and there are {n} node(s) for the job",
            "run fewer PS replicas, or add workers",
        )
    lines = placement.lines
    for i, host in enumerate(placement.ps):
        if placement.layout == "seed":
            why = (
                f"own node, seed layout: {ps} PS and {len(placement.workers)} workers, "
                "each on a node of its own"
            )
        elif placement.layout == "own":
            why = (
                f"own node: a PS and a worker do not both fit on {host} ({own_nodes_because}); "
                f"with {n} node(s) for the job that leaves {len(placement.workers)} worker(s)"
            )
        elif host in placement.workers:
            why = (
                f"shares the node with a worker: {n} node(s) for the job, the seed layout needs "
                f"{ps + 2} ({ps} PS + 2 workers on nodes of their own); that node's worker has "
                f"{ps_cpus} CPU(s) less, and one Worker template sizes every worker alike"
            )
        else:
            why = "own node, as ps_hosts asks"
        lines.append(f"ps-{i} -> {host} ({why})")
    k = len(placement.workers)
    ids = "worker-0" if k == 1 else f"worker-0..worker-{k - 1}"
    lines.append(
        f"{ids} -> {', '.join(placement.workers)}, one each (node affinity on "
        f"{NODE_LABEL} plus required pod anti-affinity between the workers; the scheduler "
        "chooses which index lands on which of these nodes)"
    )
    used = set(placement.ps) | set(placement.workers)
    idle = [m for m in masters if m not in used]
    busy = [m for m in masters if m in used]
    if idle:
        lines.append(
            f"{', '.join(idle)} (master): no replica: the master runs no workload (the "
            "control-plane taint is not tolerated)"
        )
    if busy:
        lines.append(
            f"{', '.join(busy)} (master): takes replicas, the control-plane taint tolerated: "
            + ("the inventory has no workers" if not inv.workers else "chosen for the job")
        )
    return placement


def _thread_overrides(inv: Inventory, host: str) -> set[str]:
    return {"dlrs_num_inter_threads", "dlrs_num_intra_threads"} & set(overrides_of(inv, host)[0])


def node_entry(inv: Inventory, s: NodeShape, cpus: int, warnings: list[str]) -> dict[str, Any]:
    """One pod's numbers on one node: the calculator's, capped by the CPUs the pod gets."""
    t = s.tuning
    given = _thread_overrides(inv, s.host)
    inter, intra = t.num_inter_threads, t.num_intra_threads
    tpc = max(1, t.topology.threads_per_core)
    cores = max(1, cpus // tpc)  # the static CPU manager hands out whole cores first
    if not given:
        intra = min(intra, cores)
        inter = max(1, min(inter, intra))
    elif intra > cpus:
        warnings.append(
            f"{s.host}: dlrs_num_intra_threads {intra} is more than the {cpus} CPU(s) its pod "
            "gets; used as given"
        )
    env = dict(t.env)
    if "OMP_NUM_THREADS" in env:
        env["OMP_NUM_THREADS"] = str(intra)
    return {
        "num_inter_threads": inter,
        "num_intra_threads": intra,
        "data_format": t.data_format,
        "env": env,
        "cpus": cpus,
        "derive": not given,
    }


def _fit(shape: NodeShape, room: kube_state.Room, ps_here: int, ps_cpus: int, ps_mb: int) -> None:
    """Cap the facts-based size by what the node really has free (allocatable less requests)."""
    shape.room = room
    cpus = room.free_whole_cpus - ps_here * ps_cpus
    memory = (kube_state.mebibytes_floor(room.free_memory) - ps_here * ps_mb) // 256 * 256
    shape.tf_cpus = min(shape.tf_cpus, cpus)
    shape.tf_memory_mb = memory if shape.tf_memory_mb is None else min(shape.tf_memory_mb, memory)


def _ps_size(
    placement: Placement,
    found: dict[str, kube_state.Room],
    cpus: int,
    memory_mb: int,
    warnings: list[str],
) -> tuple[int, int]:
    """The PS pods' size: at most what was asked, at least 1 CPU and 512Mi, within what each
    PS node has free (leaving a worker sharing the node 1 CPU and 1024Mi)."""
    size_cpu, size_mb = cpus, memory_mb
    for host in placement.ps:
        room = found[host]
        shared = host in placement.workers
        free_cpu = room.free_whole_cpus - (1 if shared else 0)
        free_mb = kube_state.mebibytes_floor(room.free_memory) - (1024 if shared else 0)
        if free_cpu < 1 or free_mb < PS_MIN_MEMORY_MB:
            raise UsageError(
                f"{host} cannot take the PS (at least 1 whole CPU and {PS_MIN_MEMORY_MB}Mi"
                + (", and as much again for the worker beside it" if shared else "")
                + "): "
                + room.describe(),
                "free the node, or put the PS on another node (ps_hosts)",
            )
        size_cpu, size_mb = min(size_cpu, free_cpu), min(size_mb, free_mb // 256 * 256)
    if (size_cpu, size_mb) != (cpus, memory_mb):
        warnings.append(
            f"the PS gets {size_cpu} CPU(s) and {size_mb}Mi instead of {cpus} and "
            f"{memory_mb}Mi: what its node ({', '.join(placement.ps)}) has free"
        )
    return size_cpu, size_mb


def _size(
    inv: Inventory,
    placement: Placement,
    fdir: Path,
    rooms: dict[str, kube_state.Room] | None,
    ps_cpus: int,
    ps_memory_mb: int,
    spare_cpus: int,
    worker_memory_mb: int | None,
    warnings: list[str],
) -> tuple[list[NodeShape], list[NodeShape], NodeShape, int, int, int, int]:
    """Every node's shape, the workers', the smallest, the worker and PS pod sizes."""
    ps_on = {h: 1 for h in placement.shared()}
    everyone = [*placement.ps, *[h for h in placement.workers if h not in placement.ps]]
    found: dict[str, kube_state.Room] = {}
    if rooms is not None:
        absent = []
        for host in everyone:
            room = kube_state.node_of(rooms, host, NODE_LABEL, node_name(inv, host))
            if room is None:
                absent.append(host)
            else:
                found[host] = room
        if absent:
            raise UsageError(
                f"host(s) {', '.join(absent)} are not nodes of the cluster (no node labelled "
                f"{NODE_LABEL}=HOST or named after the host; nodes: {', '.join(rooms)})",
                "join them with `dlrs-provision cluster` (the Kubernetes phase), or choose "
                "other workers",
            )
        ps_cpus, ps_memory_mb = _ps_size(placement, found, ps_cpus, ps_memory_mb, warnings)
    all_shapes = shapes(
        inv,
        everyone,
        fdir,
        ps_on,
        ps_cpus,
        ps_memory_mb,
        spare_cpus,
        need_memory=worker_memory_mb is None and rooms is None,
    )
    by_host = {s.host: s for s in all_shapes}
    for s in all_shapes:
        if s.host in found:
            _fit(s, found[s.host], ps_on.get(s.host, 0), ps_cpus, ps_memory_mb)
    node_shapes = [by_host[h] for h in placement.workers]
    for s in all_shapes:
        warnings += [f"{s.host}: {w}" for w in s.tuning.warnings]
    for s in node_shapes:
        if s.tf_cpus < 1 or (rooms is not None and (s.tf_memory_mb or 0) < 1024):
            where = s.room.describe() if s.room is not None else (
                f"{s.logical_cpus} logical CPUs, {s.reserved_cpus} reserved for IO, "
                f"{s.ps_cpus} for PS, {spare_cpus} spare"
            )  # fmt: skip
            raise UsageError(
                f"{s.host} has no room left for a worker (at least 1 whole CPU and 1024Mi): "
                + where,
                "choose other workers, free the node, or run the PS elsewhere (ps_hosts)",
            )
    smallest = min(node_shapes, key=lambda s: (s.tf_cpus, s.tf_memory_mb or 0))
    cpus = smallest.tf_cpus
    if worker_memory_mb is not None:
        memory = worker_memory_mb
    else:
        memory = min(s.tf_memory_mb or 0 for s in node_shapes)
        if memory < 1024:
            raise UsageError(
                f"{smallest.host} has too little memory for a worker ({smallest.memory_mb} MB)",
                "give worker_memory_mb, or choose other workers",
            )
    bigger = [s for s in node_shapes if s.tf_cpus > cpus]
    if bigger:
        warnings.append(
            f"workers differ in size: every worker pod gets {cpus} CPUs, sized for "
            f"{smallest.host}; "
            + ", ".join(f"{s.host} could give {s.tf_cpus}" for s in bigger)
            + "; each pod's launcher takes its node's thread counts from nodes.json"
        )
    return all_shapes, node_shapes, smallest, cpus, memory, ps_cpus, ps_memory_mb


def build(*args: Any, **kwargs: Any) -> Manifests:
    """The TFJob and its ConfigMap (see _build for the arguments).

    When the fallback layout (the PS beside a worker) does not fit the node they would share,
    the PS gets that node to itself and the job one worker fewer, and the placement says why.
    """
    try:
        return _build(*args, **kwargs)
    except UsageError as exc:
        if not getattr(exc, "shared_fallback", False):
            raise
        return _build(*args, **kwargs, _own_nodes_because=exc.message)


def _build(
    inv: Inventory,
    facts_dir: Path | None = None,
    workers: list[str] | None = None,
    ps: int = 1,
    batch_size: int = flags.DEFAULT_BATCH_SIZE,
    model: str = flags.DEFAULT_MODEL,
    *,
    name: str = f"dlrs-{flags.DEFAULT_MODEL}",
    namespace: str = "default",
    num_batches: int = flags.DEFAULT_NUM_BATCHES,
    num_warmup_batches: int = 10,
    benchmark: str | None = None,
    git_url: str = DEFAULT_GIT_URL,
    git_ref: str = TF1_GIT_REF,
    git_image: str = DEFAULT_GIT_IMAGE,
    ps_hosts: list[str] | None = None,
    ps_cpus: int = 2,
    ps_memory_mb: int = 4096,
    worker_memory_mb: int | None = None,
    spare_cpus: int = 0,
    port: int = DEFAULT_PORT,
    python: str = "python3",
    rooms: dict[str, kube_state.Room] | None = None,
    _own_nodes_because: str | None = None,
) -> Manifests:
    """The TFJob and its ConfigMap for the inventory's workers (or `workers`), `ps` PS replicas.

    benchmark: "tf_cnn_benchmarks" (git_url at git_ref, a full commit or a branch name of
    benchmark_defaults.BENCHMARK_COMMITS, which pins it to a commit, fetched by an init container
    running git_image) or "synthetic"; None: the variant's default. spare_cpus: whole
    CPUs left free on each worker node besides the reserved ones. worker_memory_mb: the
    workers' memory instead of the facts-based size. rooms: what each node of the cluster can
    still give (kube_state.rooms of `kubectl get nodes/pods -o json`); without it, pods are
    sized from the facts alone and DaemonSets' requests are not counted.
    """
    _check_name(name)
    if batch_size < 1 or num_batches < 1 or num_warmup_batches < 0:
        raise UsageError("batch_size and num_batches must be 1 or more, warm-up 0 or more")
    if ps_cpus < 1 or ps_memory_mb < 256 or spare_cpus < 0:
        raise UsageError("ps_cpus must be 1 or more, ps_memory_mb 256 or more, spare_cpus >= 0")
    fdir = facts_dir or paths.facts_dir(inv.path)
    worker_hosts = _hosts(inv, list(workers) if workers else inv.workers or inv.masters, "workers")
    if not worker_hosts:
        raise UsageError("no workers to run the benchmark on", "add hosts to `workers`")
    # one image per replica type: the workers must agree on the build and its image
    variants = {h: inv.setting(h, "dlrs_variant") for h in worker_hosts}
    images = {h: inv.image(h) for h in worker_hosts}
    for what, seen in (("dlrs_variant", variants), ("image", images)):
        if len(set(seen.values())) > 1:
            detail = ", ".join(f"{h}: {v}" for h, v in seen.items())
            raise UsageError(
                f"the workers differ in {what} ({detail}); a TFJob's replicas of one type run "
                "one container image",
                f"set {what} alike for these hosts, or choose workers that agree",
            )
    variant, image = variants[worker_hosts[0]], images[worker_hosts[0]]
    benchmark = benchmark or DEFAULT_BENCHMARK.get(variant, "synthetic")
    if benchmark not in BENCHMARKS:
        raise UsageError(f"unknown benchmark {benchmark!r}", f"choose {' or '.join(BENCHMARKS)}")
    warnings: list[str] = []
    if benchmark == "synthetic":
        if ps:
            warnings.append(
                "the synthetic benchmark has no parameter server: the TFJob has Worker "
                "replicas only, which train together with collective all-reduce"
            )
        ps = 0
    elif ps < 1:
        raise UsageError("tf_cnn_benchmarks with parameter_server needs ps >= 1")
    chosen_ps = _hosts(inv, list(ps_hosts), "ps_hosts") if ps and ps_hosts else None
    placement = place(inv, worker_hosts, ps, chosen_ps, ps_cpus, _own_nodes_because)
    try:
        sized = _size(
            inv, placement, fdir, rooms, ps_cpus, ps_memory_mb, spare_cpus, worker_memory_mb,
            warnings,
        )  # fmt: skip
    except UsageError as exc:
        if placement.layout == "shared" and len(worker_hosts) >= ps + 1:
            exc.shared_fallback = True  # type: ignore[attr-defined]
        raise
    all_shapes, node_shapes, smallest, cpus, memory, ps_cpus, ps_memory_mb = sized

    overridden = [s.host for s in all_shapes if _thread_overrides(inv, s.host)]
    if overridden:
        warnings.append(
            "thread counts come from inventory overrides on "
            f"{', '.join(overridden)}: used as given in the pods there"
        )
    node_table: dict[str, dict[str, Any]] = {}
    for s in all_shapes:
        key = s.room.name if s.room is not None else node_name(inv, s.host)
        entry: dict[str, Any] = {"host": s.host}
        if s.host in placement.workers:
            entry["worker"] = node_entry(inv, s, cpus, warnings)
        if s.host in placement.ps:
            entry["ps"] = node_entry(inv, s, ps_cpus, warnings)
        node_table[key] = entry

    t = smallest.tuning
    update = COLLECTIVE if benchmark == "synthetic" else "parameter_server"
    args = benchmark_args(t, model, batch_size, num_batches, num_warmup_batches, update)
    first = node_table[next(k for k, v in node_table.items() if v["host"] == smallest.host)]
    for flag, key in (("--num_inter_threads", "num_inter_threads"),
                      ("--num_intra_threads", "num_intra_threads")):  # fmt: skip
        args = launcher.set_flag(args, flag, first["worker"][key])
    configmap_name = f"{name}-dlrs"
    labels = {
        "app.kubernetes.io/name": "dlrs-benchmark",
        "app.kubernetes.io/instance": name,
        "app.kubernetes.io/managed-by": "dlrs-provision",
    }
    launch = [python, f"{MOUNT}/launcher.py", f"--nodes={MOUNT}/{NODES_FILE}", "--derive-threads"]
    launch += [f"--variant={variant}", "--"]
    init = None
    working_dir = None
    if benchmark == "tf_cnn_benchmarks":
        git_commit = _git_commit(git_ref)
        command = [*launch, python, TF_CNN_SCRIPT]
        working_dir = str(Path(TF_CNN_SCRIPT).parent)
        init = {
            "name": "fetch-benchmarks",
            "image": git_image,
            "imagePullPolicy": "IfNotPresent",
            "command": ["sh", "-c", GIT_FETCH_SCRIPT],
            "args": [BENCHMARKS_DIR, git_url, git_commit],
            "resources": {"requests": dict(INIT_RESOURCES), "limits": dict(INIT_RESOURCES)},
            "volumeMounts": [{"name": "benchmarks", "mountPath": BENCHMARKS_DIR}],
        }
    else:
        command = [*launch, python, f"{MOUNT}/synthetic.py"]
    env = {"PYTHONUNBUFFERED": "1", **first["worker"]["env"]}
    common = {
        "image": image,
        "command": command,
        "args": args,
        "env": env,
        "port": port,
        "configmap": configmap_name,
        "masters": inv.masters,
        "init": init,
        "working_dir": working_dir,
    }

    def replica(role: str, replicas: int, **pod: Any) -> dict[str, Any]:
        return {
            "replicas": replicas,
            "restartPolicy": "Never",
            "template": {
                "metadata": {"labels": {**labels, LABEL_PREFIX + "replica": role}},
                "spec": _pod_spec(**common, **pod),
            },
        }

    replica_specs: dict[str, Any] = {}
    if ps:
        replica_specs["PS"] = replica(
            "ps", ps, cpus=ps_cpus, memory_mb=ps_memory_mb, hosts=placement.ps,
            anti_affinity={JOB_NAME_LABEL: name, REPLICA_TYPE_LABEL: "ps"} if ps > 1 else None,
            node_selector=None,
        )  # fmt: skip
    replica_specs["Worker"] = replica(
        "worker", len(placement.workers), cpus=cpus, memory_mb=memory, hosts=placement.workers,
        anti_affinity={JOB_NAME_LABEL: name, REPLICA_TYPE_LABEL: "worker"},
        node_selector={VARIANT_LABEL: variant},
    )  # fmt: skip
    tfjob = {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": dict(labels),
            "annotations": {
                LABEL_PREFIX + "benchmark": benchmark,
                LABEL_PREFIX + "placement": json.dumps(placement.lines),
                LABEL_PREFIX + "tuning": json.dumps(
                    {s.host: s.to_dict() for s in all_shapes}, sort_keys=True
                ),
            },
        },
        "spec": {
            "runPolicy": {"cleanPodPolicy": "Running", "backoffLimit": 0},
            "successPolicy": "AllWorkers",
            "tfReplicaSpecs": replica_specs,
        },
    }
    configmap = launcher_configmap(configmap_name, namespace, labels)
    configmap["data"][NODES_FILE] = json.dumps(node_table, indent=2, sort_keys=True) + "\n"
    return Manifests(
        tfjob=tfjob,
        configmap=configmap,
        shapes=node_shapes,
        warnings=warnings,
        placement=placement.lines,
        nodes=node_table,
    )


def render(inv: Inventory, *args: Any, **options: Any) -> dict[str, Any]:
    """The TFJob alone: build()'s arguments and defaults (see it for its ConfigMap)."""
    return build(inv, *args, **options).tfjob
