"""kubeadm-stand-in: kubeadm's command-line contract for init, join, reset, token, upgrade and
version.

Files land where kubeadm puts them (under $K8S_STAND_IN_ROOT), certificates and kubeconfigs are
real, the join command and its discovery hash are real; the control plane is the API endpoint
stand-in (kube-apiserver-stand-in.service, or a background process when there is no systemd).
Notes that rest on the stand-in go to stderr; stdout keeps kubeadm's lines.
"""

from __future__ import annotations

import base64
import contextlib
import ipaddress
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from k8s_stand_in import bootstrap, imagepull, kubeconfig, pki, version
from k8s_stand_in.cli import FlagSpec, UsageError, parse
from k8s_stand_in.client import ApiError, Client, ConnectError
from k8s_stand_in.kubeadm_config import (
    KUBEADM_GROUP,
    ConfigError,
    InitConfig,
    JoinConfig,
    NodeConfig,
    Token,
    apply_kubelet_patches,
    default_kubelet_config,
    join_from_flags,
    kubelet_config,
    load_init,
    load_join,
    newest_served,
)
from k8s_stand_in.kubeconfig import Credentials
from k8s_stand_in.node import (
    BootstrapError,
    kubelet_client_pem,
    node_labels,
    register_node,
    tls_bootstrap,
)
from k8s_stand_in.util import (
    Root,
    atomic_write,
    format_duration,
    parse_duration,
    yaml_dump,
    yaml_load,
)

STACK_HINT = "To see the stack trace of this error execute with --v=5 or higher"
STACK_HINT_FROM = (1, 14)  # kubeadm's errors carry stacks (pkg/errors) from 1.14 on


def stack_hint() -> str:
    """The line kubeadm adds under an error (none before 1.14: CheckErr printed the error)."""
    have = version.parse_semver(version.current().version) or (1, 32, 0)
    return f"\n{STACK_HINT}" if have[:2] >= STACK_HINT_FROM else ""


KUBERNETES_DIR = "/etc/kubernetes"
MANIFESTS = "/etc/kubernetes/manifests"
KUBELET_DIR = "/var/lib/kubelet"
STATUS_FILE = "/var/lib/kubelet/stand-in-status.json"
APISERVER_UNIT = "kube-apiserver-stand-in.service"
APISERVER_PID = "/run/kube-apiserver-stand-in.pid"
APISERVER_LOG = "/var/log/kube-apiserver-stand-in.log"
HERE = Path(__file__).resolve().parent
APISERVER_SCRIPT = HERE.parent / "kube-apiserver-stand-in"
ETCD_IMAGE = {"1.31": "3.5.15-0", "1.32": "3.5.16-0"}
COREDNS_TAG = {"1.31": "v1.11.3", "1.32": "v1.11.3"}
NOTE = "stand-in: this is the kubeadm stand-in of dlrs-provision's tests, not Kubernetes' kubeadm"
INIT_PHASES = [
    "preflight",
    "certs",
    "certs/ca",
    "certs/apiserver",
    "certs/apiserver-kubelet-client",
    "certs/front-proxy-ca",
    "certs/front-proxy-client",
    "certs/etcd-ca",
    "certs/etcd-server",
    "certs/etcd-peer",
    "certs/etcd-healthcheck-client",
    "certs/apiserver-etcd-client",
    "certs/sa",
    "kubeconfig",
    "kubeconfig/admin",
    "kubeconfig/super-admin",
    "kubeconfig/kubelet",
    "kubeconfig/controller-manager",
    "kubeconfig/scheduler",
    "etcd",
    "etcd/local",
    "control-plane",
    "control-plane/apiserver",
    "control-plane/controller-manager",
    "control-plane/scheduler",
    "kubelet-start",
    "wait-control-plane",
    "upload-config",
    "upload-config/kubeadm",
    "upload-config/kubelet",
    "upload-certs",
    "mark-control-plane",
    "bootstrap-token",
    "kubelet-finalize",
    "kubelet-finalize/enable-client-cert-rotation",
    "kubelet-finalize/experimental-cert-rotation",
    "addon",
    "addon/coredns",
    "addon/kube-proxy",
    "show-join-command",
]
JOIN_PHASES = [
    "preflight",
    "control-plane-prepare",
    "kubelet-start",
    "control-plane-join",
    "wait-control-plane",
]
RESET_PHASES = ["preflight", "remove-etcd-member", "cleanup-node"]
UNSKIPPABLE = ("certs", "kubeconfig", "etcd", "control-plane")


class PhaseError(Exception):
    def __init__(self, phase: str, message: str) -> None:
        super().__init__(message)
        self.phase = phase
        self.message = message


def out(line: str = "") -> None:
    print(line, flush=True)


