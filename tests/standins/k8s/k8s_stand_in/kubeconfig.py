"""kubeconfig files: written as kubeadm writes them, read as client-go reads them
(--kubeconfig, else $KUBECONFIG, a list merged first-wins, else ~/.kube/config)."""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from k8s_stand_in.util import Root, yaml_dump, yaml_load


class KubeconfigError(Exception):
    pass


def build(
    server: str,
    ca_pem: bytes,
    user: str,
    cluster: str = "kubernetes",
    cert_pem: bytes | None = None,
    key_pem: bytes | None = None,
    cert_file: str | None = None,
    key_file: str | None = None,
    token: str | None = None,
) -> dict[str, Any]:
    creds: dict[str, Any] = {}
    if cert_pem is not None:
        creds["client-certificate-data"] = base64.b64encode(cert_pem).decode()
    if key_pem is not None:
        creds["client-key-data"] = base64.b64encode(key_pem).decode()
    if cert_file:
        creds["client-certificate"] = cert_file
    if key_file:
        creds["client-key"] = key_file
    if token:
        creds["token"] = token
    context = f"{user}@{cluster}"
    return {
        "apiVersion": "v1",
        "clusters": [
            {
                "cluster": {
                    "certificate-authority-data": base64.b64encode(ca_pem).decode(),
                    "server": server,
                },
                "name": cluster,
            }
        ],
        "contexts": [{"context": {"cluster": cluster, "user": user}, "name": context}],
        "current-context": context,
        "kind": "Config",
        "preferences": {},
        "users": [{"name": user, "user": creds}],
    }


def cluster_info_kubeconfig(server: str, ca_pem: bytes) -> str:
    """The kubeconfig in kube-public/cluster-info: one unnamed cluster, nothing else."""
    data = {
        "apiVersion": "v1",
        "clusters": [
            {
                "cluster": {
                    "certificate-authority-data": base64.b64encode(ca_pem).decode(),
                    "server": server,
                },
                "name": "",
            }
        ],
        "contexts": None,
        "current-context": "",
        "kind": "Config",
        "preferences": {},
        "users": None,
    }
    return yaml_dump(data)


def dump(config: dict[str, Any]) -> str:
    return yaml_dump(config)


@dataclass
class Credentials:
    server: str
    ca_pem: bytes | None
    insecure: bool
    cert_pem: bytes | None
    key_pem: bytes | None
    token: str | None
    namespace: str
    user: str
    source: str  # the file(s) it came from, for messages


def _read(root: Root, path: str) -> dict[str, Any]:
    p = root.path(path)
    try:
        data = yaml_load(p.read_text()) or {}
    except FileNotFoundError:
        raise KubeconfigError(f"stat {path}: no such file or directory") from None
    except OSError as exc:
        raise KubeconfigError(f"open {path}: {exc.strerror}") from None
    except Exception as exc:
        raise KubeconfigError(f'error loading config file "{path}": {exc}') from None
    if not isinstance(data, dict):
        raise KubeconfigError(f'error loading config file "{path}": not a kubeconfig')
    return data


def _named(items: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items or []:
        if isinstance(item, dict) and "name" in item and item["name"] not in out:
            out[item["name"]] = item
    return out


def load(root: Root, explicit: str | None = None) -> tuple[dict[str, Any], list[str]]:
    """The merged kubeconfig and the files read. An explicit file must exist; missing files in
    $KUBECONFIG are skipped, as client-go does."""
    if explicit:
        return _read(root, explicit), [explicit]
    env = os.environ.get("KUBECONFIG")
    if env:
        paths = [p for p in env.split(os.pathsep) if p]
    else:
        paths = [str(Path(os.path.expanduser("~")) / ".kube" / "config")]
    merged: dict[str, Any] = {"clusters": [], "contexts": [], "users": []}
    used = []
    for path in paths:
        if not root.path(path).exists():
            continue
        data = _read(root, path)
        used.append(path)
        if "current-context" not in merged and data.get("current-context"):
            merged["current-context"] = data["current-context"]
        for key in ("clusters", "contexts", "users"):
            known = {item.get("name") for item in merged[key]}
            merged[key] += [
                i for i in data.get(key) or [] if isinstance(i, dict) and i.get("name") not in known
            ]
    return merged, used


def _data_or_file(root: Root, entry: dict[str, Any], data_key: str, file_key: str) -> bytes | None:
    if entry.get(data_key):
        return base64.b64decode(entry[data_key])
    if entry.get(file_key):
        path = root.path(entry[file_key])
        try:
            return path.read_bytes()
        except OSError as exc:
            raise KubeconfigError(
                f"unable to read {file_key} {entry[file_key]}: {exc.strerror}"
            ) from None
    return None


def credentials(
    root: Root, explicit: str | None = None, context: str | None = None, server: str | None = None
) -> Credentials | None:
    """What to talk to and how; None when there is no configuration at all (kubectl then
    falls back to http://localhost:8080, which never answers here)."""
    config, used = load(root, explicit)
    if not used:
        return None
    contexts, clusters, users = (
        _named(config.get("contexts")),
        _named(config.get("clusters")),
        _named(config.get("users")),
    )
    name = context or config.get("current-context") or ""
    if context and context not in contexts:
        raise KubeconfigError(f'context "{context}" does not exist')
    ctx = (contexts.get(name) or {}).get("context") or {}
    cluster = (clusters.get(ctx.get("cluster", "")) or {}).get("cluster")
    if cluster is None and len(clusters) == 1 and not ctx:
        cluster = next(iter(clusters.values())).get("cluster")
    if cluster is None and not server:
        return None
    cluster = cluster or {}
    user = (users.get(ctx.get("user", "")) or {}).get("user") or {}
    return Credentials(
        server=server or str(cluster.get("server", "")),
        ca_pem=_data_or_file(root, cluster, "certificate-authority-data", "certificate-authority"),
        insecure=bool(cluster.get("insecure-skip-tls-verify")),
        cert_pem=_data_or_file(root, user, "client-certificate-data", "client-certificate"),
        key_pem=_data_or_file(root, user, "client-key-data", "client-key"),
        token=user.get("token"),
        namespace=str(ctx.get("namespace") or "default"),
        user=str(ctx.get("user", "")),
        source=",".join(used),
    )
