"""Bring the sandbox up, report on it, take it down.

The sandbox is a Docker network `dlrs-sandbox`, one mirror host and N test hosts, all labelled
dlrs-provision.sandbox=1 (that label, and nothing else, is what `down` removes). Test hosts run
systemd as PID 1 and sshd; they are reached over real SSH on ports published on 127.0.0.1 only.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from dlrs_harness.docker_engine import (
    DockerInfo,
    ensure_docker,
    probe,
    run_docker,
)
from dlrs_harness.sandbox import files
from dlrs_harness.sandbox.images import (
    REGISTRY_IMAGE,
    STACK_IMAGES,
    ImageBuilder,
    control_plane_image_paths,
    ensure_control_plane_stand_in,
    image_id,
    sandbox_image_refs,
)
from dlrs_harness.sandbox.paths import repo_root, sandbox_dir
from dlrs_provision.errors import EnvironmentProblem, UsageError

log = logging.getLogger(__name__)

Echo = Callable[[str], None]

NETWORK = "dlrs-sandbox"
MIRROR_CONTAINER = "dlrs-sandbox-mirror"
MIRROR_HOSTNAME = "mirror"
NODE_PREFIX = "dlrs-sandbox-node"
LABEL = "dlrs-provision.sandbox"
LABEL_ROLE = "dlrs-provision.sandbox.role"
LABEL_OS = "dlrs-provision.sandbox.os"
LABEL_SHAPE = "dlrs-provision.sandbox.shape"
LABEL_CLEAR = "dlrs-provision.sandbox.clear-version"

OS_CHOICES = ("debian", "clearlinux", "mixed")
DEFAULT_CLEAR_VERSION = 26240  # what host-clearlinux's os-release says
# The Kubernetes (stand-in) version the sandbox inventory asks for: a minor means the newest
# patch release of the mirror's repository for it (1.32 -> 1.32.3).
DEFAULT_KUBERNETES_VERSION = "1.32"
MAX_NODES = 9
MIRROR_PORTS = {"apt_proxy": 3142, "registry": 5000, "http": 8080}

# How a container becomes a server here (see ENVIRONMENT.md): no --privileged (it fails on this
# kind of machine), systemd as PID 1 with the host's cgroup tree, /run and /run/lock on tmpfs.
SYSTEMD_RUN_FLAGS = (
    "--cap-add", "SYS_ADMIN",
    "--cap-add", "NET_ADMIN",
    "--security-opt", "seccomp=unconfined",
    "--security-opt", "apparmor=unconfined",
    "--cgroupns=host",
    "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw",
    "--tmpfs", "/run",
    "--tmpfs", "/run/lock",
)  # fmt: skip
# Test hosts get their container stores on anonymous volumes (ext4, not the overlay of the
# container's root): the Docker and containerd that the roles install there can then use
# overlay2/overlayfs instead of vfs, which would copy every image layer in full. `down` removes
# these volumes with the containers.
NODE_VOLUMES = ("-v", "/var/lib/docker", "-v", "/var/lib/containerd")

BOOT_TIMEOUT_S = 180.0
SSH_TIMEOUT_S = 120.0
MIRROR_TIMEOUT_S = 120.0


# --------------------------------------------------------------------------------------------
# state


@dataclass
class NodeState:
    name: str  # node1 (host name, inventory name, network alias)
    container: str  # dlrs-sandbox-node1
    container_id: str
    role: str  # master | worker
    os: str  # debian | clearlinux
    ssh_port: int
    ip: str  # on the sandbox network
    image: str


@dataclass
class MirrorState:
    container: str
    container_id: str
    hostname: str
    ip: str
    image: str
    ports: dict[str, int]  # published 127.0.0.1 ports: apt_proxy, registry, http
    urls: dict[str, str]  # as the test hosts see them


@dataclass
class SandboxState:
    network: str
    os: str
    clear_version: int
    nodes: list[NodeState]
    mirror: MirrorState
    inventory: str
    known_hosts: str
    private_key: str
    stack_images: list[str]
    changed: bool = False
    actions: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0
    kubernetes_version: str = DEFAULT_KUBERNETES_VERSION
    # version -> binary -> "sha256:<hex>" of the mirror's stand-in release binaries
    kubernetes_binary_checksums: dict[str, dict[str, str]] = field(default_factory=dict)
    # manifest digest of library/registry:2.8.3 in the mirror's registry ("" without a Clear master)
    registry_image_digest: str = ""
    # fingerprints of the key that signs the mirror's Kubernetes stand-in repositories
    k8s_repo_key_fingerprints: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps({"format": "dlrs-sandbox/1", **asdict(self)}, indent=2) + "\n"

    def node(self, name: str) -> NodeState:
        for node in self.nodes:
            if node.name == name:
                return node
        raise KeyError(name)


@dataclass(frozen=True)
class NodePlan:
    name: str
    container: str
    os: str
    role: str


@dataclass(frozen=True)
class _Container:
    name: str
    id: str
    running: bool
    state: str
    labels: dict[str, str]
    image: str
    ip: str


def plan_nodes(nodes: int, os_name: str) -> list[NodePlan]:
    """node1 is the master; `mixed` alternates debian (odd) and clearlinux (even)."""
    plans = []
    for index in range(1, nodes + 1):
        alternate = "debian" if index % 2 == 1 else "clearlinux"
        node_os = alternate if os_name == "mixed" else os_name
        role = "master" if index == 1 else "worker"
        plans.append(NodePlan(f"node{index}", f"{NODE_PREFIX}{index}", node_os, role))
    return plans


def _shape(nodes: int, os_name: str, clear_version: int) -> str:
    """What `up` was asked for, kept as a label so that a later `up` can compare."""
    has_clear = any(p.os == "clearlinux" for p in plan_nodes(nodes, os_name))
    return f"nodes={nodes},os={os_name}" + (f",clear-version={clear_version}" if has_clear else "")


def _validate(nodes: int, os_name: str, clear_version: int) -> None:
    problems = []
    if not isinstance(nodes, int) or not 1 <= nodes <= MAX_NODES:
        problems.append(f"--nodes must be a whole number from 1 to {MAX_NODES}, not {nodes!r}")
    if os_name not in OS_CHOICES:
        problems.append(f"--os must be one of {', '.join(OS_CHOICES)}, not {os_name!r}")
    if not isinstance(clear_version, int) or clear_version <= 0:
        problems.append(f"--clear-version must be a positive whole number, not {clear_version!r}")
    if problems:
        raise UsageError("; ".join(problems), "see `dlrs-provision sandbox up --help`")


def kubernetes_versions(root: Path) -> list[str]:
    """What --kubernetes-version may be: a minor the mirror has a repository for, or one of
    its exact releases (tests/sandbox/k8s-repo/repos.yaml)."""
    from dlrs_harness.sandbox import k8s_repo

    recipe = k8s_repo.load_recipe(root)
    return [*recipe.minors(), *(v.split("-")[0] for v in recipe.versions)]


def _validate_kubernetes_version(root: Path, wanted: str) -> None:
    choices = kubernetes_versions(root)
    if wanted not in choices:
        raise UsageError(
            f"--kubernetes-version must be one the sandbox mirror serves, not {wanted!r}",
            f"choose one of {', '.join(choices)} (tests/sandbox/k8s-repo/repos.yaml)",
        )


# --------------------------------------------------------------------------------------------
# up


def up(
    nodes: int | None = None,
    os: str | None = None,  # the command-line option's name (shadows the module, unused here)
    clear_version: int | None = None,
    *,
    kubernetes_version: str | None = None,
    echo: Echo | None = None,
    root: Path | None = None,
) -> SandboxState:
    """Start (or reuse) the sandbox and write its inventory; return its state.

    Running containers are reused and stopped ones started; nothing else changes, but the
    inventory is written again (a container started again has another published SSH port). What
    is not given (None) is the running sandbox's: its shape from the network's label, its
    Kubernetes version from the state the last `up` wrote; with no sandbox, the defaults (3
    Debian nodes, Clear Linux DEFAULT_CLEAR_VERSION, Kubernetes DEFAULT_KUBERNETES_VERSION). A
    sandbox of another shape (node count, OS mix, Clear Linux version) is refused, never
    destroyed."""
    _validate(
        DEFAULTS["nodes"] if nodes is None else nodes,
        DEFAULTS["os"] if os is None else os,
        DEFAULTS["clear_version"] if clear_version is None else clear_version,
    )
    say = echo or log.info
    started = time.monotonic()
    root = root or repo_root()
    if kubernetes_version is not None:
        _validate_kubernetes_version(root, kubernetes_version)
    ensure_docker(say)
    existing = {c.name: c for c in _sandbox_containers()}
    nodes, os, clear_version = _adopt_shape(nodes, os, clear_version, existing, say)
    if kubernetes_version is None:
        previous = read_state(root)
        kubernetes_version = (
            previous.kubernetes_version
            if previous is not None and existing
            else DEFAULT_KUBERNETES_VERSION
        )
        _validate_kubernetes_version(root, kubernetes_version)
    plan = plan_nodes(nodes, os)
    shape = _shape(nodes, os, clear_version)
    _refuse_other_shape(shape, plan, existing)

    builder = ImageBuilder(root, say)
    actions: list[str] = []

    def did(action: str) -> None:
        actions.append(action)
        say(action)

    if _ensure_network(shape):
        did(f"created network {NETWORK}")
    mirror = existing.get(MIRROR_CONTAINER)
    if mirror is None:
        _run_mirror(builder.ensure("mirror"), shape)
        did(f"created {MIRROR_CONTAINER}")
    elif not mirror.running:
        run_docker(["start", MIRROR_CONTAINER])
        did(f"started the stopped {MIRROR_CONTAINER}")
    for node in plan:
        have = existing.get(node.container)
        if have is None:
            image = builder.ensure("host-clearlinux" if node.os == "clearlinux" else "host-debian")
            _run_node(node, image, shape, clear_version)
            did(f"created {node.container} ({node.os}, {node.role})")
        elif not have.running:
            run_docker(["start", node.container])
            did(f"started the stopped {node.container}")

    for name in [MIRROR_CONTAINER, *(n.container for n in plan)]:
        _wait_for_systemd(name, say)

    sbx = sandbox_dir(root)
    sbx.mkdir(parents=True, exist_ok=True)
    private_key, public_key = files.ensure_key_pair(sbx)
    ssh_ports: dict[str, int] = {}
    host_keys: dict[int, list[str]] = {}
    for node in plan:
        _install_authorized_key(node.container, public_key)
        port = _published_port(node.container, 22)
        ssh_ports[node.name] = port
        _wait_for_sshd(node.container, port, say)
        host_keys[port] = _host_keys(node.container)

    mirror_ports = {key: _published_port(MIRROR_CONTAINER, p) for key, p in MIRROR_PORTS.items()}
    _wait_for_mirror(mirror_ports, say)
    for ref in _push_stack_images(builder, mirror_ports["registry"], say):
        did(f"pushed {ref} to the mirror's registry")
    for ref in _push_control_plane_images(root, mirror_ports["registry"], say):
        did(f"pushed the stand-in as {ref} to the mirror's registry")
    registry_digest = ""
    if any(n.os == "clearlinux" and n.role == "master" for n in plan):
        pushed, registry_digest = _push_registry_image(builder, mirror_ports["registry"], say)
        if pushed:
            did(f"pushed {REGISTRY_IMAGE[0]} (the registry as a container) to the mirror")

    containers = {c.name: c for c in _sandbox_containers()}
    state = SandboxState(
        network=NETWORK,
        os=os,
        clear_version=clear_version,
        nodes=[
            NodeState(
                name=node.name,
                container=node.container,
                container_id=containers[node.container].id,
                role=node.role,
                os=node.os,
                ssh_port=ssh_ports[node.name],
                ip=containers[node.container].ip,
                image=containers[node.container].image,
            )
            for node in plan
        ],
        mirror=MirrorState(
            container=MIRROR_CONTAINER,
            container_id=containers[MIRROR_CONTAINER].id,
            hostname=MIRROR_HOSTNAME,
            ip=containers[MIRROR_CONTAINER].ip,
            image=containers[MIRROR_CONTAINER].image,
            ports=mirror_ports,
            urls=files.mirror_urls(MIRROR_HOSTNAME),
        ),
        inventory=str(sbx / files.HOSTS_FILE),
        known_hosts=str(sbx / files.KNOWN_HOSTS_FILE),
        private_key=str(private_key),
        stack_images=sorted(STACK_IMAGES),
        changed=bool(actions),
        actions=actions,
        kubernetes_version=kubernetes_version,
        kubernetes_binary_checksums=builder.release_checksums(),
        registry_image_digest=registry_digest,
        k8s_repo_key_fingerprints=builder.k8s_repo_key_fingerprints(),
    )
    _warn_outdated_images(builder, state, say)
    files.write_known_hosts(sbx, host_keys)
    files.write_hosts_yml(sbx, state, files.write_manifests(sbx, root))
    state.elapsed_s = round(time.monotonic() - started, 1)
    files.write_state(sbx, state.to_json())
    return state


DEFAULTS = {"nodes": 3, "os": "debian", "clear_version": DEFAULT_CLEAR_VERSION}


def parse_shape(text: str) -> tuple[int, str, int] | None:
    """The (nodes, os, clear_version) of a shape label as _shape writes it, or None for a label
    that is not one (a label written by hand, or by another version of the harness). A shape
    without Clear Linux hosts names no version: the default one, which _shape leaves out too."""
    fields: dict[str, str] = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        if not sep or key in fields:
            return None
        fields[key] = value
    if set(fields) - {"nodes", "os", "clear-version"} or not {"nodes", "os"} <= set(fields):
        return None
    try:
        nodes = int(fields["nodes"])
        clear_version = int(fields.get("clear-version", DEFAULT_CLEAR_VERSION))
    except ValueError:
        return None
    if fields["os"] not in OS_CHOICES or not 1 <= nodes <= MAX_NODES or clear_version <= 0:
        return None
    if _shape(nodes, fields["os"], clear_version) != text:
        return None
    return nodes, fields["os"], clear_version


def _running_shape(existing: dict[str, _Container]) -> str | None:
    """The shape the running sandbox was made with: its network's label, else its containers'."""
    labels = _network_labels()
    if labels is not None and labels.get(LABEL_SHAPE):
        return labels[LABEL_SHAPE]
    shapes = {c.labels.get(LABEL_SHAPE) for c in existing.values()} - {None, ""}
    return shapes.pop() if len(shapes) == 1 else None


def _adopt_shape(
    nodes: int | None,
    os_name: str | None,
    clear_version: int | None,
    existing: dict[str, _Container],
    say: Echo,
) -> tuple[int, str, int]:
    """What `up` builds: what was asked for, and for what was not, the running sandbox's shape
    (so that a plain `up` refreshes a sandbox made with --os mixed instead of refusing it), or
    the defaults when none runs. A given value that differs is kept, and then refused by
    _refuse_other_shape as before."""
    asked = {"nodes": nodes, "os": os_name, "clear_version": clear_version}
    if all(v is not None for v in asked.values()):
        return nodes, os_name, clear_version  # type: ignore[return-value]
    running = _running_shape(existing) if existing or _network_labels() is not None else None
    adopted = parse_shape(running) if running else None
    base = (
        dict(zip(("nodes", "os", "clear_version"), adopted, strict=True))
        if adopted is not None
        else DEFAULTS
    )
    chosen = {k: base[k] if v is None else v for k, v in asked.items()}
    if adopted is not None:
        say(f"the running sandbox was made as {running}: using that shape for what was not given")
    elif running:
        say(f"the running sandbox's shape label {running!r} cannot be read; the defaults apply")
    return chosen["nodes"], chosen["os"], chosen["clear_version"]


def _refuse_other_shape(shape: str, plan: list[NodePlan], existing: dict[str, _Container]) -> None:
    labels = _network_labels()
    running_shape = labels.get(LABEL_SHAPE) if labels is not None else None
    if not existing and running_shape is None:
        return
    wanted = {n.container: n.os for n in plan}
    differences = []
    if running_shape is not None and running_shape != shape:
        differences.append(f"it was made as {running_shape}, this asks for {shape}")
    for name, container in sorted(existing.items()):
        if name == MIRROR_CONTAINER:
            continue
        if name not in wanted:
            differences.append(f"{name} exists and is not part of the requested sandbox")
        elif container.labels.get(LABEL_OS) != wanted[name]:
            differences.append(f"{name} runs {container.labels.get(LABEL_OS)}, not {wanted[name]}")
    if differences:
        raise UsageError(
            "a sandbox of another shape is up: " + "; ".join(differences),
            "run `dlrs-provision sandbox down` first (it removes only the sandbox), then up again",
        )


def _ensure_network(shape: str) -> bool:
    labels = _network_labels()
    if labels is not None:
        if labels.get(LABEL) != "1":
            raise EnvironmentProblem(
                f"a Docker network named {NETWORK} exists and was not made by the sandbox",
                f"remove or rename it (docker network rm {NETWORK}) if it is not needed",
            )
        return False
    run_docker(
        ["network", "create", "--driver", "bridge", "--label", f"{LABEL}=1",
         "--label", f"{LABEL_SHAPE}={shape}", NETWORK]
    )  # fmt: skip
    return True


def _network_labels() -> dict[str, str] | None:
    proc = run_docker(["network", "inspect", "--format", "{{json .Labels}}", NETWORK], check=False)
    if proc.returncode != 0:
        return None
    return json.loads(proc.stdout.strip() or "{}") or {}


def _common_labels(shape: str, role: str, os_name: str) -> list[str]:
    return [
        "--label", f"{LABEL}=1",
        "--label", f"{LABEL_SHAPE}={shape}",
        "--label", f"{LABEL_ROLE}={role}",
        "--label", f"{LABEL_OS}={os_name}",
    ]  # fmt: skip


def _run_mirror(image: str, shape: str) -> None:
    ports = []
    for port in MIRROR_PORTS.values():
        ports += ["-p", f"127.0.0.1::{port}"]
    run_docker(
        ["run", "-d", "--name", MIRROR_CONTAINER, "--hostname", MIRROR_HOSTNAME,
         "--network", NETWORK, "--network-alias", MIRROR_HOSTNAME,
         *_common_labels(shape, "mirror", "debian"), *SYSTEMD_RUN_FLAGS, *ports,
         image, "/lib/systemd/systemd"]
    )  # fmt: skip


def _run_node(node: NodePlan, image: str, shape: str, clear_version: int) -> None:
    labels = _common_labels(shape, node.role, node.os)
    if node.os == "clearlinux":
        labels += ["--label", f"{LABEL_CLEAR}={clear_version}"]
    run_docker(
        ["run", "-d", "--name", node.container, "--hostname", node.name,
         "--network", NETWORK, "--network-alias", node.name,
         *labels, *SYSTEMD_RUN_FLAGS, *NODE_VOLUMES, "-p", "127.0.0.1::22",
         image, "/lib/systemd/systemd"]
    )  # fmt: skip
    if node.os == "clearlinux" and clear_version != DEFAULT_CLEAR_VERSION:
        # The image says 26240; the swupd stand-in reads VERSION_ID from here.
        run_docker(
            ["exec", node.container, "sed", "-i", f"s/^VERSION_ID=.*/VERSION_ID={clear_version}/",
             "/usr/lib/os-release"]
        )  # fmt: skip


def _sandbox_containers() -> list[_Container]:
    ids = run_docker(["ps", "-aq", "--no-trunc", "--filter", f"label={LABEL}=1"]).stdout.split()
    if not ids:
        return []
    inspected = json.loads(run_docker(["inspect", *ids]).stdout)
    containers = []
    for item in inspected:
        networks = item.get("NetworkSettings", {}).get("Networks") or {}
        state = item.get("State", {})
        containers.append(
            _Container(
                name=item["Name"].lstrip("/"),
                id=item["Id"],
                running=bool(state.get("Running")),
                state=str(state.get("Status", "?")),
                labels=item.get("Config", {}).get("Labels") or {},
                image=item.get("Config", {}).get("Image", ""),
                ip=(networks.get(NETWORK) or {}).get("IPAddress", ""),
            )
        )
    return sorted(containers, key=lambda c: c.name)


def _published_port(container: str, port: int) -> int:
    out = run_docker(["port", container, f"{port}/tcp"]).stdout
    for line in out.splitlines():
        host, _, number = line.strip().rpartition(":")
        if host == "127.0.0.1" and number.isdigit():
            return int(number)
    raise EnvironmentProblem(
        f"{container} publishes no 127.0.0.1 port for {port}/tcp (docker port said: {out!r})",
        "run `dlrs-provision sandbox down`, then `up` again",
    )


def _wait_for_systemd(container: str, say: Echo) -> None:
    """Until systemd has finished booting: `running` (or `degraded`, reported)."""
    deadline = time.monotonic() + BOOT_TIMEOUT_S
    last = ""
    while time.monotonic() < deadline:
        left = max(5.0, deadline - time.monotonic())
        proc = run_docker(
            ["exec", container, "systemctl", "is-system-running", "--wait"],
            check=False,
            timeout=left,
        )
        last = (proc.stdout.strip() or proc.stderr.strip()).splitlines()[-1:] or [""]
        last = last[0]
        if last == "running":
            return
        if last == "degraded":
            failed = run_docker(
                ["exec", container, "systemctl", "--failed", "--no-legend", "--plain"],
                check=False,
            ).stdout.strip()
            say(f"warning: {container} booted degraded; failed units: {failed or '?'}")
            return
        time.sleep(1.0)
    raise EnvironmentProblem(
        f"{container} did not finish booting within {BOOT_TIMEOUT_S:.0f} s (systemd: {last!r})",
        f"look inside: docker exec {container} systemctl --failed; docker logs {container}",
    )


def _install_authorized_key(container: str, public_key: str) -> None:
    """Make the sandbox key dlrs's only authorized key (left alone when it already is)."""
    current = run_docker(
        ["exec", container, "cat", "/home/dlrs/.ssh/authorized_keys"], check=False
    ).stdout
    if current.strip() == public_key.strip():
        return
    script = (
        "set -e; umask 077; d=/home/dlrs/.ssh; install -d -m 0700 -o dlrs -g dlrs $d; "
        "cat > $d/authorized_keys.new; chown dlrs:dlrs $d/authorized_keys.new; "
        "mv -f $d/authorized_keys.new $d/authorized_keys"
    )
    run_docker(["exec", "-i", container, "sh", "-c", script], input=public_key + "\n")


