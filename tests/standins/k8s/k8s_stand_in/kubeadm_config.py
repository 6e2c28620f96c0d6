"""kubeadm's configuration files, in the config APIs that the stand-in's own version serves
(served_versions(): v1beta3 from 1.22; v1beta4 from 1.31, where v1beta3 turns deprecated and
warns; 1.28-1.30 refuse v1beta4 as experimental, 1.22-1.27 do not know it): documents split by
GroupVersionKind, decoded with kubeadm's types (a wrong JSON type is an error, an unknown field a
warning), defaulted, then validated with kubeadm's rules and wording. Field errors end the
command with exit code 3, other configuration errors with 1, as kubeadm does."""

from __future__ import annotations

import copy
import ipaddress
import re
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from k8s_stand_in import bootstrap, version
from k8s_stand_in.util import (
    SUBDOMAIN_MSG,
    Root,
    format_duration,
    is_dns_subdomain,
    is_ip,
    json_patch,
    merge_patch,
    parse_duration,
    warn,
    yaml_load,
    yaml_load_all,
)

KUBEADM_GROUP = "kubeadm.k8s.io"
# Every config API some kubeadm release of 1.22 or later decodes; served_versions() says which
# ones this stand-in's version accepts.
SUPPORTED = ("v1beta4", "v1beta3")
V1BETA3_FROM = (1, 22)  # v1beta3 served (and v1beta2 read-only) from 1.22
V1BETA4_EXPERIMENTAL_FROM = (1, 28)  # v1beta4 known, but refused as experimental, in 1.28-1.30
V1BETA4_FROM = (1, 31)  # v1beta4 served (and v1beta3 deprecated) from 1.31
# kubeadm's runtime.Scheme is named after the line that makes it (runtime.NewScheme()).
KUBEADM_SCHEME = "k8s.io/kubernetes/cmd/kubeadm/app/apis/kubeadm/scheme/scheme.go:30"
# Before 1.22 (one more import, metav1, above that line) kubeadm names it scheme.go:31, as the
# messages of kubeadm 1.13-1.21 quoted in bug reports show; 1.12's scheme.go is taken to have
# the same shape (its imports: metav1, runtime, schema, serializer, utilruntime, kubeadm,
# v1alpha2, v1alpha3).
KUBEADM_SCHEME_BEFORE_1_22 = "k8s.io/kubernetes/cmd/kubeadm/app/apis/kubeadm/scheme/scheme.go:31"
# The first release whose kubeadm knows each config API (registers it in its scheme); an older
# kubeadm cannot decode it at all ("no kind ... is registered").
KNOWN_FROM = {
    "v1alpha2": (1, 11),
    "v1alpha3": (1, 12),
    "v1beta1": (1, 13),
    "v1beta2": (1, 15),
    "v1beta3": (1, 22),
    "v1beta4": (1, 28),
}
OLD_VERSIONS = {
    "v1alpha1": "v1.11",
    "v1alpha2": "v1.12",
    "v1alpha3": "v1.14",
    "v1beta1": "v1.15",
    "v1beta2": "v1.22",
}
KUBELET_GV = "kubelet.config.k8s.io/v1beta1"
KUBEPROXY_GV = "kubeproxy.config.k8s.io/v1alpha1"
DEFAULT_CRI_SOCKET = "unix:///var/run/containerd/containerd.sock"
KNOWN_CRI_SOCKETS = (
    "unix:///var/run/containerd/containerd.sock",
    "unix:///var/run/crio/crio.sock",
    "unix:///var/run/cri-dockerd.sock",
)
CONTROL_PLANE_TAINT = {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}
ENCRYPTION_ALGORITHMS = ("ECDSA-P256", "ECDSA-P384", "RSA-2048", "RSA-3072", "RSA-4096")
DEFAULT_TIMEOUTS = {
    "controlPlaneComponentHealthCheck": 240.0,
    "kubeletHealthCheck": 240.0,
    "kubernetesAPICall": 60.0,
    "etcdAPICall": 120.0,
    "tlsBootstrap": 300.0,
    "discovery": 300.0,
    "upgradeManifests": 300.0,
}


