"""The `dlrs_` settings an inventory may carry, declared once: type, default, limits, help, roles.

Every setting can sit at all, group or host level (group_vars/, host_vars/ or the hosts file).
Validation refuses keys that are not declared here, with a did-you-mean for near misses.

This is the one declaration. `python -m dlrs_provision.settings_gen` writes from it the shared
defaults role (roles/dlrs_defaults: defaults and argument specs), the settings tables of the
README and of each role README, and the sample inventory's group_vars/all.yml; a unit test keeps
the committed files equal to what it writes.

Null, the same on both sides: a setting with a default refuses null (remove the line and the
default applies: roles/dlrs_defaults carries it); a setting without a default takes null as
"not set", and the roles read it as `dlrs_x or ''` (or pass the null on to Python, which reads
None as not set).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from dlrs_provision import catalog, clearlinux_kubernetes, kubeadm_api, openpgp, tuning

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
_BUNDLE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")
# a no_proxy entry: a host, a .domain, an address, a CIDR, [IPv6], an optional :port, or *
_NO_PROXY_ENTRY = re.compile(r"^[A-Za-z0-9.*:/\[\]_-]+$")

# Every string setting reaches a file on the nodes (a systemd drop-in, an apt or dnf source, a
# TOML or YAML configuration, a shell profile): one control character there (a newline above
# all) starts a line of its own, so none is accepted anywhere. The kinds below are names,
# addresses, URLs and paths: quotes, backslashes and white space end or split the field they are
# written into, and no valid value of those kinds holds one.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_QUOTE_OR_SPACE = re.compile(r"[\s\"'`\\]")
_NO_QUOTES_KINDS = frozenset(
    {
        "url",
        "fileurl",
        "image",
        "imagerepo",
        "path",
        "host",
        "hostport",
        "version",
        "cidr",
        "sha256",
        "release",
        "bundle",
        "noproxy",
    }
)
_CHAR_NAMES = {
    "\n": "a newline (\\n)",
    "\r": "a carriage return (\\r)",
    "\t": "a tab (\\t)",
    "\x00": "a NUL character (\\x00)",
    " ": "a space",
    '"': 'a double quote (")',
    "'": "a single quote (')",
    "`": "a backquote (`)",
    "\\": "a backslash (\\)",
}


def _char_name(char: str) -> str:
    return _CHAR_NAMES.get(
        char, f"the character {char!r}" if char.isprintable() else f"the control character {char!r}"
    )


def _strings_in(value: Any, path: str = "") -> list[tuple[str, str]]:
    """(where, text) of every string in value: itself, list items, mapping keys and values."""
    if isinstance(value, str):
        return [(path, value)]
    if isinstance(value, list):
        return [x for i, v in enumerate(value) for x in _strings_in(v, f"{path}[{i}]")]
    if isinstance(value, dict):
        found = []
        for k, v in value.items():
            found += _strings_in(k, f"{path}{' ' if path else ''}the key")
            found += _strings_in(v, f"{path}[{k!r}]")
        return found
    return []


def bad_character(value: Any, *, quotes: bool = False) -> tuple[str, str, int] | None:
    """(where, the character, its position) of the first control character in any string of
    value (with quotes: also a quote, backslash or white space), or None."""
    pattern = _QUOTE_OR_SPACE if quotes else _CONTROL
    for where, text in _strings_in(value):
        m = _CONTROL.search(text) or pattern.search(text)
        if m:
            return where, m.group(), m.start()
    return None


# The signing keys of the upstream repositories, by fingerprint: Docker's
# (download.docker.com/linux/<distro>/gpg; docs.docker.com's install pages give it) and
# pkgs.k8s.io's (the isv:kubernetes OBS Project key, which signs every core:/stable:/v1.x
# repository; its expiry has been extended, its fingerprint kept).
DOCKER_KEY_FINGERPRINTS = ("9DC858229FC7DD38854AE2D88D81803C0EBFCD88",)
KUBERNETES_KEY_FINGERPRINTS = ("DE15B14486CD377B9E876E1A234654DA9A296436",)


# more threads than any machine has cores (the largest servers have a few hundred): a typo
MAX_THREADS = 4096


@dataclass(frozen=True)
class Setting:
    name: str
    kind: str  # int, str, bool, list, or one of the string kinds that expected() names
    help: str
    default: Any = None
    choices: tuple[str, ...] | None = None
    minimum: int | None = None
    maximum: int | None = None
    secret: bool = False  # a password: its value never appears in a message
    group: str = ""  # the header it sits under in the sample inventory and dlrs_defaults
    roles: tuple[str, ...] = ()  # the roles that read it (a unit test greps roles/ for it)
    shown: str | None = None  # the default in words, for the README (else the default itself)
    doc: str | None = None  # the README's meaning column (else help)
    sample: str | None = None  # the value the sample inventory shows (YAML), else the default
    item_kind: str | None = None  # a list's items: the string kind each one must be

    @property
    def nullable(self) -> bool:
        """Null means "not set" only where there is no default to take instead."""
        return self.default is None

    def default_yaml(self) -> str:
        """The default as YAML flow text (null when there is none)."""
        return _yaml_flow(self.default)

    def null_problem(self) -> str:
        return f"is null: remove the line to take the default ({self.default_yaml()})"

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
            "bundle": "a swupd bundle name (letters, digits, '.', '_', '+', '-')",
            "noproxy": "a host, .domain, address or CIDR",
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
            "fingerprints": "a list of OpenPGP key fingerprints (40 hex digits each, spaces "
            "allowed)",
            "release": "a release tag such as v1.9.0",
            "imagerepo": "a registry with an optional path, no tag, such as registry:5443/k8s",
            "k8s_checksums": 'a mapping "X.Y.Z": {kubeadm: "sha256:<64 hex>", kubelet: '
            '"sha256:...", kubectl: "sha256:..."}',
        }[self.kind]

    def expected_text(self) -> str:
        """expected(), with what a list's items must be."""
        if self.kind == "list" and self.item_kind:
            item = Setting(self.name, self.item_kind, self.help)
            return f"a list, each item {item.expected()}"
        return self.expected()

    def fix(self, value: Any) -> str:
        """How to correct a value that check() refused."""
        found = bad_character(value, quotes=self._strict())
        if found is not None:
            where, char, _ = found
            item = f"item {where} of the list" if self.kind == "list" else (where or "the value")
            return (
                f"remove {_char_name(char)} from {item}: every value here is written into a "
                f"file on the nodes, one value to a line (give {self.expected_text()})"
            )
        items = value if isinstance(value, list) else [value]
        kind = self.item_kind if self.kind == "list" else self.kind
        if kind == "hostport" and any(isinstance(v, str) and "://" in v for v in items):
            return (
                "drop the scheme (http:// or https://): give host[:port], such as "
                "registry.example.com:5000"
            )
        if kind == "cidr" and isinstance(value, str) and "/" not in value:
            return f"add the prefix length, such as {value}/16"
        return f"give {self.expected_text()}"

    def _strict(self) -> bool:
        """Whether quotes, backslashes and white space are refused too (names, URLs, paths)."""
        return self.kind in _NO_QUOTES_KINDS or (
            self.kind == "list" and self.item_kind in _NO_QUOTES_KINDS
        )

    def _bad_character_problem(self, value: Any, *, quotes: bool) -> str | None:
        found = bad_character(value, quotes=quotes)
        if found is None:
            return None
        where, char, pos = found
        inside = f"item {where}" if where.startswith("[") else where
        if self.secret:  # never shown, nor where in it the character is
            return f"contains {_char_name(char)} (the value is not shown: it is a secret)"
        text = _strings_in(value)
        shown = next((t for w, t in text if w == where), "")
        return (
            f"{inside + ' ' if inside else ''}is {shown!r}: it contains {_char_name(char)} at "
            f"character {pos + 1}"
        )

    def check(self, value: Any) -> str | None:
        """Return what is wrong with value, or None when it is acceptable."""
        if value is None:
            return None if self.nullable else self.null_problem()
        if self.secret:
            if not isinstance(value, str):
                return "is not a string (the value is not shown: it is a secret)"
            if not value.strip():
                return "is an empty string"
            return self._bad_character_problem(value, quotes=False)
        # a control character first, whatever else is wrong: it is what makes a value dangerous
        if self.kind in ("k8s_checksums", "list", "fingerprints") or isinstance(value, str):
            control = self._bad_character_problem(value, quotes=False)
            if control:
                return control
        wrong = self._kind_problem(value)
        found = bad_character(value, quotes=self._strict()) if isinstance(value, str) else None
        if wrong and found:
            return f"{wrong} (it contains {_char_name(found[1])} at character {found[2] + 1})"
        if wrong or (self.kind != "list" and not isinstance(value, str)):
            return wrong
        return self._bad_character_problem(value, quotes=self._strict())

    def _kind_problem(self, value: Any) -> str | None:
        """What is wrong with a value that holds no control character, for its kind."""
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
        if kind == "fingerprints":
            if not isinstance(value, list) or not value:
                return f"is {_describe(value)}, not a non-empty list of key fingerprints"
            for item in value:
                try:
                    openpgp.normalize_fingerprint(item)
                except ValueError as exc:
                    return f"has {exc}"
            return None
        if kind == "list":
            if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
                return f"is {_describe(value)}, not a list of strings"
            if self.item_kind:
                item = Setting(self.name, self.item_kind, self.help)
                for i, v in enumerate(value):
                    wrong = item.check(v)
                    if wrong:
                        return f"item [{i}] {wrong}"
            return None
        if not isinstance(value, str):
            return f"is {_describe(value)}, not a string"
        if not value.strip():
            return "is an empty string"
        if self.choices and value not in self.choices:
            return f"is {value!r}, not one of the accepted values"
        if kind in ("url", "fileurl"):
            try:
                u = urlparse(value)
            except ValueError as exc:  # an unbalanced [ of an IPv6 address
                return f"is {value!r}, not a URL ({exc})"
        if kind == "url":
            if u.scheme not in ("http", "https") or not u.netloc:
                return f"is {value!r}, not an http(s) URL"
            if _url_authority_problem(u):
                return f"is {value!r}: {_url_authority_problem(u)}"
        elif kind == "image" and not _IMAGE_REF.match(value):
            return f"is {value!r}, not a valid image reference"
        elif kind == "version" and not _K8S_VERSION.match(value):
            return f"is {value!r}, not a Kubernetes version"
        elif kind == "version" and kubeadm_api.unsupported(value):
            return f"is {value!r}: {kubeadm_api.unsupported(value)}"
        elif kind == "fileurl":
            if not (u.scheme in ("http", "https") and u.netloc) and not (
                u.scheme == "file" and u.path.startswith("/") and not u.netloc
            ):
                return f"is {value!r}, not an http(s) or file:// URL"
            if u.scheme != "file" and _url_authority_problem(u):
                return f"is {value!r}: {_url_authority_problem(u)}"
        elif kind == "sha256" and not _SHA256.match(value):
            return f"is {value!r}, not a sha256 digest"
        elif kind == "release" and not _RELEASE.match(value):
            return f"is {value!r}, not a release tag vMAJOR.MINOR.PATCH"
        elif kind == "hostport" and "://" in value:
            return f"is {value!r}, a URL: host[:port] has no scheme"
        elif kind == "hostport" and not _HOST_PORT.match(value):
            return f"is {value!r}, not host[:port]"
        elif kind in ("hostport", "imagerepo") and _port_problem(value.split("/")[0]):
            return f"is {value!r}: {_port_problem(value.split('/')[0])}"
        elif kind == "imagerepo" and not _IMAGE_REPO.match(value):
            return f"is {value!r}, not a registry[:port][/path] without a tag"
        elif kind == "bundle" and not _BUNDLE.match(value):
            return f"is {value!r}, not a swupd bundle name"
        elif kind == "noproxy" and not _NO_PROXY_ENTRY.match(value):
            return f"is {value!r}, not a host, .domain, address or CIDR"
        elif kind == "host" and not _HOST.match(value):
            return f"is {value!r}, not a host name or address"
        elif kind == "path" and not value.startswith("/"):
            return f"is {value!r}, not an absolute path"
        elif kind == "cidr":
            try:
                ipaddress.ip_network(value, strict=True)
            except ValueError:
                return f"is {value!r}, not a network in CIDR form"
            if "/" not in value:
                return f"is {value!r}, an address without a prefix length (add /16, /12 ...)"
        return None