def _host_keys(container: str) -> list[str]:
    out = run_docker(["exec", container, "sh", "-c", "cat /etc/ssh/ssh_host_*_key.pub"]).stdout
    keys = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 2:
            keys.append(f"{parts[0]} {parts[1]}")
    if not keys:
        raise EnvironmentProblem(f"{container} has no ssh host keys", f"docker logs {container}")
    return keys


def ssh_banner(port: int, timeout: float = 3.0) -> str | None:
    """sshd's greeting on 127.0.0.1:port, or None. (Docker's port proxy accepts connections even
    when nothing listens inside, so only the banner proves that sshd answers.)"""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            data = sock.recv(256)
    except OSError:
        return None
    text = data.decode(errors="replace").strip()
    return text if text.startswith("SSH-") else None


def _wait_for_sshd(container: str, port: int, say: Echo) -> None:
    deadline = time.monotonic() + SSH_TIMEOUT_S
    while time.monotonic() < deadline:
        if ssh_banner(port):
            return
        time.sleep(0.5)
    raise EnvironmentProblem(
        f"sshd of {container} does not answer on 127.0.0.1:{port}",
        f"docker exec {container} systemctl status ssh",
    )


def http_get(url: str, *, timeout: float = 5.0, headers: dict[str, str] | None = None):
    """(status, body) of a GET, or (None, reason). Never through a proxy: these are local."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with opener.open(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except (OSError, ValueError) as exc:
        return None, str(exc).encode()


def mirror_checks(ports: dict[str, int]) -> dict[str, tuple[bool, str]]:
    """Does each of the mirror's services answer through its published port?"""
    results = {}
    status, _ = http_get(f"http://127.0.0.1:{ports['http']}/")
    results["http"] = (status == 200, f"GET / on :{ports['http']} -> {status or 'no answer'}")
    status, _ = http_get(f"http://127.0.0.1:{ports['registry']}/v2/")
    results["registry"] = (
        status == 200,
        f"GET /v2/ on :{ports['registry']} -> {status or 'no answer'}",
    )
    # apt-cacher-ng answers any HTTP request, with a status of its choosing: any answer counts.
    status, _ = http_get(f"http://127.0.0.1:{ports['apt_proxy']}/acng-report.html")
    results["apt_proxy"] = (
        status is not None,
        f"HTTP on :{ports['apt_proxy']} -> {status or 'no answer'}",
    )
    return results


