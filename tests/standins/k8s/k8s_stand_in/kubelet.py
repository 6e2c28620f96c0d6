"""kubelet-stand-in: the node agent's contract as kubeadm and the tuning roles meet it.

It reads the KubeletConfiguration (--config) and kubeconfig (--kubeconfig, or performs the TLS
bootstrap with --bootstrap-kubeconfig), checks what the real kubelet checks before it starts
(configuration values, the CPU and memory manager checkpoints), registers its Node, and reports
what it would enforce (cgroup driver, CPU/topology/memory manager policies, reservations) as
Node annotations and in /var/lib/kubelet/stand-in-status.json, marking the Node Ready. It
serves /healthz like the kubelet and reports again every nodeStatusUpdateFrequency until
stopped. It runs no containers.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import re
import signal
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

from k8s_stand_in import STAND_IN, kubeconfig, version
from k8s_stand_in.client import ApiError, Client, ConnectError
from k8s_stand_in.kubeadm_config import default_address
from k8s_stand_in.node import (
    BOOTSTRAP_CONF,
    BootstrapError,
    parse_labels,
    parse_taints,
    register_node,
    tls_bootstrap,
)
from k8s_stand_in.scheduler import QUANTITY_SUFFIX
from k8s_stand_in.util import (
    Root,
    atomic_write,
    format_cpuset,
    klog,
    online_cpus,
    parse_cpuset,
    parse_duration,
    rfc3339,
    yaml_load,
)

KUBELET_DIR = "/var/lib/kubelet"
STATUS_FILE = f"{KUBELET_DIR}/stand-in-status.json"
CPU_STATE = f"{KUBELET_DIR}/cpu_manager_state"
MEMORY_STATE = f"{KUBELET_DIR}/memory_manager_state"
ANNOTATION = "kubelet.stand-in.dlrs-provision.io/"
# The kubelet's own defaults (kubeadm writes some of them differently, e.g. cgroupDriver).
DEFAULTS: dict[str, Any] = {
    "cgroupDriver": "cgroupfs",
    "cpuManagerPolicy": "none",
    "cpuManagerPolicyOptions": {},
    "topologyManagerPolicy": "none",
    "topologyManagerScope": "container",
    "memoryManagerPolicy": "None",
    "reservedSystemCPUs": "",
    "reservedMemory": [],
    "kubeReserved": {},
    "systemReserved": {},
    "evictionHard": {
        "imagefs.available": "15%",
        "memory.available": "100Mi",
        "nodefs.available": "10%",
        "nodefs.inodesFree": "5%",
    },
    "maxPods": 110,
    "failSwapOn": True,
    "healthzBindAddress": "127.0.0.1",
    "healthzPort": 10248,
    "nodeStatusUpdateFrequency": "10s",
    "containerRuntimeEndpoint": "",
}
# Flags of the real kubelet that override the configuration file.
FLAG_FIELDS = {
    "cgroup-driver": "cgroupDriver",
    "cpu-manager-policy": "cpuManagerPolicy",
    "topology-manager-policy": "topologyManagerPolicy",
    "topology-manager-scope": "topologyManagerScope",
    "memory-manager-policy": "memoryManagerPolicy",
    "reserved-cpus": "reservedSystemCPUs",
    "max-pods": "maxPods",
    "container-runtime-endpoint": "containerRuntimeEndpoint",
    "healthz-port": "healthzPort",
    "healthz-bind-address": "healthzBindAddress",
}
TOPOLOGY_POLICIES = ["none", "best-effort", "restricted", "single-numa-node"]


class KubeletExit(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def fail(message: str) -> KubeletExit:
    return KubeletExit(message)


# --------------------------------------------------------------------------------------------
# quantities


def quantity(text: Any) -> float:
    m = re.fullmatch(r"\s*([+-]?\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?\s*", str(text))
    if not m:
        raise ValueError(
            "quantities must match the regular expression "
            f"'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$': {text!r}"
        )
    return float(m.group(1)) * QUANTITY_SUFFIX[m.group(2) or ""]


def cpu_text(cores: float) -> str:
    milli = round(cores * 1000)
    return str(milli // 1000) if milli % 1000 == 0 else f"{milli}m"


# --------------------------------------------------------------------------------------------
# configuration


def parse_flags(argv: list[str]) -> tuple[dict[str, str], list[str]]:
    """--flag=value / --flag value / --bool; every flag is accepted (the real kubelet has
    hundreds), the ones the stand-in does not know are listed for a note."""
    flags: dict[str, str] = {}
    unknown: list[str] = []
    bools = {"runonce", "fail-swap-on", "version", "help", "register-node"}
    known = (
        bools
        | set(FLAG_FIELDS)
        | {
            "kubeconfig",
            "bootstrap-kubeconfig",
            "config",
            "hostname-override",
            "node-ip",
            "node-labels",
            "register-with-taints",
            "pod-infra-container-image",
            "v",
        }
    )
    i = 0
    while i < len(argv):
        arg = argv[i]
        i += 1
        if not arg.startswith("-"):
            continue
        name, eq, value = arg.lstrip("-").partition("=")
        if not eq:
            if name in bools:
                value = "true"
            elif i < len(argv) and not argv[i].startswith("--"):
                value = argv[i]
                i += 1
            else:
                value = "true"
        flags[name] = value
        if name not in known:
            unknown.append(name)
    return flags, unknown


def load_config(root: Root, flags: dict[str, str]) -> dict[str, Any]:
    config: dict[str, Any] = json.loads(json.dumps(DEFAULTS))
    path = flags.get("config")
    if path:
        try:
            data = yaml_load(root.path(path).read_text()) or {}
        except FileNotFoundError:
            raise fail(
                f'"command failed" err="failed to load kubelet config file, path: {path}, '
                "error: failed to "
                f"load Kubelet config file {path}, error failed to read kubelet config file "
                f'\\"{path}\\", '
                f'error: open {path}: no such file or directory"'
            ) from None
        except Exception as exc:
            raise fail(
                f'"command failed" err="failed to load kubelet config file, path: {path}, '
                f'error: {exc}"'
            ) from None
        if not isinstance(data, dict) or data.get("kind") != "KubeletConfiguration":
            raise fail(
                f'"command failed" err="failed to load kubelet config file, path: {path}, '
                'error: no kind \\"KubeletConfiguration\\" is registered"'
            )
        for key, value in data.items():
            if value is not None:
                config[key] = value
    for flag, field in FLAG_FIELDS.items():
        if flag in flags:
            config[field] = int(flags[flag]) if field in ("maxPods", "healthzPort") else flags[flag]
    if "fail-swap-on" in flags:
        config["failSwapOn"] = flags["fail-swap-on"].lower() == "true"
    return config


def validate(root: Root, config: dict[str, Any]) -> dict[str, Any]:
    """The checks the kubelet makes before it runs; returns what it would enforce."""
    errors = []
    if config["cgroupDriver"] not in ("cgroupfs", "systemd"):
        errors.append(
            "invalid configuration: cgroupDriver (--cgroup-driver) "
            f'"{config["cgroupDriver"]}" must be one of "cgroupfs" or "systemd"'
        )
    if config["topologyManagerPolicy"] not in TOPOLOGY_POLICIES:
        errors.append(
            "invalid configuration: topologyManagerPolicy (--topology-manager-policy) "
            f'"{config["topologyManagerPolicy"]}" must be one of: '
            f"{json.dumps(TOPOLOGY_POLICIES)}"
        )
    if config["topologyManagerScope"] not in ("container", "pod"):
        errors.append(
            "invalid configuration: topologyManagerScope (--topology-manager-scope) "
            f'"{config["topologyManagerScope"]}" must be one of: "container", or "pod"'
        )
    if config["memoryManagerPolicy"] not in ("None", "Static"):
        errors.append(
            "invalid configuration: memoryManagerPolicy (--memory-manager-policy) "
            f'"{config["memoryManagerPolicy"]}" must be one of: "None" or "Static"'
        )
    reserved: list[int] = []
    try:
        reserved = parse_cpuset(str(config.get("reservedSystemCPUs") or ""))
    except ValueError as exc:
        errors.append(
            "unable to parse reservedSystemCPUs (--reserved-cpus) "
            f"{config.get('reservedSystemCPUs')}, error: {exc}"
        )
    if reserved and (config.get("systemReservedCgroup") or config.get("kubeReservedCgroup")):
        errors.append(
            "invalid configuration: can't use reservedSystemCPUs (--reserved-cpus) with "
            "systemReservedCgroup (--system-reserved-cgroup) or kubeReservedCgroup "
            "(--kube-reserved-cgroup)"
        )
    if errors:
        raise fail(
            '"command failed" err="failed to validate kubelet configuration, error: '
            f'[{", ".join(errors)}]"'
        )

    online = online_cpus(root)
    try:
        kube_cpu = quantity((config.get("kubeReserved") or {}).get("cpu", 0))
        system_cpu = quantity((config.get("systemReserved") or {}).get("cpu", 0))
    except ValueError as exc:
        raise fail(f'"command failed" err="failed to run Kubelet: {exc}"') from None
    policy = config["cpuManagerPolicy"]
    if policy not in ("none", "static"):
        raise fail(
            '"Failed to start ContainerManager" err="failed to initialize cpu manager: '
            f'unknown policy: \\"{policy}\\""'
        )
    if policy == "static":
        if not reserved and kube_cpu + system_cpu <= 0:
            raise fail(
                '"Failed to start ContainerManager" err="failed to initialize cpu manager: '
                '[cpumanager] unable to determine reserved CPU resources for static policy"'
            )
        missing = sorted(set(reserved) - set(online))
        if missing:
            raise fail(
                '"Failed to start ContainerManager" err="failed to initialize cpu manager: '
                "[cpumanager] "
                f"reserved CPUs {format_cpuset(reserved)} are not all online (online: "
                f"{format_cpuset(online)}; "
                'a check of the stand-in)"'
            )
    if config["memoryManagerPolicy"] == "Static" and not config.get("reservedMemory"):
        raise fail(
            '"Failed to start ContainerManager" err="failed to initialize memory manager: '
            "[memorymanager] you should specify the memory reservation (reservedMemory) for "
            'the Static policy (a check of the stand-in)"'
        )
    reserved_cores = len(reserved) if reserved else kube_cpu + system_cpu
    exclusive = sorted(set(online) - set(reserved)) if policy == "static" else []
    return {
        "cgroupDriver": config["cgroupDriver"],
        "cpuManagerPolicy": policy,
        "cpuManagerPolicyOptions": config.get("cpuManagerPolicyOptions") or {},
        "reservedSystemCPUs": format_cpuset(reserved),
        "reservedCPUs": cpu_text(reserved_cores),
        "exclusiveCPUs": format_cpuset(exclusive),
        "onlineCPUs": format_cpuset(online),
        "topologyManagerPolicy": config["topologyManagerPolicy"],
        "topologyManagerScope": config["topologyManagerScope"],
        "memoryManagerPolicy": config["memoryManagerPolicy"],
        "reservedMemory": config.get("reservedMemory") or [],
        "kubeReserved": config.get("kubeReserved") or {},
        "systemReserved": config.get("systemReserved") or {},
        "evictionHard": config.get("evictionHard") or {},
        "maxPods": int(config.get("maxPods") or 110),
        "failSwapOn": bool(config.get("failSwapOn", True)),
        "containerRuntimeEndpoint": config.get("containerRuntimeEndpoint") or "",
    }


def check_checkpoints(root: Root, enforced: dict[str, Any]) -> None:
    """The CPU and memory managers refuse a checkpoint written under another policy; the
    operator must drain the node and delete the file. Then (re)write them."""
    cpu_path = root.path(CPU_STATE)
    if cpu_path.is_file():
        try:
            have = str(json.loads(cpu_path.read_text()).get("policyName", ""))
        except ValueError:
            raise fail(
                '"Failed to start ContainerManager" err="start cpu manager error: could not '
                "restore state from checkpoint: checkpoint is corrupted, please drain this "
                f'node and delete the CPU manager checkpoint file \\"{CPU_STATE}\\" before '
                'restarting Kubelet"'
            ) from None
        if have != enforced["cpuManagerPolicy"]:
            raise fail(
                '"Failed to start ContainerManager" err="start cpu manager error: could not '
                "restore "
                "state from checkpoint: configured policy "
                f'\\"{enforced["cpuManagerPolicy"]}\\" differs from '
                f'state checkpoint policy \\"{have}\\", please drain this node and delete the CPU '
                f'manager checkpoint file \\"{CPU_STATE}\\" before restarting Kubelet"'
            )
    mem_path = root.path(MEMORY_STATE)
    if mem_path.is_file():
        try:
            have = str(json.loads(mem_path.read_text()).get("policyName", ""))
        except ValueError:
            have = ""
        if have != enforced["memoryManagerPolicy"]:
            raise fail(
                '"Failed to start ContainerManager" err="start memory manager error: could not '
                "restore state from checkpoint: [memorymanager] configured policy "
                f'\\"{enforced["memoryManagerPolicy"]}\\" '
                f'differs from state checkpoint policy \\"{have}\\", please drain this node '
                "and delete "
                f'the memory manager checkpoint file \\"{MEMORY_STATE}\\" before restarting '
                'Kubelet"'
            )
    default_set = enforced["exclusiveCPUs"] if enforced["cpuManagerPolicy"] == "static" else ""
    cpu_state = {"policyName": enforced["cpuManagerPolicy"], "defaultCpuSet": default_set}
    cpu_state["checksum"] = _checksum(cpu_state)
    atomic_write(cpu_path, json.dumps(cpu_state, separators=(",", ":")), 0o644)
    mem_state = {"policyName": enforced["memoryManagerPolicy"], "machineState": {}}
    mem_state["checksum"] = _checksum(mem_state)
    atomic_write(mem_path, json.dumps(mem_state, separators=(",", ":")), 0o644)


def _checksum(data: dict[str, Any]) -> int:
    """An FNV-32a of the state (the real kubelet hashes its Go structure; the stand-in does
    not verify checksums)."""
    h = 0x811C9DC5
    for byte in json.dumps(data, sort_keys=True).encode():
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    return h


# --------------------------------------------------------------------------------------------
# the node's status


def _read(path: Path, default: str = "") -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return default


def _meminfo_kb() -> int:
    for line in _read(Path("/proc/meminfo")).splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1])
    return 0


def _os_image(root: Root) -> str:
    for path in (root.path("/etc/os-release"), root.path("/usr/lib/os-release")):
        for line in _read(path).splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip().strip('"')
    return "Linux"


def _runtime_version(endpoint: str) -> str:
    if "crio" in endpoint:
        return "cri-o://unknown (stand-in: not queried)"
    if "cri-dockerd" in endpoint:
        return "docker://unknown (stand-in: not queried)"
    return "containerd://unknown (stand-in: not queried)"


def node_status(
    root: Root,
    node_name: str,
    enforced: dict[str, Any],
    node_ip: str,
    previous: dict[str, Any] | None,
) -> dict[str, Any]:
    now = rfc3339()
    online = len(parse_cpuset(enforced["onlineCPUs"]))
    mem_kb = _meminfo_kb()
    reserved_mem = 0.0
    for part in (enforced["kubeReserved"], enforced["systemReserved"]):
        reserved_mem += quantity(part.get("memory", 0))
    hard = str(enforced["evictionHard"].get("memory.available", "0"))
    if hard.endswith("%"):  # a share of capacity (eviction ParseThresholdConfig)
        reserved_mem += mem_kb * 1024 * float(hard[:-1]) / 100
    else:
        reserved_mem += quantity(hard)
    allocatable_cpu = max(online - quantity(enforced["reservedCPUs"]), 0)
    st = os.statvfs(str(root.path(KUBELET_DIR))) if root.path(KUBELET_DIR).exists() else None
    disk_kb = (st.f_blocks * st.f_frsize // 1024) if st else 0
    previous_conditions = {c.get("type"): c for c in ((previous or {}).get("conditions") or [])}

    def condition(kind: str, status: str, reason: str, message: str) -> dict[str, str]:
        prev = previous_conditions.get(kind) or {}
        since = prev.get("lastTransitionTime") if prev.get("status") == status else now
        return {
            "type": kind,
            "status": status,
            "reason": reason,
            "message": message,
            "lastHeartbeatTime": now,
            "lastTransitionTime": since or now,
        }

    machine_id = _read(root.path("/etc/machine-id")) or _read(Path("/etc/machine-id"))
    return {
        "addresses": [
            {"type": "InternalIP", "address": node_ip},
            {"type": "Hostname", "address": node_name},
        ],
        "allocatable": {
            "cpu": cpu_text(allocatable_cpu),
            "ephemeral-storage": f"{int(disk_kb * 0.9)}Ki",
            "hugepages-1Gi": "0",
            "hugepages-2Mi": "0",
            "memory": f"{max(mem_kb - int(reserved_mem / 1024), 0)}Ki",
            "pods": str(enforced["maxPods"]),
        },
        "capacity": {
            "cpu": str(online),
            "ephemeral-storage": f"{disk_kb}Ki",
            "hugepages-1Gi": "0",
            "hugepages-2Mi": "0",
            "memory": f"{mem_kb}Ki",
            "pods": str(enforced["maxPods"]),
        },
        "conditions": [
            condition(
                "MemoryPressure",
                "False",
                "KubeletHasSufficientMemory",
                "kubelet has sufficient memory available",
            ),
            condition(
                "DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"
            ),
            condition(
                "PIDPressure",
                "False",
                "KubeletHasSufficientPID",
                "kubelet has sufficient PID available",
            ),
            condition(
                "Ready", "True", "KubeletReady", f"kubelet is posting ready status ({STAND_IN})"
            ),
        ],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
        "nodeInfo": {
            "architecture": "amd64",
            "bootID": _read(Path("/proc/sys/kernel/random/boot_id")),
            "containerRuntimeVersion": _runtime_version(enforced["containerRuntimeEndpoint"]),
            "kernelVersion": os.uname().release,
            "kubeProxyVersion": "",
            "kubeletVersion": version.current().git_version,
            "machineID": machine_id,
            "operatingSystem": "linux",
            "osImage": _os_image(root),
            "systemUUID": machine_id,
        },
    }


def annotations(enforced: dict[str, Any], config_path: str) -> dict[str, str]:
    simple = {
        "cgroup-driver": enforced["cgroupDriver"],
        "cpu-manager-policy": enforced["cpuManagerPolicy"],
        "reserved-system-cpus": enforced["reservedSystemCPUs"],
        "exclusive-cpus": enforced["exclusiveCPUs"],
        "topology-manager-policy": enforced["topologyManagerPolicy"],
        "topology-manager-scope": enforced["topologyManagerScope"],
        "memory-manager-policy": enforced["memoryManagerPolicy"],
        "max-pods": str(enforced["maxPods"]),
        "config-file": config_path,
    }
    structured = {
        "cpu-manager-policy-options": enforced["cpuManagerPolicyOptions"],
        "reserved-memory": enforced["reservedMemory"],
        "kube-reserved": enforced["kubeReserved"],
        "system-reserved": enforced["systemReserved"],
        "eviction-hard": enforced["evictionHard"],
    }
    out = {ANNOTATION + k: str(v) for k, v in simple.items()}
    out |= {ANNOTATION + k: json.dumps(v, sort_keys=True) for k, v in structured.items()}
    out[ANNOTATION + "enforced"] = json.dumps(enforced, sort_keys=True)
    return out


# --------------------------------------------------------------------------------------------
# running


class Kubelet:
    def __init__(self, root: Root, flags: dict[str, str]) -> None:
        self.root = root
        self.flags = flags
        self.stop = threading.Event()
        self.config_path = flags.get("config", "")
        self.node_name = (flags.get("hostname-override") or socket.gethostname()).strip().lower()
        self.node_ip = flags.get("node-ip") or default_address()
        self.started = time.time()
        self.enforced: dict[str, Any] = {}
        self.client: Client | None = None
        self.registered = False
        self.last_report = ""

    def status(self, state: str, error: str = "") -> None:
        data = {
            "standIn": f"kubelet stand-in ({STAND_IN}), not the Kubernetes kubelet",
            "state": state,
            "error": error,
            "time": time.time(),
            "startedAt": rfc3339(self.started),
            "pid": os.getpid(),
            "node": self.node_name,
            "kubeletVersion": version.current().git_version,
            "configFile": self.config_path,
            "enforced": self.enforced,
            "lastReport": self.last_report,
        }
        with contextlib.suppress(OSError):
            atomic_write(
                self.root.path(STATUS_FILE), json.dumps(data, indent=2, sort_keys=True) + "\n"
            )

    def connect(self) -> Client:
        conf = self.flags.get("kubeconfig", "")
        boot = self.flags.get("bootstrap-kubeconfig", "")
        if not conf or not self.root.path(conf).is_file():
            if not boot or not self.root.path(boot).is_file():
                missing = boot or BOOTSTRAP_CONF
                raise fail(
                    '"command failed" err="failed to run Kubelet: unable to load bootstrap '
                    f'kubeconfig: stat {missing}: no such file or directory"'
                )
            creds = kubeconfig.credentials(self.root, boot)
            if creds is None or not creds.token or creds.ca_pem is None:
                raise fail(
                    '"command failed" err="failed to run Kubelet: unable to load bootstrap '
                    f'kubeconfig: {boot} has no token and CA"'
                )
            klog(
                "I",
                '"Using bootstrap kubeconfig to generate TLS client cert, key and '
                f'kubeconfig file" bootstrapKubeconfig="{boot}" kubeconfig="{conf}"',
                "bootstrap.go:82",
            )
            try:
                tls_bootstrap(self.root, self.node_name, creds.server, creds.ca_pem, creds.token)
            except (BootstrapError, ConnectError) as exc:
                raise fail(
                    '"command failed" err="failed to run Kubelet: failed to run Kubelet: '
                    f'unable to load bootstrap kubeconfig: {exc}"'
                ) from None
        creds = kubeconfig.credentials(self.root, conf)
        if creds is None:
            raise fail(f'"command failed" err="failed to run Kubelet: invalid kubeconfig: {conf}"')
        return Client(
            creds, timeout=10, user_agent=f"kubelet-stand-in/{version.current().git_version}"
        )

    def report(self) -> None:
        assert self.client is not None
        if not self.registered:
            labels = parse_labels(self.flags.get("node-labels", ""))
            taints = parse_taints(self.flags.get("register-with-taints", ""))
            if register_node(self.client, self.node_name, labels, taints):
                klog(
                    "I",
                    f'"Successfully registered node" node="{self.node_name}"',
                    "kubelet_node_status.go:78",
                )
            self.registered = True
        path = f"/api/v1/nodes/{self.node_name}"
        try:
            node = self.client.get(path)
        except ApiError as exc:
            if exc.code == 404:  # deleted: register again, as the kubelet does
                self.registered = False
                return self.report()
            raise
        status = node_status(
            self.root, self.node_name, self.enforced, self.node_ip, node.get("status")
        )
        self.client.call(
            "PATCH",
            path,
            {"metadata": {"annotations": annotations(self.enforced, self.config_path)}},
            content_type="application/merge-patch+json",
        )
        self.client.call(
            "PATCH",
            f"{path}/status",
            {"status": status},
            content_type="application/merge-patch+json",
        )
        self.last_report = rfc3339()

    def serve_healthz(self) -> None:
        port = int(self.flags.get("healthz-port") or self.config.get("healthzPort") or 0)
        host = str(self.config.get("healthzBindAddress") or "127.0.0.1")
        if port <= 0:
            return

        class Health(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = b"ok" if self.path.startswith("/healthz") else b"404 page not found"
                self.send_response(200 if body == b"ok" else 404)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("X-Stand-In", "dlrs-provision")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        try:
            server = http.server.ThreadingHTTPServer((host, port), Health)
        except OSError as exc:
            klog(
                "E",
                f'"Failed to start healthz server" err="listen tcp {host}:{port}: bind: '
                f'{exc.strerror}"',
                "server.go:162",
            )
            return
        threading.Thread(target=server.serve_forever, daemon=True).start()

    def run(self) -> int:
        self.config = load_config(self.root, self.flags)
        self.enforced = validate(self.root, self.config)
        if self.config.get("failSwapOn", True) and len(_read(Path("/proc/swaps")).splitlines()) > 1:
            klog(
                "W",
                '"Running with swap on is not supported, please disable swap or set '
                '--fail-swap-on flag to false" (stand-in: a warning only)',
                "server.go:1338",
            )
        check_checkpoints(self.root, self.enforced)
        self.client = self.connect()
        runonce = self.flags.get("runonce", "false").lower() == "true"
        if not runonce:
            self.serve_healthz()
        interval = max(
            parse_duration(self.config.get("nodeStatusUpdateFrequency") or "10s") or 10.0, 1.0
        )
        klog(
            "I",
            f'"Starting kubelet" standIn="{STAND_IN}" node="{self.node_name}" '
            f'cpuManagerPolicy="{self.enforced["cpuManagerPolicy"]}" '
            f'reservedSystemCPUs="{self.enforced["reservedSystemCPUs"]}"',
            "kubelet.go:1600",
        )
        while True:
            try:
                self.report()
                self.status("running")
            except (ApiError, ConnectError) as exc:
                message = exc.message if isinstance(exc, ApiError) else exc.go_error()
                klog(
                    "E",
                    f'"Error updating node status, will retry" err="{message}"',
                    "kubelet_node_status.go:549",
                )
                self.status("running", f"node status not reported: {message}")
                if runonce:
                    raise fail(
                        '"command failed" err="stand-in --runonce: could not report the '
                        f'node status: {message}"'
                    ) from None
            if runonce or self.stop.wait(interval):
                break
        self.status("stopped" if not runonce else "ran-once")
        return 0


USAGE = """The kubelet is the primary "node agent" that runs on each node.
(This is the kubelet stand-in of dlrs-provision's tests: it runs no containers; it checks its
configuration, registers the Node and reports the settings it would enforce.)

Usage:
  kubelet [flags]
"""


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    flags, unknown = parse_flags(argv)
    if "version" in flags and flags["version"].lower() != "false":
        print(f"Kubernetes {version.current().git_version}")
        return 0
    if "help" in flags:
        print(USAGE, end="")
        return 0
    root = Root()
    kubelet = Kubelet(root, flags)
    if unknown:
        klog(
            "W", f"stand-in: flags accepted without effect: {', '.join('--' + u for u in unknown)}"
        )

    def on_term(*_: Any) -> None:
        kubelet.stop.set()

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    try:
        return kubelet.run()
    except KubeletExit as exc:
        klog("E", exc.message, "run.go:72")
        kubelet.status("failed", exc.message)
        return 1
    except Exception as exc:  # a bug of the stand-in: say so, with the trace
        import traceback

        klog("E", f"kubelet stand-in internal error: {exc!r}\n{traceback.format_exc()}")
        kubelet.status("failed", f"stand-in internal error: {exc!r}")
        return 1