def err(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# preflight


class Preflight:
    def __init__(self, ignored: list[str]) -> None:
        self.ignored = {i.strip().lower() for i in ignored if i.strip()}
        self.errors: list[str] = []

    def check(self, name: str, warnings: list[str], errors: list[str]) -> None:
        if "all" in self.ignored or name.lower() in self.ignored:
            warnings = warnings + errors
            errors = []
        for w in warnings:
            err(f"\t[WARNING {name}]: {w}")
        self.errors += [f"\t[ERROR {name}]: {e}\n" for e in errors]

    def finish(self) -> None:
        if self.errors:
            raise PhaseError(
                "preflight",
                "[preflight] Some fatal errors occurred:\n"
                + "".join(self.errors)
                + "[preflight] If you know what you are doing, you can make a check non-fatal with "
                "`--ignore-preflight-errors=...`",
            )


def _check_name(path: str, kind: str) -> str:
    return f"{kind}-{path.replace('/', '-')}"


def file_available(pf: Preflight, root: Root, path: str) -> None:
    exists = root.path(path).exists() or root.path(path).is_symlink()
    pf.check(_check_name(path, "FileAvailable"), [], [f"{path} already exists"] if exists else [])


def dir_available(pf: Preflight, root: Root, path: str) -> None:
    p = root.path(path)
    not_empty = p.is_dir() and any(p.iterdir())
    pf.check(_check_name(path, "DirAvailable"), [], [f"{path} is not empty"] if not_empty else [])


def port_check(pf: Preflight, port: int, address: str = "") -> None:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        try:
            s.bind((address or "", port))
            errors = []
        except OSError:
            errors = [f"Port {port} is in use"]
    pf.check(f"Port-{port}", [], errors)


def cri_check(pf: Preflight, root: Root, cri_socket: str) -> None:
    path = cri_socket[len("unix://") :] if cri_socket.startswith("unix://") else cri_socket
    real = root.path(path)
    problem = ""
    try:
        if not stat.S_ISSOCK(real.stat().st_mode):
            problem = f"dial unix {path}: connect: connection refused"
        else:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(2)
                s.connect(str(real))
    except FileNotFoundError:
        problem = f"dial unix {path}: connect: no such file or directory"
    except OSError as exc:
        problem = f"dial unix {path}: connect: {(exc.strerror or str(exc)).lower()}"
    errors = []
    if problem:
        errors.append(
            "could not connect to the container runtime: failed to create new CRI runtime "
            "service: validate service connection: validate CRI v1 runtime API for endpoint "
            f'"{cri_socket}": '
            'rpc error: code = Unavailable desc = connection error: desc = "transport: Error while '
            f'dialing: {problem}"'
        )
    pf.check("CRI", [], errors)


def common_checks(pf: Preflight, root: Root) -> None:
    if root.is_real:
        pf.check(
            "IsPrivilegedUser", [], [] if os.geteuid() == 0 else ["user is not running as root"]
        )
        swaps = Path("/proc/swaps")
        with contextlib.suppress(OSError):
            if len(swaps.read_text().splitlines()) > 1:
                pf.check(
                    "Swap",
                    [
                        "swap is supported for cgroup v2 only. The kubelet must be properly "
                        "configured to use swap. Please refer to "
                        "https://kubernetes.io/docs/concepts/architecture/nodes/#swap-memory, "
                        "or disable swap on the node"
                    ],
                    [],
                )
    if root.uses_systemd():
        state = subprocess.run(
            ["systemctl", "is-enabled", "kubelet.service"],
            capture_output=True,
            text=True,
            check=False,
        )
        word = state.stdout.strip()
        if word in ("", "not-found") or "No such file" in state.stderr:
            pf.check("Service-Kubelet", ["kubelet service does not exist"], [])
        elif word != "enabled":
            pf.check(
                "Service-Kubelet",
                ["kubelet service is not enabled, please run 'systemctl enable kubelet.service'"],
                [],
            )


# --------------------------------------------------------------------------------------------
# certificates and kubeconfigs


class Pki:
    """The files under certificatesDir, generated on first use and reused when present."""

    def __init__(self, root: Root, cert_dir: str, algorithm: str) -> None:
        self.root = root
        self.cert_dir = cert_dir
        self.dir = root.path(cert_dir)
        self.algorithm = algorithm
        self._aux: Any = None

    def _paths(self, base: str) -> tuple[Path, Path]:
        return self.dir / f"{base}.crt", self.dir / f"{base}.key"

    def aux_key(self) -> Any:
        """One key for the certificates nothing in the stand-in cluster uses (etcd, front
        proxy): the files exist as kubeadm writes them, without the cost of a key each."""
        if self._aux is None:
            self._aux = pki.new_key(self.algorithm)
        return self._aux

    def ca(
        self, base: str = "ca", cn: str = "kubernetes", reuse_key: bool = False
    ) -> tuple[Any, Any]:
        crt, key = self._paths(base)
        if crt.is_file() and key.is_file():
            out(f"[certs] Using existing {base} certificate authority")
            return pki.load_cert(crt.read_bytes()), pki.load_key(key.read_bytes())
        out(f'[certs] Generating "{base}" certificate and key')
        k = self.aux_key() if reuse_key else pki.new_key(self.algorithm)
        c = pki.make_ca(k, cn)
        atomic_write(crt, pki.cert_pem(c))
        atomic_write(key, pki.key_pem(k), 0o600)
        return c, k

    def leaf(
        self,
        base: str,
        ca: tuple[Any, Any],
        cn: str,
        orgs: tuple[str, ...] = (),
        dns: list[str] | None = None,
        ips: list[str] | None = None,
        server: bool = False,
        client: bool = False,
        own_key: bool = False,
        label: str = "",
    ) -> None:
        crt, key = self._paths(base)
        name = label or base
        if crt.is_file() and key.is_file():
            out(f"[certs] Using existing {name} certificate and key on disk")
            return
        out(f'[certs] Generating "{name}" certificate and key')
        k = pki.new_key(self.algorithm) if own_key else self.aux_key()
        c = pki.make_cert(
            ca[0], ca[1], k.public_key(), cn, orgs, dns or [], ips or [], server, client
        )
        atomic_write(crt, pki.cert_pem(c))
        atomic_write(key, pki.key_pem(k), 0o600)


def write_pki(root: Root, cfg: InitConfig) -> tuple[Any, Any]:
    p = Pki(root, cfg.certificates_dir, cfg.encryption_algorithm)
    out(f'[certs] Using certificateDir folder "{cfg.certificates_dir}"')
    ca = p.ca("ca")
    service_ip = str(
        next(ipaddress.ip_network(cfg.service_subnet.split(",")[0], strict=False).hosts())
    )
    dns = [
        cfg.node_name,
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        f"kubernetes.default.svc.{cfg.dns_domain}",
    ]
    ips = [service_ip, cfg.advertise_address]
    cpe_host = (
        cfg.control_plane_endpoint.rsplit(":", 1)[0].strip("[]")
        if cfg.control_plane_endpoint
        else ""
    )
    for extra in [cpe_host, *cfg.cert_sans]:
        if not extra:
            continue
        try:
            ipaddress.ip_address(extra)
            ips.append(extra)
        except ValueError:
            dns.append(extra)
    dns, ips = list(dict.fromkeys(dns)), list(dict.fromkeys(ips))
    p.leaf("apiserver", ca, "kube-apiserver", dns=dns, ips=ips, server=True, own_key=True)
    out(
        f"[certs] apiserver serving cert is signed for DNS names [{' '.join(dns)}] and IPs "
        f"[{' '.join(ips)}]"
    )
    p.leaf(
        "apiserver-kubelet-client",
        ca,
        "kube-apiserver-kubelet-client",
        ("kubeadm:cluster-admins",),
        client=True,
    )
    fp = p.ca("front-proxy-ca", "front-proxy-ca", reuse_key=True)
    p.leaf("front-proxy-client", fp, "front-proxy-client", client=True)
    etcd = p.ca("etcd/ca", "etcd-ca", reuse_key=True)
    local = [cfg.node_name, "localhost"]
    local_ips = list(dict.fromkeys([cfg.advertise_address, "127.0.0.1", "::1"]))
    for leaf in ("etcd/server", "etcd/peer"):  # both serve and are clients, on local names
        p.leaf(
            leaf,
            etcd,
            cfg.node_name,
            dns=local,
            ips=local_ips,
            server=True,
            client=True,
            label=leaf,
        )
        out(
            f"[certs] {leaf} serving cert is signed for DNS names [{' '.join(local)}] and IPs "
            f"[{' '.join(local_ips)}]"
        )
    p.leaf("etcd/healthcheck-client", etcd, "kube-etcd-healthcheck-client", client=True)
    p.leaf("apiserver-etcd-client", etcd, "kube-apiserver-etcd-client", client=True)
    sa_key, sa_pub = p.dir / "sa.key", p.dir / "sa.pub"
    if sa_key.is_file() and sa_pub.is_file():
        out('[certs] Using the existing "sa" key')
    else:
        out('[certs] Generating "sa" key and public key')
        k = pki.new_key(
            "RSA-2048" if cfg.encryption_algorithm.startswith("RSA") else cfg.encryption_algorithm
        )
        atomic_write(sa_key, pki.key_pem(k), 0o600)
        atomic_write(sa_pub, pki.public_pem(k))
    return ca


def write_kubeconfigs(root: Root, cfg: InitConfig, ca: tuple[Any, Any]) -> None:
    out(f'[kubeconfig] Using kubeconfig folder "{KUBERNETES_DIR}"')
    server = f"https://{cfg.endpoint}"
    adv = cfg.advertise_address
    local_server = f"https://{adv if ':' not in adv else '[' + adv + ']'}:{cfg.bind_port}"
    ca_pem = pki.cert_pem(ca[0])
    admin_key = None
    specs = [
        ("admin.conf", "kubernetes-admin", ("kubeadm:cluster-admins",), server, "admin"),
        ("super-admin.conf", "kubernetes-super-admin", ("system:masters",), server, "super-admin"),
        ("kubelet.conf", f"system:node:{cfg.node_name}", ("system:nodes",), server, "kubelet"),
        (
            "controller-manager.conf",
            "system:kube-controller-manager",
            (),
            local_server,
            "controller-manager",
        ),
        ("scheduler.conf", "system:kube-scheduler", (), local_server, "scheduler"),
    ]
    aux = None
    for filename, user, orgs, srv, phase in specs:
        path = root.path(f"{KUBERNETES_DIR}/{filename}")
        if path.is_file():
            existing = yaml_load(path.read_text()) or {}
            cluster = ((existing.get("clusters") or [{}])[0]).get("cluster") or {}
            have_ca = base64.b64decode(cluster.get("certificate-authority-data") or b"")
            if have_ca != ca_pem:
                raise PhaseError(
                    f"kubeconfig/{phase}",
                    f'a kubeconfig file "{KUBERNETES_DIR}/{filename}" exists already but has '
                    "got the wrong CA cert",
                )
            if cluster.get("server") != srv:
                raise PhaseError(
                    f"kubeconfig/{phase}",
                    f'a kubeconfig file "{KUBERNETES_DIR}/{filename}" exists already but has '
                    f"an unexpected API Server URL: expected: {srv}, got: "
                    f"{cluster.get('server')}",
                )
            out(f'[kubeconfig] Using existing kubeconfig file: "{KUBERNETES_DIR}/{filename}"')
            continue
        out(f'[kubeconfig] Writing "{filename}" kubeconfig file')
        if phase in ("admin", "super-admin"):
            admin_key = admin_key or pki.new_key(cfg.encryption_algorithm)
            key = admin_key
        elif phase == "kubelet":
            key = pki.new_key(cfg.encryption_algorithm)
        else:
            aux = aux or pki.new_key(cfg.encryption_algorithm)
            key = aux
        cert = pki.make_cert(ca[0], ca[1], key.public_key(), user, orgs, client=True)
        data = kubeconfig.build(
            srv, ca_pem, user, cfg.cluster_name, pki.cert_pem(cert), pki.key_pem(key)
        )
        atomic_write(path, kubeconfig.dump(data), 0o600)


# --------------------------------------------------------------------------------------------
# static Pod manifests (read by the API endpoint stand-in for its flags)


def _args(defaults: dict[str, str], extra: list[tuple[str, str]]) -> list[str]:
    merged = dict(defaults)
    for key, value in extra:
        merged[key] = value
    return [f"--{k}={v}" for k, v in sorted(merged.items())]


def _pod(
    name: str, image: str, command: list[str], annotations: dict[str, str] | None = None
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "annotations": {
                **(annotations or {}),
                "stand-in.dlrs-provision.io/note": (
                    "written by the kubeadm stand-in of dlrs-provision; nothing runs this Pod, "
                    "kube-apiserver-stand-in reads its flags"
                ),
            },
            "labels": {"component": name, "tier": "control-plane"},
            "name": name,
            "namespace": "kube-system",
        },
        "spec": {
            "containers": [
                {
                    "command": command,
                    "image": image,
                    "imagePullPolicy": "IfNotPresent",
                    "name": name,
                }
            ],
            "hostNetwork": True,
            "priorityClassName": "system-node-critical",
            "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
        },
        "status": {},
    }


def _control_plane_pod(
    root: Root,
    cfg: InitConfig,
    component: str,
    flags: list[str],
    annotations: dict[str, str] | None = None,
) -> None:
    """The static Pod manifest of one control-plane component, its image from the config's
    imageRepository at the Kubernetes version."""
    out(f'[control-plane] Creating static Pod manifest for "{component}"')
    image = f"{cfg.image_repository}/{component}:{cfg.kubernetes_version}"
    pod = _pod(component, image, [component, *flags], annotations)
    atomic_write(root.path(f"{MANIFESTS}/{component}.yaml"), yaml_dump(pod), 0o600)


def _register_as_kubelet(root: Root, cfg: NodeConfig, taints: list[dict[str, Any]]) -> None:
    """The Node object, registered with the kubelet's own credentials (kubelet.conf), with the
    labels of its --node-labels."""
    creds = kubeconfig.credentials(root, f"{KUBERNETES_DIR}/kubelet.conf")
    assert creds is not None
    register_node(
        Client(creds, user_agent="kubelet-stand-in"),
        cfg.node_name,
        node_labels(cfg.kubelet_extra_args),
        taints,
    )