class ConfigError(Exception):
    """Ends kubeadm: the message (kubeadm's wording) and the exit code."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def aggregate(errors: list[str]) -> ConfigError:
    """field.ErrorList.ToAggregate(): one error as it is, several in brackets; exit 3."""
    return ConfigError(errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]", 3)


# --------------------------------------------------------------------------------------------
# kubeadm's types, enough to decode like its strict decoder: "str", "int", "bool", "duration",
# "any", ("list", T), ("map", T), ("obj", GoName, {field: T})


def _args(v: str) -> Any:
    if v == "v1beta3":
        return ("map", "str")
    return ("list", ("obj", "Arg", {"name": "str", "value": "str"}))


def _envs() -> Any:
    return ("list", ("obj", "EnvVar", {"name": "str", "value": "str", "valueFrom": "any"}))


def _component(v: str, name: str) -> Any:
    fields: dict[str, Any] = {"extraArgs": _args(v), "extraVolumes": ("list", "any")}
    if v == "v1beta4":
        fields["extraEnvs"] = _envs()
    return ("obj", name, fields)


def _node_registration(v: str) -> Any:
    taint = ("obj", "Taint", {"key": "str", "value": "str", "effect": "str", "timeAdded": "str"})
    fields: dict[str, Any] = {
        "name": "str",
        "criSocket": "str",
        "taints": ("list", taint),
        "kubeletExtraArgs": _args(v),
        "ignorePreflightErrors": ("list", "str"),
        "imagePullPolicy": "str",
    }
    if v == "v1beta4":
        fields["imagePullSerial"] = "bool"
    return ("obj", "NodeRegistrationOptions", fields)


def _timeouts_type() -> Any:
    return ("obj", "Timeouts", {k: "duration" for k in DEFAULT_TIMEOUTS})


def _patches() -> Any:
    return ("obj", "Patches", {"directory": "str"})


def _api_endpoint() -> Any:
    return ("obj", "APIEndpoint", {"advertiseAddress": "str", "bindPort": "int"})


def _node_fields(v: str, fields: dict[str, Any]) -> dict[str, Any]:
    """The fields that InitConfiguration and JoinConfiguration both end with."""
    fields |= {"skipPhases": ("list", "str"), "patches": _patches()}
    if v == "v1beta4":
        fields |= {"dryRun": "bool", "timeouts": _timeouts_type()}
    return fields


def type_spec(kind: str, v: str) -> Any:
    common = {"apiVersion": "str", "kind": "str"}
    if kind == "InitConfiguration":
        token = (
            "obj",
            "BootstrapToken",
            {
                "token": "str",
                "description": "str",
                "ttl": "duration",
                "expires": "str",
                "usages": ("list", "str"),
                "groups": ("list", "str"),
            },
        )
        fields: dict[str, Any] = {
            **common,
            "bootstrapTokens": ("list", token),
            "nodeRegistration": _node_registration(v),
            "localAPIEndpoint": _api_endpoint(),
            "certificateKey": "str",
        }
        return ("obj", kind, _node_fields(v, fields))
    if kind == "ClusterConfiguration":
        api_server = _component(v, "APIServer")
        api_server[2]["certSANs"] = ("list", "str")
        if v == "v1beta3":
            api_server[2]["timeoutForControlPlane"] = "duration"
        local_etcd_fields: dict[str, Any] = {
            "imageRepository": "str",
            "imageTag": "str",
            "dataDir": "str",
            "extraArgs": _args(v),
            "serverCertSANs": ("list", "str"),
            "peerCertSANs": ("list", "str"),
        }
        if v == "v1beta4":
            local_etcd_fields["extraEnvs"] = _envs()
        etcd = (
            "obj",
            "Etcd",
            {
                "local": ("obj", "LocalEtcd", local_etcd_fields),
                "external": (
                    "obj",
                    "ExternalEtcd",
                    {
                        "endpoints": ("list", "str"),
                        "caFile": "str",
                        "certFile": "str",
                        "keyFile": "str",
                    },
                ),
            },
        )
        dns_fields: dict[str, Any] = {"imageRepository": "str", "imageTag": "str"}
        if v == "v1beta4":
            dns_fields["disabled"] = "bool"
        fields = {
            **common,
            "etcd": etcd,
            "networking": (
                "obj",
                "Networking",
                {"serviceSubnet": "str", "podSubnet": "str", "dnsDomain": "str"},
            ),
            "kubernetesVersion": "str",
            "controlPlaneEndpoint": "str",
            "apiServer": api_server,
            "controllerManager": _component(v, "ControlPlaneComponent"),
            "scheduler": _component(v, "ControlPlaneComponent"),
            "dns": ("obj", "DNS", dns_fields),
            "certificatesDir": "str",
            "imageRepository": "str",
            "featureGates": ("map", "bool"),
            "clusterName": "str",
        }
        if v == "v1beta4":
            fields |= {
                "proxy": ("obj", "Proxy", {"disabled": "bool"}),
                "encryptionAlgorithm": "str",
                "certificateValidityPeriod": "duration",
                "caCertificateValidityPeriod": "duration",
            }
        return ("obj", kind, fields)
    if kind == "JoinConfiguration":
        discovery_fields: dict[str, Any] = {
            "bootstrapToken": (
                "obj",
                "BootstrapTokenDiscovery",
                {
                    "token": "str",
                    "apiServerEndpoint": "str",
                    "caCertHashes": ("list", "str"),
                    "unsafeSkipCAVerification": "bool",
                },
            ),
            "file": ("obj", "FileDiscovery", {"kubeConfigPath": "str", "kubeConfig": "any"}),
            "tlsBootstrapToken": "str",
        }
        if v == "v1beta3":
            discovery_fields["timeout"] = "duration"
        fields = {
            **common,
            "nodeRegistration": _node_registration(v),
            "caCertPath": "str",
            "discovery": ("obj", "Discovery", discovery_fields),
            "controlPlane": (
                "obj",
                "JoinControlPlane",
                {"localAPIEndpoint": _api_endpoint(), "certificateKey": "str"},
            ),
        }
        return ("obj", kind, _node_fields(v, fields))
    if kind == "KubeletConfiguration":
        return ("obj", kind, {k: "any" for k in KUBELET_FIELDS})
    return ("obj", kind, None)  # ResetConfiguration, KubeProxyConfiguration, ...: not checked


KUBELET_FIELDS = [
    "apiVersion",
    "kind",
    "enableServer",
    "staticPodPath",
    "podLogsDir",
    "syncFrequency",
    "fileCheckFrequency",
    "httpCheckFrequency",
    "staticPodURL",
    "staticPodURLHeader",
    "address",
    "port",
    "readOnlyPort",
    "tlsCertFile",
    "tlsPrivateKeyFile",
    "tlsCipherSuites",
    "tlsMinVersion",
    "rotateCertificates",
    "serverTLSBootstrap",
    "authentication",
    "authorization",
    "registryPullQPS",
    "registryBurst",
    "imagePullCredentialsVerificationPolicy",
    "preloadedImagesVerificationAllowlist",
    "eventRecordQPS",
    "eventBurst",
    "enableDebuggingHandlers",
    "enableContentionProfiling",
    "healthzPort",
    "healthzBindAddress",
    "oomScoreAdj",
    "clusterDomain",
    "clusterDNS",
    "streamingConnectionIdleTimeout",
    "nodeStatusUpdateFrequency",
    "nodeStatusReportFrequency",
    "nodeLeaseDurationSeconds",
    "imageMinimumGCAge",
    "imageMaximumGCAge",
    "imageGCHighThresholdPercent",
    "imageGCLowThresholdPercent",
    "volumeStatsAggPeriod",
    "kubeletCgroups",
    "systemCgroups",
    "cgroupRoot",
    "cgroupsPerQOS",
    "cgroupDriver",
    "cpuManagerPolicy",
    "singleProcessOOMKill",
    "cpuManagerPolicyOptions",
    "cpuManagerReconcilePeriod",
    "memoryManagerPolicy",
    "topologyManagerPolicy",
    "topologyManagerScope",
    "topologyManagerPolicyOptions",
    "qosReserved",
    "runtimeRequestTimeout",
    "hairpinMode",
    "maxPods",
    "podCIDR",
    "podPidsLimit",
    "resolvConf",
    "runOnce",
    "cpuCFSQuota",
    "cpuCFSQuotaPeriod",
    "nodeStatusMaxImages",
    "maxOpenFiles",
    "contentType",
    "kubeAPIQPS",
    "kubeAPIBurst",
    "serializeImagePulls",
    "maxParallelImagePulls",
    "evictionHard",
    "evictionSoft",
    "evictionSoftGracePeriod",
    "evictionPressureTransitionPeriod",
    "evictionMaxPodGracePeriod",
    "evictionMinimumReclaim",
    "podsPerCore",
    "enableControllerAttachDetach",
    "protectKernelDefaults",
    "makeIPTablesUtilChains",
    "iptablesMasqueradeBit",
    "iptablesDropBit",
    "featureGates",
    "failSwapOn",
    "memorySwap",
    "containerLogMaxSize",
    "containerLogMaxFiles",
    "containerLogMaxWorkers",
    "containerLogMonitorInterval",
    "configMapAndSecretChangeDetectionStrategy",
    "systemReserved",
    "kubeReserved",
    "reservedSystemCPUs",
    "showHiddenMetricsForVersion",
    "systemReservedCgroup",
    "kubeReservedCgroup",
    "enforceNodeAllocatable",
    "allowedUnsafeSysctls",
    "volumePluginDir",
    "providerID",
    "kernelMemcgNotification",
    "logging",
    "enableSystemLogHandler",
    "enableSystemLogQuery",
    "shutdownGracePeriod",
    "shutdownGracePeriodCriticalPods",
    "shutdownGracePeriodByPodPriority",
    "crashLoopBackOff",
    "reservedMemory",
    "enableProfilingHandler",
    "enableDebugFlagsHandler",
    "seccompDefault",
    "memoryThrottlingFactor",
    "registerWithTaints",
    "registerNode",
    "tracing",
    "localStorageCapacityIsolation",
    "containerRuntimeEndpoint",
    "imageServiceEndpoint",
    "failCgroupV1",
    "userNamespaces",
]

_JSON_TYPE = {
    str: "string",
    int: "number",
    float: "number",
    bool: "bool",
    list: "array",
    dict: "object",
}
_GO_TYPE = {"str": "string", "int": "int32", "bool": "bool", "duration": "v1.Duration"}


def _go_type(spec: Any, v: str) -> str:
    if isinstance(spec, str):
        return _GO_TYPE.get(spec, "interface {}")
    if spec[0] == "list":
        inner = spec[1]
        return "[]" + (
            f"{v}.{inner[1]}"
            if isinstance(inner, tuple) and inner[0] == "obj"
            else _go_type(inner, v)
        )
    if spec[0] == "map":
        return "map[string]" + _go_type(spec[1], v)
    return f"{v}.{spec[1]}"


def _decode(value: Any, spec: Any, path: str, top: str, v: str, unknown: list[str]) -> None:
    """Raise ConfigError for a wrong JSON type; collect unknown fields."""
    if value is None or spec == "any":
        return

    def wrong() -> ConfigError:
        got = _JSON_TYPE.get(type(value), "value")
        return ConfigError(
            "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal "
            f"{got} into Go struct field {top}.{path} of type {_go_type(spec, v)}"
        )

    if spec == "str":
        if not isinstance(value, str):
            raise wrong()
    elif spec == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise wrong()
    elif spec == "bool":
        if not isinstance(value, bool):
            raise wrong()
    elif spec == "duration":
        if not isinstance(value, str):
            raise wrong()
        try:
            parse_duration(value)
        except ValueError as exc:
            raise ConfigError(f"error unmarshaling JSON: while decoding JSON: {exc}") from None
    elif spec[0] == "list":
        if not isinstance(value, list):
            raise wrong()
        for i, item in enumerate(value):
            _decode(item, spec[1], f"{path}[{i}]", top, v, unknown)
    elif spec[0] == "map":
        if not isinstance(value, dict):
            raise wrong()
        for key, item in value.items():
            _decode(item, spec[1], f"{path}.{key}", top, v, unknown)
    elif spec[0] == "obj":
        if not isinstance(value, dict):
            raise wrong()
        fields = spec[2]
        if fields is None:
            return
        for key, item in value.items():
            sub = f"{path}.{key}" if path else str(key)
            if key not in fields:
                unknown.append(sub)
                continue
            _decode(item, fields[key], sub, top, v, unknown)


# --------------------------------------------------------------------------------------------
# documents


def gvk_text(api_version: str, kind: str) -> str:
    group, _, ver = api_version.rpartition("/")
    return f'schema.GroupVersionKind{{Group:"{group}", Version:"{ver}", Kind:"{kind}"}}'


def split_documents(text: str) -> dict[tuple[str, str], dict[str, Any]]:
    """SplitConfigDocuments: {(apiVersion, kind): document}; kind and apiVersion are
    mandatory, a kind may appear once."""
    try:
        docs = yaml_load_all(text)
    except Exception as exc:
        raise ConfigError(f"error converting YAML to JSON: {exc}") from None
    out: dict[tuple[str, str], dict[str, Any]] = {}
    seen_kinds: set[str] = set()
    errors = []
    for doc in docs:
        if not isinstance(doc, dict):
            raise ConfigError("couldn't interpret the configuration document: not a mapping")
        api_version, kind = str(doc.get("apiVersion") or ""), str(doc.get("kind") or "")
        group, _, ver = api_version.rpartition("/")
        if not group or not ver or not kind:
            raise ConfigError(
                f"invalid configuration for GroupVersionKind /, Kind={kind}: kind and apiVersion "
                "is mandatory information that must be specified"
                if not api_version
                else f"invalid configuration for GroupVersionKind {api_version}, Kind={kind}: kind "
                "and apiVersion is mandatory information that must be specified"
            )
        if kind in seen_kinds:
            errors.append(f'invalid configuration: kind "{kind}" is specified twice in YAML file')
        seen_kinds.add(kind)
        out[(api_version, kind)] = doc
    if errors:
        raise ConfigError(errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]")
    return out


def _client_minor() -> tuple[int, int]:
    got = version.parse_semver(version.current().version) or (1, 32, 0)
    return got[0], got[1]


def served_versions() -> tuple[str, ...]:
    """The kubeadm config API versions this stand-in's version decodes, newest first."""
    have = _client_minor()
    if have >= V1BETA4_FROM:
        return ("v1beta4", "v1beta3")
    if have >= V1BETA3_FROM:
        return ("v1beta3",)
    return ()


