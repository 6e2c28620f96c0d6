"""A node's identity in the stand-in cluster, shared by kubeadm join and the kubelet stand-in:
the kubelet's TLS bootstrap (a CSR made with the bootstrap token, signed by the cluster CA,
kept as /var/lib/kubelet/pki/kubelet-client-current.pem) and the Node object it registers."""

from __future__ import annotations

import base64
import time
from typing import Any

from k8s_stand_in import kubeconfig
from k8s_stand_in.client import ApiError, Client
from k8s_stand_in.kubeconfig import Credentials
from k8s_stand_in.util import Root, atomic_write

KUBERNETES_DIR = "/etc/kubernetes"
KUBELET_DIR = "/var/lib/kubelet"
KUBELET_CONF = f"{KUBERNETES_DIR}/kubelet.conf"
BOOTSTRAP_CONF = f"{KUBERNETES_DIR}/bootstrap-kubelet.conf"
CLIENT_PEM = f"{KUBELET_DIR}/pki/kubelet-client-current.pem"


class BootstrapError(Exception):
    pass


def kubelet_client_pem(root: Root, cert_pem: bytes, key_pem: bytes) -> str:
    """/var/lib/kubelet/pki/kubelet-client-<time>.pem and the kubelet-client-current.pem link,
    as the kubelet's certificate manager keeps them."""
    pki_dir = root.path(f"{KUBELET_DIR}/pki")
    pki_dir.mkdir(parents=True, exist_ok=True)
    name = time.strftime("kubelet-client-%Y-%m-%d-%H-%M-%S.pem")
    atomic_write(pki_dir / name, cert_pem + key_pem, 0o600)
    current = pki_dir / "kubelet-client-current.pem"
    if current.is_symlink() or current.exists():
        current.unlink()
    current.symlink_to(name)
    return CLIENT_PEM


def tls_bootstrap(root: Root, node_name: str, server: str, ca_pem: bytes, token: str) -> None:
    """What the kubelet does with bootstrap-kubelet.conf: a CSR for system:node:<name> in
    system:nodes, approved and signed by the cluster; kubelet.conf then points at the
    certificate, and bootstrap-kubelet.conf is removed."""
    from k8s_stand_in import pki  # cryptography is slow to import; only this path needs it

    key = pki.new_key("ECDSA-P256")
    csr = pki.make_csr(key, f"system:node:{node_name}", ["system:nodes"])
    creds = Credentials(
        server, ca_pem, False, None, None, token, "default", "kubelet-bootstrap", BOOTSTRAP_CONF
    )
    client = Client(creds, timeout=15, user_agent="kubelet-stand-in")
    body = {
        "apiVersion": "certificates.k8s.io/v1",
        "kind": "CertificateSigningRequest",
        "metadata": {"generateName": "csr-"},
        "spec": {
            "request": base64.b64encode(csr).decode(),
            "signerName": "kubernetes.io/kube-apiserver-client-kubelet",
            "usages": ["digital signature", "client auth"],
        },
    }
    try:
        created = client.call(
            "POST", "/apis/certificates.k8s.io/v1/certificatesigningrequests", body
        )
    except ApiError as exc:
        raise BootstrapError(
            f"the certificate signing request was refused: {exc.message}"
        ) from None
    finally:
        client.close()
    cert_b64 = (created.get("status") or {}).get("certificate")
    if not cert_b64:
        raise BootstrapError("the certificate signing request was not approved")
    pem = kubelet_client_pem(root, base64.b64decode(cert_b64), pki.key_pem(key))
    conf = kubeconfig.build(
        server, ca_pem, "default-auth", "default-cluster", cert_file=pem, key_file=pem
    )
    conf["contexts"] = [
        {
            "context": {
                "cluster": "default-cluster",
                "namespace": "default",
                "user": "default-auth",
            },
            "name": "default-context",
        }
    ]
    conf["current-context"] = "default-context"
    atomic_write(root.path(KUBELET_CONF), kubeconfig.dump(conf), 0o600)
    root.path(BOOTSTRAP_CONF).unlink(missing_ok=True)


def node_object(name: str, labels: dict[str, str], taints: list[dict[str, Any]]) -> dict[str, Any]:
    """A Node as a kubelet registers it."""
    base_labels = {
        "beta.kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
    }
    node: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {**base_labels, **labels},
            "annotations": {
                "node.alpha.kubernetes.io/ttl": "0",
                "volumes.kubernetes.io/controller-managed-attach-detach": "true",
            },
        },
        "spec": {},
    }
    if taints:
        node["spec"]["taints"] = [
            {k: v for k, v in t.items() if k in ("key", "value", "effect")} for t in taints
        ]
    return node


def parse_labels(text: str) -> dict[str, str]:
    labels = {}
    for pair in text.split(","):
        k, _, v = pair.partition("=")
        if k.strip():
            labels[k.strip()] = v.strip()
    return labels


def parse_taints(text: str) -> list[dict[str, str]]:
    """--register-with-taints: key=value:Effect,key:Effect."""
    taints = []
    for item in filter(None, (t.strip() for t in text.split(","))):
        spec, _, effect = item.rpartition(":")
        key, _, value = spec.partition("=")
        taint = {"key": key, "effect": effect}
        if value:
            taint["value"] = value
        taints.append(taint)
    return taints


def node_labels(extra: list[tuple[str, str]]) -> dict[str, str]:
    labels: dict[str, str] = {}
    for key, value in extra:
        if key == "node-labels":
            labels |= parse_labels(value)
    return labels


def register_node(
    client: Client, name: str, labels: dict[str, str], taints: list[dict[str, Any]]
) -> bool:
    """Create the Node; False when it existed already."""
    try:
        client.call("POST", "/api/v1/nodes", node_object(name, labels, taints))
        return True
    except ApiError as exc:
        if exc.code != 409:
            raise
        return False