def write_manifests(root: Root, cfg: InitConfig, skip: set[str]) -> None:
    mm = version.parse_semver(cfg.kubernetes_version) or (1, 32, 0)
    minor = f"{mm[0]}.{mm[1]}"
    repo = cfg.image_repository
    pki_dir = cfg.certificates_dir
    adv = cfg.advertise_address
    if "etcd" not in skip and "etcd/local" not in skip:
        out(f'[etcd] Creating static Pod manifest for local etcd in "{MANIFESTS}"')
        root.path(cfg.etcd_data_dir).mkdir(parents=True, exist_ok=True)
        os.chmod(root.path(cfg.etcd_data_dir), 0o700)
        etcd = _args(
            {
                "advertise-client-urls": f"https://{adv}:2379",
                "cert-file": f"{pki_dir}/etcd/server.crt",
                "client-cert-auth": "true",
                "data-dir": cfg.etcd_data_dir,
                "initial-advertise-peer-urls": f"https://{adv}:2380",
                "initial-cluster": f"{cfg.node_name}=https://{adv}:2380",
                "key-file": f"{pki_dir}/etcd/server.key",
                "listen-client-urls": f"https://127.0.0.1:2379,https://{adv}:2379",
                "listen-metrics-urls": "http://127.0.0.1:2381",
                "listen-peer-urls": f"https://{adv}:2380",
                "name": cfg.node_name,
                "peer-cert-file": f"{pki_dir}/etcd/peer.crt",
                "peer-client-cert-auth": "true",
                "peer-key-file": f"{pki_dir}/etcd/peer.key",
                "peer-trusted-ca-file": f"{pki_dir}/etcd/ca.crt",
                "snapshot-count": "10000",
                "trusted-ca-file": f"{pki_dir}/etcd/ca.crt",
            },
            [],
        )
        pod = _pod(
            "etcd",
            f"{repo}/etcd:{ETCD_IMAGE.get(minor, '3.5.16-0')}",
            ["etcd", *etcd],
            {"kubeadm.kubernetes.io/etcd.advertise-client-urls": f"https://{adv}:2379"},
        )
        atomic_write(root.path(f"{MANIFESTS}/etcd.yaml"), yaml_dump(pod), 0o600)
    out(f'[control-plane] Using manifest folder "{MANIFESTS}"')
    api = {
        "advertise-address": adv,
        "allow-privileged": "true",
        "authorization-mode": "Node,RBAC",
        "client-ca-file": f"{pki_dir}/ca.crt",
        "enable-admission-plugins": "NodeRestriction",
        "enable-bootstrap-token-auth": "true",
        "etcd-cafile": f"{pki_dir}/etcd/ca.crt",
        "etcd-certfile": f"{pki_dir}/apiserver-etcd-client.crt",
        "etcd-keyfile": f"{pki_dir}/apiserver-etcd-client.key",
        "etcd-servers": "https://127.0.0.1:2379",
        "kubelet-client-certificate": f"{pki_dir}/apiserver-kubelet-client.crt",
        "kubelet-client-key": f"{pki_dir}/apiserver-kubelet-client.key",
        "kubelet-preferred-address-types": "InternalIP,ExternalIP,Hostname",
        "proxy-client-cert-file": f"{pki_dir}/front-proxy-client.crt",
        "proxy-client-key-file": f"{pki_dir}/front-proxy-client.key",
        "requestheader-allowed-names": "front-proxy-client",
        "requestheader-client-ca-file": f"{pki_dir}/front-proxy-ca.crt",
        "requestheader-extra-headers-prefix": "X-Remote-Extra-",
        "requestheader-group-headers": "X-Remote-Group",
        "requestheader-username-headers": "X-Remote-User",
        "secure-port": str(cfg.bind_port),
        "service-account-issuer": f"https://kubernetes.default.svc.{cfg.dns_domain}",
        "service-account-key-file": f"{pki_dir}/sa.pub",
        "service-account-signing-key-file": f"{pki_dir}/sa.key",
        "service-cluster-ip-range": cfg.service_subnet,
        "tls-cert-file": f"{pki_dir}/apiserver.crt",
        "tls-private-key-file": f"{pki_dir}/apiserver.key",
    }
    endpoint = f"{adv}:{cfg.bind_port}"
    _control_plane_pod(
        root,
        cfg,
        "kube-apiserver",
        _args(api, cfg.apiserver_args),
        {"kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint": endpoint},
    )
    cm = {
        "authentication-kubeconfig": "/etc/kubernetes/controller-manager.conf",
        "authorization-kubeconfig": "/etc/kubernetes/controller-manager.conf",
        "bind-address": "127.0.0.1",
        "client-ca-file": f"{pki_dir}/ca.crt",
        "cluster-name": cfg.cluster_name,
        "cluster-signing-cert-file": f"{pki_dir}/ca.crt",
        "cluster-signing-key-file": f"{pki_dir}/ca.key",
        "controllers": "*,bootstrapsigner,tokencleaner",
        "kubeconfig": "/etc/kubernetes/controller-manager.conf",
        "leader-elect": "true",
        "requestheader-client-ca-file": f"{pki_dir}/front-proxy-ca.crt",
        "root-ca-file": f"{pki_dir}/ca.crt",
        "service-account-private-key-file": f"{pki_dir}/sa.key",
        "service-cluster-ip-range": cfg.service_subnet,
        "use-service-account-credentials": "true",
    }
    if cfg.pod_subnet:
        cm["allocate-node-cidrs"] = "true"
        cm["cluster-cidr"] = cfg.pod_subnet
    _control_plane_pod(root, cfg, "kube-controller-manager", _args(cm, cfg.controller_manager_args))
    sched = {
        "authentication-kubeconfig": "/etc/kubernetes/scheduler.conf",
        "authorization-kubeconfig": "/etc/kubernetes/scheduler.conf",
        "bind-address": "127.0.0.1",
        "kubeconfig": "/etc/kubernetes/scheduler.conf",
        "leader-elect": "true",
    }
    _control_plane_pod(root, cfg, "kube-scheduler", _args(sched, cfg.scheduler_args))


# --------------------------------------------------------------------------------------------
# services: the API endpoint stand-in and the kubelet


def systemctl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["systemctl", *args], capture_output=True, text=True, check=False)


# The unit the kubeadm package installs (systemd/kube-apiserver-stand-in.service). A release
# binary (/usr/local/bin/kubeadm from dl.k8s.io's layout) comes without it, as the real one
# comes without unit files: kubeadm then writes this one under /etc/systemd/system, running the
# API endpoint stand-in from where this kubeadm's code is.
APISERVER_UNIT_DIRS = ("/etc/systemd/system", "/usr/lib/systemd/system", "/lib/systemd/system")
APISERVER_UNIT_TEXT = """\
# Written by the kubeadm stand-in of dlrs-provision (tests only, not Kubernetes): the API
# endpoint stand-in, for a kubeadm installed without its package's unit files.
[Unit]
Description=kube-apiserver stand-in of dlrs-provision (HTTPS API endpoint, not Kubernetes)
Wants=network-online.target
After=network-online.target
ConditionPathExists=/etc/kubernetes/manifests/kube-apiserver.yaml

[Service]
ExecStart={python} {script} --manifest=/etc/kubernetes/manifests/kube-apiserver.yaml
Restart=always
RestartSec=2

[Install]
WantedBy=multi-user.target
"""


def ensure_apiserver_unit(root: Root) -> None:
    """Write the API endpoint's unit when no unit directory has it (or ours is stale)."""
    ours = root.path(f"{APISERVER_UNIT_DIRS[0]}/{APISERVER_UNIT}")
    text = APISERVER_UNIT_TEXT.format(python=sys.executable, script=APISERVER_SCRIPT)
    for directory in APISERVER_UNIT_DIRS[1:]:
        if root.path(f"{directory}/{APISERVER_UNIT}").is_file():
            return
    try:
        if ours.read_text() == text:
            return
    except OSError:
        pass
    if ours.exists() and not ours.read_text().startswith("# Written by the kubeadm stand-in"):
        return  # the operator's own unit
    atomic_write(ours, text)


def start_apiserver(root: Root) -> None:
    if root.uses_systemd():
        ensure_apiserver_unit(root)
        systemctl("daemon-reload")
        systemctl("enable", APISERVER_UNIT)
        result = systemctl("restart", APISERVER_UNIT)
        if result.returncode != 0:
            raise PhaseError(
                "wait-control-plane",
                f"stand-in: could not start {APISERVER_UNIT}: {result.stderr.strip()}",
            )
        err(f"[control-plane] stand-in: started {APISERVER_UNIT} (the API endpoint stand-in)")
        return
    stop_apiserver(root)
    log_path = root.path(APISERVER_LOG)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, str(APISERVER_SCRIPT), f"--stand-in-root={root.base}"],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
            env=os.environ.copy(),
        )
    atomic_write(root.path(APISERVER_PID), f"{proc.pid}\n")
    err(
        f"[control-plane] stand-in: started kube-apiserver-stand-in as process {proc.pid} "
        f"(no systemd here; log {log_path})"
    )


def stop_apiserver(root: Root) -> None:
    if root.uses_systemd():
        systemctl("disable", "--now", APISERVER_UNIT)
        return
    pid_file = root.path(APISERVER_PID)
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGTERM)
        for _ in range(50):
            time.sleep(0.1)
            os.kill(pid, 0)
        os.kill(pid, signal.SIGKILL)
    pid_file.unlink(missing_ok=True)


def restart_kubelet(root: Root, phase: str) -> float:
    started = time.time()
    out("[kubelet-start] Starting the kubelet")
    if root.uses_systemd():
        result = systemctl("restart", "kubelet")
        if result.returncode != 0:
            err(
                "[kubelet-start] WARNING: unable to start the kubelet service: "
                f"[{result.stderr.strip()}]"
            )
            err("[kubelet-start] Please ensure kubelet is reloaded and running manually.")
    else:
        err(
            "[kubelet-start] stand-in: no systemd here (a test root): the kubelet stand-in "
            "is not started"
        )
    return started