def newest_served() -> str:
    """The config API this kubeadm writes (kubeadm config print, the flags' configuration)."""
    served = served_versions()
    return served[0] if served else "v1beta3"


def _check_version(api_version: str, kind: str) -> None:
    group, _, ver = api_version.rpartition("/")
    if group != KUBEADM_GROUP:
        return
    have = _client_minor()
    if ver in KNOWN_FROM and have < KNOWN_FROM[ver]:
        scheme = KUBEADM_SCHEME if have >= V1BETA3_FROM else KUBEADM_SCHEME_BEFORE_1_22
        raise ConfigError(
            f'no kind "{kind}" is registered for version "{api_version}" in scheme "{scheme}"'
        )
    last = version.parse_semver(OLD_VERSIONS.get(ver, ""))
    if last is not None and have <= last[:2]:
        # an API this old kubeadm still reads (v1alpha3 at 1.12): the stand-in models only the
        # config APIs of 1.22 and later, and says so instead of pretending to decode it
        raise ConfigError(
            f"stand-in: the kubeadm stand-in at v{version.current().version} does not model "
            f'the config API "{api_version}" that this kubeadm release reads; only '
            f"{', '.join(KUBEADM_GROUP + '/' + v for v in SUPPORTED)} are modelled"
        )
    if ver in OLD_VERSIONS:
        # 1.31 added the kind to this message (validateSupportedVersion got the GVK)
        what = f'"{api_version}" (kind: "{kind}")' if have >= V1BETA4_FROM else f'"{api_version}"'
        raise ConfigError(
            f"your configuration file uses an old API spec: {what}. "
            f"Please use kubeadm {OLD_VERSIONS[ver]} instead and run 'kubeadm config migrate "
            "--old-config old.yaml --new-config new.yaml', which will write the new, similar spec "
            "using a newer API version."
        )
    if ver == "v1beta4" and have < V1BETA4_FROM:
        # known since 1.28 (above), but experimental until 1.31; kubeadm init and join have no
        # --allow-experimental-api flag: they always refuse
        raise ConfigError(
            f'experimental API spec: "{api_version}" is not allowed. You can use the '
            "--allow-experimental-api flag if the command supports it."
        )
    if ver == "v1beta3" and have >= V1BETA4_FROM:
        warn(
            f'your configuration file uses a deprecated API spec: "{api_version}" (kind: '
            f'"{kind}"). Please use \'kubeadm config migrate --old-config old.yaml --new-config '
            "new.yaml', which will write the new, similar spec using a newer API version."
        )


