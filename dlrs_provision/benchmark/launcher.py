"""Start tf_cnn_benchmarks (or the synthetic benchmark) as one task of a Kubeflow TFJob.

tf_cnn_benchmarks never reads TF_CONFIG: it takes --job_name, --ps_hosts, --worker_hosts and
--task_index. The training operator (kubeflow.org/v1) sets TF_CONFIG in every pod of a TFJob:

    {"cluster": {"ps": ["NAME-ps-0.NAMESPACE.svc:2222"],
                 "worker": ["NAME-worker-0.NAMESPACE.svc:2222", ...]},
     "task": {"type": "worker", "index": 0}, "environment": "cloud"}

This launcher turns it into those flags, appends them to the benchmark command given after `--`
and replaces itself with that command (exec), so the benchmark's exit code is the pod's:

    python3 launcher.py [--nodes nodes.json] [--derive-threads --variant mkl] -- python3 ...

With --nodes it reads the node table that the TFJob's ConfigMap carries (nodes.json: node name
-> {"host", "worker": {...}, "ps": {...}}, each with num_inter_threads, num_intra_threads,
data_format, env, cpus, derive) and takes the entry of its own node (DLRS_NODE_NAME, set from
spec.nodeName through the downward API) for its task type: thread and data-format flags,
--kmp_blocktime/--kmp_affinity when the command has them, and the OpenMP environment. So each
node's per-host values (inventory overrides included) reach its pod, though one template
serves every worker. A pod whose node is missing from the table stops with an error.

With --derive-threads (and an entry whose "derive" is true: no thread override for that host)
it then sets --num_inter_threads, --num_intra_threads (and OMP_NUM_THREADS for OpenMP builds)
from the CPUs the pod was really given: the launcher reads its cpuset (cgroup
cpuset.cpus.effective, else the scheduler affinity), maps each CPU to its core and socket
from /sys/devices/system/cpu and asks the project's tuning calculator, which is shipped beside
this file in the same ConfigMap (dlrs_provision/tuning.py and catalog.py), so the rules
live in one place. The calculator runs in single-node mode on the pod's CPUs: the kubelet
(static CPU manager, reservedSystemCPUs) already keeps the cores reserved for IO away from the
pod, so the pod's cpuset is exactly the set of cores the multi-node rule leaves to TensorFlow.
When the pod has no exclusive cpuset (its cpuset is wider than its CPU limit, given in
DLRS_CPU_LIMIT through the downward API) or the calculator refuses the shape, the values
rendered into the TFJob are kept, and the launcher says so.

Only the standard library is used: this file runs with the image's own Python (3.7 or newer).
"""

from __future__ import annotations

import json
import os
import sys

EXIT_USAGE = 2
TASK_TYPES = ("ps", "worker")
CLUSTER_FLAGS = ("--job_name", "--ps_hosts", "--worker_hosts", "--task_index")
THREAD_FLAGS = ("--num_inter_threads", "--num_intra_threads")
CPU_LIMIT_ENV = "DLRS_CPU_LIMIT"
NODE_NAME_ENV = "DLRS_NODE_NAME"
PREFIX = "launcher: "


class LaunchError(Exception):
    """Something in the pod's environment or the command makes the benchmark unstartable."""


# --------------------------------------------------------------------------- TF_CONFIG


def _addresses(cluster: dict, key: str) -> list:
    value = cluster.get(key, [])
    if not isinstance(value, list) or not all(isinstance(a, str) and a for a in value):
        raise LaunchError(
            f'TF_CONFIG cluster.{key} must be a list of "host:port" strings, got {value!r}'
        )
    for address in value:
        host, sep, port = address.rpartition(":")
        if not sep or not host or not port.isdigit():
            raise LaunchError(f'TF_CONFIG cluster.{key} holds {address!r}, not "host:port"')
    return value