def _wait_for_mirror(ports: dict[str, int], say: Echo) -> None:
    deadline = time.monotonic() + MIRROR_TIMEOUT_S
    checks: dict[str, tuple[bool, str]] = {}
    while time.monotonic() < deadline:
        checks = mirror_checks(ports)
        if all(ok for ok, _ in checks.values()):
            return
        time.sleep(1.0)
    failing = "; ".join(detail for ok, detail in checks.values() if not ok)
    raise EnvironmentProblem(
        f"the mirror host's services do not answer: {failing}",
        f"docker exec {MIRROR_CONTAINER} systemctl --failed",
    )


def _push_stack_images(builder: ImageBuilder, registry_port: int, say: Echo) -> list[str]:
    """Push the test stack images unless the registry already has these very images."""
    pushed = []
    for ref, spec_name in sorted(STACK_IMAGES.items()):
        repo, _, tag = ref.partition(":")
        local = builder.ensure(spec_name)
        wanted = image_id(local)
        if _registry_config_digest(registry_port, repo, tag) == wanted:
            continue
        say(f"pushing {local} as mirror:5000/{ref}")
        _push_as(local, registry_port, ref)
        pushed.append(ref)
    return pushed


def _push_registry_image(builder: ImageBuilder, registry_port: int, say: Echo) -> tuple[bool, str]:
    """Push the registry image unless the mirror has it; (pushed, its manifest digest)."""
    ref, spec_name = REGISTRY_IMAGE
    repo, _, tag = ref.partition(":")
    local = builder.ensure(spec_name)
    pushed = False
    if _registry_config_digest(registry_port, repo, tag) != image_id(local):
        say(f"pushing {local} as mirror:5000/{ref}")
        _push_as(local, registry_port, ref)
        pushed = True
    digest = _registry_manifest_digest(registry_port, repo, tag)
    if not digest:
        raise EnvironmentProblem(
            f"the mirror's registry does not give the manifest of {ref} after the push",
            f"docker logs {MIRROR_CONTAINER}",
        )
    return pushed, digest


