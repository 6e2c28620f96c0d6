"""The files `sandbox up` writes under inventory/sandbox/ (ignored by git).

id_ed25519, id_ed25519.pub  the key the inventory logs in with (made once, mode 0600)
known_hosts                 the test hosts' ssh host keys as [127.0.0.1]:PORT entries, so
                            that host key checking stays on
hosts.yml                   the Ansible inventory (absolute paths inside)
sandbox.json                machine-readable state (nodes, ports, addresses, the mirror)
manifests/                  stand-ins of the manifests a site pins by checksum (pod network,
                            training operator), fetched by the roles over file:// URLs
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from dlrs_harness.sandbox.scripts import load_script

if TYPE_CHECKING:
    from dlrs_harness.sandbox.cluster import SandboxState

KEY_FILE = "id_ed25519"
KNOWN_HOSTS_FILE = "known_hosts"
HOSTS_FILE = "hosts.yml"
STATE_FILE = "sandbox.json"
MANIFESTS_DIR = "manifests"
POD_NETWORK_FILE = "pod-network-stand-in.yaml"
TRAINING_OPERATOR_FILE = "training-operator-stand-in.yaml"
# The stand-in cluster runs no containers, so a pod network is only objects to apply: flannel's
# namespace, its net-conf ConfigMap and its DaemonSet in the shape of flannel v0.26's
# kube-flannel.yml (tolerations, affinity, priority, the kube-flannel container's 50Mi), so that
# its pods take their room on every node as they do on a real one. One difference, on purpose:
# no cpu request (flannel's is 100m). The sandbox's nodes have the 2 CPUs of the build machine,
# and the static CPU manager's reservation for IO leaves 1 allocatable: flannel's 100m would
# leave no whole CPU for any benchmark pod, as on a real 2-CPU node (the benchmark then refuses
# the node, naming what takes its room: tests/unit/test_tfjob.py and the scheduler stand-in's
# tests show that case with the real 100m).
POD_NETWORK_STAND_IN = """\
# dlrs-provision STAND-IN of a pod network manifest (sandbox only; not flannel): the namespace,
# the net-conf and the DaemonSet of flannel, whose pods the stand-in cluster schedules and never
# runs.
apiVersion: v1
kind: Namespace
metadata:
  name: kube-flannel
  labels: {stand-in.dlrs-provision.io/manifest: "true"}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: kube-flannel-cfg
  namespace: kube-flannel
  labels: {stand-in.dlrs-provision.io/manifest: "true"}
data:
  net-conf.json: '{"Network": "10.244.0.0/16", "Backend": {"Type": "vxlan"}}'
---
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: kube-flannel-ds
  namespace: kube-flannel
  labels: {app: flannel, tier: node, stand-in.dlrs-provision.io/manifest: "true"}
spec:
  selector:
    matchLabels: {app: flannel}
  template:
    metadata:
      labels: {app: flannel, tier: node}
    spec:
      affinity:
        nodeAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            nodeSelectorTerms:
            - matchExpressions:
              - {key: kubernetes.io/os, operator: In, values: [linux]}
      hostNetwork: true
      priorityClassName: system-node-critical
      tolerations:
      - {operator: Exists, effect: NoSchedule}
      containers:
      - name: kube-flannel
        image: stand-in.invalid/flannel:v0.26.4
        resources:
          requests: {memory: 50Mi}  # flannel: cpu 100m (see above)
"""
KEY_COMMENT = "dlrs-provision-sandbox"


# Where the mirror's registry holds the stand-in control-plane images: <registry>/registry.k8s.io
CONTROL_PLANE_PATH = "registry.k8s.io"


def mirror_urls(host: str) -> dict[str, str]:
    """The mirror's services as the test hosts reach them (by name on the sandbox network)."""
    return {
        "apt_proxy": f"http://{host}:3142",
        "registry": f"{host}:5000",
        "clearlinux_mirror": f"http://{host}:8080/clearlinux/update",
        "files": f"http://{host}:8080/",
        "k8s_repo": f"http://{host}:8080/k8s",
        "kubernetes_binaries": f"http://{host}:8080/dl/release",
    }


@dataclass(frozen=True)
class Manifest:
    path: Path
    sha256: str