def parse_tf_config(text: str | None) -> dict:
    """TF_CONFIG's text -> {"job_name", "task_index", "ps_hosts", "worker_hosts"}."""
    if text is None or not text.strip():
        raise LaunchError(
            "TF_CONFIG is not set: this launcher runs in a pod of a TFJob, where the training "
            "operator sets it (run the benchmark directly for a single-node run)"
        )
    try:
        config = json.loads(text)
    except ValueError as exc:
        raise LaunchError(f"TF_CONFIG is not JSON ({exc}): {text:.200}") from None
    if not isinstance(config, dict):
        raise LaunchError(f"TF_CONFIG must be a JSON object, got {text:.200}")
    cluster = config.get("cluster")
    task = config.get("task")
    # training-operator v1.9.0 writes the sparse form under "cluster" (worker: {index: address}),
    # older releases under "sparseCluster"
    if "sparseCluster" in config or (
        isinstance(cluster, dict) and isinstance(cluster.get("worker"), dict)
    ):
        raise LaunchError(
            "TF_CONFIG holds a sparse cluster (the TFJob sets enableDynamicWorker): "
            "tf_cnn_benchmarks needs every worker's address; render the TFJob without it"
        )
    if not isinstance(cluster, dict) or not isinstance(task, dict):
        raise LaunchError(f'TF_CONFIG needs a "cluster" and a "task" object, got {text:.200}')
    task_type = task.get("type")
    if not isinstance(task_type, str) or task_type.lower() not in TASK_TYPES:
        raise LaunchError(
            f"TF_CONFIG task type {task_type!r} is not one tf_cnn_benchmarks knows (ps, "
            "worker): render the TFJob with PS and Worker replicas only, no Chief or Evaluator"
        )
    task_type = task_type.lower()
    index = task.get("index")
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        raise LaunchError(f"TF_CONFIG task index must be a whole number >= 0, got {index!r}")
    workers = _addresses(cluster, "worker")
    ps = _addresses(cluster, "ps")
    if not workers:
        raise LaunchError("TF_CONFIG cluster has no worker: a benchmark needs at least one")
    members = workers if task_type == "worker" else ps
    if index >= len(members):
        raise LaunchError(
            f"TF_CONFIG task {task_type} {index} does not exist: the cluster has "
            f"{len(members)} {task_type} task(s)"
        )
    return {"job_name": task_type, "task_index": index, "ps_hosts": ps, "worker_hosts": workers}


def cluster_flags(spec: dict) -> list:
    flags = [f"--job_name={spec['job_name']}"]
    if spec["ps_hosts"]:
        flags.append("--ps_hosts=" + ",".join(spec["ps_hosts"]))
    flags.append("--worker_hosts=" + ",".join(spec["worker_hosts"]))
    flags.append(f"--task_index={spec['task_index']}")
    return flags


def _flag_name(arg: str) -> str:
    return arg.split("=", 1)[0]


# --------------------------------------------------------------------------- CPUs


def parse_cpuset(text: str) -> list:
    """'0-2,5,7-8' -> [0, 1, 2, 5, 7, 8] (the kernel's cpuset list syntax)."""
    cpus = set()
    for part in text.strip().split(","):
        part = part.strip()
        if not part:
            continue
        first, _, last = part.partition("-")
        try:
            lo, hi = int(first), int(last or first)
        except ValueError:
            raise LaunchError(f"cannot read the cpuset {text!r}") from None
        if hi < lo:
            raise LaunchError(f"cannot read the cpuset {text!r}")
        cpus.update(range(lo, hi + 1))
    return sorted(cpus)


def pod_cpus(cgroup_root: str = "/sys/fs/cgroup") -> tuple:
    """The CPUs this pod may run on, and where that came from."""
    for rel in ("cpuset.cpus.effective", "cpuset/cpuset.effective_cpus", "cpuset/cpuset.cpus"):
        path = os.path.join(cgroup_root, rel)
        try:
            with open(path) as fh:
                text = fh.read()
        except OSError:
            continue
        cpus = parse_cpuset(text)
        if cpus:
            return cpus, path
    return sorted(os.sched_getaffinity(0)), "sched_getaffinity"


def _read_int(path: str) -> int:
    with open(path) as fh:
        return int(fh.read().strip())


def cpu_topology(cpus: list, sys_root: str = "/sys") -> list:
    """Each CPU's core, socket and NUMA node from sysfs, as the calculator's lscpu map."""
    base = os.path.join(sys_root, "devices", "system", "cpu")
    result = []
    for cpu in cpus:
        topo = os.path.join(base, f"cpu{cpu}", "topology")
        try:
            core = _read_int(os.path.join(topo, "core_id"))
            socket = _read_int(os.path.join(topo, "physical_package_id"))
        except (OSError, ValueError):
            raise LaunchError(f"cannot read the topology of cpu{cpu} under {base}") from None
        node = None
        try:
            names = os.listdir(os.path.join(base, f"cpu{cpu}"))
        except OSError:
            names = []
        for name in names:
            if name.startswith("node") and name[4:].isdigit():
                node = int(name[4:])
        result.append({"cpu": cpu, "core": core, "socket": socket, "node": node})
    return result