def _decode_doc(api_version: str, kind: str, doc: dict[str, Any]) -> None:
    ver = api_version.rpartition("/")[2]
    group = api_version.rpartition("/")[0]
    known_kubeadm = (
        "InitConfiguration",
        "ClusterConfiguration",
        "JoinConfiguration",
        "ResetConfiguration",
        "UpgradeConfiguration",
    )
    if group == KUBEADM_GROUP and (ver not in served_versions() or kind not in known_kubeadm):
        warn(
            f"error unmarshaling configuration {gvk_text(api_version, kind)}: unknown "
            "configuration "
            f'{gvk_text(api_version, kind)} for scheme definitions in "kubeadm" and '
            '"componentconfigs"'
        )
        return
    if group == KUBEADM_GROUP or api_version in (KUBELET_GV,):
        unknown: list[str] = []
        _decode(doc, type_spec(kind, ver), "", kind, ver, unknown)
        if unknown:
            fields = ", ".join(f'unknown field "{u}"' for u in unknown)
            warn(
                f"error unmarshaling configuration {gvk_text(api_version, kind)}: strict "
                f"decoding error: {fields}"
            )


def load_documents(root: Root, path: str) -> dict[tuple[str, str], dict[str, Any]]:
    p = root.path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise ConfigError(
            f'unable to read config from "{path}" : open {path}: '
            f"{exc.strerror.lower() if exc.strerror else exc}"
        ) from None
    docs = split_documents(text)
    for (api_version, kind), doc in sorted(docs.items()):
        _check_version(api_version, kind)
        _decode_doc(api_version, kind, doc)
    return docs


def _find(
    docs: dict[tuple[str, str], dict[str, Any]], kind: str
) -> tuple[str, dict[str, Any]] | None:
    for (api_version, k), doc in docs.items():
        group, _, ver = api_version.rpartition("/")
        if k == kind and group == KUBEADM_GROUP and ver in served_versions():
            return ver, doc
    return None


def _component_doc(
    docs: dict[tuple[str, str], dict[str, Any]], api_version: str, kind: str
) -> dict[str, Any] | None:
    return docs.get((api_version, kind))


def _ignored(docs: dict[tuple[str, str], dict[str, Any]], wanted: set[str]) -> None:
    for api_version, kind in docs:
        group = api_version.rpartition("/")[0]
        if kind in wanted and group == KUBEADM_GROUP:
            continue
        if api_version in (KUBELET_GV, KUBEPROXY_GV) or group in (
            "kubelet.config.k8s.io",
            "kubeproxy.config.k8s.io",
        ):
            continue
        warn(
            "[config] WARNING: Ignored configuration document with GroupVersionKind "
            f"{api_version}, Kind={kind}"
        )


# --------------------------------------------------------------------------------------------
# values


def args_list(value: Any) -> list[tuple[str, str]]:
    """extraArgs / kubeletExtraArgs of either API version as (name, value) pairs."""
    if isinstance(value, dict):
        return [(str(k), str(v)) for k, v in sorted(value.items())]
    if isinstance(value, list):
        return [
            (str(a.get("name", "")), str(a.get("value", ""))) for a in value if isinstance(a, dict)
        ]
    return []


def default_address() -> str:
    """The IPv4 address of the interface that carries the default route (kubeadm's dynamic
    default for advertiseAddress); 127.0.0.1 when there is none."""
    try:
        with open("/proc/net/route") as handle:
            lines = handle.read().splitlines()[1:]
    except OSError:
        lines = []
    iface = next(
        (ln.split()[0] for ln in lines if len(ln.split()) > 2 and ln.split()[1] == "00000000"), None
    )
    if iface:
        import fcntl
        import struct

        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            try:
                packed = fcntl.ioctl(
                    s.fileno(), 0x8915, struct.pack("256s", iface[:15].encode())
                )  # SIOCGIFADDR
                return socket.inet_ntoa(packed[20:24])
            except OSError:
                pass
    return "127.0.0.1"


def default_node_name() -> str:
    return socket.gethostname().strip().lower()


def detect_cri_socket(root: Root) -> str:
    import stat

    found = []
    for url in KNOWN_CRI_SOCKETS:
        path = root.path(url[len("unix://") :])
        try:
            if stat.S_ISSOCK(path.stat().st_mode):
                found.append(url)
        except OSError:
            continue
    if len(found) > 1:
        raise ConfigError(
            "found multiple CRI endpoints on the host. Please define which one do you wish to use "
            "by setting the 'criSocket' field in the kubeadm configuration file: "
            + ", ".join(found)
        )
    return found[0] if found else DEFAULT_CRI_SOCKET