def wait_kubelet(
    root: Root, kcfg: dict[str, Any], timeout: float, started: float, phase: str
) -> None:
    if not root.uses_systemd():
        err("[kubelet-check] stand-in: not waiting for a kubelet (none was started)")
        return
    host = str(kcfg.get("healthzBindAddress") or "127.0.0.1")
    port = int(kcfg.get("healthzPort", 10248) or 10248)
    url = f"http://{host}:{port}/healthz"
    out(
        f"[kubelet-check] Waiting for a healthy kubelet at {url}. This can take up to "
        f"{format_duration(timeout)}"
    )
    deadline = time.time() + timeout
    last = ""
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    out(
                        "[kubelet-check] The kubelet is healthy after "
                        f"{format_duration(round(time.time() - started, 3))}"
                    )
                    return
        except OSError as exc:
            last = str(getattr(exc, "reason", exc))
        status = _kubelet_status(root)
        if status.get("state") == "failed" and float(status.get("time", 0)) >= started - 1:
            last = f"stand-in: the kubelet stand-in stopped: {status.get('error')}"
            break
        time.sleep(0.5)
    out(f"[kubelet-check] The kubelet is not healthy after {format_duration(timeout)}")
    out("")
    out("Unfortunately, an error has occurred, likely caused by:")
    out("\t- The kubelet is not running")
    out(
        "\t- The kubelet is unhealthy due to a misconfiguration of the node in some way "
        "(required cgroups disabled)"
    )
    out("")
    out(
        "If you are on a systemd-powered system, you can try to troubleshoot the error with "
        "the following commands:"
    )
    out("\t- 'systemctl status kubelet'")
    out("\t- 'journalctl -xeu kubelet'")
    out("")
    raise PhaseError(
        phase,
        "failed while waiting for the kubelet to start: The HTTP call equal to 'curl -sSL "
        f"{url}' returned error: {last}",
    )


def _kubelet_status(root: Root) -> dict[str, Any]:
    try:
        return json.loads(root.path(STATUS_FILE).read_text())
    except (OSError, ValueError):
        return {}


def flags_env(
    cri: str,
    node_name: str,
    extra: list[tuple[str, str]],
    taints: list[dict[str, Any]] | None = None,
) -> str:
    args = {"container-runtime-endpoint": cri}
    if node_name != socket.gethostname().strip().lower():
        args["hostname-override"] = node_name
    if taints:
        args["register-with-taints"] = ",".join(
            f"{t.get('key')}={t.get('value', '')}:{t.get('effect')}"
            if t.get("value")
            else f"{t.get('key')}:{t.get('effect')}"
            for t in taints
        )
    for key, value in extra:
        args[key] = value
    line = " ".join(f"--{k}={v}" for k, v in sorted(args.items()))
    return f'KUBELET_KUBEADM_ARGS="{line}"\n'


def write_kubelet_files(root: Root, config: dict[str, Any], env: str) -> None:
    out(
        "[kubelet-start] Writing kubelet environment file with flags to file "
        f'"{KUBELET_DIR}/kubeadm-flags.env"'
    )
    atomic_write(root.path(f"{KUBELET_DIR}/kubeadm-flags.env"), env)
    out(f'[kubelet-start] Writing kubelet configuration to file "{KUBELET_DIR}/config.yaml"')
    atomic_write(root.path(f"{KUBELET_DIR}/config.yaml"), yaml_dump(config))


# --------------------------------------------------------------------------------------------
# talking to the cluster


def admin_client(
    root: Root, path: str = f"{KUBERNETES_DIR}/admin.conf", timeout: float = 30
) -> Client:
    try:
        creds = kubeconfig.credentials(root, path)
    except kubeconfig.KubeconfigError as exc:
        raise ConfigError(f"failed to load admin kubeconfig: {exc}") from None
    if creds is None:
        raise ConfigError(
            f"failed to load admin kubeconfig: open {path}: no such file or directory"
        )
    return Client(creds, timeout=timeout, user_agent="kubeadm-stand-in")


def wait_api(client: Client, timeout: float, root: Root | None = None) -> float:
    started = time.time()
    deadline = started + timeout
    last = ""
    while time.time() < deadline:
        if root is not None and not apiserver_alive(root):
            raise PhaseError(
                "wait-control-plane",
                "stand-in: kube-apiserver-stand-in exited; see "
                f"{root.path(APISERVER_LOG)}: {_tail(root.path(APISERVER_LOG))}",
            )
        try:
            code, _, _ = client.request("GET", "/livez")
            if code == 200:
                return time.time() - started
            last = f"the API server answered {code}"
        except ConnectError as exc:
            last = exc.go_error()
        time.sleep(0.2)
    raise PhaseError(
        "wait-control-plane",
        "failed while waiting for the control plane to start: kube-apiserver check failed "
        f"at {client.url('/livez')}: {last}",
    )


def apiserver_alive(root: Root) -> bool:
    """False once the background API endpoint process (test roots) has died."""
    if root.uses_systemd():
        return True
    try:
        os.kill(int(root.path(APISERVER_PID).read_text().strip()), 0)
    except (OSError, ValueError):
        return False
    return True


def _tail(path: Path) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").strip().splitlines()[-3:])
    except OSError:
        return "(no log)"


def put_configmap(client: Client, ns: str, name: str, data: dict[str, str]) -> None:
    body = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": ns},
        "data": data,
    }
    try:
        client.call("POST", f"/api/v1/namespaces/{ns}/configmaps", body)
    except ApiError as exc:
        if exc.code != 409:
            raise
        client.call("PUT", f"/api/v1/namespaces/{ns}/configmaps/{name}", body)


def create_token(client: Client, token: Token) -> None:
    secret = bootstrap.secret_object(
        token.token, token.ttl_s, token.usages, token.groups, token.description
    )
    try:
        client.call("POST", "/api/v1/namespaces/kube-system/secrets", secret)
    except ApiError as exc:
        if exc.code != 409:
            raise
        client.call(
            "PUT", f"/api/v1/namespaces/kube-system/secrets/{secret['metadata']['name']}", secret
        )


def join_command(
    admin_conf: dict[str, Any],
    token: str,
    control_plane_key: str | None = None,
    one_line: bool = False,
) -> str:
    """kubeadm's template: `kubeadm join HOST:PORT --token T \\` newline tab
    `--discovery-token-ca-cert-hash sha256:H ` (and the control-plane flags)."""
    cluster = (admin_conf.get("clusters") or [{}])[0].get("cluster") or {}
    server = str(cluster.get("server", "")).replace("https://", "")
    ca = pki.load_cert(base64.b64decode(cluster.get("certificate-authority-data", "")))
    text = (
        f"kubeadm join {server} --token {token} \\\n\t--discovery-token-ca-cert-hash "
        f"{pki.spki_sha256(ca)} "
    )
    if control_plane_key is not None:
        text += "\\\n\t--control-plane "
        if control_plane_key:
            text += f"--certificate-key {control_plane_key}"
    if one_line:
        text = text.replace("\\\n", "").replace("\t", "")
    return text


# --------------------------------------------------------------------------------------------
# kubeadm init


INIT_FLAGS = {
    "config": FlagSpec(),
    "upload-certs": FlagSpec("bool"),
    "skip-phases": FlagSpec("csv"),
    "ignore-preflight-errors": FlagSpec("csv"),
    "dry-run": FlagSpec("bool"),
    "node-name": FlagSpec(),
    "skip-token-print": FlagSpec("bool"),
    "skip-certificate-key-print": FlagSpec("bool"),
    "certificate-key": FlagSpec(),
    "apiserver-advertise-address": FlagSpec(),
    "apiserver-bind-port": FlagSpec("int"),
    "apiserver-cert-extra-sans": FlagSpec("csv"),
    "cert-dir": FlagSpec(),
    "control-plane-endpoint": FlagSpec(),
    "cri-socket": FlagSpec(),
    "feature-gates": FlagSpec(),
    "image-repository": FlagSpec(),
    "kubernetes-version": FlagSpec(),
    "patches": FlagSpec(),
    "pod-network-cidr": FlagSpec(),
    "service-cidr": FlagSpec(),
    "service-dns-domain": FlagSpec(),
    "token": FlagSpec(),
    "token-ttl": FlagSpec(),
    "rootfs": FlagSpec(),
    "v": FlagSpec("int", "v"),
}
ALLOWED_WITH_CONFIG = {
    "config",
    "ignore-preflight-errors",
    "dry-run",
    "kubeconfig",
    "node-name",
    "kubeconfig-dir",
    "upload-certs",
    "print-join-command",
    "rootfs",
    "v",
    "log-file",
}


def mixed_args(changed: list[str]) -> None:
    if "config" not in changed:
        return
    bad = [c for c in changed if c not in ALLOWED_WITH_CONFIG and not c.startswith("skip-")]
    if bad:
        raise ConfigError(f"can not mix '--config' with arguments [{' '.join(bad)}]")


def init_config_from_flags(root: Root, p: Any) -> str:
    """kubeadm init without --config: the flags as a configuration in a temporary file, in the
    newest config API this version serves (every field set here has one shape in both)."""
    api_version = f"{KUBEADM_GROUP}/{newest_served()}"
    init: dict[str, Any] = {
        "apiVersion": api_version,
        "kind": "InitConfiguration",
        "nodeRegistration": {},
        "localAPIEndpoint": {},
    }
    cluster: dict[str, Any] = {
        "apiVersion": api_version,
        "kind": "ClusterConfiguration",
        "networking": {},
        "apiServer": {},
    }
    if p.get("apiserver-advertise-address"):
        init["localAPIEndpoint"]["advertiseAddress"] = p.get("apiserver-advertise-address")
    if p.get("apiserver-bind-port"):
        init["localAPIEndpoint"]["bindPort"] = p.get("apiserver-bind-port")
    if p.get("cri-socket"):
        init["nodeRegistration"]["criSocket"] = p.get("cri-socket")
    if p.get("token") or p.get("token-ttl"):
        token: dict[str, Any] = {}
        if p.get("token"):
            token["token"] = p.get("token")
        if p.get("token-ttl"):
            token["ttl"] = p.get("token-ttl")
        init["bootstrapTokens"] = [token]
    if p.get("patches"):
        init["patches"] = {"directory": p.get("patches")}
    for flag, key in (
        ("pod-network-cidr", "podSubnet"),
        ("service-cidr", "serviceSubnet"),
        ("service-dns-domain", "dnsDomain"),
    ):
        if p.get(flag):
            cluster["networking"][key] = p.get(flag)
    for flag, key in (
        ("control-plane-endpoint", "controlPlaneEndpoint"),
        ("kubernetes-version", "kubernetesVersion"),
        ("cert-dir", "certificatesDir"),
        ("image-repository", "imageRepository"),
    ):
        if p.get(flag):
            cluster[key] = p.get(flag)
    if p.get("apiserver-cert-extra-sans"):
        cluster["apiServer"]["certSANs"] = p.get("apiserver-cert-extra-sans")
    path = root.path("/run/kubeadm-stand-in-flags.yaml")
    atomic_write(path, yaml_dump(init) + "---\n" + yaml_dump(cluster), 0o600)
    return str(path)


