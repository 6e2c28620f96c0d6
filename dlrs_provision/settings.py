"""The `dlrs_` settings an inventory may carry, declared once with their types and limits.

Every setting can sit at all, group or host level (group_vars/, host_vars/ or the hosts file).
Validation refuses keys that are not declared here, with a did-you-mean for near misses.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from dlrs_provision import catalog, clearlinux_kubernetes, kubeadm_api, tuning

CLEARLINUX_MIN_VERSION = 26240

_IMAGE_REF = re.compile(
    r"^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]+)?/)?"  # optional registry[:port]/
    r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
    r"(?::[\w][\w.-]{0,127})?(?:@sha256:[0-9a-f]{64})?$"
)
_K8S_VERSION = re.compile(r"^v?1\.\d{1,2}(\.\d{1,3})?$")
_SHA256 = re.compile(r"^(sha256:)?[0-9a-f]{64}$")
_RELEASE = re.compile(r"^v\d{1,3}\.\d{1,3}\.\d{1,3}$")
_HOST_PORT = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:\d{1,5})?$")
_HOST = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$")
# registry host[:port] and an optional path, no tag: what kubeadm's imageRepository holds
_IMAGE_REPO = re.compile(
    r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:\d{1,5})?"
    r"(/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$"
)


@dataclass(frozen=True)
class Setting:
    name: str
    kind: str  # int, str, bool, list, or one of the string kinds that expected() names
    help: str
    default: Any = None
    choices: tuple[str, ...] | None = None
    minimum: int | None = None
    maximum: int | None = None
    nullable: bool = True  # null means "not set": the default applies
    secret: bool = False  # a password: its value never appears in a message

    def expected(self) -> str:
        """What would be accepted, in words, for the error message."""
        if self.choices:
            return "one of " + ", ".join(self.choices)
        if self.kind == "int":
            if self.minimum is not None and self.maximum is not None:
                return f"a whole number from {self.minimum} to {self.maximum}"
            if self.minimum is not None:
                return f"a whole number, {self.minimum} or more"
            return "a whole number"
        return {
            "str": "a non-empty string",
            "bool": "true or false (YAML booleans, unquoted)",
            "list": "a list of strings",
            "url": "an http:// or https:// URL",
            "image": "an image reference such as registry:5000/org/name:tag",
            "version": "a Kubernetes version from "
            f"{kubeadm_api.MINIMUM[0]}.{kubeadm_api.MINIMUM[1]} on, such as 1.32 or 1.32.3",
            "hostport": "a host name or address with an optional :port",
            "host": "a host name or address (letters, digits, dots and hyphens), no port",
            "cidr": "a network in CIDR form such as 10.244.0.0/16",
            "path": "an absolute path",
            "fileurl": "an http://, https:// or file:// URL",
            "sha256": "a sha256 digest: 64 hex digits, optionally after sha256:",
            "release": "a release tag such as v1.9.0",
            "imagerepo": "a registry with an optional path, no tag, such as registry:5443/k8s",
            "k8s_checksums": 'a mapping "X.Y.Z": {kubeadm: "sha256:<64 hex>", kubelet: '
            '"sha256:...", kubectl: "sha256:..."}',
        }[self.kind]

    def check(self, value: Any) -> str | None:
        """Return what is wrong with value, or None when it is acceptable."""
        if value is None:
            return None if self.nullable else "is empty"
        if self.secret:
            if not isinstance(value, str):
                return "is not a string (the value is not shown: it is a secret)"
            return "is an empty string" if not value.strip() else None
        kind = self.kind
        if kind == "k8s_checksums":
            return clearlinux_kubernetes.checksums_problem(value)
        if kind == "int":
            if isinstance(value, bool) or not isinstance(value, int):
                return f"is {_describe(value)}, not a whole number"
            if self.minimum is not None and value < self.minimum:
                return f"is {value}, below the minimum {self.minimum}"
            if self.maximum is not None and value > self.maximum:
                return f"is {value}, above the maximum {self.maximum}"
            return None
        if kind == "bool":
            return None if isinstance(value, bool) else f"is {_describe(value)}, not a boolean"
        if kind == "list":
            if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
                return f"is {_describe(value)}, not a list of strings"
            return None
        if not isinstance(value, str):
            return f"is {_describe(value)}, not a string"
        if not value.strip():
            return "is an empty string"
        if self.choices and value not in self.choices:
            return f"is {value!r}, not one of the accepted values"
        if kind == "url":
            u = urlparse(value)
            if u.scheme not in ("http", "https") or not u.netloc:
                return f"is {value!r}, not an http(s) URL"
        elif kind == "image" and not _IMAGE_REF.match(value):
            return f"is {value!r}, not a valid image reference"
        elif kind == "version" and not _K8S_VERSION.match(value):
            return f"is {value!r}, not a Kubernetes version"
        elif kind == "version" and kubeadm_api.unsupported(value):
            return f"is {value!r}: {kubeadm_api.unsupported(value)}"
        elif kind == "fileurl":
            u = urlparse(value)
            if not (u.scheme in ("http", "https") and u.netloc) and not (
                u.scheme == "file" and u.path.startswith("/") and not u.netloc
            ):
                return f"is {value!r}, not an http(s) or file:// URL"
        elif kind == "sha256" and not _SHA256.match(value):
            return f"is {value!r}, not a sha256 digest"
        elif kind == "release" and not _RELEASE.match(value):
            return f"is {value!r}, not a release tag vMAJOR.MINOR.PATCH"
        elif kind == "hostport" and not _HOST_PORT.match(value):
            return f"is {value!r}, not host[:port]"
        elif kind == "imagerepo" and not _IMAGE_REPO.match(value):
            return f"is {value!r}, not a registry[:port][/path] without a tag"
        elif kind == "host" and not _HOST.match(value):
            return f"is {value!r}, not a host name or address"
        elif kind == "path" and not value.startswith("/"):
            return f"is {value!r}, not an absolute path"
        elif kind == "cidr":
            try:
                ipaddress.ip_network(value, strict=True)
            except ValueError:
                return f"is {value!r}, not a network in CIDR form"
        return None


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"{type(value).__name__} {value!r}"


SETTINGS: dict[str, Setting] = {
    s.name: s
    for s in [
        # --- the stack
        Setting(
            "dlrs_variant",
            "str",
            "TensorFlow build: mkl (MKL-DNN) or eigen",
            default=catalog.DEFAULT_VARIANT,
            choices=tuple(catalog.VARIANTS),
            nullable=False,
        ),
        Setting("dlrs_image", "image", "explicit image, overrides the variant's image"),
        # --- tuning overrides (win over the calculator; reported as overrides)
        Setting("dlrs_num_inter_threads", "int", "override num_inter_threads", minimum=1),
        Setting("dlrs_num_intra_threads", "int", "override num_intra_threads", minimum=1),
        Setting("dlrs_data_format", "str", "override data_format", choices=tuning.DATA_FORMATS),
        Setting(
            "dlrs_kmp_blocktime",
            "int",
            "KMP_BLOCKTIME in ms for OpenMP builds (0 or 1 suits CNNs)",
            default=tuning.DEFAULT_KMP_BLOCKTIME,
            minimum=0,
            maximum=1000,
        ),
        # --- OS: Clear Linux
        Setting(
            "dlrs_clearlinux_min_version",
            "int",
            "lowest Clear Linux version accepted; older nodes are brought up to it",
            default=CLEARLINUX_MIN_VERSION,
            minimum=CLEARLINUX_MIN_VERSION,
            nullable=False,
        ),
        Setting(
            "dlrs_clearlinux_version",
            "int",
            "exact Clear Linux version to pin every Clear Linux node to",
            minimum=CLEARLINUX_MIN_VERSION,
        ),
        Setting("dlrs_clearlinux_mirror", "url", "the site's swupd mirror (content and version)"),
        Setting("dlrs_clearlinux_bundles", "list", "extra swupd bundles to add", default=[]),
        Setting(
            "dlrs_clearlinux_force_pin",
            "bool",
            "move a node that is newer than dlrs_clearlinux_version back to the pin",
            default=False,
        ),
        Setting(
            "dlrs_clearlinux_autoupdate",
            "bool",
            "leave swupd's automatic updates on (off keeps the cluster on one version)",
            default=False,
        ),
        Setting(
            "dlrs_clearlinux_allow_insecure_http",
            "bool",
            "let swupd use a plain-HTTP mirror (swupd refuses http:// otherwise)",
            default=False,
        ),
        Setting(
            "dlrs_min_memory_mb",
            "int",
            "memory a node needs to pass preflight",
            default=4096,
            minimum=512,
        ),
        # --- site network: mirrors and proxies
        Setting("dlrs_apt_proxy", "url", "apt proxy or package cache for Debian/Ubuntu nodes"),
        Setting("dlrs_http_proxy", "url", "HTTP proxy for nodes, runtimes and the kubelet"),
        Setting("dlrs_https_proxy", "url", "HTTPS proxy for nodes, runtimes and the kubelet"),
        Setting("dlrs_no_proxy", "list", "extra no_proxy entries", default=[]),
        Setting("dlrs_upstream_registry", "hostport", "registry the stack images come from"),
        Setting(
            "dlrs_upstream_registry_username",
            "str",
            "user name for the upstream registry (the cache logs in with it)",
        ),
        Setting(
            "dlrs_upstream_registry_password",
            "str",
            "password or token for the upstream registry (never shown; use Ansible Vault)",
            secret=True,
        ),
        Setting("dlrs_pod_network_cidr", "cidr", "Kubernetes pod network", default="10.244.0.0/16"),
        Setting("dlrs_service_cidr", "cidr", "Kubernetes service network", default="10.96.0.0/12"),
        # --- container runtimes
        Setting(
            "dlrs_container_runtime",
            "str",
            "Kubernetes runtime through CRI: containerd, or CRI-O (Clear Linux only)",
            default="containerd",
            choices=("containerd", "crio"),
        ),
        Setting(
            "dlrs_docker_source",
            "str",
            "Debian/Ubuntu: the distribution's docker.io, or Docker's own repository",
            default="distribution",
            choices=("distribution", "upstream"),
        ),
        Setting("dlrs_docker_repo_url", "url", "Docker's package repository (or a mirror of it)"),
        Setting("dlrs_docker_repo_key_url", "url", "signing key of that repository"),
        Setting("dlrs_docker_data_root", "path", "Docker's data-root"),
        Setting(
            "dlrs_registry_mirrors",
            "list",
            "registry mirrors (URLs) for Docker/containerd",
            default=[],
        ),
        Setting(
            "dlrs_insecure_registries",
            "list",
            "registries reached over plain HTTP (host:port); only those listed",
            default=[],
        ),
        # --- the cluster's registry (role registry_cache) and the images phase
        Setting(
            "dlrs_registry_cache",
            "bool",
            "run the cluster's registry on the master; false: every node pulls from upstream",
            default=True,
        ),
        Setting(
            "dlrs_registry_mode",
            "str",
            "proxy: pull-through cache of the upstream; local: a registry for `images load`",
            default="proxy",
            choices=("proxy", "local"),
        ),
        Setting(
            "dlrs_registry_cache_host",
            "host",
            "the name the nodes reach the cluster's registry by (default: the master's name)",
        ),
        Setting(
            "dlrs_registry_cache_port",
            "int",
            "the cluster registry's port",
            default=5443,
            minimum=1,
            maximum=65535,
        ),
        Setting(
            "dlrs_registry_cache_image",
            "image",
            "Clear Linux master: the registry image run as a container, as the upstream names it",
            default="library/registry:2.8.3",
        ),
        Setting(
            "dlrs_registry_cache_image_digest",
            "sha256",
            "Clear Linux master: the digest the registry image is pulled by (default: Docker "
            "Hub's registry:2.8.3)",
            default="sha256:a3d8aaa63ed8681a604f1dea0aa03f100d5895b6a58ace528858a7b332415373",
        ),
        Setting(
            "dlrs_pause_image",
            "image",
            "the pod sandbox (pause) image (default: kubeadm's pause of the pinned minor, from "
            "dlrs_kubernetes_image_repository)",
        ),
        Setting(
            "dlrs_kubernetes_image_repository",
            "imagerepo",
            "where kubeadm and the runtimes pull the control-plane and pause images from "
            "(default: registry.k8s.io; the cluster's registry with dlrs_registry_mode: local)",
        ),
        # --- node preparation
        Setting(
            "dlrs_time_sync",
            "str",
            "time synchronisation service",
            default="auto",
            choices=("auto", "chrony", "timesyncd"),
        ),
        Setting(
            "dlrs_cpu_governor",
            "str",
            "CPU frequency governor where cpufreq exists",
            default="performance",
            choices=("performance", "powersave", "schedutil", "ondemand"),
        ),
        Setting(
            "dlrs_firewalld",
            "str",
            "RHEL family: keep firewalld with the cluster's ports open, or disable it",
            default="open-ports",
            choices=("open-ports", "disable"),
        ),
        # --- versions
        Setting("dlrs_kubernetes_version", "version", "Kubernetes version for kubeadm/kubelet"),
        # --- Kubernetes: packages and pod network
        Setting(
            "dlrs_kubernetes_repo_url",
            "fileurl",
            "base URL of the Kubernetes package repositories (pkgs.k8s.io or a mirror of it)",
            default="https://pkgs.k8s.io",
        ),
        Setting("dlrs_kubernetes_repo_key_url", "fileurl", "signing key of those repositories"),
        Setting(
            "dlrs_kubernetes_clearlinux_source",
            "str",
            "Clear Linux nodes: kubeadm/kubelet/kubectl from the upstream release binaries "
            "(checked by sha256) or from the cloud-native-basic bundle (the OS release's version)",
            default=clearlinux_kubernetes.DEFAULT_SOURCE,
            choices=clearlinux_kubernetes.SOURCES,
        ),
        Setting(
            "dlrs_kubernetes_binary_url",
            "url",
            "where the release binaries are: <url>/v<X.Y.Z>/bin/linux/amd64/<name> (dl.k8s.io "
            "or a mirror of it)",
            default=clearlinux_kubernetes.DEFAULT_BINARY_URL,
        ),
        Setting(
            "dlrs_kubernetes_binary_checksums",
            "k8s_checksums",
            "sha256 of release binaries the built-in table lacks: "
            '"X.Y.Z": {kubeadm: sha256:..., kubelet: ..., kubectl: ...}',
            default={},
        ),
        Setting(
            "dlrs_pod_network",
            "str",
            "pod network applied after kubeadm init (none: the site applies its own)",
            default="flannel",
            choices=("flannel", "calico", "none"),
        ),
        Setting(
            "dlrs_pod_network_manifest_url",
            "fileurl",
            "the pod network's manifest, fetched by the controller (default: the pinned release)",
        ),
        Setting(
            "dlrs_pod_network_manifest_checksum",
            "sha256",
            "sha256 of that manifest; a manifest is applied only when it matches",
        ),
        # --- Kubeflow: the training operator (TFJob)
        Setting(
            "dlrs_kubeflow",
            "bool",
            "run the Kubeflow phase: the training operator, which serves TFJob",
            default=False,
        ),
        Setting(
            "dlrs_training_operator_version",
            "release",
            "kubeflow/training-operator release the manifest was rendered from",
            default="v1.9.0",
        ),
        Setting(
            "dlrs_training_operator_manifest_url",
            "fileurl",
            "the operator's standalone manifest, rendered into one file on the site's mirror",
        ),
        Setting(
            "dlrs_training_operator_manifest_checksum",
            "sha256",
            "sha256 of that file; required with dlrs_kubeflow, applied only when it matches",
        ),
    ]
}


def describe_all() -> list[tuple[str, str, str]]:
    """(name, accepted values, help) for documentation and `--help` texts."""
    return [(s.name, s.expected(), s.help) for s in SETTINGS.values()]