def _registry_manifest_digest(port: int, repo: str, tag: str) -> str | None:
    """sha256 of the manifest the registry serves for repo:tag (what a pull by digest names)."""
    status, body = http_get(
        f"http://127.0.0.1:{port}/v2/{repo}/manifests/{tag}",
        headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"},
    )
    if status != 200 or not body:
        return None
    data = body if isinstance(body, bytes) else body.encode()
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _push_as(local: str, registry_port: int, ref: str) -> None:
    """Push the local image as REF into the mirror's registry, through a temporary tag."""
    target = f"127.0.0.1:{registry_port}/{ref}"
    run_docker(["tag", local, target])
    try:
        run_docker(["push", target], timeout=600)
    finally:
        run_docker(["image", "rm", target], check=False)  # only the temporary tag


def _push_control_plane_images(root: Path, registry_port: int, say: Echo) -> list[str]:
    """Tag and push the tiny control-plane stand-in image under every name kubeadm's ImagePull
    preflight asks for (files.CONTROL_PLANE_PATH), unless the registry has it already."""
    local = ensure_control_plane_stand_in(say)
    wanted = image_id(local)
    pushed = []
    for ref in control_plane_image_paths(root, files.CONTROL_PLANE_PATH):
        repo, _, tag = ref.rpartition(":")
        if _registry_config_digest(registry_port, repo, tag) == wanted:
            continue
        _push_as(local, registry_port, ref)
        pushed.append(ref)
    return pushed