def normalize_cri_socket(value: str) -> str:
    if value and "://" not in value:
        warn(
            "Usage of CRI endpoints without URL scheme is deprecated and can cause kubelet errors "
            f'in the future. Automatically prepending scheme "unix" to the "criSocket" with value '
            f'"{value}". Please update your configuration!'
        )
        return "unix://" + value
    return value


def resolve_kubernetes_version(requested: str) -> str:
    """KubernetesReleaseVersion: an exact version, or a label that would be fetched from
    dl.k8s.io; the stand-in has no internet and falls back as kubeadm does offline."""
    client = version.current()
    text = (requested or "stable-1").strip()
    if re.fullmatch(r"v?\d+\.\d+\.\d+([-+].*)?", text):
        return text if text.startswith("v") else "v" + text
    if re.fullmatch(r"(stable|latest)(-\d+(\.\d+)?)?|ci/.*|release/.*", text):
        warn(
            f"could not fetch a Kubernetes version from the internet: unable to get URL "
            f'"https://dl.k8s.io/release/{text}.txt": the dlrs-provision stand-in does not reach '
            "the internet"
        )
        warn(f"falling back to the local client version: {client.git_version}")
        return client.git_version
    raise ConfigError(
        f'version "{text}" doesn\'t match patterns for neither semantic version nor labels '
        "(stable, latest, ...)"
    )


def _cidr_errors(value: str, fld: str, service: bool) -> list[str]:
    errors = []
    for part in [p.strip() for p in value.split(",") if p.strip()]:
        try:
            net = ipaddress.ip_network(part, strict=False)
        except ValueError:
            errors.append(f'{fld}: Invalid value: "{value}": couldn\'t parse subnet')
            continue
        if service and net.version == 4 and net.prefixlen < 12:
            errors.append(
                f'{fld}: Invalid value: "{value}": specified service subnet is too large; '
                "for 32-bit addresses, the mask must be >= 12"
            )
        if not service and net.version == 4 and net.prefixlen > 24:
            errors.append(
                f'{fld}: Invalid value: "{value}": the size of pod subnet with mask '
                f"{net.prefixlen} is smaller than the size of node subnet with mask 24"
            )
    return errors


def _host_port_errors(value: str, fld: str) -> list[str]:
    host, port = value, None
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else None
    elif value.count(":") == 1:
        host, port = value.split(":")
    if port is not None and (not port.isdigit() or not 1 <= int(port) <= 65535):
        return [
            f'{fld}: Invalid value: "{value}": port must be a valid number between 1 and '
            "65535, inclusive"
        ]
    if not host or not (is_ip(host) or is_dns_subdomain(host)):
        return [f'{fld}: Invalid value: "{value}": {SUBDOMAIN_MSG}']
    return []


def _cri_errors(value: str, fld: str) -> list[str]:
    url = urlsplit(value)
    if url.scheme != "unix":
        return [f'{fld}: Invalid value: "{value}": URL scheme "{url.scheme}" is not supported']
    if not url.path.startswith("/"):
        return [f'{fld}: Invalid value: "{value}": path is not absolute']
    return []


def _node_reg_errors(name: str, cri: str, prefix: str) -> list[str]:
    errors = []
    if not name:
        errors.append(f"{prefix}.name: Required value")
    elif not is_dns_subdomain(name):
        errors.append(f'{prefix}.name: Invalid value: "{name}": {SUBDOMAIN_MSG}')
    errors += _cri_errors(cri, f"{prefix}.criSocket")
    return errors


def _timeouts(doc: dict[str, Any], v1beta3_overrides: dict[str, Any]) -> dict[str, float]:
    out = dict(DEFAULT_TIMEOUTS)
    for key, value in ((doc.get("timeouts") or {}) | v1beta3_overrides).items():
        if value is not None and key in out:
            out[key] = parse_duration(value)
    return out


# --------------------------------------------------------------------------------------------
# init


@dataclass
class Token:
    token: str
    ttl_s: float | None
    usages: list[str]
    groups: list[str]
    description: str


@dataclass
class NodeConfig:
    """What init and join both read: the document's API version and the node's registration."""

    api_version: str
    node_name: str
    cri_socket: str
    taints: list[dict[str, Any]]
    kubelet_extra_args: list[tuple[str, str]]
    ignore_preflight: list[str]


@dataclass
class InitConfig(NodeConfig):
    advertise_address: str
    bind_port: int
    tokens: list[Token]
    certificate_key: str
    skip_phases: list[str]
    patches_dir: str
    timeouts: dict[str, float]
    kubernetes_version: str
    control_plane_endpoint: str
    pod_subnet: str
    service_subnet: str
    dns_domain: str
    cert_sans: list[str]
    apiserver_args: list[tuple[str, str]]
    controller_manager_args: list[tuple[str, str]]
    scheduler_args: list[tuple[str, str]]
    etcd_data_dir: str
    certificates_dir: str
    image_repository: str
    cluster_name: str
    encryption_algorithm: str
    cluster_doc: dict[str, Any]
    kubelet: dict[str, Any] | None
    kube_proxy: dict[str, Any] | None
    dns_disabled: bool = False
    proxy_disabled: bool = False
    warnings: list[str] = field(default_factory=list)
    image_pull_policy: str = "IfNotPresent"  # nodeRegistration.imagePullPolicy (ImagePull check)

    @property
    def endpoint(self) -> str:
        """What kubeconfigs and join commands point at: controlPlaneEndpoint (with bindPort
        when it has no port) or advertiseAddress:bindPort."""
        cpe = self.control_plane_endpoint
        if cpe:
            if (cpe.startswith("[") and "]:" in cpe) or (
                not cpe.startswith("[") and cpe.count(":") == 1
            ):
                return cpe
            return f"{cpe}:{self.bind_port}"
        host = self.advertise_address
        return f"[{host}]:{self.bind_port}" if ":" in host else f"{host}:{self.bind_port}"

    def arg(self, args: list[tuple[str, str]], name: str, default: str = "") -> str:
        for key, value in args:
            if key == name:
                return value
        return default


