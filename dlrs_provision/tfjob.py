"""The distributed benchmark as a Kubeflow TFJob (kubeflow.org/v1, training-operator v1.9).

    manifests = tfjob.build(inv, workers=["xeon-w01", "xeon-w02"], ps=1)
    manifests.to_yaml()      # the ConfigMap (launcher, calculator, synthetic benchmark), the TFJob

One PS replica set and one Worker replica set (ports 2222, container `tensorflow`, the operator's
defaults). Every Worker gets a node to itself (required podAntiAffinity on the operator's
job-name and replica-type labels) among the chosen hosts (required node affinity on the label
`dlrs.intel.com/node`, which the cluster phase sets to each node's inventory name); the PS
replicas go to the masters by default (the inventory's masters, control-plane taint tolerated).

Sizing (Guaranteed QoS, so that the kubelet's static CPU manager gives exclusive cores): a
worker asks for the node's logical CPUs minus the ones reserved for IO (the calculator's
multi-node reservation, hyper-thread siblings included, which the kubelet holds back as
reservedSystemCPUs), minus what PS replicas placed on that node take; requests equal limits, in
whole CPUs; memory likewise, from ansible_memtotal_mb less what the system keeps.

Per-node numbers. One Worker template serves every worker, so it cannot carry per-node values,
and one CPU request must fit every chosen node: pods are sized for the smallest node, and the
template's tf_cnn_benchmarks arguments are the calculator's multi-node values for that node.
Inside each pod the launcher (benchmark/launcher.py) then reads the CPUs the pod was really
given and asks the same calculator, shipped in the ConfigMap beside it, for that pod's numbers;
on a larger node, or one with another hyper-threading layout, they differ from the template's.
Inventory overrides of the thread counts switch that off: they are used as given.

Benchmarks: `tf_cnn_benchmarks` (checked out by an init container from a git URL and ref;
tensorflow/benchmarks' cnn_tf_v1.12_compatible branch for the seed's TensorFlow 1.x images) or
`synthetic` (the project's tf.keras ResNet50, for TensorFlow 2 images; it has no parameter
server, so its TFJob has Worker replicas only). The default follows the variant.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from dlrs_provision import catalog, paths, tuning
from dlrs_provision.benchmark import launcher
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

MOUNT = "/opt/dlrs"
BENCHMARKS_DIR = "/benchmarks"
TF_CNN_SCRIPT = BENCHMARKS_DIR + "/scripts/tf_cnn_benchmarks/tf_cnn_benchmarks.py"
DEFAULT_GIT_URL = "https://github.com/tensorflow/benchmarks.git"
TF1_GIT_REF = "cnn_tf_v1.12_compatible"  # the branch for TensorFlow 1.12 images
DEFAULT_GIT_IMAGE = "alpine/git:v2.47.2"
BENCHMARKS = ("tf_cnn_benchmarks", "synthetic")
# the benchmark each variant's images can run
DEFAULT_BENCHMARK = {
    "mkl": "tf_cnn_benchmarks",
    "eigen": "tf_cnn_benchmarks",
    "onednn": "synthetic",
}

SEED_LEARNING_RATE = "0.0001"
SEED_RANDOM_SEED = 8286
SYSTEM_MEMORY_MB = 2048  # kept for the system: at least this, or a tenth of the memory
INIT_RESOURCES = {"cpu": "1", "memory": "512Mi"}

_PACKAGE = Path(__file__).resolve().parent
# ConfigMap key -> (file in this package, path under MOUNT)
SHIPPED = {
    "launcher.py": (_PACKAGE / "benchmark" / "launcher.py", "launcher.py"),
    "synthetic.py": (_PACKAGE / "benchmark" / "synthetic.py", "synthetic.py"),
    "dlrs_provision.__init__.py": (_PACKAGE / "__init__.py", "dlrs_provision/__init__.py"),
    "dlrs_provision.tuning.py": (_PACKAGE / "tuning.py", "dlrs_provision/tuning.py"),
    "dlrs_provision.catalog.py": (_PACKAGE / "catalog.py", "dlrs_provision/catalog.py"),
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
            "items": [{"key": key, "path": rel} for key, (_, rel) in SHIPPED.items()],
        },
    }


def benchmark_args(
    t: tuning.Tuning, model: str, batch_size: int, num_batches: int, num_warmup_batches: int
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
        "--variable_update=parameter_server",
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
            {
                "name": CPU_LIMIT_ENV,
                "valueFrom": {
                    "resourceFieldRef": {
                        "containerName": CONTAINER,
                        "resource": "limits.cpu",
                        "divisor": "1",
                    }
                },
            }
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


def _same(shapes_: list[NodeShape], what: str, value: Any) -> Any:
    seen = {s.host: value(s) for s in shapes_}
    if len({json.dumps(v, sort_keys=True) for v in seen.values()}) > 1:
        detail = ", ".join(f"{h}: {v}" for h, v in seen.items())
        raise UsageError(
            f"the workers differ in {what} ({detail}); a TFJob has one Worker template",
            f"set {what} alike for these hosts, or choose workers that agree",
        )
    return next(iter(seen.values()))


def build(
    inv: Inventory,
    facts_dir: Path | None = None,
    workers: list[str] | None = None,
    ps: int = 1,
    batch_size: int = 64,
    model: str = "resnet50",
    *,
    name: str = "dlrs-resnet50",
    namespace: str = "default",
    num_batches: int = 100,
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
) -> Manifests:
    """The TFJob and its ConfigMap for the inventory's workers (or `workers`), `ps` PS replicas.

    benchmark: "tf_cnn_benchmarks" (git_url at git_ref, a branch or tag, cloned by an init
    container running git_image) or "synthetic"; None: the variant's default. spare_cpus: whole
    CPUs left free on each worker node besides the reserved ones (for DaemonSets that request
    CPU). worker_memory_mb: the workers' memory instead of the facts-based size.
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
    variants = {h: inv.setting(h, "dlrs_variant") for h in worker_hosts}
    images = {h: inv.image(h) for h in worker_hosts}
    for what, seen in (("dlrs_variant", variants), ("image", images)):
        if len(set(seen.values())) > 1:
            detail = ", ".join(f"{h}: {v}" for h, v in seen.items())
            raise UsageError(
                f"the workers differ in {what} ({detail}); a TFJob has one Worker template",
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
                "replicas only, and each worker measures its own node"
            )
        ps = 0
    elif ps < 1:
        raise UsageError("tf_cnn_benchmarks with parameter_server needs ps >= 1")
    ps_list = _hosts(inv, list(ps_hosts) if ps_hosts else inv.masters, "ps_hosts") if ps else []
    ps_on = {h: ps for h in ps_list if h in worker_hosts}

    node_shapes = shapes(
        inv,
        worker_hosts,
        fdir,
        ps_on,
        ps_cpus,
        ps_memory_mb,
        spare_cpus,
        need_memory=worker_memory_mb is None,
    )
    for s in node_shapes:
        warnings += [f"{s.host}: {w}" for w in s.tuning.warnings]
        if s.tf_cpus < 1:
            raise UsageError(
                f"{s.host} has no CPU left for a worker: {s.logical_cpus} logical CPUs, "
                f"{s.reserved_cpus} reserved for IO, {s.ps_cpus} for PS, {spare_cpus} spare",
                "choose other workers or PS hosts, or fewer PS replicas",
            )
    overrides = _same(
        node_shapes,
        "tuning overrides",
        lambda s: overrides_of(inv, s.host)[0],
    )
    _same(node_shapes, "data_format", lambda s: s.tuning.data_format)
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
            + "; each pod's launcher sets the thread counts for the CPUs it gets"
        )
    thread_overrides = {"dlrs_num_inter_threads", "dlrs_num_intra_threads"} & set(overrides)
    derive = not thread_overrides
    if thread_overrides:
        warnings.append(
            "thread counts come from inventory overrides "
            f"({', '.join(sorted(thread_overrides))}): used as given in every pod"
        )

    t = smallest.tuning
    args = benchmark_args(t, model, batch_size, num_batches, num_warmup_batches)
    configmap_name = f"{name}-dlrs"
    labels = {
        "app.kubernetes.io/name": "dlrs-benchmark",
        "app.kubernetes.io/instance": name,
        "app.kubernetes.io/managed-by": "dlrs-provision",
    }
    launch = [python, f"{MOUNT}/launcher.py"]
    if derive:
        launch.append("--derive-threads")
    launch += [f"--variant={variant}", "--"]
    init = None
    working_dir = None
    if benchmark == "tf_cnn_benchmarks":
        command = [*launch, python, TF_CNN_SCRIPT]
        working_dir = str(Path(TF_CNN_SCRIPT).parent)
        init = {
            "name": "fetch-benchmarks",
            "image": git_image,
            "imagePullPolicy": "IfNotPresent",
            "command": ["git", "clone", "--depth=1", f"--branch={git_ref}", git_url],
            "args": [BENCHMARKS_DIR],
            "resources": {"requests": dict(INIT_RESOURCES), "limits": dict(INIT_RESOURCES)},
            "volumeMounts": [{"name": "benchmarks", "mountPath": BENCHMARKS_DIR}],
        }
    else:
        command = [*launch, python, f"{MOUNT}/synthetic.py"]
    env = {"PYTHONUNBUFFERED": "1", **t.env}
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
            "ps", ps, cpus=ps_cpus, memory_mb=ps_memory_mb, hosts=ps_list,
            anti_affinity=None, node_selector=None,
        )  # fmt: skip
    replica_specs["Worker"] = replica(
        "worker", len(worker_hosts), cpus=cpus, memory_mb=memory, hosts=worker_hosts,
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
                LABEL_PREFIX + "tuning": json.dumps(
                    {s.host: s.to_dict() for s in node_shapes}, sort_keys=True
                ),
            },
        },
        "spec": {
            "runPolicy": {"cleanPodPolicy": "Running", "backoffLimit": 0},
            "successPolicy": "AllWorkers",
            "tfReplicaSpecs": replica_specs,
        },
    }
    return Manifests(
        tfjob=tfjob,
        configmap=launcher_configmap(configmap_name, namespace, labels),
        shapes=node_shapes,
        warnings=warnings,
    )


def render(
    inv: Inventory,
    facts_dir: Path | None = None,
    workers: list[str] | None = None,
    ps: int = 1,
    batch_size: int = 64,
    model: str = "resnet50",
    **options: Any,
) -> dict[str, Any]:
    """The TFJob alone (see build() for the options and for its ConfigMap)."""
    return build(inv, facts_dir, workers, ps, batch_size, model, **options).tfjob