def _registry_config_digest(port: int, repo: str, tag: str) -> str | None:
    """The image ID (config digest) the registry holds for repo:tag, or None."""
    status, body = http_get(
        f"http://127.0.0.1:{port}/v2/{repo}/manifests/{tag}",
        headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"},
    )
    if status != 200:
        return None
    try:
        return json.loads(body)["config"]["digest"]
    except (ValueError, KeyError, TypeError):
        return None


def _warn_outdated_images(builder: ImageBuilder, state: SandboxState, say: Echo) -> None:
    def current(name: str) -> str | None:
        try:
            return builder.tag(name)
        except EnvironmentProblem:  # a recipe file is missing: nothing to compare with
            return None

    wanted = {"debian": current("host-debian"), "clearlinux": current("host-clearlinux")}
    stale = [n.container for n in state.nodes if wanted[n.os] not in (None, n.image)]
    if current("mirror") not in (None, state.mirror.image):
        stale.append(state.mirror.container)
    if stale:
        say(
            f"note: the recipes in tests/sandbox changed since these containers were made: "
            f"{', '.join(stale)}; `dlrs-provision sandbox down` then `up` uses the new images"
        )


# --------------------------------------------------------------------------------------------
# status


@dataclass
class ContainerStatus:
    name: str
    role: str
    os: str
    state: str
    ssh_port: int | None
    ip: str
    sshd: bool | None  # None for the mirror (no sshd)