def _port_problem(hostport: str) -> str | None:
    """What is wrong with the :port of host[:port], or None (no port, or 1-65535)."""
    _, sep, port = hostport.rpartition(":")
    if sep and port.isdigit() and not 1 <= int(port) <= 65535:
        return f"port {port} is not a TCP port (1 to 65535)"
    return None


def _url_authority_problem(u: Any) -> str | None:
    """What is wrong with the host and port of a parsed http(s) URL, or None."""
    try:
        port = u.port
    except ValueError:
        return "its port is not a TCP port (a whole number from 1 to 65535)"
    if port == 0:
        return "its port is not a TCP port (a whole number from 1 to 65535)"
    if not u.hostname:
        return "it names no host"
    return None


def _yaml_flow(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        plain = re.match(r"^[A-Za-z/][A-Za-z0-9_./:-]*$", value) and value not in (
            "true",
            "false",
            "null",
            "yes",
            "no",
            "on",
            "off",
            "y",
            "n",
            "none",
            "None",
            "~",
        )
        return value if plain and not re.match(r"^\d+(\.\d+)*$", value) else f'"{value}"'
    if isinstance(value, list):
        return "[" + ", ".join(_yaml_flow(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_yaml_flow(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"no YAML form for {value!r}")


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


# Groups of settings: the headers of the sample inventory and of dlrs_defaults.
_THE_STACK = "The stack"
_TUNING_OVERRIDES = "Tuning overrides"
_OS = "OS: Clear Linux, and what preflight requires"
_SITE_NETWORK = "Site network: mirrors and proxies"
_CONTAINER_RUNTIMES = "Container runtimes"
_CLUSTER_REGISTRY = "The cluster's registry"
_NODE_PREPARATION = "Node preparation"
_VERSIONS = "Versions"
_KUBERNETES = "Kubernetes: packages and pod network"
_KUBEFLOW = "Kubeflow: the training operator"


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
            group=_THE_STACK,
            roles=("benchmark", "preflight", "stack_images"),
            shown="`mkl`",
            doc=(
                "TensorFlow build: MKL-DNN (`clearlinux/stacks-dlaas-mkl`), Eigen "
                "(`clearlinux/stacks-dlaas-oss`) or current Intel TensorFlow 2 "
                "(`intel/intel-optimized-tensorflow`); `dlrs-provision images list` "
                "shows the catalog"
            ),
            sample="mkl",
        ),
        Setting(
            "dlrs_image",
            "image",
            "explicit image, overrides the variant's image",
            group=_THE_STACK,
            roles=("benchmark", "preflight", "stack_images"),
            shown="the variant's",
            doc="explicit image",
            sample="registry.example.com:5000/clearlinux/stacks-dlaas-mkl:latest",
        ),
        # --- tuning overrides (win over the calculator; reported as overrides)
        Setting(
            "dlrs_num_inter_threads",
            "int",
            "override num_inter_threads",
            minimum=1,
            maximum=MAX_THREADS,
            group=_TUNING_OVERRIDES,
            roles=("benchmark", "preflight"),
            shown="computed",
            doc="tuning override",
            sample="2",
        ),
        Setting(
            "dlrs_num_intra_threads",
            "int",
            "override num_intra_threads",
            minimum=1,
            maximum=MAX_THREADS,
            group=_TUNING_OVERRIDES,
            roles=("benchmark", "preflight"),
            shown="computed",
            doc="tuning override",
            sample="32",
        ),
        Setting(
            "dlrs_data_format",
            "str",
            "override data_format",
            choices=tuning.DATA_FORMATS,
            group=_TUNING_OVERRIDES,
            roles=("benchmark", "preflight"),
            shown="the variant's",
            doc="tuning override",
            sample="NCHW",
        ),
        Setting(
            "dlrs_kmp_blocktime",
            "int",
            "KMP_BLOCKTIME in ms for OpenMP builds (0 or 1 suits CNNs)",
            minimum=0,
            maximum=1000,
            group=_TUNING_OVERRIDES,
            roles=("benchmark", "preflight"),
            shown=f"computed: {tuning.DEFAULT_KMP_BLOCKTIME}",
            doc="KMP_BLOCKTIME for the OpenMP (MKL) builds",
            sample="1",
        ),
        # --- OS: Clear Linux
        Setting(
            "dlrs_clearlinux_min_version",
            "int",
            "lowest Clear Linux version accepted; older nodes are brought up to it",
            default=CLEARLINUX_MIN_VERSION,
            minimum=CLEARLINUX_MIN_VERSION,
            group=_OS,
            roles=("clearlinux", "preflight"),
            shown="26240",
            doc="lowest Clear Linux version accepted",
            sample="26240",
        ),
        Setting(
            "dlrs_clearlinux_version",
            "int",
            "exact Clear Linux version to pin every Clear Linux node to",
            minimum=CLEARLINUX_MIN_VERSION,
            group=_OS,
            roles=("clearlinux", "preflight"),
            shown="none",
            doc="exact Clear Linux version to pin",
            sample="31000",
        ),
        Setting(
            "dlrs_clearlinux_mirror",
            "url",
            "the site's swupd mirror (content and version)",
            group=_OS,
            roles=("clearlinux", "preflight"),
            shown="none",
            doc="the site's swupd mirror",
            sample="http://swupd-mirror.example.com/update",
        ),
        Setting(
            "dlrs_clearlinux_bundles",
            "list",
            "extra swupd bundles to add",
            default=[],
            group=_OS,
            roles=("clearlinux",),
            shown="`[]`",
            doc="extra swupd bundles",
            sample="[]",
            item_kind="bundle",
        ),
        Setting(
            "dlrs_clearlinux_force_pin",
            "bool",
            "move a node that is newer than dlrs_clearlinux_version back to the pin",
            default=False,
            group=_OS,
            roles=("clearlinux", "preflight"),
            shown="false",
            doc="move a node newer than the pin back to it",
            sample="false",
        ),
        Setting(
            "dlrs_clearlinux_autoupdate",
            "bool",
            "leave swupd's automatic updates on (off keeps the cluster on one version)",
            default=False,
            group=_OS,
            roles=("clearlinux",),
            shown="false",
            doc="leave swupd's automatic updates on",
            sample="false",
        ),
        Setting(
            "dlrs_clearlinux_allow_insecure_http",
            "bool",
            "let swupd use a plain-HTTP mirror (swupd refuses http:// otherwise)",
            default=False,
            group=_OS,
            roles=("clearlinux", "containerd", "docker", "kubernetes_packages"),
            shown="false",
            doc="let swupd use a plain-HTTP mirror",
            sample="false",
        ),
        Setting(
            "dlrs_min_memory_mb",
            "int",
            "memory a node needs to pass preflight",
            default=4096,
            minimum=512,
            group=_OS,
            roles=("preflight",),
            shown="4096",
            sample="4096",
        ),
        # --- site network: mirrors and proxies
        Setting(
            "dlrs_apt_proxy",
            "url",
            "apt proxy or package cache for Debian/Ubuntu nodes",
            group=_SITE_NETWORK,
            roles=("node_prep",),
            shown="none",
            doc="apt proxy or cache for Debian/Ubuntu nodes",
            sample="http://apt-cache.example.com:3142",
        ),
        Setting(
            "dlrs_http_proxy",
            "url",
            "HTTP proxy for nodes, runtimes and the kubelet",
            group=_SITE_NETWORK,
            roles=("containerd", "docker", "node_prep"),
            shown="none",
            doc="proxies for nodes, runtimes, kubelet",
            sample="http://proxy.example.com:3128",
        ),
        Setting(
            "dlrs_https_proxy",
            "url",
            "HTTPS proxy for nodes, runtimes and the kubelet",
            group=_SITE_NETWORK,
            roles=("containerd", "docker", "node_prep"),
            shown="none",
            doc="proxies for nodes, runtimes, kubelet",
            sample="http://proxy.example.com:3128",
        ),
        Setting(
            "dlrs_no_proxy",
            "list",
            "extra no_proxy entries",
            default=[],
            group=_SITE_NETWORK,
            roles=("containerd", "docker", "node_prep"),
            shown="`[]`",
            sample='[".example.com"]',
            item_kind="noproxy",
        ),
        Setting(
            "dlrs_upstream_registry",
            "hostport",
            "registry the stack images come from",
            default="docker.io",
            group=_SITE_NETWORK,
            roles=("containerd", "registry_cache", "stack_images"),
            shown="`docker.io` (Docker Hub)",
            sample="registry.example.com:5000",
        ),
        Setting(
            "dlrs_upstream_registry_username",
            "str",
            "user name for the upstream registry (the cache logs in with it)",
            group=_SITE_NETWORK,
            roles=("registry_cache",),
            shown="none",
            doc=("user name the cluster's registry logs in to the upstream with"),
            sample="dlrs-pull",
        ),
        Setting(
            "dlrs_upstream_registry_password",
            "str",
            "password or token for the upstream registry (never shown; use Ansible Vault)",
            secret=True,
            group=_SITE_NETWORK,
            roles=("registry_cache",),
            shown="none",
            doc=("its password or token; never shown in messages, logs or run artifacts"),
            sample='"{{ vault_upstream_password }}"',
        ),
        Setting(
            "dlrs_pod_network_cidr",
            "cidr",
            "Kubernetes pod network",
            default="10.244.0.0/16",
            group=_SITE_NETWORK,
            roles=("kubeadm_master", "node_prep"),
            shown="`10.244.0.0/16`",
            sample="10.244.0.0/16",
        ),
        Setting(
            "dlrs_service_cidr",
            "cidr",
            "Kubernetes service network",
            default="10.96.0.0/12",
            group=_SITE_NETWORK,
            roles=("kubeadm_master", "node_prep"),
            shown="`10.96.0.0/12`",
            sample="10.96.0.0/12",
        ),
        # --- container runtimes
        Setting(
            "dlrs_container_runtime",
            "str",
            "Kubernetes runtime through CRI: containerd, or CRI-O (Clear Linux only)",
            default="containerd",
            choices=("containerd", "crio"),
            group=_CONTAINER_RUNTIMES,
            roles=("containerd", "kubeadm_master", "kubeadm_worker", "node_reset", "preflight"),
            shown="`containerd`",
            doc="Kubernetes runtime through CRI (CRI-O on Clear Linux only)",
            sample="containerd",
        ),
        Setting(
            "dlrs_docker_source",
            "str",
            "Debian/Ubuntu: the distribution's docker.io, or Docker's own repository",
            default="distribution",
            choices=("distribution", "upstream"),
            group=_CONTAINER_RUNTIMES,
            roles=("containerd", "docker"),
            shown="`distribution`",
            doc="Debian/Ubuntu: docker.io, or Docker's repository",
            sample="distribution",
        ),
        Setting(
            "dlrs_docker_repo_url",
            "url",
            "Docker's package repository (or a mirror of it)",
            group=_CONTAINER_RUNTIMES,
            roles=("docker", "node_prep"),
            shown="Docker's",
            doc="Docker's repository and key (or a mirror)",
            sample="https://download.docker.com/linux/debian",
        ),
        Setting(
            "dlrs_docker_repo_key_url",
            "url",
            "signing key of that repository",
            group=_CONTAINER_RUNTIMES,
            roles=("docker",),
            shown="Docker's",
            doc="Docker's repository and key (or a mirror)",
            sample="https://download.docker.com/linux/debian/gpg",
        ),
        Setting(
            "dlrs_docker_repo_key_fingerprints",
            "fingerprints",
            "the fingerprints the repository's signing key must have (checked after each "
            "download, before the key is trusted)",
            default=list(DOCKER_KEY_FINGERPRINTS),
            group=_CONTAINER_RUNTIMES,
            roles=("docker",),
            shown="Docker's (`9DC8 5822 9FC7 DD38 854A E2D8 8D81 803C 0EBF CD88`)",
            doc="fingerprints the signing key of Docker's repository must have; a mirror "
            "that signs with its own key lists that key's",
            sample="[9DC858229FC7DD38854AE2D88D81803C0EBFCD88]",
        ),
        Setting(
            "dlrs_docker_data_root",
            "path",
            "Docker's data-root",
            group=_CONTAINER_RUNTIMES,
            roles=("docker",),
            shown="Docker's",
            sample="/var/lib/docker",
        ),
        Setting(
            "dlrs_registry_mirrors",
            "list",
            "registry mirrors (URLs) for Docker/containerd",
            default=[],
            group=_CONTAINER_RUNTIMES,
            roles=("containerd", "docker"),
            shown="`[]`",
            doc="registry mirrors for Docker and containerd",
            sample='["https://registry-cache.example.com:5000"]',
            item_kind="url",
        ),
        Setting(
            "dlrs_insecure_registries",
            "list",
            "registries reached over plain HTTP (host:port); only those listed",
            default=[],
            group=_CONTAINER_RUNTIMES,
            roles=("containerd", "docker", "kubeadm_master", "registry_cache", "stack_images"),
            shown="`[]`",
            doc="registries reached over plain HTTP, only those listed",
            sample="[]",
            item_kind="hostport",
        ),
        # --- the cluster's registry (role registry_cache) and the images phase
        Setting(
            "dlrs_registry_cache",
            "bool",
            "run the cluster's registry on the master; false: every node pulls from upstream",
            default=True,
            group=_CLUSTER_REGISTRY,
            roles=("containerd", "kubeadm_master", "preflight", "registry_cache", "stack_images"),
            shown="true",
            doc=(
                "run the cluster's registry on the master (TLS from the toolkit's CA); "
                "false: every node pulls from the image's own registry"
            ),
            sample="true",
        ),
        Setting(
            "dlrs_registry_mode",
            "str",
            "proxy: pull-through cache of the upstream; local: a registry for `images load`",
            default="proxy",
            choices=("proxy", "local"),
            group=_CLUSTER_REGISTRY,
            roles=("containerd", "kubeadm_master", "registry_cache"),
            shown="`proxy`",
            doc=(
                "`proxy`: pull-through cache of the upstream; `local`: a plain registry"
                " that `images load` pushes into (air-gapped sites)"
            ),
            sample="proxy",
        ),
        Setting(
            "dlrs_registry_cache_host",
            "host",
            "the name the nodes reach the cluster's registry by (default: the master's name)",
            group=_CLUSTER_REGISTRY,
            roles=("containerd", "kubeadm_master", "registry_cache", "stack_images"),
            shown="the master's name",
            doc=("the name the nodes reach the cluster's registry by (in its certificate)"),
            sample="xeon-m01.example.com",
        ),
        Setting(
            "dlrs_registry_cache_port",
            "int",
            "the cluster registry's port",
            default=5443,
            minimum=1,
            maximum=65535,
            group=_CLUSTER_REGISTRY,
            roles=("containerd", "kubeadm_master", "registry_cache", "stack_images"),
            shown="5443",
            sample="5443",
        ),
        Setting(
            "dlrs_registry_cache_image",
            "image",
            "Clear Linux master: the registry image run as a container, as the upstream names it",
            default="library/registry:2.8.3",
            group=_CLUSTER_REGISTRY,
            roles=("registry_cache",),
            shown="`library/registry:2.8.3`",
            doc=(
                "Clear Linux master: the registry image, run as a Docker container (no "
                "bundle ships the registry), pulled from the upstream"
            ),
            sample="library/registry:2.8.3",
        ),
        Setting(
            "dlrs_registry_cache_image_digest",
            "sha256",
            "Clear Linux master: the digest the registry image is pulled by (default: Docker "
            "Hub's registry:2.8.3)",
            default="sha256:a3d8aaa63ed8681a604f1dea0aa03f100d5895b6a58ace528858a7b332415373",
            group=_CLUSTER_REGISTRY,
            roles=("registry_cache",),
            shown="Docker Hub's registry:2.8.3 (`sha256:a3d8aaa6…`)",
            doc=("Clear Linux master: the digest the registry image is pulled by"),
            sample="sha256:a3d8aaa63ed8681a604f1dea0aa03f100d5895b6a58ace528858a7b332415373",
        ),
        Setting(
            "dlrs_pause_image",
            "image",
            "the pod sandbox (pause) image (default: kubeadm's pause of the pinned minor, from "
            "dlrs_kubernetes_image_repository)",
            group=_CLUSTER_REGISTRY,
            roles=("containerd",),
            shown=(
                "kubeadm's: `<image repository>/pause:<version of the pinned minor>` "
                "(`registry.k8s.io/pause:3.10` for 1.31/1.32, `:3.9` for 1.30)"
            ),
            doc="the pod sandbox image (containerd's sandbox image)",
            sample="registry.k8s.io/pause:3.10",
        ),
        Setting(
            "dlrs_kubernetes_image_repository",
            "imagerepo",
            "where kubeadm and the runtimes pull the control-plane and pause images from "
            "(default: registry.k8s.io; the cluster's registry with dlrs_registry_mode: local)",
            group=_CLUSTER_REGISTRY,
            roles=("containerd", "kubeadm_master"),
            shown=(
                "`registry.k8s.io`; with `dlrs_registry_mode: local` the cluster's "
                "registry (`<dlrs_registry_cache_host or the "
                "master>:<dlrs_registry_cache_port>`)"
            ),
            doc=(
                "kubeadm's `imageRepository`: where the control-plane images and the "
                "pause image are pulled from"
            ),
            sample="xeon-m01.example.com:5443",
        ),
        # --- node preparation
        Setting(
            "dlrs_time_sync",
            "str",
            "time synchronisation service",
            default="auto",
            choices=("auto", "chrony", "timesyncd"),
            group=_NODE_PREPARATION,
            roles=("node_prep",),
            shown="`auto`",
            sample="auto",
        ),
        Setting(
            "dlrs_cpu_governor",
            "str",
            "CPU frequency governor where cpufreq exists",
            default="performance",
            choices=("performance", "powersave", "schedutil", "ondemand"),
            group=_NODE_PREPARATION,
            roles=("node_prep",),
            shown="`performance`",
            sample="performance",
        ),
        Setting(
            "dlrs_firewalld",
            "str",
            "RHEL family: keep firewalld with the cluster's ports open, or disable it",
            default="open-ports",
            choices=("open-ports", "disable"),
            group=_NODE_PREPARATION,
            roles=("node_prep",),
            shown="`open-ports`",
            doc=("RHEL family: firewalld with the cluster's ports open, or off"),
            sample="open-ports",
        ),
        # --- versions
        Setting(
            "dlrs_kubernetes_version",
            "version",
            "Kubernetes version for kubeadm/kubelet",
            default=clearlinux_kubernetes.DEFAULT_KUBERNETES_VERSION,
            group=_VERSIONS,
            roles=("containerd", "kubernetes_packages", "preflight"),
            shown="`1.32` (the newest 1.32.x of the repository)",
            doc="Kubernetes version",
            sample='"1.32"',
        ),
        # --- Kubernetes: packages and pod network
        Setting(
            "dlrs_kubernetes_repo_url",
            "fileurl",
            "base URL of the Kubernetes package repositories (pkgs.k8s.io or a mirror of it)",
            default="https://pkgs.k8s.io",
            group=_KUBERNETES,
            roles=("kubernetes_packages", "node_prep"),
            shown="`https://pkgs.k8s.io`",
            doc=(
                "base of the Kubernetes package repositories "
                "(`<base>/core:/stable:/v<minor>/deb/`), or a site mirror"
            ),
            sample="https://pkgs.k8s.io",
        ),
        Setting(
            "dlrs_kubernetes_repo_key_url",
            "fileurl",
            "signing key of those repositories",
            group=_KUBERNETES,
            roles=("kubernetes_packages",),
            shown="the repository's",
            sample="https://mirror.example.com/k8s/Release.key",
        ),
        Setting(
            "dlrs_kubernetes_repo_key_fingerprints",
            "fingerprints",
            "the fingerprints the repositories' signing key must have (checked after each "
            "download, before the key is trusted)",
            default=list(KUBERNETES_KEY_FINGERPRINTS),
            group=_KUBERNETES,
            roles=("kubernetes_packages",),
            shown="pkgs.k8s.io's (`DE15 B144 86CD 377B 9E87 6E1A 2346 54DA 9A29 6436`)",
            doc="fingerprints the signing key of the Kubernetes repositories must have "
            "(pkgs.k8s.io signs every v1.x repository with one key); a mirror that signs "
            "with its own key lists that key's",
            sample="[DE15B14486CD377B9E876E1A234654DA9A296436]",
        ),
        Setting(
            "dlrs_repo_keys_allow_http",
            "bool",
            "let a repository signing key come over plain HTTP (its fingerprint is still "
            "checked); off, keys come over https:// or from a file:/// on the node only",
            default=False,
            group=_KUBERNETES,
            roles=("docker", "kubernetes_packages"),
            shown="false",
            doc="let a repository signing key come over plain HTTP (the fingerprint is "
            "still checked)",
            sample="false",
        ),
        Setting(
            "dlrs_kubernetes_clearlinux_source",
            "str",
            "Clear Linux nodes: kubeadm/kubelet/kubectl from the upstream release binaries "
            "(checked by sha256) or from the cloud-native-basic bundle (the OS release's version)",
            default=clearlinux_kubernetes.DEFAULT_SOURCE,
            choices=clearlinux_kubernetes.SOURCES,
            group=_KUBERNETES,
            roles=("kubernetes_packages", "preflight"),
            shown="`upstream`",
            doc=(
                "Clear Linux nodes: kubeadm/kubelet/kubectl from the upstream release "
                "binaries, installed only when their sha256 matches, or from the cloud-"
                "native-basic bundle, whose Kubernetes is the OS release's (1.11 at OS "
                "26240, 1.26 from OS 37960 to the end; "
                "`dlrs_provision/clearlinux_kubernetes.py`). A `bundle` whose minor is "
                "not the cluster's is refused before any host is changed"
            ),
            sample="upstream",
        ),
        Setting(
            "dlrs_kubernetes_binary_url",
            "url",
            "where the release binaries are: <url>/v<X.Y.Z>/bin/linux/amd64/<name> (dl.k8s.io "
            "or a mirror of it)",
            default=clearlinux_kubernetes.DEFAULT_BINARY_URL,
            group=_KUBERNETES,
            roles=("kubernetes_packages",),
            shown="`https://dl.k8s.io/release`",
            doc=(
                "where the release binaries are: "
                "`<url>/v<X.Y.Z>/bin/linux/amd64/<name>` (dl.k8s.io or a site mirror)"
            ),
            sample="https://dl.k8s.io/release",
        ),
        Setting(
            "dlrs_kubernetes_binary_checksums",
            "k8s_checksums",
            "sha256 of release binaries the built-in table lacks: "
            '"X.Y.Z": {kubeadm: sha256:..., kubelet: ..., kubectl: ...}',
            default={},
            group=_KUBERNETES,
            roles=("kubernetes_packages", "preflight"),
            shown="`{}`",
            doc=(
                "sha256 of release binaries that "
                "`roles/kubernetes_packages/vars/release_binaries.yml` (1.30.0-1.32.11)"
                " lacks; a version with no sha256 anywhere is refused. A minor alone "
                "(`1.32`) means its newest patch there"
            ),
            sample=(
                '{"1.32.12": {kubeadm: "sha256:...", kubelet: "sha256:...", kubectl: "sha256:..."}}'
            ),
        ),
        Setting(
            "dlrs_pod_network",
            "str",
            "pod network applied after kubeadm init (none: the site applies its own)",
            default="flannel",
            choices=("flannel", "calico", "none"),
            group=_KUBERNETES,
            roles=("kubeadm_master",),
            shown="`flannel`",
            doc=("pod network applied after `kubeadm init` (`none`: the site applies its own)"),
            sample="flannel",
        ),
        Setting(
            "dlrs_pod_network_manifest_url",
            "fileurl",
            "the pod network's manifest, fetched by the controller (default: the pinned release)",
            group=_KUBERNETES,
            roles=("kubeadm_master",),
            shown="the pinned release",
            doc="the network's manifest, fetched by the controller",
            sample="https://mirror.example.com/k8s/kube-flannel.yml",
        ),
        Setting(
            "dlrs_pod_network_manifest_checksum",
            "sha256",
            "sha256 of that manifest; a manifest is applied only when it matches",
            group=_KUBERNETES,
            roles=("kubeadm_master",),
            shown="none",
            doc=("required for a pod network: the `sha256sum` of the manifest the site vetted"),
            sample="sha256:<64 hex digits>",
        ),
        # --- Kubeflow: the training operator (TFJob)
        Setting(
            "dlrs_kubeflow",
            "bool",
            "run the Kubeflow phase: the training operator, which serves TFJob",
            default=False,
            group=_KUBEFLOW,
            roles=(),
            shown="false",
            doc=(
                "run the Kubeflow phase on the master: the training operator, which "
                "serves TFJob (`playbooks/kubeflow.yml`)"
            ),
            sample="false",
        ),
        Setting(
            "dlrs_training_operator_version",
            "release",
            "kubeflow/training-operator release the manifest was rendered from",
            default="v1.9.0",
            group=_KUBEFLOW,
            roles=("kubeflow_training_operator",),
            shown="`v1.9.0`",
            doc=("the kubeflow/training-operator release the manifest was rendered from"),
            sample="v1.9.0",
        ),
        Setting(
            "dlrs_training_operator_manifest_url",
            "fileurl",
            "the operator's standalone manifest, rendered into one file on the site's mirror",
            group=_KUBEFLOW,
            roles=("kubeflow_training_operator",),
            shown="none (required with `dlrs_kubeflow`)",
            doc=(
                "the operator's standalone overlay rendered into one file on the site's"
                " mirror (`roles/kubeflow_training_operator/README.md` says how)"
            ),
            sample="https://mirror.example.com/kubeflow/training-operator-v1.9.0.yaml",
        ),
        Setting(
            "dlrs_training_operator_manifest_checksum",
            "sha256",
            "sha256 of that file; required with dlrs_kubeflow, applied only when it matches",
            group=_KUBEFLOW,
            roles=("kubeflow_training_operator",),
            shown="none (required with `dlrs_kubeflow`)",
            doc=("the `sha256sum` of that file; it is applied only when it matches"),
            sample="sha256:<64 hex digits>",
        ),
    ]
}


def describe_all() -> list[tuple[str, str, str]]:
    """(name, accepted values, help) for documentation and `--help` texts."""
    return [(s.name, s.expected(), s.help) for s in SETTINGS.values()]