def write_manifests(directory: Path, root: Path) -> dict[str, Manifest | None]:
    """The stand-in manifests under DIRECTORY/manifests: the pod network always; the training
    operator's when the reference TFJob CRD is found (None otherwise: Kubeflow is then off)."""
    out = directory / MANIFESTS_DIR
    out.mkdir(parents=True, exist_ok=True)
    pod_network = out / POD_NETWORK_FILE
    _write(pod_network, POD_NETWORK_STAND_IN.encode(), 0o644)
    manifests: dict[str, Manifest | None] = {
        "pod_network": Manifest(
            pod_network, hashlib.sha256(POD_NETWORK_STAND_IN.encode()).hexdigest()
        )
    }
    helper = load_script(root / "tests" / "standins" / "k8s" / "training_operator_manifest.py")
    crd = helper.find_tfjob_crd(root) if helper else None
    operator = out / TRAINING_OPERATOR_FILE
    manifests["training_operator"] = (
        Manifest(operator, helper.write(operator, crd)) if helper and crd else None
    )
    return manifests


def ensure_key_pair(directory: Path) -> tuple[Path, str]:
    """The sandbox's ed25519 key (made when missing); returns its path and the public key line."""
    private = directory / KEY_FILE
    public = directory / f"{KEY_FILE}.pub"
    if private.is_file() and public.is_file():
        os.chmod(private, 0o600)
        return private, public.read_text().strip()
    key = Ed25519PrivateKey.generate()
    private_bytes = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    public_line = (
        key.public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
        + f" {KEY_COMMENT}"
    )
    _write(private, private_bytes, 0o600)
    _write(public, (public_line + "\n").encode(), 0o644)
    return private, public_line


def write_known_hosts(directory: Path, host_keys: dict[int, list[str]]) -> Path:
    """host_keys: ssh port on 127.0.0.1 -> ["ssh-ed25519 AAAA...", ...]."""
    lines = [
        "# Written by `dlrs-provision sandbox up`: ssh host keys of the local test hosts,",
        "# read from inside each container (docker exec), not learnt over the network.",
    ]
    for port in sorted(host_keys):
        lines += [f"[127.0.0.1]:{port} {key}" for key in host_keys[port]]
    path = directory / KNOWN_HOSTS_FILE
    _write(path, ("\n".join(lines) + "\n").encode(), 0o644)
    return path


def render_hosts_yml(
    directory: Path, state: SandboxState, manifests: dict[str, Manifest | None] | None = None
) -> str:
    key = directory / KEY_FILE
    known_hosts = directory / KNOWN_HOSTS_FILE
    urls = mirror_urls(state.mirror.hostname)
    common_args = f"-o UserKnownHostsFile={shlex.quote(str(known_hosts))}"

    def hosts(role: str) -> list[str]:
        return [
            f"        {n.name}: {{ansible_host: 127.0.0.1, ansible_port: {n.ssh_port}}}"
            for n in state.nodes
            if n.role == role
        ]

    lines = [
        "# Written by `dlrs-provision sandbox up` — local test hosts, not real servers.",
        f"# Node OS: {', '.join(f'{n.name} {n.os}' for n in state.nodes)}. "
        "Removed by `dlrs-provision sandbox down`.",
        "all:",
        "  vars:",
        "    ansible_user: dlrs",
        "    ansible_become: true",
        f"    ansible_ssh_private_key_file: {_q(str(key))}",
        f"    ansible_ssh_common_args: {_q(common_args)}",
        "    ansible_python_interpreter: /usr/bin/python3",
        f"    dlrs_apt_proxy: {_q(urls['apt_proxy'])}",
        f"    dlrs_clearlinux_mirror: {_q(urls['clearlinux_mirror'])}",
        "    dlrs_clearlinux_allow_insecure_http: true  # the sandbox mirror is plain HTTP",
        f"    dlrs_upstream_registry: {_q(urls['registry'])}",
        *_registry_image_lines(state.registry_image_digest),
        "    # the mirror's registry plays the upstream; it is plain HTTP, so it is listed here",
        f"    dlrs_insecure_registries: [{_q(urls['registry'])}]",
        "    # the kubeadm/kubelet/kubectl STAND-INS, as a signed apt repo on the mirror",
        f"    dlrs_kubernetes_repo_url: {_q(urls['k8s_repo'])}",
        *_repo_key_lines(state.k8s_repo_key_fingerprints),
        "    # the exact release, so that Debian's apt and Clear Linux's release binaries agree",
        f'    dlrs_kubernetes_version: "{_exact_version(state)}"',
        *_binary_lines(urls["kubernetes_binaries"], state.kubernetes_binary_checksums),
        "    # kubeadm's control-plane images: STAND-IN images in the mirror's registry, under the",
        "    # path of their real registry (checked by the kubeadm stand-in's ImagePull preflight)",
        f"    dlrs_kubernetes_image_repository: {_q(urls['registry'] + '/' + CONTROL_PLANE_PATH)}",
        *_manifest_lines(manifests or {}),
        "  children:",
        "    masters:",
        "      hosts:",
        *hosts("master"),
    ]
    workers = hosts("worker")
    lines += ["    workers:", "      hosts:" + ("" if workers else " {}"), *workers]
    return "\n".join(lines) + "\n"