def _load_tuning():
    here = os.path.dirname(os.path.abspath(__file__))
    if here not in sys.path:
        sys.path.insert(0, here)
    from dlrs_provision import tuning  # shipped beside this file in the TFJob's ConfigMap

    return tuning


def derive_threads(
    variant: str,
    environ: dict,
    cgroup_root: str = "/sys/fs/cgroup",
    sys_root: str = "/sys",
) -> tuple:
    """(values, message): the calculator's numbers for this pod's CPUs, or (None, why not).

    values: {"num_inter_threads", "num_intra_threads", "env"}.
    """
    try:
        cpus, source = pod_cpus(cgroup_root)
    except LaunchError as exc:
        return None, f"{exc}; keeping the rendered thread counts"
    limit_text = environ.get(CPU_LIMIT_ENV, "")
    if limit_text.strip().isdigit() and len(cpus) > int(limit_text):
        return None, (
            f"the pod may use {len(cpus)} CPUs ({source}) but its limit is "
            f"{limit_text.strip()}: no exclusive cores (is the kubelet's static CPU manager "
            "policy on?); keeping the rendered thread counts"
        )
    try:
        topology = cpu_topology(cpus, sys_root)
    except LaunchError as exc:
        return None, f"{exc}; keeping the rendered thread counts"
    try:
        tuning = _load_tuning()
    except ImportError as exc:
        return None, f"tuning calculator not found ({exc}); keeping the rendered thread counts"
    try:
        result = tuning.compute({"preflight_cpu_topology": topology}, "single", variant)
    except (tuning.FactsError, ValueError) as exc:
        return None, f"calculator: {exc}; keeping the rendered thread counts"
    cores = len({(c["socket"], c["core"]) for c in topology})
    sockets = len({c["socket"] for c in topology})
    message = (
        f"cpuset {tuning.format_cpuset(cpus)} from {source}: {len(cpus)} CPU(s), "
        f"{cores} core(s) on {sockets} socket(s)"
    )
    values = {
        "num_inter_threads": result.num_inter_threads,
        "num_intra_threads": result.num_intra_threads,
        "env": dict(result.env),
    }
    return values, message


def set_flag(args: list, flag: str, value: object) -> list:
    """Replace --flag=V (or --flag V) in args with --flag=value; args without it are unchanged."""
    out = []
    skip = False
    for i, arg in enumerate(args):
        if skip:
            skip = False
            continue
        if arg == flag and i + 1 < len(args):
            out.append(f"{flag}={value}")
            skip = True
        elif _flag_name(arg) == flag:
            out.append(f"{flag}={value}")
        else:
            out.append(arg)
    return out


# --------------------------------------------------------------------------- node table


def node_values(path: str, environ: dict, task_type: str) -> tuple:
    """(entry, note): this pod's numbers from the node table, for its node and task type."""
    node = environ.get(NODE_NAME_ENV, "").strip()
    if not node:
        raise LaunchError(
            f"{NODE_NAME_ENV} is not set: the pod template sets it from spec.nodeName "
            "(downward API); render the TFJob with dlrs-provision"
        )
    try:
        with open(path) as fh:
            table = json.load(fh)
    except OSError as exc:
        raise LaunchError(f"cannot read the node table {path}: {exc}") from None
    except ValueError as exc:
        raise LaunchError(f"the node table {path} is not JSON: {exc}") from None
    if not isinstance(table, dict):
        raise LaunchError(f"the node table {path} must be a JSON object of nodes")
    if node not in table:
        raise LaunchError(
            f"node {node} has no entry in {path} (it has: {', '.join(sorted(table)) or 'none'}): "
            "the pod landed on a node the TFJob was not rendered for; render it again for "
            "this cluster"
        )
    entry = (table[node] or {}).get(task_type)
    if not isinstance(entry, dict):
        raise LaunchError(
            f"node {node} ({table[node].get('host', '?')}) has no {task_type} entry in {path}: "
            f"the TFJob placed no {task_type} there; render it again for this cluster"
        )
    note = (
        f"node {node} (host {table[node].get('host', '?')}), {task_type}: "
        f"--num_inter_threads={entry.get('num_inter_threads')} "
        f"--num_intra_threads={entry.get('num_intra_threads')} "
        f"--data_format={entry.get('data_format')} from {path}"
    )
    return entry, note