@dataclass
class SandboxStatus:
    docker: str  # the engine's version, or why it does not answer
    containers: list[ContainerStatus]
    services: dict[str, tuple[bool, str]]
    inventory: str | None

    @property
    def ok(self) -> bool:
        return (
            bool(self.containers)
            and any(c.role == "mirror" for c in self.containers)
            and all(c.state == "running" and c.sshd is not False for c in self.containers)
            and bool(self.services)
            and all(ok for ok, _ in self.services.values())
        )


def status(*, root: Path | None = None) -> SandboxStatus:
    """What runs, and whether sshd and the mirror's services answer. Starts nothing."""
    info = probe()
    inventory = None
    try:
        hosts = sandbox_dir(root or repo_root()) / files.HOSTS_FILE
        inventory = str(hosts) if hosts.is_file() else None
    except EnvironmentProblem:
        pass
    if info is None:
        return SandboxStatus("no Docker daemon answers", [], {}, inventory)
    rows = []
    services: dict[str, tuple[bool, str]] = {}
    for container in _sandbox_containers():
        role = container.labels.get(LABEL_ROLE, "?")
        ssh_port = None
        sshd = None
        if container.running and role != "mirror":
            ssh_port = _published_port_or_none(container.name, 22)
            sshd = ssh_port is not None and ssh_banner(ssh_port) is not None
        elif role != "mirror":
            sshd = False
        if role == "mirror" and container.running:
            ports = {k: _published_port_or_none(container.name, p) for k, p in MIRROR_PORTS.items()}
            if all(ports.values()):
                services = mirror_checks({k: int(v or 0) for k, v in ports.items()})
        rows.append(
            ContainerStatus(
                name=container.name,
                role=role,
                os=container.labels.get(LABEL_OS, "?"),
                state=container.state,
                ssh_port=ssh_port,
                ip=container.ip,
                sshd=sshd,
            )
        )
    if rows and not services:
        services = {name: (False, "mirror not running") for name in MIRROR_PORTS}
    return SandboxStatus(f"Docker Engine {info.server_version}", rows, services, inventory)


