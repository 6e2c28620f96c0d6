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

import dataclasses
from collections.abc import Callable, Iterable, Mapping
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
    cores_per_socket: int  # the largest socket's cores; every socket's when they are equal
    threads_per_core: int  # the most hyper-threads any core has online
    cpus: tuple[LogicalCpu, ...] | None = None  # known when preflight read `lscpu -p`
    source: str = "ansible facts"
    socket_cores: tuple[int, ...] = ()  # cores of each socket; empty: cores_per_socket each
    notes: tuple[str, ...] = ()  # why the facts were read the way they were (become warnings)

    @property
    def cores_by_socket(self) -> tuple[int, ...]:
        return self.socket_cores or (self.cores_per_socket,) * self.sockets

    @property
    def even(self) -> bool:
        return len(set(self.cores_by_socket)) == 1

    @property
    def physical_cores(self) -> int:
        return sum(self.cores_by_socket)

    @property
    def logical_cpus(self) -> int:
        """The logical CPUs online (what lscpu lists), else cores x threads."""
        if self.cpus is not None:
            return len(self.cpus)
        return self.physical_cores * self.threads_per_core

    @property
    def offline_siblings(self) -> int:
        """Hyper-threads missing from cores that have fewer online than the fullest core."""
        return self.physical_cores * self.threads_per_core - self.logical_cpus

    def summary(self) -> str:
        """The topology line; it multiplies out: "2 socket(s) x 18 cores x 2 thread(s) = 72
        logical CPUs", "2 sockets (24 + 23 cores) x 2 threads = 94 logical CPUs", and with a
        sibling offline "... = 96 logical CPUs, 95 online (1 sibling offline)"."""
        if self.even:
            head = (
                f"{self.sockets} socket(s) x {self.cores_per_socket} cores x "
                f"{self.threads_per_core} thread(s)"
            )
        else:
            cores = " + ".join(str(c) for c in self.cores_by_socket)
            head = f"{self.sockets} sockets ({cores} cores) x {self.threads_per_core} thread(s)"
        full = self.physical_cores * self.threads_per_core
        text = f"{head} = {full} logical CPUs"
        if self.offline_siblings > 0:
            n = self.offline_siblings
            text += f", {self.logical_cpus} online ({n} sibling{'s' if n > 1 else ''} offline)"
        return text


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
                "cores_by_socket": list(topo.cores_by_socket),
                "threads_per_core": topo.threads_per_core,
                "physical_cores": topo.physical_cores,
                "logical_cpus": topo.logical_cpus,
                "source": topo.source,
                "summary": topo.summary(),
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


def _optional_int(facts: Mapping[str, Any], name: str) -> int | None:
    """A fact that only serves as a cross-check: None when absent or unusable."""
    try:
        return _positive_int(_fact(facts, name), f"ansible_{name}")
    except FactsError:
        return None


def parse_lscpu(text: str) -> list[dict[str, int | None]]:
    """Parse `lscpu -p=CPU,CORE,SOCKET,NODE` into a list of logical CPUs.

    lscpu lists online CPUs only and prints an empty column for what the kernel does not tell
    (util-linux sys-utils/lscpu.c): an empty NODE (no NUMA) and, on kernels that expose no CPU
    topology (old two-socket servers, Xen guests), empty CORE and SOCKET columns (`0,,,0`).
    Those become None: "no topology", not an error; the calculator then uses the facts.
    """
    cpus: list[dict[str, int | None]] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        cols = [c.strip() for c in line.split(",")]
        if len(cols) < 3:
            raise FactsError(f"cannot read lscpu line {line!r}: expected CPU,CORE,SOCKET,NODE")
        try:
            cpu = int(cols[0])
            core, socket, node = (
                int(c) if c != "" else None for c in (*cols[1:3], cols[3] if len(cols) > 3 else "")
            )
        except ValueError:
            raise FactsError(f"cannot read lscpu line {line!r}: not numbers") from None
        cpus.append({"cpu": cpu, "core": core, "socket": socket, "node": node})
    return cpus


def _lacks_topology(items: Iterable[Mapping[str, Any]]) -> bool:
    return any(
        isinstance(item, Mapping) and (item.get("core") is None or item.get("socket") is None)
        for item in items
    )


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
    threads: dict[tuple[int, int], int] = {}
    for c in cpus:
        threads[(c.socket, c.core)] = threads.get((c.socket, c.core), 0) + 1
    per_socket = tuple(sum(1 for s, _ in threads if s == socket) for socket in sockets)
    return Topology(
        sockets=len(sockets),
        cores_per_socket=max(per_socket),
        # the fullest core: a core whose sibling is offline shows one CPU, and must not turn a
        # hyper-threaded host into one without (the logical CPUs online stay what lscpu lists)
        threads_per_core=max(threads.values()),
        cpus=tuple(sorted(cpus, key=lambda c: c.cpu)),
        source="lscpu topology",
        socket_cores=per_socket if len(set(per_socket)) > 1 else (),
    )