def check_phases(skip: list[str], known: list[str]) -> set[str]:
    for phase in skip:
        if phase not in known:
            raise ConfigError(f"invalid phase name: {phase}")
        if phase.split("/")[0] in UNSKIPPABLE:
            raise ConfigError(f"stand-in does not implement skipping the phase {phase!r}")
    return set(skip)


def cmd_init(root: Root, argv: list[str]) -> int:
    p = parse(argv, INIT_FLAGS)
    mixed_args(p.changed)
    if p.get("dry-run"):
        raise ConfigError("stand-in does not implement `kubeadm init --dry-run`")
    path = p.get("config") or init_config_from_flags(root, p)
    cfg = load_init(root, path)
    if p.get("node-name"):
        cfg.node_name = p.get("node-name")
    skip = check_phases(list(p.get("skip-phases")) + cfg.skip_phases, INIT_PHASES)
    ignored = list(p.get("ignore-preflight-errors")) + cfg.ignore_preflight
    err(NOTE)
    out(f"[init] Using Kubernetes version: {cfg.kubernetes_version}")
    client_version = version.current()

    if "preflight" not in skip:
        out("[preflight] Running pre-flight checks")
        pf = Preflight(ignored)
        common_checks(pf, root)
        cpus = len(os.sched_getaffinity(0))
        pf.check(
            "NumCPU",
            [],
            [f"the number of available CPUs {cpus} is less than the required 2"]
            if cpus < 2
            else [],
        )
        mem_mb = _mem_mb()
        pf.check(
            "Mem",
            [],
            [f"the system RAM ({mem_mb} MB) is less than the minimum 1700 MB"]
            if 0 < mem_mb < 1700
            else [],
        )
        want = version.parse_semver(cfg.kubernetes_version)
        have = version.parse_semver(client_version.version)
        if want and have and (want[0], want[1]) > (have[0], have[1]):
            pf.check(
                "KubernetesVersion",
                [
                    "Kubernetes version is greater than kubeadm version. Please consider to "
                    "upgrade kubeadm. Kubernetes version: "
                    f"{cfg.kubernetes_version.lstrip('v')}. Kubeadm version: "
                    f"{have[0]}.{have[1]}.x"
                ],
                [],
            )
        bind = cfg.arg(cfg.apiserver_args, "bind-address", "")
        port_check(pf, cfg.bind_port, bind)
        if root.is_real:
            for port in (10259, 10257):
                port_check(pf, port)
        for name in ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd"):
            file_available(pf, root, f"{MANIFESTS}/{name}.yaml")
        cri_check(pf, root, cfg.cri_socket)
        if root.is_real:
            for port in (10250, 2379, 2380):
                port_check(pf, port)
        dir_available(pf, root, cfg.etcd_data_dir)
        pf.finish()
        out("[preflight] Pulling images required for setting up a Kubernetes cluster")
        out(
            "[preflight] This might take a minute or two, depending on the speed of your "
            "internet connection"
        )
        out(
            "[preflight] You can also perform this action beforehand using 'kubeadm config "
            "images pull'"
        )
        pulls = Preflight(ignored)
        imagepull.run_init_check(root, cfg, pulls.check)
        pulls.finish()
        err(
            "[preflight] stand-in: each image was looked up in its registry (HEAD of the "
            "manifest), not pulled (no control-plane container runs)"
        )

    ca = write_pki(root, cfg)
    write_kubeconfigs(root, cfg, ca)
    write_manifests(root, cfg, skip)

    kcfg = kubelet_config(cfg)
    node_cfg = apply_kubelet_patches(root, cfg.patches_dir, kcfg, out)
    started = time.time()
    if "kubelet-start" not in skip:
        write_kubelet_files(
            root, node_cfg, flags_env(cfg.cri_socket, cfg.node_name, cfg.kubelet_extra_args)
        )
        started = restart_kubelet(root, "kubelet-start")

    start_apiserver(root)
    admin = admin_client(root)
    try:
        if "wait-control-plane" not in skip:
            out(
                "[wait-control-plane] Waiting for the kubelet to boot up the control plane "
                f'as static Pods from directory "{MANIFESTS}"'
            )
            wait_kubelet(
                root, node_cfg, cfg.timeouts["kubeletHealthCheck"], started, "wait-control-plane"
            )
            limit = cfg.timeouts["controlPlaneComponentHealthCheck"]
            out(
                "[api-check] Waiting for a healthy API server. This can take up to "
                f"{format_duration(limit)}"
            )
            took = wait_api(admin, limit, root)
            out(f"[api-check] The API server is healthy after {format_duration(round(took, 3))}")
        else:
            wait_api(admin, cfg.timeouts["controlPlaneComponentHealthCheck"], root)

        if "upload-config" not in skip and "upload-config/kubeadm" not in skip:
            out(
                "[upload-config] Storing the configuration used in ConfigMap "
                '"kubeadm-config" in the "kube-system" Namespace'
            )
            put_configmap(
                admin,
                "kube-system",
                "kubeadm-config",
                {"ClusterConfiguration": yaml_dump(cfg.cluster_doc)},
            )
        if "upload-config" not in skip and "upload-config/kubelet" not in skip:
            out(
                '[kubelet] Creating a ConfigMap "kubelet-config" in namespace kube-system '
                "with the configuration for the kubelets in the cluster"
            )
            put_configmap(admin, "kube-system", "kubelet-config", {"kubelet": yaml_dump(kcfg)})
            if cfg.kube_proxy is not None:
                put_configmap(
                    admin, "kube-system", "kube-proxy", {"config.conf": yaml_dump(cfg.kube_proxy)}
                )

        cert_key = ""
        if p.get("upload-certs") and "upload-certs" not in skip:
            cert_key = cfg.certificate_key or p.get("certificate-key") or os.urandom(32).hex()
            upload_certs(root, admin, cfg, cert_key)
            out(
                '[upload-certs] Storing the certificates in Secret "kubeadm-certs" in the '
                '"kube-system" Namespace'
            )
            out("[upload-certs] Using certificate key:")
            out("<value withheld>" if p.get("skip-certificate-key-print") else cert_key)
        elif "upload-certs" not in skip:
            out("[upload-certs] Skipping phase. Please see --upload-certs")

        _register_as_kubelet(root, cfg, [])
        if "mark-control-plane" not in skip:
            labels = [
                "node-role.kubernetes.io/control-plane",
                "node.kubernetes.io/exclude-from-external-load-balancers",
            ]
            out(
                f"[mark-control-plane] Marking the node {cfg.node_name} as control-plane by "
                f"adding the labels: [{' '.join(labels)}]"
            )
            if cfg.taints:
                shown = " ".join(f"{t.get('key')}:{t.get('effect')}" for t in cfg.taints)
                out(
                    f"[mark-control-plane] Marking the node {cfg.node_name} as control-plane "
                    f"by adding the taints [{shown}]"
                )
            patch = {
                "metadata": {"labels": {label: "" for label in labels}},
                "spec": {
                    "taints": [
                        {k: v for k, v in t.items() if k in ("key", "value", "effect")}
                        for t in cfg.taints
                    ]
                    or None
                },
            }
            admin.call(
                "PATCH",
                f"/api/v1/nodes/{cfg.node_name}",
                patch,
                content_type="application/merge-patch+json",
            )

        if "bootstrap-token" not in skip:
            for token in cfg.tokens:
                if not p.get("skip-token-print"):
                    out(f"[bootstrap-token] Using token: {token.token}")
                create_token(admin, token)
            out(
                "[bootstrap-token] Configuring bootstrap tokens, cluster-info ConfigMap, RBAC Roles"
            )
            out(
                "[bootstrap-token] Configured RBAC rules to allow Node Bootstrap tokens to "
                "get nodes"
            )
            out(
                "[bootstrap-token] Configured RBAC rules to allow Node Bootstrap tokens to "
                "post CSRs in order for nodes to get long term certificate credentials"
            )
            out(
                "[bootstrap-token] Configured RBAC rules to allow the csrapprover controller "
                "automatically approve CSRs from a Node Bootstrap Token"
            )
            out(
                "[bootstrap-token] Configured RBAC rules to allow certificate rotation for "
                "all node client certificates in the cluster"
            )
            out(
                '[bootstrap-token] Creating the "cluster-info" ConfigMap in the '
                '"kube-public" namespace'
            )
            put_configmap(
                admin,
                "kube-public",
                "cluster-info",
                {
                    "kubeconfig": kubeconfig.cluster_info_kubeconfig(
                        f"https://{cfg.endpoint}", pki.cert_pem(ca[0])
                    )
                },
            )

        if (
            "kubelet-finalize" not in skip
            and not {
                "kubelet-finalize/enable-client-cert-rotation",
                "kubelet-finalize/experimental-cert-rotation",
            }
            & skip
        ):
            out(
                f'[kubelet-finalize] Updating "{KUBERNETES_DIR}/kubelet.conf" to point to a '
                "rotatable kubelet client certificate and key"
            )
            point_kubelet_conf_to_pem(root, cfg.cluster_name)

        if "addon" not in skip:
            err(
                "[addons] stand-in: CoreDNS and kube-proxy are not deployed (no container runs "
                "in the stand-in cluster)"
            )
    except ApiError as exc:
        raise PhaseError(
            "wait-control-plane",
            f"stand-in: the API endpoint stand-in refused a request: {exc.message}",
        ) from None
    except ConnectError as exc:
        raise PhaseError("wait-control-plane", exc.go_error()) from None
    finally:
        admin.close()

    if "show-join-command" in skip:
        return 0
    conf = yaml_load(root.path(f"{KUBERNETES_DIR}/admin.conf").read_text())
    token = "<value withheld>" if p.get("skip-token-print") else cfg.tokens[0].token
    out("")
    out("Your Kubernetes control-plane has initialized successfully!")
    out("")
    out("To start using your cluster, you need to run the following as a regular user:")
    out("")
    out("  mkdir -p $HOME/.kube")
    out(f"  sudo cp -i {KUBERNETES_DIR}/admin.conf $HOME/.kube/config")
    out("  sudo chown $(id -u):$(id -g) $HOME/.kube/config")
    out("")
    out("Alternatively, if you are the root user, you can run:")
    out("")
    out(f"  export KUBECONFIG={KUBERNETES_DIR}/admin.conf")
    out("")
    out("You should now deploy a pod network to the cluster.")
    out('Run "kubectl apply -f [podnetwork].yaml" with one of the options listed at:')
    out("  https://kubernetes.io/docs/concepts/cluster-administration/addons/")
    out("")
    if cfg.control_plane_endpoint:
        key = (
            ("<value withheld>" if p.get("skip-certificate-key-print") else cert_key)
            if cert_key
            else ""
        )
        out(
            "You can now join any number of control-plane nodes running the following "
            "command on each as root:"
        )
        out("")
        out("  " + join_command(conf, token, key))
        out("")
        if cert_key:
            out(
                "Please note that the certificate-key gives access to cluster sensitive "
                "data, keep it secret!"
            )
            out(
                "As a safeguard, uploaded-certs will be deleted in two hours; If necessary, "
                "you can use"
            )
            out('"kubeadm init phase upload-certs --upload-certs" to reload certs afterward.')
        else:
            out(
                "You can now join any number of control-plane nodes by copying certificate "
                "authorities"
            )
            out("and service account keys on each node and then running the following as root:")
        out("")
    out("Then you can join any number of worker nodes by running the following on each as root:")
    out("")
    out(join_command(conf, token))
    return 0