def _published_port_or_none(container: str, port: int) -> int | None:
    try:
        return _published_port(container, port)
    except EnvironmentProblem:
        return None


# --------------------------------------------------------------------------------------------
# down


@dataclass
class DownResult:
    containers: list[str]
    network: bool
    inventory: str | None
    images: list[str]


def down(images: bool = False, *, echo: Echo | None = None, root: Path | None = None) -> DownResult:
    """Remove exactly what `up` made: the labelled containers (with their anonymous volumes),
    the sandbox network and inventory/sandbox/; with images=True also the dlrs-sandbox/* images.
    Safe to run when nothing is up."""
    say = echo or log.info
    root = root or repo_root()
    result = DownResult([], False, None, [])
    engine: DockerInfo | None = probe()
    if engine is None and shutil.which("dockerd") is not None:
        engine = ensure_docker(say)  # containers survive a stopped daemon: start it to remove
    if engine is not None:
        containers = _sandbox_containers()
        if containers:
            say(f"removing {', '.join(c.name for c in containers)}")
            run_docker(["rm", "-f", "-v", *(c.id for c in containers)], timeout=180)
            result.containers = [c.name for c in containers]
        labels = _network_labels()
        if labels is not None and labels.get(LABEL) == "1":
            run_docker(["network", "rm", NETWORK])
            result.network = True
        if images:
            result.images = _remove_images(sandbox_image_refs() + _leftover_push_tags(), say)
    sbx = sandbox_dir(root)
    if sbx.exists():
        shutil.rmtree(sbx)
        result.inventory = str(sbx)
    return result