def load_init(root: Root, path: str) -> InitConfig:
    docs = load_documents(root, path)
    init = _find(docs, "InitConfiguration")
    cluster = _find(docs, "ClusterConfiguration")
    if init is None and cluster is None:
        raise ConfigError(
            "no InitConfiguration or ClusterConfiguration kind was found in the configuration file"
        )
    _ignored(docs, {"InitConfiguration", "ClusterConfiguration"})
    ver = (init or cluster)[0]  # type: ignore[index]
    idoc = copy.deepcopy(init[1]) if init else {}
    cdoc = copy.deepcopy(cluster[1]) if cluster else {}
    kubelet = _component_doc(docs, KUBELET_GV, "KubeletConfiguration")
    kube_proxy = _component_doc(docs, KUBEPROXY_GV, "KubeProxyConfiguration")

    nreg = idoc.get("nodeRegistration") or {}
    lep = idoc.get("localAPIEndpoint") or {}
    net = cdoc.get("networking") or {}
    api_server = cdoc.get("apiServer") or {}
    etcd_local = (cdoc.get("etcd") or {}).get("local") or {}
    errors: list[str] = []

    cri = normalize_cri_socket(str(nreg.get("criSocket") or "")) or detect_cri_socket(root)
    advertise = str(lep.get("advertiseAddress") or "") or default_address()
    bind_port = lep.get("bindPort", 6443)
    if not is_ip(advertise):
        errors.append(
            f'localAPIEndpoint.advertiseAddress: Invalid value: "{advertise}": cannot parse '
            "IP address"
        )
    if not isinstance(bind_port, int) or not 1 <= bind_port <= 65535:
        errors.append(
            f"localAPIEndpoint.bindPort: Invalid value: {bind_port}: port number {bind_port} "
            "must be between 1 and 65535, inclusive"
        )
    name = str(nreg.get("name") or "") or default_node_name()
    errors += _node_reg_errors(name, cri, "nodeRegistration")

    tokens: list[Token] = []
    raw_tokens = idoc.get("bootstrapTokens")
    if raw_tokens is None:
        raw_tokens = [{}]
    for i, t in enumerate(raw_tokens):
        value = str(t.get("token") or "") or bootstrap.generate()
        if bootstrap.split(value) is None:
            errors.append(
                f'bootstrapTokens[{i}].token: Invalid value: "{value}": '
                f"{bootstrap.format_error(value)}"
            )
        usages = list(t.get("usages") or bootstrap.DEFAULT_USAGES)
        for usage in usages:
            if usage not in bootstrap.VALID_USAGES:
                errors.append(
                    f'bootstrapTokens[{i}].usages: Invalid value: "{usage}": invalid '
                    f"bootstrap token usage string: {usage}, valid usage options: "
                    f"{','.join(bootstrap.VALID_USAGES)}"
                )
        ttl = parse_duration(t["ttl"]) if t.get("ttl") is not None else bootstrap.DEFAULT_TTL_S
        description = str(t.get("description") or "")
        if not raw_tokens[i] and not description:
            description = bootstrap.INIT_DESCRIPTION
        tokens.append(
            Token(
                value,
                ttl or None,
                usages,
                list(t.get("groups") or [bootstrap.DEFAULT_GROUP]),
                description,
            )
        )

    service_subnet = str(net.get("serviceSubnet") or "10.96.0.0/12")
    pod_subnet = str(net.get("podSubnet") or "")
    errors += _cidr_errors(service_subnet, "networking.serviceSubnet", service=True)
    if pod_subnet:
        errors += _cidr_errors(pod_subnet, "networking.podSubnet", service=False)
    cpe = str(cdoc.get("controlPlaneEndpoint") or "")
    if cpe:
        errors += _host_port_errors(cpe, "controlPlaneEndpoint")
    sans = [str(s) for s in api_server.get("certSANs") or []]
    for i, san in enumerate(sans):
        if not (is_ip(san) or is_dns_subdomain(san.lstrip("*.")) or is_dns_subdomain(san)):
            errors.append(
                f'apiServer.certSANs[{i}]: Invalid value: "{san}": altname is not a valid IP '
                "address, DNS label or a DNS label with subdomain wildcards"
            )
    cert_dir = str(cdoc.get("certificatesDir") or "/etc/kubernetes/pki")
    if not cert_dir.startswith("/"):
        errors.append(f'certificatesDir: Invalid value: "{cert_dir}": path is not absolute')
    algorithm = str(cdoc.get("encryptionAlgorithm") or "RSA-2048")
    if algorithm not in ENCRYPTION_ALGORITHMS:
        supported = ", ".join(f'"{a}"' for a in ENCRYPTION_ALGORITHMS)
        errors.append(
            f'encryptionAlgorithm: Unsupported value: "{algorithm}": supported values: {supported}'
        )
    if cdoc.get("etcd", {}).get("external"):
        errors.append(
            'etcd.external: Invalid value: "external": the dlrs-provision stand-in supports '
            "local etcd only"
        )
    if errors:
        raise aggregate(errors)

    v3 = {}
    if ver == "v1beta3" and api_server.get("timeoutForControlPlane"):
        v3["controlPlaneComponentHealthCheck"] = api_server["timeoutForControlPlane"]
    kversion = resolve_kubernetes_version(str(cdoc.get("kubernetesVersion") or ""))
    check_control_plane_version(kversion)

    taints = nreg.get("taints")
    cluster_doc = normalized_cluster_doc(
        cdoc, kversion, service_subnet, pod_subnet, cert_dir, algorithm
    )
    return InitConfig(
        api_version=f"{KUBEADM_GROUP}/{ver}",
        node_name=name,
        cri_socket=cri,
        taints=[dict(CONTROL_PLANE_TAINT)] if taints is None else list(taints),
        kubelet_extra_args=args_list(nreg.get("kubeletExtraArgs")),
        ignore_preflight=[str(x) for x in nreg.get("ignorePreflightErrors") or []],
        advertise_address=advertise,
        bind_port=int(bind_port),
        tokens=tokens,
        certificate_key=str(idoc.get("certificateKey") or ""),
        skip_phases=[str(x) for x in idoc.get("skipPhases") or []],
        patches_dir=str((idoc.get("patches") or {}).get("directory") or ""),
        timeouts=_timeouts(idoc, v3),
        kubernetes_version=kversion,
        control_plane_endpoint=cpe,
        pod_subnet=pod_subnet,
        service_subnet=service_subnet,
        dns_domain=str(net.get("dnsDomain") or "cluster.local"),
        cert_sans=sans,
        apiserver_args=args_list(api_server.get("extraArgs")),
        controller_manager_args=args_list((cdoc.get("controllerManager") or {}).get("extraArgs")),
        scheduler_args=args_list((cdoc.get("scheduler") or {}).get("extraArgs")),
        etcd_data_dir=str(etcd_local.get("dataDir") or "/var/lib/etcd"),
        certificates_dir=cert_dir,
        image_repository=str(cdoc.get("imageRepository") or "registry.k8s.io"),
        cluster_name=str(cdoc.get("clusterName") or "kubernetes"),
        encryption_algorithm=algorithm,
        cluster_doc=cluster_doc,
        kubelet=copy.deepcopy(kubelet) if kubelet else None,
        kube_proxy=copy.deepcopy(kube_proxy) if kube_proxy else None,
        dns_disabled=bool((cdoc.get("dns") or {}).get("disabled")),
        proxy_disabled=bool((cdoc.get("proxy") or {}).get("disabled")),
        image_pull_policy=str(nreg.get("imagePullPolicy") or "IfNotPresent"),
    )