def _topology_from_processor_facts(facts: Mapping[str, Any], why: str = "") -> Topology:
    """sockets x cores x threads from Ansible's processor facts, cross-checked.

    processor_vcpus and processor_nproc are the witnesses. On most hosts Ansible computes vcpus
    as count x cores x threads, so they agree. On a Xen PV guest (ansible-core
    module_utils/facts/hardware/linux.py, get_cpu_facts) it sets processor_count and
    processor_cores both to the number of processors in /proc/cpuinfo and vcpus to that number:
    count x cores x threads is then the square of the vCPUs. When the product disagrees with
    vcpus, the logical-CPU count that two numbers agree on wins, and the topology is rebuilt
    from it keeping, in this order, cores and threads (sockets derived), sockets and threads
    (cores derived), sockets and cores (threads derived), else 1 socket of that many cores.
    """
    count = _positive_int(_fact(facts, "processor_count"), "ansible_processor_count")
    cores = _positive_int(_fact(facts, "processor_cores"), "ansible_processor_cores")
    threads = _positive_int(
        _fact(facts, "processor_threads_per_core"), "ansible_processor_threads_per_core"
    )
    vcpus = _optional_int(facts, "processor_vcpus")
    nproc = _optional_int(facts, "processor_nproc")
    source = "ansible facts" + (f" ({why})" if why else "")
    notes = [f"{why}; the topology comes from the Ansible facts"] if why else []
    product = count * cores * threads
    shown = (
        f"ansible_processor_count {count} x ansible_processor_cores {cores} x "
        f"ansible_processor_threads_per_core {threads} = {product}"
    )
    if vcpus is None or vcpus == product:
        if nproc is not None and nproc != product:
            notes.append(
                f"ansible_processor_nproc is {nproc}, not the {product} logical CPUs of {shown}: "
                "nproc counts only the CPUs the Ansible process may run on (CPUAffinity, "
                "cpusets), so the facts are kept"
            )
        return Topology(count, cores, threads, source=source, notes=tuple(notes))
    if nproc == product:  # vcpus is the odd one out
        notes.append(
            f"{shown}, which ansible_processor_nproc {nproc} confirms; "
            f"ansible_processor_vcpus {vcpus} is ignored"
        )
        return Topology(count, cores, threads, source=source, notes=tuple(notes))
    logical = vcpus
    witness = f"ansible_processor_vcpus {vcpus}"
    if nproc == vcpus:
        witness += f" (ansible_processor_nproc {nproc} agrees)"
    elif nproc is not None:
        witness += f" (ansible_processor_nproc {nproc} does not agree either)"
    names = {
        "count": f"ansible_processor_count {count}",
        "cores": f"ansible_processor_cores {cores}",
        "threads": f"ansible_processor_threads_per_core {threads}",
    }
    candidates = [
        ("count", (logical // (cores * threads), cores, threads), cores * threads),
        ("cores", (count, logical // (count * threads), threads), count * threads),
        ("threads", (count, cores, logical // (count * cores)), count * cores),
    ]
    for ignored, shape, divisor in candidates:
        if logical % divisor == 0 and min(shape) >= 1:
            trusted = [names[k] for k in names if k != ignored]
            break
    else:
        ignored, shape, trusted = "all", (1, logical, 1), []
    xen = " (how Ansible reports a Xen PV guest)" if count == cores == vcpus else ""
    ignored_text = (
        names[ignored] if ignored != "all" else "ansible_processor_count, _cores and _threads"
    )
    notes.append(
        f"the processor facts contradict each other{xen}: {shown}, but {witness}. Trusted "
        f"{', '.join([witness.split(' (')[0], *trusted])}; ignored {ignored_text}; planned as "
        f"{shape[0]} socket(s) x {shape[1]} cores x {shape[2]} thread(s) = {logical} logical CPUs"
    )
    return Topology(*shape, source=source + ", cross-checked", notes=tuple(notes))


def _one_socket_without_siblings(topo: Topology, items: list[Any]) -> Topology:
    """Without lscpu's topology, which CPUs share a core or a socket is unknown, except on one
    socket without hyper-threads (a Xen guest, once cross-checked): there every CPU lscpu
    lists is a core, so the CPUs to reserve for IO are known too."""
    if topo.sockets != 1 or topo.threads_per_core != 1 or len(items) != topo.physical_cores:
        return topo
    try:
        cpus = tuple(
            LogicalCpu(
                cpu=int(item["cpu"]),
                core=n,
                socket=0,
                node=None if item.get("node") is None else int(item["node"]),
            )
            for n, item in enumerate(sorted(items, key=lambda i: int(i["cpu"])))
        )
    except (KeyError, TypeError, ValueError):
        return topo
    return dataclasses.replace(topo, cpus=cpus)


def topology_from_facts(facts: Mapping[str, Any]) -> Topology:
    """Build the CPU topology from a host's Ansible facts.

    ansible_processor_count is the number of sockets, ansible_processor_cores the cores per
    socket and ansible_processor_threads_per_core the hyper-threads per core. When preflight
    stored the logical-CPU map (preflight_cpu_topology, from lscpu), it is used instead, unless
    lscpu showed no core/socket topology: then the facts are used, with a note saying why.
    """
    if not isinstance(facts, Mapping):
        raise FactsError(f"facts must be a mapping, got {type(facts).__name__}")
    detailed = facts.get("preflight_cpu_topology")
    if detailed:
        if isinstance(detailed, list) and _lacks_topology(detailed):
            topo = _topology_from_processor_facts(
                facts, "lscpu shows no core/socket topology: the kernel exposes none"
            )
            return _one_socket_without_siblings(topo, detailed)
        return _topology_from_cpu_list(detailed)
    return _topology_from_processor_facts(facts)


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


def _reserve_per_socket(topo: Topology) -> tuple[int, ...]:
    """Multi-node: the cores each socket keeps for IO, 2 unless that would leave it none."""
    return tuple(min(IO_CORES_PER_SOCKET, cores - 1) for cores in topo.cores_by_socket)


def _reserved_cpus(topo: Topology, per_socket: tuple[int, ...]) -> list[int] | None:
    """The logical CPUs of the first physical cores of every socket (per_socket[i] of socket i),
    siblings too."""
    if topo.cpus is None:
        return None
    chosen: list[int] = []
    for socket, keep in zip(sorted({c.socket for c in topo.cpus}), per_socket, strict=True):
        cores = sorted({c.core for c in topo.cpus if c.socket == socket})[:keep]
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

    warnings += list(topo.notes)
    # The rules are per socket, so uneven sockets (a core offline on one) need no special case:
    # intra is the sum over sockets of their cores, less what each keeps for IO (multi node).
    reserve = (0,) * topo.sockets
    if mode == "multi":
        reserve = _reserve_per_socket(topo)
        small = sorted({c for c, r in zip(topo.cores_by_socket, reserve, strict=True) if r < 2})
        if small:
            warnings.append(
                f"host has {' or '.join(map(str, small))} core(s) on a socket: reserving "
                f"{reserve[0] if len(set(reserve)) == 1 else ' + '.join(map(str, reserve))}"
                f" instead of {IO_CORES_PER_SOCKET} per socket for IO "
                "so that at least one core per socket is left for TensorFlow"
            )
    reserved_count = sum(reserve)
    even_reserve = len(set(reserve)) == 1
    sources["reserved_cores"] = (
        (
            f"{reserve[0]} physical core(s) per socket kept for IO, with their hyper-threads"
            if even_reserve
            else f"{' + '.join(map(str, reserve))} physical core(s) (by socket) kept for IO, "
            "with their hyper-threads"
        )
        if mode == "multi"
        else "single node: none kept"
    )
    reserved_cpus = _reserved_cpus(topo, reserve) if reserved_count else []
    reserved_cpuset = None if reserved_cpus is None else format_cpuset(reserved_cpus)

    inter = topo.sockets
    sources["num_inter_threads"] = f"sockets = {topo.sockets}"
    intra = topo.physical_cores - reserved_count
    cores_text = (
        f"{topo.sockets} socket(s) x {topo.cores_per_socket}"
        if topo.even
        else " + ".join(map(str, topo.cores_by_socket))
    )
    if mode == "multi":
        sources["num_intra_threads"] = (
            f"physical cores {topo.physical_cores}"
            + ("" if topo.even else f" ({cores_text})")
            + " - "
            + (
                f"{reserve[0]} per socket x {topo.sockets}"
                if even_reserve
                else " - ".join(map(str, reserve))
            )
            + " kept for IO"
        )
    else:
        sources["num_intra_threads"] = f"physical cores = {cores_text}"
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

    def take(name: str, current: Any, convert: Callable[[Any], Any]) -> Any:
        """The override of `name` where the inventory gives one (its source noted), else
        `current`; an override given as null is noted but keeps `current`."""
        key = OVERRIDE_KEYS[name]
        if key not in overrides:
            return current
        applied[name] = override_sources.get(key, "inventory")
        sources[name] = f"override {key} from {applied[name]}"
        value = overrides[key]
        return current if value is None else convert(value)

    inter = take("num_inter_threads", inter, int)
    intra = take("num_intra_threads", intra, int)
    data_format = take("data_format", data_format, str)
    blocktime = take("kmp_blocktime", blocktime, int)

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