def _remove_images(refs: list[str], say: Echo) -> list[str]:
    """Remove images; a parent goes only after its children, hence a few passes."""
    left, removed = list(refs), []
    if left:
        say(f"removing images {', '.join(left)}")
    for _ in range(4):
        failed = []
        for ref in left:
            ok = run_docker(["image", "rm", ref], check=False, timeout=300).returncode == 0
            (removed if ok else failed).append(ref)
        if not failed or len(failed) == len(left):
            left = failed
            break
        left = failed
    if left:
        say(f"warning: could not remove {', '.join(left)} (docker image rm says why)")
    return removed


def _leftover_push_tags() -> list[str]:
    """Temporary 127.0.0.1:PORT/clearlinux/... tags of an interrupted push."""
    listed = run_docker(
        ["image", "ls", "--format", "{{.Repository}}:{{.Tag}}", "--filter",
         "label=dlrs-provision.test-image=true"],
        check=False,
    ).stdout.split()  # fmt: skip
    return [ref for ref in listed if ref.startswith("127.0.0.1:")]


def read_state(root: Path | None = None) -> SandboxState | None:
    """The state that the last `up` wrote (inventory/sandbox/sandbox.json), or None."""
    path = sandbox_dir(root or repo_root()) / files.STATE_FILE
    if not path.is_file():
        return None
    data = json.loads(path.read_text())
    data.pop("format", None)
    data["nodes"] = [NodeState(**n) for n in data["nodes"]]
    data["mirror"] = MirrorState(**data["mirror"])
    return SandboxState(**data)