def check_control_plane_version(kversion: str) -> None:
    client = version.current()
    want = version.parse_semver(kversion)
    have = version.parse_semver(client.version)
    if want is None or have is None:
        raise ConfigError(f'couldn\'t parse Kubernetes version "{kversion}"')
    minimum = (have[0], have[1] - 1, 0)
    if want < minimum:
        raise ConfigError(
            "this version of kubeadm only supports deploying clusters with the control plane "
            f"version >= {minimum[0]}.{minimum[1]}.0. Current version: {kversion}"
        )


def normalized_cluster_doc(
    cdoc: dict[str, Any], kversion: str, service: str, pod: str, cert_dir: str, algorithm: str
) -> dict[str, Any]:
    """The ClusterConfiguration as kubeadm stores it in kube-system/kubeadm-config, in the
    newest config API this version serves (v1beta4 from 1.31, v1beta3 before)."""
    stored = newest_served()
    doc = copy.deepcopy(cdoc)
    doc["apiVersion"], doc["kind"] = f"{KUBEADM_GROUP}/{stored}", "ClusterConfiguration"
    for comp in ("apiServer", "controllerManager", "scheduler"):
        part = doc.setdefault(comp, {}) or {}
        if stored == "v1beta4" and isinstance(part.get("extraArgs"), dict):
            part["extraArgs"] = [
                {"name": k, "value": str(v)} for k, v in sorted(part["extraArgs"].items())
            ]
        if stored == "v1beta4":
            part.pop("timeoutForControlPlane", None)
        doc[comp] = part
    doc["kubernetesVersion"] = kversion
    doc["networking"] = {
        "dnsDomain": (cdoc.get("networking") or {}).get("dnsDomain") or "cluster.local",
        "serviceSubnet": service,
        **({"podSubnet": pod} if pod else {}),
    }
    doc.setdefault("certificatesDir", cert_dir)
    doc.setdefault("clusterName", "kubernetes")
    doc.setdefault("imageRepository", "registry.k8s.io")
    doc.setdefault("etcd", {"local": {"dataDir": "/var/lib/etcd"}})
    doc.setdefault("dns", {})
    if stored == "v1beta4":  # fields that v1beta3 does not have
        doc.setdefault("encryptionAlgorithm", algorithm)
        doc.setdefault("proxy", {})
    return doc


# --------------------------------------------------------------------------------------------
# join


@dataclass
class JoinConfig(NodeConfig):
    ca_cert_path: str
    endpoint: str
    token: str
    ca_hashes: list[str]
    unsafe_skip: bool
    tls_bootstrap_token: str
    discovery_file: str
    control_plane: bool
    skip_phases: list[str]
    patches_dir: str
    timeouts: dict[str, float]


def join_from_flags(root: Root, flags: dict[str, Any], args: list[str]) -> JoinConfig:
    token = str(flags.get("token") or "")
    discovery_token = str(flags.get("discovery-token") or token)
    doc = {
        "nodeRegistration": {
            "name": flags.get("node-name") or "",
            "criSocket": flags.get("cri-socket") or "",
        },
        "discovery": {
            "bootstrapToken": {
                "token": discovery_token,
                "apiServerEndpoint": args[0] if args else "",
                "caCertHashes": list(flags.get("discovery-token-ca-cert-hash") or []),
                "unsafeSkipCAVerification": bool(
                    flags.get("discovery-token-unsafe-skip-ca-verification")
                ),
            },
            "tlsBootstrapToken": str(flags.get("tls-bootstrap-token") or token),
        },
        "patches": {"directory": flags.get("patches") or ""},
    }
    if flags.get("discovery-file"):
        doc["discovery"] = {"file": {"kubeConfigPath": flags["discovery-file"]}}
    if flags.get("control-plane"):
        doc["controlPlane"] = {"certificateKey": flags.get("certificate-key") or ""}
    if len(args) > 1:
        warn(
            "[preflight] WARNING: More than one API server endpoint supplied on command "
            f"line {args}. Using the first one."
        )
    return _join(root, newest_served(), doc, {})


def load_join(root: Root, path: str) -> JoinConfig:
    docs = load_documents(root, path)
    found = _find(docs, "JoinConfiguration")
    if found is None:
        raise ConfigError("no JoinConfiguration kind was found in the YAML file")
    _ignored(docs, {"JoinConfiguration"})
    ver, doc = found
    v3 = {}
    timeout = (doc.get("discovery") or {}).get("timeout")
    if ver == "v1beta3" and timeout:
        v3 = {"discovery": timeout, "tlsBootstrap": timeout}
    return _join(root, ver, copy.deepcopy(doc), v3)