def _repo_key_lines(fingerprints: list[str]) -> list[str]:
    """The mirror's repositories are signed with the sandbox's own key, served over the
    mirror's plain HTTP: the inventory pins that key's fingerprint (the roles refuse any other
    key) and lets it come over HTTP."""
    if not fingerprints:
        return []
    return [
        "    # ... signed with the sandbox's own key: the roles trust only a key with this",
        "    # fingerprint; it comes over the mirror's plain HTTP, hence allow_http",
        f"    dlrs_kubernetes_repo_key_fingerprints: [{', '.join(_q(f) for f in fingerprints)}]",
        "    dlrs_repo_keys_allow_http: true",
    ]


def _binary_lines(url: str, checksums: dict[str, dict[str, str]]) -> list[str]:
    """The stand-in release binaries on the mirror (Clear Linux nodes install kubeadm,
    kubelet, kubectl from there), pinned by the sha256 of the mirror's own build."""
    if not checksums:
        return []
    lines = [
        "    # kubeadm/kubelet/kubectl STAND-INS as release binaries (dl.k8s.io's layout) on the",
        "    # mirror, for Clear Linux nodes; their sha256, as the mirror's image was built",
        f"    dlrs_kubernetes_binary_url: {_q(url)}",
        "    dlrs_kubernetes_binary_checksums:",
    ]
    for version in sorted(checksums, key=lambda v: tuple(int(x) for x in v.split("."))):
        lines.append(f"      {_q(version)}:")
        names = checksums[version]
        lines += [f"        {name}: {_q(names[name])}" for name in sorted(names)]
    return lines


def _exact_version(state) -> str:
    """The sandbox's Kubernetes version as an exact release: a minor becomes the newest patch
    the mirror has release binaries (and an apt repository) for."""
    wanted = state.kubernetes_version
    if wanted.count(".") != 1:
        return wanted
    patches = [v for v in state.kubernetes_binary_checksums if v.startswith(wanted + ".")]
    if not patches:
        return wanted
    return max(patches, key=lambda v: tuple(int(p) for p in v.split(".")))


def _registry_image_lines(digest: str) -> list[str]:
    if not digest:
        return []
    return [
        "    # the registry image a Clear Linux master runs the cache with: the mirror's STAND-IN",
        "    # for Docker Hub's library/registry:2.8.3 (Debian's docker-registry), by its digest",
        f"    dlrs_registry_cache_image_digest: {_q(digest)}",
    ]


def _manifest_lines(manifests: dict[str, Manifest | None]) -> list[str]:
    lines = []
    network = manifests.get("pod_network")
    if network:
        lines += [
            "    # STAND-IN manifests (manifests/ here), pinned by sha256 like real ones",
            f"    dlrs_pod_network_manifest_url: {_q(network.path.as_uri())}",
            f"    dlrs_pod_network_manifest_checksum: {_q(network.sha256)}",
        ]
    if "training_operator" in manifests:
        operator = manifests["training_operator"]
        if operator:
            lines += [
                "    dlrs_kubeflow: true",
                "    # the stand-in cluster runs no pods: no rollout to wait for",
                "    kubeflow_training_operator_rollout_timeout: 0",
                f"    dlrs_training_operator_manifest_url: {_q(operator.path.as_uri())}",
                f"    dlrs_training_operator_manifest_checksum: {_q(operator.sha256)}",
            ]
        else:
            lines += [
                "    # no TFJob CRD (tests/data/kubeflow/) for the stand-in operator",
                "    dlrs_kubeflow: false",
            ]
    return lines


def write_hosts_yml(
    directory: Path, state: SandboxState, manifests: dict[str, Manifest | None] | None = None
) -> Path:
    path = directory / HOSTS_FILE
    _write(path, render_hosts_yml(directory, state, manifests).encode(), 0o644)
    return path


def write_state(directory: Path, text: str) -> Path:
    path = directory / STATE_FILE
    _write(path, text.encode(), 0o644)
    return path


def _q(text: str) -> str:
    """A YAML double-quoted scalar (JSON's string syntax is a subset of it)."""
    return json.dumps(text)


def _write(path: Path, data: bytes, mode: int) -> None:
    """Write atomically with `mode` from the start (no moment of a world-readable key)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.chmod(tmp, mode)
    os.replace(tmp, path)