def apply_entry(command: list, env: dict, entry: dict) -> list:
    """Set the entry's flags in the command (only --kmp_* flags it already has) and env."""
    for flag in ("--num_inter_threads", "--num_intra_threads", "--data_format"):
        if entry.get(flag[2:]) is not None:
            command = set_flag(command, flag, entry[flag[2:]])
    values = dict(entry.get("env") or {})
    names = {_flag_name(a) for a in command}
    for flag, key in (("--kmp_blocktime", "KMP_BLOCKTIME"), ("--kmp_affinity", "KMP_AFFINITY")):
        if key in values and flag in names:
            command = set_flag(command, flag, values[key])
    env.update({str(k): str(v) for k, v in values.items()})
    return command


# --------------------------------------------------------------------------- main


def _usage() -> str:
    return (
        "usage: launcher.py [--nodes FILE] [--derive-threads] [--variant NAME] [--dry-run] "
        "-- COMMAND [ARG...]"
    )


def build_command(argv: list, environ: dict, cgroup_root: str, sys_root: str) -> tuple:
    """(command, environment, notes, dry_run) for argv; raises LaunchError."""
    if "--" not in argv:
        raise LaunchError("no benchmark command: give it after `--`\n" + _usage())
    split = argv.index("--")
    options, command = argv[:split], argv[split + 1 :]
    derive, variant, dry_run, nodes = False, "mkl", False, None
    i = 0
    while i < len(options):
        opt = options[i]
        if opt == "--derive-threads":
            derive = True
        elif opt == "--dry-run":
            dry_run = True
        elif opt == "--variant" and i + 1 < len(options):
            variant = options[i + 1]
            i += 1
        elif opt.startswith("--variant="):
            variant = opt.split("=", 1)[1]
        elif opt == "--nodes" and i + 1 < len(options):
            nodes = options[i + 1]
            i += 1
        elif opt.startswith("--nodes="):
            nodes = opt.split("=", 1)[1]
        else:
            raise LaunchError(f"unknown launcher option {opt!r}\n{_usage()}")
        i += 1
    if not command:
        raise LaunchError("no benchmark command after `--`\n" + _usage())
    clash = [a for a in command if _flag_name(a) in CLUSTER_FLAGS]
    if clash:
        names = ", ".join(sorted({_flag_name(a) for a in clash}))
        raise LaunchError(f"the command already sets {names}: the launcher sets it from TF_CONFIG")
    spec = parse_tf_config(environ.get("TF_CONFIG"))
    env = dict(environ)
    notes = [
        f"task {spec['job_name']} {spec['task_index']} of a cluster of "
        f"{len(spec['worker_hosts'])} worker(s) and {len(spec['ps_hosts'])} ps"
    ]
    if nodes is not None:
        entry, note = node_values(nodes, environ, spec["job_name"])
        command = apply_entry(command, env, entry)
        notes.append(note)
        derive = derive and bool(entry.get("derive", True))
    if derive:
        values, message = derive_threads(variant, environ, cgroup_root, sys_root)
        notes.append(message)
        if values is not None:
            for flag in THREAD_FLAGS:
                command = set_flag(command, flag, values[flag[2:]])
            if "OMP_NUM_THREADS" in values["env"]:
                env["OMP_NUM_THREADS"] = values["env"]["OMP_NUM_THREADS"]
            omp = values["env"].get("OMP_NUM_THREADS")
            notes.append(
                f"tuning calculator: --num_inter_threads={values['num_inter_threads']} "
                f"--num_intra_threads={values['num_intra_threads']}"
                + (f" OMP_NUM_THREADS={omp}" if omp else "")
            )
    command = command + cluster_flags(spec)
    return command, env, notes, dry_run


def main(
    argv: list | None = None,
    environ: dict | None = None,
    execvpe=os.execvpe,
    cgroup_root: str = "/sys/fs/cgroup",
    sys_root: str = "/sys",
) -> int:
    argv = sys.argv[1:] if argv is None else argv
    environ = dict(os.environ) if environ is None else environ
    try:
        command, env, notes, dry_run = build_command(argv, environ, cgroup_root, sys_root)
    except LaunchError as exc:
        sys.stderr.write(f"{PREFIX}error: {exc}\n")
        return EXIT_USAGE
    for note in notes:
        sys.stdout.write(PREFIX + note + "\n")
    sys.stdout.write(PREFIX + "exec " + " ".join(command) + "\n")
    sys.stdout.flush()
    if dry_run:
        return 0
    try:
        execvpe(command[0], command, env)
    except OSError as exc:
        sys.stderr.write(f"{PREFIX}error: cannot run {command[0]}: {exc}\n")
        return 127
    return 0  # only reached when execvpe is replaced (tests)


if __name__ == "__main__":
    sys.exit(main())