def _join(root: Root, ver: str, doc: dict[str, Any], v3: dict[str, Any]) -> JoinConfig:
    nreg = doc.get("nodeRegistration") or {}
    disc = doc.get("discovery") or {}
    bt = disc.get("bootstrapToken")
    errors: list[str] = []
    cri = normalize_cri_socket(str(nreg.get("criSocket") or "")) or detect_cri_socket(root)
    name = str(nreg.get("name") or "") or default_node_name()
    errors += _node_reg_errors(name, cri, "nodeRegistration")
    endpoint = token = ""
    hashes: list[str] = []
    unsafe = False
    if disc.get("file"):
        raise ConfigError(
            "discovery.file: the dlrs-provision stand-in does not implement file discovery "
            "(use a bootstrap token)"
        )
    if not bt:
        errors.append('discovery: Invalid value: "": bootstrapToken or file must be set')
    else:
        endpoint = str(bt.get("apiServerEndpoint") or "")
        token = str(bt.get("token") or "")
        hashes = [str(h) for h in bt.get("caCertHashes") or []]
        unsafe = bool(bt.get("unsafeSkipCAVerification"))
        if not endpoint:
            errors.append("discovery.bootstrapToken: Required value: APIServerEndpoint is not set")
        if not hashes and not unsafe:
            errors.append(
                'discovery.bootstrapToken: Invalid value: "": using token-based discovery without '
                "caCertHashes can be unsafe. Set unsafeSkipCAVerification as true in your kubeadm "
                "config file or pass --discovery-token-unsafe-skip-ca-verification flag to continue"
            )
        if bootstrap.split(token) is None:
            errors.append(
                f'discovery.bootstrapToken.token: Invalid value: "{token}": '
                f"{bootstrap.format_error(token)}"
            )
        if endpoint:
            host, sep, _port = endpoint.rpartition(":")
            if not sep or not host:
                errors.append(
                    f'discovery.bootstrapToken: Invalid value: "{endpoint}": address '
                    f"{endpoint}: missing port in address"
                )
    tls_token = str(disc.get("tlsBootstrapToken") or token)
    if tls_token and bootstrap.split(tls_token) is None:
        errors.append(
            f'discovery.tlsBootstrapToken: Invalid value: "{tls_token}": '
            f"{bootstrap.format_error(tls_token)}"
        )
    if errors:
        raise aggregate(errors)
    return JoinConfig(
        api_version=f"{KUBEADM_GROUP}/{ver}",
        node_name=name,
        cri_socket=cri,
        taints=list(nreg.get("taints") or []),
        kubelet_extra_args=args_list(nreg.get("kubeletExtraArgs")),
        ignore_preflight=[str(x) for x in nreg.get("ignorePreflightErrors") or []],
        ca_cert_path=str(doc.get("caCertPath") or "/etc/kubernetes/pki/ca.crt"),
        endpoint=endpoint,
        token=token,
        ca_hashes=hashes,
        unsafe_skip=unsafe,
        tls_bootstrap_token=tls_token,
        discovery_file="",
        control_plane=doc.get("controlPlane") is not None,
        skip_phases=[str(x) for x in doc.get("skipPhases") or []],
        patches_dir=str((doc.get("patches") or {}).get("directory") or ""),
        timeouts=_timeouts(doc, v3),
    )


# --------------------------------------------------------------------------------------------
# the kubelet's configuration, as kubeadm writes it


def default_kubelet_config(service_subnet: str, dns_domain: str) -> dict[str, Any]:
    net = ipaddress.ip_network(service_subnet.split(",")[0], strict=False)
    dns_ip = str(net.network_address + 10)
    return {
        "apiVersion": KUBELET_GV,
        "kind": "KubeletConfiguration",
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"cacheTTL": "0s", "enabled": True},
            "x509": {"clientCAFile": "/etc/kubernetes/pki/ca.crt"},
        },
        "authorization": {
            "mode": "Webhook",
            "webhook": {"cacheAuthorizedTTL": "0s", "cacheUnauthorizedTTL": "0s"},
        },
        "cgroupDriver": "systemd",
        "clusterDNS": [dns_ip],
        "clusterDomain": dns_domain,
        "containerRuntimeEndpoint": "",
        "cpuManagerReconcilePeriod": "0s",
        "evictionPressureTransitionPeriod": "0s",
        "fileCheckFrequency": "0s",
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": 10248,
        "httpCheckFrequency": "0s",
        "imageMaximumGCAge": "0s",
        "imageMinimumGCAge": "0s",
        "logging": {
            "flushFrequency": 0,
            "options": {"json": {"infoBufferSize": "0"}, "text": {"infoBufferSize": "0"}},
            "verbosity": 0,
        },
        "memorySwap": {},
        "nodeStatusReportFrequency": "0s",
        "nodeStatusUpdateFrequency": "0s",
        "rotateCertificates": True,
        "runtimeRequestTimeout": "0s",
        "shutdownGracePeriod": "0s",
        "shutdownGracePeriodCriticalPods": "0s",
        "staticPodPath": "/etc/kubernetes/manifests",
        "streamingConnectionIdleTimeout": "0s",
        "syncFrequency": "0s",
        "volumeStatsAggPeriod": "0s",
    }


def deep_merge(base: Any, over: Any) -> Any:
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for key, value in over.items():
            out[key] = deep_merge(base.get(key), value)
        return out
    return copy.deepcopy(over)


def kubelet_config(init: InitConfig) -> dict[str, Any]:
    return deep_merge(
        default_kubelet_config(init.service_subnet, init.dns_domain), init.kubelet or {}
    )


PATCH_FILE = re.compile(
    r"^(etcd|kube-apiserver|kube-controller-manager|kube-scheduler|kubeletconfiguration|corednsdeployment)(\+(strategic|merge|json))?[^.]*\.(yaml|yml|json)$"
)


def apply_kubelet_patches(
    root: Root, directory: str, config: dict[str, Any], say: Any
) -> dict[str, Any]:
    """kubeadm's --patches / patches.directory for the target "kubeletconfiguration"."""
    if not directory:
        return config
    base = root.path(directory)
    if not base.is_dir():
        raise ConfigError(
            f'could not list patch files for path "{directory}": open {directory}: no such '
            "file or directory"
        )
    for path in sorted(p for p in base.iterdir() if p.is_file()):
        m = PATCH_FILE.match(path.name)
        if not m:
            continue
        target, ptype = m.group(1), m.group(3) or "strategic"
        if target != "kubeletconfiguration":
            say(
                f'[patches] stand-in: a patch for target "{target}" ({path.name}) is not '
                "applied (no such component here)"
            )
            continue
        data = yaml_load(path.read_text())
        if ptype == "json":
            config = json_patch(config, data or [])
        else:
            config = merge_patch(config, data or {})
        media = {
            "json": "application/json-patch+json",
            "merge": "application/merge-patch+json",
        }.get(ptype, "application/strategic-merge-patch+json")
        say(f'[patches] Applied patch of type "{media}" to target "kubeletconfiguration"')
    return config


def duration_text(seconds: float) -> str:
    return format_duration(seconds)


def manifest_path(root: Root, name: str) -> Path:
    return root.path(f"/etc/kubernetes/manifests/{name}.yaml")
