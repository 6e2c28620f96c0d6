"""The tuning calculator: the single source of the DLRS tuning rules.

Rules (DESIGN.md, "Tuning"):

    num_inter_threads = sockets
    num_intra_threads = physical cores                      (single node)
                      = physical cores - 2 per socket       (multi node: kept for IO)
    data_format       = the variant's layout (NCHW for MKL, NHWC for Eigen), NCHW only where
                        the image's TensorFlow runs oneDNN kernels on this CPU (else NHWC and
                        a warning; see catalog.onednn_policy and onednn_runs below)
    OMP_NUM_THREADS   = num_intra_threads, KMP_AFFINITY, KMP_BLOCKTIME   (OpenMP builds only)

Hyper-threads never count as cores. The same functions serve the command line and, through the
filter plugin in dlrs_provision/ansible_plugins/filter, every playbook.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from dlrs_provision import catalog

MODES = ("single", "multi")
DATA_FORMATS = ("NCHW", "NHWC")
IO_CORES_PER_SOCKET = 2
KMP_AFFINITY = "granularity=fine,compact,1,0"
DEFAULT_KMP_BLOCKTIME = 1

# Overrides accepted from the inventory, by the name of the value they replace.
OVERRIDE_KEYS = {
    "num_inter_threads": "dlrs_num_inter_threads",
    "num_intra_threads": "dlrs_num_intra_threads",
    "data_format": "dlrs_data_format",
    "kmp_blocktime": "dlrs_kmp_blocktime",
}


class FactsError(ValueError):
    """The host facts lack something the rules need, or hold something unusable."""


@dataclass(frozen=True)
class LogicalCpu:
    cpu: int
    core: int
    socket: int
    node: int | None = None


@dataclass(frozen=True)
class Topology:
    sockets: int
    cores_per_socket: int
    threads_per_core: int
    cpus: tuple[LogicalCpu, ...] | None = None  # known when preflight read `lscpu -p`
    source: str = "ansible facts"

    @property
    def physical_cores(self) -> int:
        return self.sockets * self.cores_per_socket

    @property
    def logical_cpus(self) -> int:
        if self.cpus is not None:
            return len(self.cpus)
        return self.physical_cores * self.threads_per_core


@dataclass
class Tuning:
    mode: str
    variant: str
    topology: Topology
    num_inter_threads: int
    num_intra_threads: int
    data_format: str
    env: dict[str, str]
    reserved_cores: int
    reserved_cpuset: str | None
    sources: dict[str, str] = field(default_factory=dict)
    overrides: dict[str, str] = field(default_factory=dict)  # value name -> where it came from
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        topo = self.topology
        return {
            "mode": self.mode,
            "variant": self.variant,
            "num_inter_threads": self.num_inter_threads,
            "num_intra_threads": self.num_intra_threads,
            "data_format": self.data_format,
            "env": dict(self.env),
            "reserved_cores": self.reserved_cores,
            "reserved_cpuset": self.reserved_cpuset,
            "topology": {
                "sockets": topo.sockets,
                "cores_per_socket": topo.cores_per_socket,
                "threads_per_core": topo.threads_per_core,
                "physical_cores": topo.physical_cores,
                "logical_cpus": topo.logical_cpus,
                "source": topo.source,
            },
            "sources": dict(self.sources),
            "overrides": dict(self.overrides),
            "warnings": list(self.warnings),
        }


# --------------------------------------------------------------------------- facts


def _fact(facts: Mapping[str, Any], name: str) -> Any:
    """Read ansible_<name> (setup output, fact cache) or <name> (ansible_facts.<name>)."""
    for key in (f"ansible_{name}", name):
        if key in facts:
            return facts[key]
    raise FactsError(f"missing fact ansible_{name}")


def _positive_int(value: Any, what: str) -> int:
    if isinstance(value, bool):
        raise FactsError(f"fact {what} is {value!r}, not a whole number")
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if not isinstance(value, int):
        raise FactsError(f"fact {what} is {value!r}, not a whole number")
    if value < 1:
        raise FactsError(f"fact {what} is {value}, expected 1 or more")
    return value


def parse_lscpu(text: str) -> list[dict[str, int | None]]:
    """Parse `lscpu -p=CPU,CORE,SOCKET,NODE` into a list of logical CPUs.

    Offline CPUs and comment lines are skipped; an empty NODE column (no NUMA) becomes None.
    """
    cpus: list[dict[str, int | None]] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        cols = line.split(",")
        if len(cols) < 3:
            raise FactsError(f"cannot read lscpu line {line!r}: expected CPU,CORE,SOCKET,NODE")
        try:
            cpu, core, socket = (int(c) for c in cols[:3])
            node = int(cols[3]) if len(cols) > 3 and cols[3] != "" else None
        except ValueError:
            raise FactsError(f"cannot read lscpu line {line!r}: not numbers") from None
        cpus.append({"cpu": cpu, "core": core, "socket": socket, "node": node})
    return cpus


def _topology_from_cpu_list(items: Iterable[Mapping[str, Any]]) -> Topology:
    cpus = []
    for item in items:
        try:
            cpus.append(
                LogicalCpu(
                    cpu=int(item["cpu"]),
                    core=int(item["core"]),
                    socket=int(item["socket"]),
                    node=None if item.get("node") is None else int(item["node"]),
                )
            )
        except (KeyError, TypeError, ValueError):
            raise FactsError(
                f"fact preflight_cpu_topology holds {item!r}; expected cpu, core, socket, node"
            ) from None
    if not cpus:
        raise FactsError("fact preflight_cpu_topology is empty")
    sockets = sorted({c.socket for c in cpus})
    cores = {(c.socket, c.core) for c in cpus}
    per_socket = {s: len({core for sock, core in cores if sock == s}) for s in sockets}
    if len(set(per_socket.values())) != 1:
        raise FactsError(
            f"sockets have different core counts {per_socket}; the rules assume equal sockets"
        )
    return Topology(
        sockets=len(sockets),
        cores_per_socket=next(iter(per_socket.values())),
        threads_per_core=max(1, len(cpus) // len(cores)),
        cpus=tuple(sorted(cpus, key=lambda c: c.cpu)),
        source="lscpu topology",
    )


def topology_from_facts(facts: Mapping[str, Any]) -> Topology:
    """Build the CPU topology from a host's Ansible facts.

    ansible_processor_count is the number of sockets, ansible_processor_cores the cores per
    socket and ansible_processor_threads_per_core the hyper-threads per core. When preflight
    stored the logical-CPU map (preflight_cpu_topology, from lscpu), it is used instead.
    """
    if not isinstance(facts, Mapping):
        raise FactsError(f"facts must be a mapping, got {type(facts).__name__}")
    detailed = facts.get("preflight_cpu_topology")
    if detailed:
        return _topology_from_cpu_list(detailed)
    return Topology(
        sockets=_positive_int(_fact(facts, "processor_count"), "ansible_processor_count"),
        cores_per_socket=_positive_int(_fact(facts, "processor_cores"), "ansible_processor_cores"),
        threads_per_core=_positive_int(
            _fact(facts, "processor_threads_per_core"), "ansible_processor_threads_per_core"
        ),
    )


def cpu_flags_from_facts(facts: Mapping[str, Any]) -> tuple[str, ...] | None:
    """The CPU flags preflight recorded (preflight_cpu_features), or None when unknown."""
    for key in ("preflight_cpu_features", "ansible_preflight_cpu_features"):
        value = facts.get(key)
        if value:
            if isinstance(value, str) or not isinstance(value, Iterable):
                raise FactsError(f"fact {key} is {value!r}, not a list of CPU flags")
            return tuple(str(f).lower() for f in value)
    return None


def onednn_runs(policy: str, cpu_flags: Iterable[str] | None) -> tuple[bool, str]:
    """Whether TensorFlow with this oneDNN policy runs oneDNN kernels on a CPU with these
    flags (None: not known), and why. Unknown flags with "by-cpu" count as no: NHWC runs
    everywhere, NCHW only with oneDNN."""
    if policy == "always":
        return True, "its TensorFlow always uses oneDNN"
    if policy == "never":
        return False, "its TensorFlow is an Eigen build without oneDNN kernels"
    if policy != "by-cpu":
        raise ValueError(f"oneDNN policy must be one of {', '.join(catalog.ONEDNN_POLICIES)}")
    wanted = catalog.ONEDNN_DEFAULT_CPU_FLAGS
    if cpu_flags is None:
        return False, (
            "its TensorFlow turns oneDNN on only on CPUs with one of "
            + ", ".join(wanted)
            + ", and this host's CPU flags are not known (run `dlrs-provision preflight`)"
        )
    have = sorted(set(cpu_flags) & set(wanted))
    if have:
        return True, f"its TensorFlow turns oneDNN on by default on this CPU ({', '.join(have)})"
    return False, (
        "its TensorFlow turns oneDNN on by default only on CPUs with one of "
        + ", ".join(wanted)
        + ", and this CPU has none of them"
    )


# --------------------------------------------------------------------------- rules


def format_cpuset(cpus: Iterable[int]) -> str:
    """[0, 1, 2, 5, 7, 8] -> '0-2,5,7-8' (the kernel's and the kubelet's cpuset syntax)."""
    nums = sorted(set(cpus))
    parts: list[str] = []
    i = 0
    while i < len(nums):
        j = i
        while j + 1 < len(nums) and nums[j + 1] == nums[j] + 1:
            j += 1
        parts.append(str(nums[i]) if i == j else f"{nums[i]}-{nums[j]}")
        i = j + 1
    return ",".join(parts)


def _reserved_cpus(topo: Topology, per_socket: int) -> list[int] | None:
    """The logical CPUs of the first `per_socket` physical cores of every socket, siblings too."""
    if topo.cpus is None:
        return None
    chosen: list[int] = []
    for socket in sorted({c.socket for c in topo.cpus}):
        cores = sorted({c.core for c in topo.cpus if c.socket == socket})[:per_socket]
        chosen += [c.cpu for c in topo.cpus if c.socket == socket and c.core in cores]
    return sorted(chosen)


def compute(
    facts: Mapping[str, Any] | Topology,
    mode: str = "single",
    variant: str = catalog.DEFAULT_VARIANT,
    overrides: Mapping[str, Any] | None = None,
    override_sources: Mapping[str, str] | None = None,
    image: str | None = None,
    cpu_flags: Iterable[str] | None = None,
    onednn: str | None = None,
) -> Tuning:
    """Compute a host's TensorFlow tuning.

    facts: the host's Ansible facts (or a Topology); mode: "single" or "multi" (a cluster worker);
    variant: a name from the catalog; overrides: inventory values keyed dlrs_num_inter_threads,
    dlrs_num_intra_threads, dlrs_data_format, dlrs_kmp_blocktime (None or absent: not set);
    override_sources: where each override came from, for the report; image: the image the host
    runs (None: the variant's), which says whether its TensorFlow has oneDNN kernels;
    cpu_flags: the host's CPU flags (None: preflight_cpu_features from the facts, if any);
    onednn: a oneDNN policy (catalog.ONEDNN_POLICIES) instead of the image's.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    var = catalog.variant(variant)
    topo = facts if isinstance(facts, Topology) else topology_from_facts(facts)
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    override_sources = override_sources or {}
    warnings: list[str] = []
    sources: dict[str, str] = {}

    reserve_per_socket = 0
    if mode == "multi":
        reserve_per_socket = min(IO_CORES_PER_SOCKET, topo.cores_per_socket - 1)
        if reserve_per_socket < IO_CORES_PER_SOCKET:
            warnings.append(
                f"host has {topo.cores_per_socket} core(s) per socket: reserving "
                f"{reserve_per_socket} instead of {IO_CORES_PER_SOCKET} per socket for IO "
                "so that at least one core per socket is left for TensorFlow"
            )
    reserved_count = reserve_per_socket * topo.sockets
    sources["reserved_cores"] = (
        f"{reserve_per_socket} physical core(s) per socket kept for IO, with their hyper-threads"
        if mode == "multi"
        else "single node: none kept"
    )
    reserved_cpus = _reserved_cpus(topo, reserve_per_socket) if reserve_per_socket else []
    reserved_cpuset = None if reserved_cpus is None else format_cpuset(reserved_cpus)

    inter = topo.sockets
    sources["num_inter_threads"] = f"sockets = {topo.sockets}"
    intra = topo.physical_cores - reserved_count
    if mode == "multi":
        sources["num_intra_threads"] = (
            f"physical cores {topo.physical_cores} - {reserve_per_socket} per socket "
            f"x {topo.sockets} kept for IO"
        )
    else:
        sources["num_intra_threads"] = (
            f"physical cores = {topo.sockets} socket(s) x {topo.cores_per_socket}"
        )
    data_format = var.data_format
    sources["data_format"] = f"variant {var.name}"
    if onednn is None:
        policy, policy_source = catalog.onednn_policy(var.name, image)
    else:
        policy, policy_source = onednn, f"oneDNN policy {onednn} given"
    if cpu_flags is None and isinstance(facts, Mapping):
        cpu_flags = cpu_flags_from_facts(facts)
    has_onednn, why = onednn_runs(policy, cpu_flags)
    if data_format == "NCHW":
        if has_onednn:
            sources["data_format"] = f"variant {var.name}; {policy_source}: {why}"
        else:
            data_format = "NHWC"
            sources["data_format"] = f"variant {var.name} wants NCHW; {policy_source}: {why}"
            warnings.append(
                f"data_format NHWC instead of the {var.name} variant's NCHW: {policy_source}, "
                f"and {why}; NCHW convolutions train on a CPU only with oneDNN kernels"
            )
    blocktime = DEFAULT_KMP_BLOCKTIME
    applied: dict[str, str] = {}

    def take(name: str) -> Any:
        key = OVERRIDE_KEYS[name]
        if key not in overrides:
            return None
        applied[name] = override_sources.get(key, "inventory")
        sources[name] = f"override {key} from {applied[name]}"
        return overrides[key]

    value = take("num_inter_threads")
    if value is not None:
        inter = int(value)
    value = take("num_intra_threads")
    if value is not None:
        intra = int(value)
    value = take("data_format")
    if value is not None:
        data_format = str(value)
    value = take("kmp_blocktime")
    if value is not None:
        blocktime = int(value)

    if intra < 1:  # only reachable through a bad override; the rules never go below 1
        warnings.append(f"num_intra_threads {intra} raised to 1")
        intra = 1
    if data_format not in DATA_FORMATS:
        raise ValueError(f"data_format must be NCHW or NHWC, got {data_format!r}")
    if "data_format" in applied and data_format == "NCHW" and not has_onednn:
        warnings.append(
            f"override data_format=NCHW: {policy_source}, and {why}; the benchmark will "
            "fail in training without oneDNN kernels"
        )
    if "num_intra_threads" in applied and intra > topo.logical_cpus:
        warnings.append(
            f"override num_intra_threads={intra} exceeds the host's {topo.logical_cpus} "
            "logical CPUs"
        )

    env: dict[str, str] = {}
    if var.openmp:
        env = {
            "OMP_NUM_THREADS": str(intra),
            "KMP_AFFINITY": KMP_AFFINITY,
            "KMP_BLOCKTIME": str(blocktime),
        }
        sources["env"] = "OpenMP build: OMP_NUM_THREADS = num_intra_threads"
    else:
        sources["env"] = f"variant {var.name} does not use OpenMP"

    return Tuning(
        mode=mode,
        variant=var.name,
        topology=topo,
        num_inter_threads=inter,
        num_intra_threads=intra,
        data_format=data_format,
        env=env,
        reserved_cores=reserved_count,
        reserved_cpuset=reserved_cpuset,
        sources=sources,
        overrides=applied,
        warnings=warnings,
    )