def _mem_mb() -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def upload_certs(root: Root, admin: Client, cfg: InitConfig, key_hex: str) -> None:
    """Secret kube-system/kubeadm-certs: the shared certificates encrypted (AES-GCM) with the
    certificate key, as kubeadm's copycerts does."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    aes = AESGCM(bytes.fromhex(key_hex))
    data = {}
    base = root.path(cfg.certificates_dir)
    for rel in (
        "ca.crt",
        "ca.key",
        "sa.key",
        "sa.pub",
        "front-proxy-ca.crt",
        "front-proxy-ca.key",
        "etcd/ca.crt",
        "etcd/ca.key",
    ):
        path = base / rel
        if path.is_file():
            nonce = os.urandom(12)
            sealed = nonce + aes.encrypt(nonce, path.read_bytes(), None)
            data[rel.replace("/", "-")] = base64.b64encode(sealed).decode()
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "kubeadm-certs", "namespace": "kube-system"},
        "type": "Opaque",
        "data": data,
    }
    try:
        admin.call("POST", "/api/v1/namespaces/kube-system/secrets", secret)
    except ApiError as exc:
        if exc.code != 409:
            raise
        admin.call("PUT", "/api/v1/namespaces/kube-system/secrets/kubeadm-certs", secret)


def point_kubelet_conf_to_pem(root: Root, cluster_name: str) -> None:
    path = root.path(f"{KUBERNETES_DIR}/kubelet.conf")
    conf = yaml_load(path.read_text())
    user = (conf.get("users") or [{}])[0]
    creds = user.get("user") or {}
    cert = base64.b64decode(creds.get("client-certificate-data", ""))
    key = base64.b64decode(creds.get("client-key-data", ""))
    if not cert or not key:
        return
    pem = kubelet_client_pem(root, cert, key)
    user["user"] = {"client-certificate": pem, "client-key": pem}
    conf["users"] = [{"name": "default-auth", "user": user["user"]}]
    conf["contexts"] = [
        {
            "context": {"cluster": cluster_name, "user": "default-auth"},
            "name": "default-auth@" + cluster_name,
        }
    ]
    conf["current-context"] = "default-auth@" + cluster_name
    atomic_write(path, kubeconfig.dump(conf), 0o600)


# --------------------------------------------------------------------------------------------
# kubeadm join


JOIN_FLAGS = {
    "config": FlagSpec(),
    "token": FlagSpec(),
    "discovery-token": FlagSpec(),
    "discovery-token-ca-cert-hash": FlagSpec("csv"),
    "discovery-token-unsafe-skip-ca-verification": FlagSpec("bool"),
    "discovery-file": FlagSpec(),
    "tls-bootstrap-token": FlagSpec(),
    "node-name": FlagSpec(),
    "cri-socket": FlagSpec(),
    "ignore-preflight-errors": FlagSpec("csv"),
    "skip-phases": FlagSpec("csv"),
    "control-plane": FlagSpec("bool"),
    "certificate-key": FlagSpec(),
    "apiserver-advertise-address": FlagSpec(),
    "apiserver-bind-port": FlagSpec("int"),
    "patches": FlagSpec(),
    "dry-run": FlagSpec("bool"),
    "rootfs": FlagSpec(),
    "v": FlagSpec("int", "v"),
}


def cmd_join(root: Root, argv: list[str]) -> int:
    p = parse(argv, JOIN_FLAGS)
    mixed_args(p.changed)
    if p.get("dry-run"):
        raise ConfigError("stand-in does not implement `kubeadm join --dry-run`")
    cfg = (
        load_join(root, p.get("config"))
        if p.get("config")
        else join_from_flags(root, p.values, p.args)
    )
    if p.get("node-name"):
        cfg.node_name = p.get("node-name")
    if cfg.control_plane:
        raise ConfigError(
            "stand-in does not implement `kubeadm join --control-plane` (one master only)"
        )
    skip = set(list(p.get("skip-phases")) + cfg.skip_phases)
    for phase in skip:
        if phase not in JOIN_PHASES:
            raise ConfigError(f"invalid phase name: {phase}")
    err(NOTE)
    if "preflight" not in skip:
        out("[preflight] Running pre-flight checks")
        pf = Preflight(list(p.get("ignore-preflight-errors")) + cfg.ignore_preflight)
        common_checks(pf, root)
        dir_available(pf, root, MANIFESTS)
        file_available(pf, root, f"{KUBERNETES_DIR}/kubelet.conf")
        file_available(pf, root, f"{KUBERNETES_DIR}/bootstrap-kubelet.conf")
        file_available(pf, root, cfg.ca_cert_path)
        cri_check(pf, root, cfg.cri_socket)
        if root.is_real:
            port_check(pf, 10250)
        pf.finish()
    info = discover(cfg)
    server, ca_pem = info
    tls = Client(
        Credentials(
            server,
            ca_pem,
            False,
            None,
            None,
            cfg.tls_bootstrap_token,
            "default",
            "tls-bootstrap-token-user",
            "discovery",
        ),
        timeout=10,
        user_agent="kubeadm-stand-in",
    )
    try:
        out(
            '[preflight] Reading configuration from the "kubeadm-config" ConfigMap in '
            'namespace "kube-system"...'
        )
        out(
            "[preflight] Use 'kubeadm init phase upload-config --config your-config.yaml' to "
            "re-upload it."
        )
        try:
            tls.get("/api/v1/namespaces/kube-system/configmaps/kubeadm-config")
            kubelet_cm = tls.get("/api/v1/namespaces/kube-system/configmaps/kubelet-config")
        except ApiError as exc:
            raise PhaseError(
                "preflight",
                "unable to fetch the kubeadm-config ConfigMap: failed to get config map: "
                f"{exc.message}",
            ) from None
        except ConnectError as exc:
            raise PhaseError(
                "preflight",
                "unable to fetch the kubeadm-config ConfigMap: failed to get config map: "
                f"{exc.go_error()}",
            ) from None
        kcfg = yaml_load(
            ((kubelet_cm.get("data") or {}).get("kubelet")) or ""
        ) or default_kubelet_config("10.96.0.0/12", "cluster.local")
        kcfg = apply_kubelet_patches(root, cfg.patches_dir, kcfg, out)
        if "kubelet-start" in skip:
            return 0
        write_kubelet_files(
            root, kcfg, flags_env(cfg.cri_socket, cfg.node_name, cfg.kubelet_extra_args, cfg.taints)
        )
        try:
            existing = tls.get(f"/api/v1/nodes/{cfg.node_name}")
        except ApiError as exc:
            if exc.code != 404:
                raise PhaseError(
                    "kubelet-start", f"cannot get Node {cfg.node_name!r}: {exc.message}"
                ) from None
            existing = None
        if existing:
            ready = next(
                (
                    c
                    for c in (existing.get("status") or {}).get("conditions") or []
                    if c.get("type") == "Ready"
                ),
                {},
            )
            if ready.get("status") == "True":
                raise PhaseError(
                    "kubelet-start",
                    f'a Node with name "{cfg.node_name}" and status "Ready" already exists '
                    "in the cluster. "
                    "You must delete the existing Node or change the name of this new joining Node",
                )
        atomic_write(root.path(cfg.ca_cert_path), ca_pem)
        boot = kubeconfig.build(
            server, ca_pem, "tls-bootstrap-token-user", "kubernetes", token=cfg.tls_bootstrap_token
        )
        atomic_write(
            root.path(f"{KUBERNETES_DIR}/bootstrap-kubelet.conf"), kubeconfig.dump(boot), 0o600
        )
        started = restart_kubelet(root, "kubelet-start")
        if not root.uses_systemd():
            out("[kubelet-start] Waiting for the kubelet to perform the TLS Bootstrap")
            try:
                tls_bootstrap(root, cfg.node_name, server, ca_pem, cfg.tls_bootstrap_token)
            except BootstrapError as exc:
                raise PhaseError(
                    "kubelet-start",
                    f"error waiting for the kubelet to perform the TLS Bootstrap: stand-in: {exc}",
                ) from None
            _register_as_kubelet(root, cfg, cfg.taints)
        else:
            wait_kubelet(root, kcfg, cfg.timeouts["kubeletHealthCheck"], started, "kubelet-start")
            out("[kubelet-start] Waiting for the kubelet to perform the TLS Bootstrap")
            deadline = time.time() + cfg.timeouts["tlsBootstrap"]
            while not root.path(f"{KUBERNETES_DIR}/kubelet.conf").is_file():
                if time.time() > deadline:
                    raise PhaseError(
                        "kubelet-start",
                        "error waiting for the kubelet to perform the TLS Bootstrap: timed "
                        "out waiting for the condition",
                    )
                time.sleep(0.5)
    except ConnectError as exc:
        raise PhaseError("kubelet-start", exc.go_error()) from None
    finally:
        tls.close()
    out("")
    out("This node has joined the cluster:")
    out("* Certificate signing request was sent to apiserver and a response was received.")
    out("* The Kubelet was informed of the new secure connection details.")
    out("")
    out("Run 'kubectl get nodes' on the control-plane to see this node join the cluster.")
    out("")
    return 0


def discover(cfg: JoinConfig) -> tuple[str, bytes]:
    """Token discovery: fetch kube-public/cluster-info without trusting the server, check the
    JWS signature made with the token, pin the CA's public key, fetch it again over verified
    TLS. Returns the cluster's server URL and CA."""
    endpoint = cfg.endpoint
    token_id, token_secret = bootstrap.split(cfg.token) or ("", "")
    timeout = cfg.timeouts["discovery"]
    interval = min(5.0, timeout)
    path = "/api/v1/namespaces/kube-public/configmaps/cluster-info"

    def fetch(ca: bytes | None) -> dict[str, Any]:
        creds = Credentials(
            f"https://{endpoint}",
            ca,
            ca is None,
            None,
            None,
            None,
            "default",
            "token-bootstrap-client",
            "discovery",
        )
        deadline = time.time() + timeout
        last = ""
        while True:
            client = Client(creds, timeout=10, user_agent="kubeadm-stand-in")
            try:
                cm = client.get(path, query={"timeout": "10s"})
                if bootstrap.JWS_PREFIX + token_id in (cm.get("data") or {}):
                    return cm
                last = (
                    "could not find a JWS signature in the cluster-info ConfigMap for token ID "
                    f'"{token_id}"'
                )
            except ConnectError as exc:
                last = "failed to request the cluster-info ConfigMap: " + exc.go_error().replace(
                    f'Get "{client.url(path)}"', f'Get "{client.url(path)}?timeout=10s"'
                )
            except ApiError as exc:
                last = f"failed to request the cluster-info ConfigMap: {exc.message}"
            finally:
                client.close()
            remaining = deadline - time.time()
            if remaining <= 0:
                raise PhaseError(
                    "preflight", f"couldn't validate the identity of the API Server: {last}"
                )
            time.sleep(min(interval, remaining))

    insecure = fetch(None)
    payload = (insecure.get("data") or {}).get("kubeconfig", "")
    if not payload:
        raise PhaseError(
            "preflight",
            "couldn't validate the identity of the API Server: there is no kubeconfig key in "
            "the cluster-info ConfigMap. This API Server isn't set up for token "
            "bootstrapping, can't connect",
        )
    if not bootstrap.jws_valid(
        insecure["data"][bootstrap.JWS_PREFIX + token_id], payload, token_id, token_secret
    ):
        raise PhaseError(
            "preflight",
            "couldn't validate the identity of the API Server: failed to verify JWS "
            "signature of received cluster info object, can't trust this API Server",
        )
    conf = yaml_load(payload) or {}
    cluster = ((conf.get("clusters") or [{}])[0]).get("cluster") or {}
    ca_pem = base64.b64decode(cluster.get("certificate-authority-data", ""))
    server = str(cluster.get("server", f"https://{endpoint}"))
    if cfg.unsafe_skip and not cfg.ca_hashes:
        return server, ca_pem
    pins = []
    prefix = (
        "couldn't validate the identity of the API Server: invalid discovery token CA "
        "certificate hash"
    )
    for h in cfg.ca_hashes:
        fmt, sep, value = h.partition(":")
        if not sep or ":" in value:
            raise PhaseError(
                "preflight",
                f'{prefix}: invalid hash, expected "format:hex-value". Known format(s) are: sha256',
            )
        if fmt.lower() != "sha256":
            raise PhaseError(
                "preflight", f'{prefix}: unknown hash format "{fmt}". Known format(s) are: sha256'
            )
        if len(value) != 64 or any(c not in "0123456789abcdefABCDEF" for c in value):
            raise PhaseError(
                "preflight",
                f'{prefix}: invalid hash "{h}", expected a 32 byte SHA-256 hash, found '
                f"{len(value) // 2} bytes",
            )
        pins.append(value.lower())
    actual = pki.spki_sha256(pki.load_cert(ca_pem))
    if actual.split(":", 1)[1] not in pins:
        raise PhaseError(
            "preflight",
            "couldn't validate the identity of the API Server: cluster CA found in "
            f'cluster-info ConfigMap is invalid: none of the public keys "{actual}" are '
            "pinned",
        )
    secure = fetch(ca_pem)
    if (secure.get("data") or {}).get("kubeconfig") != payload:
        raise PhaseError(
            "preflight",
            "couldn't validate the identity of the API Server: the second kubeconfig from "
            "the cluster-info ConfigMap (using validated TLS) was different from the first",
        )
    return server, ca_pem


# --------------------------------------------------------------------------------------------
# kubeadm reset


RESET_FLAGS = {
    "force": FlagSpec("bool", "f"),
    "cri-socket": FlagSpec(),
    "kubeconfig": FlagSpec(default=f"{KUBERNETES_DIR}/admin.conf"),
    "cleanup-tmp-dir": FlagSpec("bool"),
    "cert-dir": FlagSpec(),
    "ignore-preflight-errors": FlagSpec("csv"),
    "skip-phases": FlagSpec("csv"),
    "dry-run": FlagSpec("bool"),
    "config": FlagSpec(),
    "rootfs": FlagSpec(),
    "v": FlagSpec("int", "v"),
}


def cmd_reset(root: Root, argv: list[str]) -> int:
    p = parse(argv, RESET_FLAGS)
    if p.get("dry-run"):
        raise ConfigError("stand-in does not implement `kubeadm reset --dry-run`")
    if p.get("config") and not root.path(p.get("config")).is_file():
        raise ConfigError(
            f'unable to read config from "{p.get("config")}" : open {p.get("config")}: no '
            "such file or directory"
        )
    skip = set(p.get("skip-phases"))
    for phase in skip:
        if phase not in RESET_PHASES:
            raise ConfigError(f"invalid phase name: {phase}")
    err(NOTE)
    manifests = root.path(MANIFESTS)
    api_manifest = manifests / "kube-apiserver.yaml"
    is_master = api_manifest.is_file()
    if root.path(f"{KUBERNETES_DIR}/admin.conf").is_file():
        out(
            '[reset] Reading configuration from the "kubeadm-config" ConfigMap in namespace '
            '"kube-system"...'
        )
        out(
            "[reset] Use 'kubeadm init phase upload-config --config your-config.yaml' to "
            "re-upload it."
        )
    if not p.get("force"):
        err(
            "W"
            + time.strftime("%m%d %H:%M:%S")
            + " [reset] WARNING: Changes made to this host by 'kubeadm init' or 'kubeadm join' "
            "will be reverted."
        )
        sys.stderr.write("[reset] Are you sure you want to proceed? [y/N]: ")
        sys.stderr.flush()
        answer = sys.stdin.readline().strip().lower()
        if answer not in ("y", "yes"):
            raise ConfigError("won't proceed; the user didn't answer (Y|y) in order to continue")
    if "preflight" not in skip:
        out("[preflight] Running pre-flight checks")
    etcd_dir = "/var/lib/etcd"
    cert_dir = p.get("cert-dir") or "/etc/kubernetes/pki"
    with contextlib.suppress(OSError, ValueError):
        from k8s_stand_in.apiserver import flags_of

        etcd_flags = (
            flags_of(manifests / "etcd.yaml") if (manifests / "etcd.yaml").is_file() else {}
        )
        etcd_dir = etcd_flags.get("data-dir", etcd_dir)
        if is_master and not p.get("cert-dir"):
            cert_dir = str(
                Path(
                    flags_of(api_manifest).get("client-ca-file", "/etc/kubernetes/pki/ca.crt")
                ).parent
            )
    if "cleanup-node" not in skip:
        if is_master or root.path(APISERVER_PID).is_file():
            stop_apiserver(root)
            err("[reset] stand-in: stopped the API endpoint stand-in")
        if root.path(etcd_dir).is_dir() and "remove-etcd-member" not in skip:
            _clear(root.path(etcd_dir))
            out(f"[reset] Deleted contents of the etcd data directory: {etcd_dir}")
        out("[reset] Stopping the kubelet service")
        if root.uses_systemd():
            systemctl("stop", "kubelet")
        out(f'[reset] Unmounting mounted directories in "{KUBELET_DIR}"')
        dirs = [MANIFESTS, KUBELET_DIR, cert_dir]
        for d in dirs:
            _clear(root.path(d))
        out(f"[reset] Deleting contents of directories: [{' '.join(dirs)}]")
        files = [
            f"{KUBERNETES_DIR}/{n}"
            for n in (
                "admin.conf",
                "super-admin.conf",
                "kubelet.conf",
                "bootstrap-kubelet.conf",
                "controller-manager.conf",
                "scheduler.conf",
            )
        ]
        for f in files:
            root.path(f).unlink(missing_ok=True)
        out(f"[reset] Deleting files: [{' '.join(files)}]")
        if p.get("cleanup-tmp-dir"):
            _clear(root.path(f"{KUBERNETES_DIR}/tmp"))
    out("")
    out(
        "The reset process does not clean CNI configuration. To do so, you must remove "
        "/etc/cni/net.d"
    )
    out("")
    out("The reset process does not reset or clean up iptables rules or IPVS tables.")
    out('If you wish to reset iptables, you must do so manually by using the "iptables" command.')
    out("")
    out("If your cluster was setup to utilize IPVS, run ipvsadm --clear (or similar)")
    out("to reset your system's IPVS tables.")
    out("")
    out("The reset process does not clean your kubeconfig files and you must remove them manually.")
    out("Please, check the contents of the $HOME/.kube/config file.")
    return 0


def _clear(directory: Path) -> None:
    if not directory.is_dir():
        return
    for child in directory.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)


# --------------------------------------------------------------------------------------------
# kubeadm token


TOKEN_FLAGS = {
    "kubeconfig": FlagSpec(default=f"{KUBERNETES_DIR}/admin.conf"),
    "ttl": FlagSpec(default="24h0m0s"),
    "usages": FlagSpec("csv"),
    "groups": FlagSpec("csv"),
    "description": FlagSpec(),
    "print-join-command": FlagSpec("bool"),
    "certificate-key": FlagSpec(),
    "config": FlagSpec(),
    "output": FlagSpec("str", "o", default="text"),
    "dry-run": FlagSpec("bool"),
    "allow-missing-template-keys": FlagSpec("bool"),
    "show-managed-fields": FlagSpec("bool"),
    "v": FlagSpec("int", "v"),
}


def cmd_token(root: Root, argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        out(
            "Usage:\n  kubeadm token [command]\n\nAvailable Commands:\n  create, delete, "
            "generate, list\n(" + NOTE + ")"
        )
        return 0
    sub, rest = argv[0], argv[1:]
    p = parse(rest, TOKEN_FLAGS)
    if sub == "generate":
        out(bootstrap.generate())
        return 0
    if sub not in ("create", "list", "delete"):
        raise ConfigError(f"stand-in does not implement 'kubeadm token {sub}'")
    client = admin_client(root, p.get("kubeconfig"))
    try:
        if sub == "create":
            return _token_create(root, client, p)
        if sub == "list":
            return _token_list(client)
        return _token_delete(client, p.args)
    except ConnectError as exc:
        raise ConfigError(exc.go_error()) from None
    finally:
        client.close()


def _token_create(root: Root, client: Client, p: Any) -> int:
    token = p.args[0] if p.args else bootstrap.generate()
    if bootstrap.split(token) is None:
        raise ConfigError(bootstrap.format_error(token))
    usages = list(p.get("usages")) or list(bootstrap.DEFAULT_USAGES)
    for usage in usages:
        if usage not in bootstrap.VALID_USAGES:
            raise ConfigError(
                f"invalid bootstrap token usage string: {usage}, valid usage options: "
                f"{','.join(bootstrap.VALID_USAGES)}"
            )
    groups = list(p.get("groups")) or [bootstrap.DEFAULT_GROUP]
    for group in groups:
        if not group.startswith("system:bootstrappers:"):
            raise ConfigError(
                f'bootstrap group "{group}" is invalid (must match '
                f"^system:bootstrappers:[a-z0-9:-]{{0,255}}[a-z0-9]$)"
            )
    try:
        ttl = parse_duration(p.get("ttl"))
    except ValueError as exc:
        raise ConfigError(f'invalid argument "{p.get("ttl")}" for "--ttl" flag: {exc}') from None
    secret = bootstrap.secret_object(token, ttl or None, usages, groups, p.get("description") or "")
    try:
        client.call("POST", "/api/v1/namespaces/kube-system/secrets", secret)
    except ApiError as exc:
        if exc.code == 409:
            raise ConfigError(f'a token with id "{token.split(".")[0]}" already exists') from None
        raise ConfigError(
            "failed to create or update bootstrap token with name "
            f"{secret['metadata']['name']}: unable to create Secret: {exc.message}"
        ) from None
    if p.get("print-join-command"):
        conf = yaml_load(root.path(p.get("kubeconfig")).read_text())
        key = p.get("certificate-key")
        out(join_command(conf, token, key if key else None, one_line=True))
    else:
        out(token)
    return 0


def _token_list(client: Client) -> int:
    secrets = client.get("/api/v1/namespaces/kube-system/secrets").get("items") or []
    rows = [["TOKEN", "TTL", "EXPIRES", "USAGES", "DESCRIPTION", "EXTRA GROUPS"]]
    for s in secrets:
        if s.get("type") != bootstrap.SECRET_TYPE:
            continue
        f = bootstrap.secret_fields(s)
        ttl, expires = bootstrap.ttl_text(f)
        usages = (
            ",".join(
                u for u in ("authentication", "signing") if f.get(f"usage-bootstrap-{u}") == "true"
            )
            or "<none>"
        )
        rows.append(
            [
                f"{f.get('token-id')}.{f.get('token-secret')}",
                ttl,
                expires,
                usages,
                f.get("description") or "<none>",
                f.get("auth-extra-groups") or "<none>",
            ]
        )
    widths = [max(10, *(len(r[i]) for r in rows)) + 3 for i in range(len(rows[0]))]
    for r in rows:
        out("".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    return 0


def _token_delete(client: Client, args: list[str]) -> int:
    if not args:
        raise ConfigError(
            "missing argument; 'token delete' is missing token of form \"^([a-z0-9]{6})$\" "
            'or "^([a-z0-9]{6})\\.([a-z0-9]{16})$"'
        )
    for arg in args:
        token_id = arg.split(".")[0]
        try:
            client.call(
                "DELETE",
                f"/api/v1/namespaces/kube-system/secrets/{bootstrap.SECRET_PREFIX}{token_id}",
            )
        except ApiError as exc:
            raise ConfigError(
                f'failed to delete bootstrap token "{token_id}": {exc.message}'
            ) from None
        out(f'bootstrap token "{token_id}" deleted')
    return 0


# --------------------------------------------------------------------------------------------
# kubeadm version and dispatch


def cmd_version(root: Root, argv: list[str]) -> int:
    p = parse(argv, {"output": FlagSpec("str", "o", default=""), "v": FlagSpec("int", "v")})
    info = version.current().info()
    fmt = p.get("output")
    if fmt == "short":
        out(info["gitVersion"])
    elif fmt == "json":
        out(json.dumps({"clientVersion": info}, indent=2))
    elif fmt == "yaml":
        out(yaml_dump({"clientVersion": info}).rstrip())
    elif fmt == "":
        fields = ", ".join(f'{k[0].upper() + k[1:]}:"{v}"' for k, v in info.items())
        out(f"kubeadm version: &version.Info{{{fields}}}")
    else:
        raise ConfigError(f"invalid output format: {fmt}")
    err(NOTE)
    return 0


def cmd_upgrade(root: Root, argv: list[str]) -> int:
    from k8s_stand_in import upgrade  # plan, apply, node (k8s_stand_in/upgrade.py)

    return upgrade.cmd_upgrade(root, argv)


COMMANDS = {
    "init": cmd_init,
    "join": cmd_join,
    "reset": cmd_reset,
    "token": cmd_token,
    "upgrade": cmd_upgrade,
    "version": cmd_version,
}
REAL_COMMANDS = ("alpha", "certs", "completion", "config", "help", "kubeconfig")


def usage() -> str:
    return (
        "Usage:\n  kubeadm [command]\n\nAvailable Commands (stand-in):\n  init, join, reset, "
        "token, upgrade, version\n\n"
        f"{NOTE}\n"
    )


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    root = Root()
    args = [a for a in argv if not (a.startswith("--v=") or a.startswith("-v="))]
    if not args or args[0] in ("-h", "--help"):
        print(usage(), end="")
        return 0
    command, rest = args[0], args[1:]
    handler = COMMANDS.get(command)
    if handler is None:
        err(
            f"error: stand-in does not implement 'kubeadm {command}'"
            if command in REAL_COMMANDS or not command.startswith("-")
            else f"unknown flag: {command}"
        )
        err(NOTE)
        return 1
    if "-h" in rest or "--help" in rest:
        print(f"Usage:\n  kubeadm {command} [flags]\n\n{NOTE}")
        return 0
    try:
        return handler(root, rest)
    except UsageError as exc:
        err(f"{exc}{stack_hint()}")
        return 1
    except ConfigError as exc:
        err(f"{exc.message}{stack_hint()}")
        return exc.code
    except PhaseError as exc:
        err(f"error execution phase {exc.phase}: {exc.message}{stack_hint()}")
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a bug of the stand-in: say so, with the trace
        import traceback

        err(f"kubeadm stand-in internal error: {exc!r}\n{traceback.format_exc()}")
        return 1
