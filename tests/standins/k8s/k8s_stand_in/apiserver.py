"""kube-apiserver-stand-in: the master's HTTPS API endpoint of the stand-in cluster.

It reads its flags from the static Pod manifest kubeadm wrote
(/etc/kubernetes/manifests/kube-apiserver.yaml: --advertise-address, --secure-port,
--bind-address, --tls-cert-file, --tls-private-key-file, --client-ca-file,
--service-cluster-ip-range), serves HTTPS with the apiserver certificate, authenticates clients
by certificates signed by the cluster CA or by bootstrap tokens, and keeps the one state of the
cluster (nodes, tokens, objects) in a JSON file under the etcd data directory. Every response
carries the header X-Stand-In: dlrs-provision.

Not Kubernetes: the controllers are what kubeadm and kubelets need (node CIDRs, CSR signing,
bootstrap token signatures and clean-up, CRD establishment) and, in controllers.py, the ones
that make and place Pods (DaemonSets, the training operator's TFJobs, the scheduler, garbage
collection); no watch, and no container ever runs.
"""

from __future__ import annotations

import base64
import http.server
import ipaddress
import json
import os
import secrets
import signal
import socket
import ssl
import sys
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from k8s_stand_in import (
    STAND_IN_HEADER,
    STAND_IN_HEADER_VALUE,
    bootstrap,
    controllers,
    pki,
    validation,
    version,
)
from k8s_stand_in.registry import BUILTINS, SYSTEM_NAMESPACES, Registry, Resource
from k8s_stand_in.util import (
    DNS1123_LABEL,
    SUBDOMAIN_MSG,
    Root,
    atomic_write,
    is_dns_subdomain,
    json_patch,
    merge_patch,
    parse_rfc3339,
    rfc3339,
    yaml_load,
)

MANIFESTS = "/etc/kubernetes/manifests"
STATE_FILE = "dlrs-stand-in-state.json"
NODE_GRACE_ENV = "K8S_STAND_IN_NODE_GRACE_S"
IDLE_EXIT_ENV = "K8S_STAND_IN_IDLE_EXIT_S"
DEFAULT_NODE_GRACE_S = 40.0  # kube-controller-manager's --node-monitor-grace-period
KUBELET_SIGNER = "kubernetes.io/kube-apiserver-client-kubelet"
ADMIN_GROUPS = {"system:masters", "kubeadm:cluster-admins"}
COMPONENT_USERS = {"system:kube-controller-manager", "system:kube-scheduler"}


def flags_of(manifest: Path) -> dict[str, str]:
    """The --flag=value pairs of the first container's command in a static Pod manifest."""
    pod = yaml_load(manifest.read_text()) or {}
    containers = ((pod.get("spec") or {}).get("containers")) or [{}]
    out: dict[str, str] = {}
    for arg in containers[0].get("command") or []:
        if isinstance(arg, str) and arg.startswith("--"):
            key, _, value = arg[2:].partition("=")
            out[key] = value
    image = str(containers[0].get("image", ""))
    if ":" in image:
        out["_image_tag"] = image.rsplit(":", 1)[1]
    return out


@dataclass
class Config:
    root: Root
    advertise_address: str
    secure_port: int
    bind_address: str
    tls_cert: Path
    tls_key: Path
    client_ca: Path
    signing_cert: Path
    signing_key: Path
    service_cidr: str
    cluster_cidr: str
    node_cidr_mask: int
    state_path: Path
    manifest: Path
    version: str

    @classmethod
    def from_manifests(cls, root: Root, manifest: str | None = None) -> Config:
        api_manifest = root.path(manifest or f"{MANIFESTS}/kube-apiserver.yaml")
        api = flags_of(api_manifest)
        cm_path = api_manifest.parent / "kube-controller-manager.yaml"
        cm = flags_of(cm_path) if cm_path.is_file() else {}
        etcd_path = api_manifest.parent / "etcd.yaml"
        etcd = flags_of(etcd_path) if etcd_path.is_file() else {}
        data_dir = etcd.get("data-dir") or "/var/lib/etcd"
        tag = api.get("_image_tag", "")
        return cls(
            root=root,
            advertise_address=api.get("advertise-address", "127.0.0.1"),
            secure_port=int(api.get("secure-port", "6443")),
            bind_address=api.get("bind-address", "0.0.0.0"),
            tls_cert=root.path(api.get("tls-cert-file", "/etc/kubernetes/pki/apiserver.crt")),
            tls_key=root.path(api.get("tls-private-key-file", "/etc/kubernetes/pki/apiserver.key")),
            client_ca=root.path(api.get("client-ca-file", "/etc/kubernetes/pki/ca.crt")),
            signing_cert=root.path(
                cm.get("cluster-signing-cert-file", "/etc/kubernetes/pki/ca.crt")
            ),
            signing_key=root.path(cm.get("cluster-signing-key-file", "/etc/kubernetes/pki/ca.key")),
            service_cidr=api.get("service-cluster-ip-range", "10.96.0.0/12").split(",")[0],
            cluster_cidr=cm.get("cluster-cidr", "")
            if cm.get("allocate-node-cidrs") == "true"
            else "",
            node_cidr_mask=int(cm.get("node-cidr-mask-size", "24")),
            state_path=root.path(data_dir) / STATE_FILE,
            manifest=api_manifest,
            version=tag.lstrip("v") if version.parse_semver(tag) else version.current().version,
        )


@dataclass
class User:
    name: str
    groups: list[str] = field(default_factory=list)

    @property
    def admin(self) -> bool:
        return bool(ADMIN_GROUPS & set(self.groups)) or self.name in COMPONENT_USERS

    @property
    def node_name(self) -> str | None:
        if "system:nodes" in self.groups and self.name.startswith("system:node:"):
            return self.name[len("system:node:") :]
        return None

    @property
    def bootstrapper(self) -> bool:
        return "system:bootstrappers" in self.groups


# Kinds whose metadata.generation counts spec changes (Node, Namespace, ConfigMap... have none).
GENERATION_GROUPS = {
    "apps",
    "batch",
    "policy",
    "apiextensions.k8s.io",
    "networking.k8s.io",
    "scheduling.k8s.io",
}
ANNOTATIONS_LIMIT = 262144  # bytes of keys and values together (TotalAnnotationSizeLimitB)
ANONYMOUS = User("system:anonymous", ["system:unauthenticated"])
_BUILTIN_KINDS = {(r.group, r.kind) for r in BUILTINS}


def builtin(group: str, kind: str) -> Resource:
    for r in BUILTINS:
        if r.group == group and r.kind == kind:
            return r
    raise KeyError(kind)


class HttpError(Exception):
    def __init__(
        self, code: int, reason: str, message: str, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details


def status_body(
    code: int, reason: str, message: str, details: dict[str, Any] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure" if code >= 400 else "Success",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details:
        body["details"] = details
    return body


def not_found(r: Resource, name: str) -> HttpError:
    return HttpError(
        404,
        "NotFound",
        f'{r.group_resource} "{name}" not found',
        {"name": name, "group": r.group, "kind": r.plural},
    )


# --------------------------------------------------------------------------------------------
# the state


class Store:
    """All objects, keyed group|plural|namespace|name, kept in memory and written to one JSON
    file after every change (atomically)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.RLock()
        self.objects: dict[str, dict[str, Any]] = {}
        self.rv = 0
        self.extra: dict[str, Any] = {}
        if path.is_file():
            data = json.loads(path.read_text())
            self.objects = data.get("objects", {})
            self.rv = int(data.get("resourceVersion", 0))
            self.extra = data.get("extra", {})

    @staticmethod
    def key(r: Resource, namespace: str | None, name: str) -> str:
        return f"{r.group}|{r.plural}|{namespace or ''}|{name}"

    def next_rv(self) -> str:
        self.rv += 1
        return str(self.rv)

    def save(self) -> None:
        data = {
            "standIn": "dlrs-provision kube-apiserver stand-in state (not etcd)",
            "resourceVersion": self.rv,
            "extra": self.extra,
            "objects": self.objects,
        }
        atomic_write(self.path, json.dumps(data), mode=0o600)

    def get(self, r: Resource, namespace: str | None, name: str) -> dict[str, Any] | None:
        return self.objects.get(self.key(r, namespace, name))

    def items(self, r: Resource, namespace: str | None = None) -> list[dict[str, Any]]:
        prefix = f"{r.group}|{r.plural}|"
        out = []
        for key, obj in self.objects.items():
            if not key.startswith(prefix):
                continue
            if namespace is not None and r.namespaced and key.split("|")[2] != namespace:
                continue
            out.append(obj)
        out.sort(
            key=lambda o: ((o.get("metadata") or {}).get("namespace", ""), o["metadata"]["name"])
        )
        return out

    def put(self, r: Resource, obj: dict[str, Any]) -> None:
        meta = obj["metadata"]
        self.objects[self.key(r, meta.get("namespace"), meta["name"])] = obj

    def delete(self, r: Resource, namespace: str | None, name: str) -> dict[str, Any] | None:
        return self.objects.pop(self.key(r, namespace, name), None)

    def delete_where(self, predicate: Any) -> None:
        for key in [k for k in self.objects if predicate(k)]:
            del self.objects[key]


# --------------------------------------------------------------------------------------------
# selectors


def parse_selector(text: str) -> list[tuple[str, str, str]]:
    """Equality-based label selectors: a=b, a==b, a!=b, a, !a (sets are not supported)."""
    reqs = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        if "!=" in part:
            k, v = part.split("!=", 1)
            reqs.append((k.strip(), "!=", v.strip()))
        elif "==" in part:
            k, v = part.split("==", 1)
            reqs.append((k.strip(), "=", v.strip()))
        elif "=" in part:
            k, v = part.split("=", 1)
            reqs.append((k.strip(), "=", v.strip()))
        elif part.startswith("!"):
            reqs.append((part[1:].strip(), "!", ""))
        elif " in " in part or " notin " in part:
            raise HttpError(
                400,
                "BadRequest",
                f"unable to parse requirement: set-based selector {part!r} is not supported "
                "by the stand-in",
            )
        else:
            reqs.append((part, "exists", ""))
    return reqs


def matches(values: dict[str, str], reqs: list[tuple[str, str, str]]) -> bool:
    for key, op, value in reqs:
        have = values.get(key)
        if (
            (op == "=" and have != value)
            or (op == "!=" and have == value)
            or (op == "exists" and have is None)
            or (op == "!" and have is not None)
        ):
            return False
    return True


# --------------------------------------------------------------------------------------------
# the application


class Api:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.store = Store(config.state_path)
        self.schemas = validation.SchemaSet(".".join(config.version.split(".")[:2]))
        self.registry = Registry.with_crds(self._crds())
        self.grace_s = float(os.environ.get(NODE_GRACE_ENV) or DEFAULT_NODE_GRACE_S)
        self._last_token_sweep = 0.0
        self.last_request = time.time()
        self._signer: tuple[Any, Any] | None = None
        with self.store.lock:
            self._bootstrap_defaults()

    # -- setup -----------------------------------------------------------------------------------

    def _crds(self) -> list[dict[str, Any]]:
        return self.store.items(builtin("apiextensions.k8s.io", "CustomResourceDefinition"))

    @staticmethod
    def _res(group: str, kind: str) -> Resource:
        return builtin(group, kind)

    def _bootstrap_defaults(self) -> None:
        changed = False
        ns = self._res("", "Namespace")
        for name in SYSTEM_NAMESPACES:
            if self.store.get(ns, None, name) is None:
                self.store.put(
                    ns,
                    self._admit_new(
                        ns, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
                    ),
                )
                changed = True
        svc = self._res("", "Service")
        if self.store.get(svc, "default", "kubernetes") is None:
            first = str(next(ipaddress.ip_network(self.config.service_cidr, strict=False).hosts()))
            obj = {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {
                    "name": "kubernetes",
                    "namespace": "default",
                    "labels": {"component": "apiserver", "provider": "kubernetes"},
                },
                "spec": {
                    "clusterIP": first,
                    "clusterIPs": [first],
                    "ports": [
                        {
                            "name": "https",
                            "port": 443,
                            "protocol": "TCP",
                            "targetPort": self.config.secure_port,
                        }
                    ],
                    "type": "ClusterIP",
                },
            }
            self.store.put(svc, self._admit_new(svc, obj))
            changed = True
        if changed:
            self.store.save()

    def _admit_new(self, r: Resource, obj: dict[str, Any]) -> dict[str, Any]:
        meta = obj.setdefault("metadata", {})
        meta["uid"] = str(uuid.uuid4())
        meta["resourceVersion"] = self.store.next_rv()
        meta["creationTimestamp"] = rfc3339()
        if r.kind == "Namespace":
            meta.setdefault("labels", {})["kubernetes.io/metadata.name"] = meta["name"]
            obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
            obj["status"] = {"phase": "Active"}
        if "spec" in obj and (r.group in GENERATION_GROUPS or self._is_custom(r)):
            meta["generation"] = 1
        return obj

    # -- authentication and authorisation --------------------------------------------------------

    def authenticate(self, headers: dict[str, str], peer: dict[str, Any] | None) -> User:
        auth = headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            token = auth[7:].strip()
            user = self._token_user(token)
            if user is None:
                raise HttpError(401, "Unauthorized", "Unauthorized")
            return user
        if peer:
            cn, orgs = "", []
            for rdn in peer.get("subject", ()):
                for key, value in rdn:
                    if key == "commonName":
                        cn = value
                    elif key == "organizationName":
                        orgs.append(value)
            if cn:
                return User(cn, [*orgs, "system:authenticated"])
        return ANONYMOUS

    def _token_user(self, token: str) -> User | None:
        parts = bootstrap.split(token)
        if parts is None:
            return None
        token_id, token_secret = parts
        with self.store.lock:
            secret = self.store.get(
                self._res("", "Secret"), "kube-system", bootstrap.SECRET_PREFIX + token_id
            )
        if secret is None or secret.get("type") != bootstrap.SECRET_TYPE:
            return None
        fields = bootstrap.secret_fields(secret)
        if fields.get("token-secret") != token_secret or bootstrap.expired(fields):
            return None
        if fields.get("usage-bootstrap-authentication") != "true":
            return None
        groups = ["system:bootstrappers"] + [
            g for g in fields.get("auth-extra-groups", "").split(",") if g
        ]
        return User(f"system:bootstrap:{token_id}", [*groups, "system:authenticated"])

    def authorize(
        self, user: User, verb: str, r: Resource, ns: str | None, name: str, sub: str
    ) -> None:
        if self._allowed(user, verb, r, ns, name, sub):
            return
        scope = f'in the namespace "{ns}"' if r.namespaced and ns else "at the cluster scope"
        resource = f"{r.plural}/{sub}" if sub else r.plural
        subject = f'{r.group_resource} "{name}"' if name else r.group_resource
        raise HttpError(
            403,
            "Forbidden",
            f'{subject} is forbidden: User "{user.name}" cannot {verb} resource "{resource}" '
            f'in API group "{r.group}" {scope}',
            {"name": name, "group": r.group, "kind": r.plural},
        )

    def _allowed(
        self, user: User, verb: str, r: Resource, ns: str | None, name: str, sub: str
    ) -> bool:
        if user.admin:
            return True
        if (
            r.plural == "configmaps"
            and ns == "kube-public"
            and name == "cluster-info"
            and verb == "get"
        ):
            return True
        kubeadm_maps = {"kubeadm-config", "kubelet-config", "kube-proxy"}
        if user.bootstrapper or user.node_name:
            if r.plural == "certificatesigningrequests" and verb in ("create", "get", "list"):
                return True
            if (
                r.plural == "configmaps"
                and ns == "kube-system"
                and name in kubeadm_maps
                and verb == "get"
            ):
                return True
            if r.plural == "nodes" and verb in ("get", "list"):
                return True
        node = user.node_name
        if node:
            if r.plural == "nodes" and verb in ("create", "update", "patch") and name == node:
                return True
            if r.plural == "leases" and ns == "kube-node-lease" and name in ("", node):
                return True
        return False

    # -- HTTP entry point ------------------------------------------------------------------------

    def handle(
        self,
        method: str,
        target: str,
        headers: dict[str, str],
        body: bytes,
        peer: dict[str, Any] | None,
    ) -> tuple[int, dict[str, str], bytes]:
        self.last_request = time.time()
        split = urllib.parse.urlsplit(target)
        path = split.path.rstrip("/") or "/"
        query = {k: v[-1] for k, v in urllib.parse.parse_qs(split.query).items()}
        extra_headers: dict[str, str] = {}
        try:
            if path in ("/healthz", "/livez", "/readyz"):
                return 200, {"Content-Type": "text/plain; charset=utf-8"}, b"ok"
            if path == "/version":
                return self._json(200, version.VersionInfo(self.config.version, "").info())
            user = self.authenticate(headers, peer)
            warnings: list[str] = []
            result = self.route(method, path, query, headers, body, user, warnings)
            if warnings:
                extra_headers["Warning"] = ", ".join(f'299 - "{w}"' for w in warnings)
            code, payload = result
            return self._json(code, payload, extra_headers)
        except HttpError as exc:
            return self._json(exc.code, status_body(exc.code, exc.reason, exc.message, exc.details))
        except Exception as exc:  # keep serving; the error goes to the client and the log
            print(
                f"kube-apiserver-stand-in: internal error on {method} {target}: {exc!r}",
                file=sys.stderr,
            )
            return self._json(
                500, status_body(500, "InternalError", f"stand-in internal error: {exc}")
            )

    @staticmethod
    def _json(
        code: int, payload: Any, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        return (
            code,
            {"Content-Type": "application/json", **(headers or {})},
            json.dumps(payload).encode(),
        )

    def route(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        headers: dict[str, str],
        body: bytes,
        user: User,
        warnings: list[str],
    ) -> tuple[int, Any]:
        parts = [urllib.parse.unquote(p) for p in path.split("/") if p]
        accept = headers.get("accept", "")
        discovery = self._discovery(parts, accept)
        if discovery is not None:
            if user is ANONYMOUS:
                raise HttpError(
                    403, "Forbidden", f'forbidden: User "system:anonymous" cannot get path "{path}"'
                )
            return 200, discovery
        r, ns, name, sub = self._resolve(parts)
        if method == "GET":
            verb = "get" if name else "list"
        else:
            verb = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}.get(
                method, ""
            )
            if not verb:
                raise HttpError(
                    405,
                    "MethodNotAllowed",
                    "the server does not allow this method on the requested resource",
                )
        check_name = name
        parsed: Any = None
        if method in ("POST", "PUT", "PATCH"):
            parsed = self._parse_body(body, headers.get("content-type", ""))
            if verb == "create" and isinstance(parsed, dict):
                check_name = str((parsed.get("metadata") or {}).get("name", ""))
        if sub == "eviction":
            if method != "POST":
                raise HttpError(
                    405,
                    "MethodNotAllowed",
                    "the server does not allow this method on the requested resource",
                )
            self.authorize(user, "create", r, ns, name, sub)
            return self._evict(r, ns, name, parsed)
        self.authorize(user, verb, r, ns, check_name, sub)
        with self.store.lock:
            self._sweep_tokens()
            if verb == "get":
                return 200, self._view(r, self._must_get(r, ns, name))
            if verb == "list":
                return 200, self._list(r, ns, query)
            if verb == "create":
                result = self._create(r, ns, parsed, query, user, warnings)
            elif verb == "update":
                result = self._update(r, ns, name, sub, parsed, query, warnings)
            elif verb == "patch":
                result = self._patch(
                    r, ns, name, sub, parsed, headers.get("content-type", ""), query, user, warnings
                )
            else:
                result = self._delete(r, ns, name)
            if query.get("dryRun") != "All":
                self.reconcile()
            return result

    def reconcile(self) -> None:
        """The controllers that make and place Pods (controllers.py), after every write."""
        with self.store.lock:
            try:
                changed = controllers.Controllers(
                    self.store, self.registry, self._node_view
                ).reconcile()
            except Exception as exc:  # a controller's fault must not fail the client's write
                print(f"kube-apiserver-stand-in: controllers: {exc!r}", file=sys.stderr)
                changed = True
            if changed:
                self.store.save()

    # -- discovery -------------------------------------------------------------------------------

    def _discovery(self, parts: list[str], accept: str) -> Any | None:
        aggregated = "as=APIGroupDiscoveryList" in accept
        if parts == ["api"]:
            if aggregated:
                return self.registry.aggregated(core=True)
            return {
                "kind": "APIVersions",
                "versions": ["v1"],
                "serverAddressByClientCIDRs": [
                    {
                        "clientCIDR": "0.0.0.0/0",
                        "serverAddress": (
                            f"{self.config.advertise_address}:{self.config.secure_port}"
                        ),
                    }
                ],
            }
        if parts == ["apis"]:
            return (
                self.registry.aggregated(core=False) if aggregated else self.registry.group_list()
            )
        if parts == ["api", "v1"]:
            return self.registry.resource_list("", "v1")
        if len(parts) == 2 and parts[0] == "apis":
            for group in self.registry.group_list()["groups"]:
                if group["name"] == parts[1]:
                    return {"kind": "APIGroup", "apiVersion": "v1", **group}
            raise HttpError(404, "NotFound", "the server could not find the requested resource")
        if len(parts) == 3 and parts[0] == "apis":
            listed = self.registry.resource_list(parts[1], parts[2])
            if listed is None:
                raise HttpError(404, "NotFound", "the server could not find the requested resource")
            return listed
        return None

    def _resolve(self, parts: list[str]) -> tuple[Resource, str | None, str, str]:
        if parts[:2] == ["api", "v1"]:
            group, ver, rest = "", "v1", parts[2:]
        elif len(parts) >= 3 and parts[0] == "apis":
            group, ver, rest = parts[1], parts[2], parts[3:]
        else:
            raise HttpError(404, "NotFound", "the server could not find the requested resource")
        ns: str | None = None
        if len(rest) >= 3 and rest[0] == "namespaces":
            candidate = self.registry.by_path(group, ver, rest[2])
            if candidate is not None and candidate.namespaced:
                ns, rest = rest[1], rest[2:]
        if not rest:
            raise HttpError(404, "NotFound", "the server could not find the requested resource")
        r = self.registry.by_path(group, ver, rest[0])
        if r is None:
            raise HttpError(404, "NotFound", "the server could not find the requested resource")
        name = rest[1] if len(rest) > 1 else ""
        sub = rest[2] if len(rest) > 2 else ""
        if sub and not (
            (sub == "status" and r.status) or (sub == "eviction" and r.kind == "Pod" and name)
        ):
            raise HttpError(404, "NotFound", "the server could not find the requested resource")
        if r.namespaced and ns is None and name:
            raise HttpError(404, "NotFound", "the server could not find the requested resource")
        return r, ns, name, sub

    # -- reading ---------------------------------------------------------------------------------

    def _must_get(self, r: Resource, ns: str | None, name: str) -> dict[str, Any]:
        obj = self.store.get(r, ns, name)
        if obj is None:
            raise not_found(r, name)
        return obj

    def _view(self, r: Resource, obj: dict[str, Any], in_list: bool = False) -> dict[str, Any]:
        out = json.loads(json.dumps(obj))
        if r.kind == "Node":
            self._node_view(out)
        if (
            r.kind == "ConfigMap"
            and out["metadata"].get("namespace") == "kube-public"
            and out["metadata"]["name"] == "cluster-info"
        ):
            self._sign_cluster_info(out)
        if in_list and not self._is_custom(r):
            out.pop("apiVersion", None)  # items of a typed list carry no TypeMeta
            out.pop("kind", None)
        else:
            out["apiVersion"], out["kind"] = r.gv, r.kind
        return out

    @staticmethod
    def _is_custom(r: Resource) -> bool:
        return (r.group, r.kind) not in _BUILTIN_KINDS

    def _list(self, r: Resource, ns: str | None, query: dict[str, str]) -> dict[str, Any]:
        reqs = parse_selector(query.get("labelSelector", ""))
        fields = parse_selector(query.get("fieldSelector", ""))
        items = []
        for obj in self.store.items(r, ns):
            meta = obj.get("metadata") or {}
            if not matches(meta.get("labels") or {}, reqs):
                continue
            if not matches(
                {
                    "metadata.name": meta.get("name", ""),
                    "metadata.namespace": meta.get("namespace", ""),
                },
                fields,
            ):
                continue
            items.append(self._view(r, obj, in_list=True))
        return {
            "kind": f"{r.kind}List",
            "apiVersion": r.gv,
            "metadata": {"resourceVersion": str(self.store.rv)},
            "items": items,
        }

    def _node_view(self, node: dict[str, Any]) -> None:
        """The node lifecycle controller's view: a kubelet that stopped posting its status (or
        never did) leaves the node's conditions Unknown."""
        status = node.setdefault("status", {})
        conditions = status.get("conditions") or []
        ready = next((c for c in conditions if c.get("type") == "Ready"), None)
        now = time.time()
        if ready is None:
            reason, message = "NodeStatusNeverUpdated", "Kubelet never posted node status."
            status["conditions"] = [
                {
                    "type": t,
                    "status": "Unknown",
                    "reason": reason,
                    "message": message,
                    "lastHeartbeatTime": node["metadata"].get("creationTimestamp"),
                    "lastTransitionTime": rfc3339(now),
                }
                for t in ("MemoryPressure", "DiskPressure", "PIDPressure", "Ready")
            ]
            return
        try:
            beat = parse_rfc3339(str(ready.get("lastHeartbeatTime")))
        except ValueError:
            beat = 0.0
        if now - beat > self.grace_s:
            for c in conditions:
                c["status"] = "Unknown"
                c["reason"] = "NodeStatusUnknown"
                c["message"] = "Kubelet stopped posting node status."
                c["lastTransitionTime"] = rfc3339(beat + self.grace_s)

    def _sign_cluster_info(self, cm: dict[str, Any]) -> None:
        """The bootstrap signer: a JWS of the kubeconfig for every usable signing token."""
        payload = (cm.get("data") or {}).get("kubeconfig")
        if not payload:
            return
        for secret in self.store.items(self._res("", "Secret"), "kube-system"):
            if secret.get("type") != bootstrap.SECRET_TYPE:
                continue
            fields = bootstrap.secret_fields(secret)
            if fields.get("usage-bootstrap-signing") != "true" or bootstrap.expired(fields):
                continue
            token_id, token_secret = fields.get("token-id", ""), fields.get("token-secret", "")
            if token_id and token_secret:
                cm["data"][bootstrap.JWS_PREFIX + token_id] = bootstrap.jws_detached(
                    payload, token_id, token_secret
                )

    def _sweep_tokens(self) -> None:
        """The token cleaner: expired bootstrap tokens disappear."""
        now = time.time()
        if now - self._last_token_sweep < 2:
            return
        self._last_token_sweep = now
        secret_r = self._res("", "Secret")
        gone = [
            s["metadata"]["name"]
            for s in self.store.items(secret_r, "kube-system")
            if s.get("type") == bootstrap.SECRET_TYPE
            and bootstrap.expired(bootstrap.secret_fields(s), now)
        ]
        for name in gone:
            self.store.delete(secret_r, "kube-system", name)
        if gone:
            self.store.save()

    # -- writing ---------------------------------------------------------------------------------

    @staticmethod
    def _parse_body(body: bytes, content_type: str) -> Any:
        try:
            if "yaml" in content_type:
                return yaml_load(body.decode())
            return json.loads(body or b"null")
        except Exception as exc:
            raise HttpError(
                400, "BadRequest", f"the body of the request was in an unknown format: {exc}"
            ) from None

    def _check_type(self, r: Resource, obj: Any) -> None:
        if not isinstance(obj, dict):
            raise HttpError(
                400,
                "BadRequest",
                "the body of the request was in an unknown format - accepted media types "
                "include: application/json, application/yaml",
            )
        api_version, kind = obj.get("apiVersion"), obj.get("kind")
        if api_version and api_version != r.gv:
            raise HttpError(
                400,
                "BadRequest",
                f"the API version in the data ({api_version}) does not match the expected "
                f"API version ({r.gv})",
            )
        if kind and kind != r.kind:
            raise HttpError(
                400,
                "BadRequest",
                f"the kind in the data ({kind}) does not match the expected kind ({r.kind})",
            )
        obj["apiVersion"], obj["kind"] = r.gv, r.kind

    def _validate(
        self, r: Resource, obj: dict[str, Any], query: dict[str, str], warnings: list[str]
    ) -> dict[str, Any]:
        """Schema validation in the request's fieldValidation mode (Strict, Warn, Ignore;
        Warn when absent). Returns the object, pruned of unknown fields unless Strict."""
        mode = query.get("fieldValidation", "Warn")
        name = str(obj["metadata"].get("name", ""))
        annotations = obj["metadata"].get("annotations") or {}
        if isinstance(annotations, dict):
            size = sum(len(str(k)) + len(str(v)) for k, v in annotations.items())
            if size > ANNOTATIONS_LIMIT:
                raise self._invalid(
                    r,
                    name,
                    [
                        "metadata.annotations: Too long: must have at most "
                        f"{ANNOTATIONS_LIMIT} bytes"
                    ],
                )
        if self._is_custom(r):
            crd = self._crd_for(r)
            problems = validation.validate_custom(crd, r.version, obj) if crd else None
        else:
            problems = validation.validate_builtin(self.schemas, r, obj)
        if problems is None:
            return obj
        cannot = f'{r.kind} in version "{r.version}" cannot be handled as a {r.kind}'
        if problems.type_errors:
            raise HttpError(400, "BadRequest", f"{cannot}: {problems.type_errors[0]}")
        if problems.unknown:
            if mode == "Strict":
                unknown = ", ".join(f'unknown field "{p}"' for p in problems.unknown)
                raise HttpError(400, "BadRequest", f"{cannot}: strict decoding error: {unknown}")
            if mode == "Warn":
                warnings += [f'unknown field "{p}"' for p in problems.unknown]
            obj = validation.prune(obj, problems.unknown)
        if problems.invalid:
            raise self._invalid(r, name, problems.invalid)
        return obj

    def _invalid(self, r: Resource, name: str, errors: list[str]) -> HttpError:
        what = f"{r.kind}.{r.group}" if r.group else r.kind
        text = errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]"
        causes = [
            {"reason": "FieldValueInvalid", "message": e, "field": e.split(":", 1)[0]}
            for e in errors
        ]
        return HttpError(
            422,
            "Invalid",
            f'{what} "{name}" is invalid: {text}',
            {"name": name, "group": r.group, "kind": r.kind, "causes": causes},
        )

    def _crd_for(self, r: Resource) -> dict[str, Any] | None:
        for crd in self._crds():
            spec = crd.get("spec") or {}
            if spec.get("group") == r.group and (spec.get("names") or {}).get("plural") == r.plural:
                return crd
        return None

    def _check_name(self, r: Resource, obj: dict[str, Any]) -> None:
        meta = obj["metadata"]
        name = str(meta.get("name") or "")
        if not name and meta.get("generateName"):
            name = f"{meta['generateName']}{secrets.token_hex(3)[:5]}"
            meta["name"] = name
        if not name:
            raise self._invalid(
                r, "", ["metadata.name: Required value: name or generateName is required"]
            )
        if r.kind == "Namespace" or r.kind == "Service":
            if len(name) > 63 or not DNS1123_LABEL.fullmatch(name):
                raise self._invalid(
                    r,
                    name,
                    [
                        f'metadata.name: Invalid value: "{name}": a lowercase RFC 1123 '
                        "label must consist of lower case alphanumeric characters or '-', "
                        "and must start and end with an alphanumeric character (e.g. "
                        "'my-name',  or '123-abc', regex used for validation is "
                        "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
                    ],
                )
        elif r.kind not in (
            "ClusterRole",
            "ClusterRoleBinding",
            "Role",
            "RoleBinding",
        ) and not is_dns_subdomain(name):
            raise self._invalid(
                r, name, [f'metadata.name: Invalid value: "{name}": {SUBDOMAIN_MSG}']
            )

    def _create(
        self,
        r: Resource,
        ns: str | None,
        obj: Any,
        query: dict[str, str],
        user: User,
        warnings: list[str],
    ) -> tuple[int, Any]:
        self._check_type(r, obj)
        meta = obj.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise HttpError(400, "BadRequest", "metadata must be an object")
        if r.namespaced:
            if meta.get("namespace") and meta["namespace"] != ns:
                raise HttpError(
                    400,
                    "BadRequest",
                    "the namespace of the provided object does not match the namespace sent "
                    "on the request",
                )
            meta["namespace"] = ns
            if self.store.get(self._res("", "Namespace"), None, str(ns)) is None:
                raise HttpError(
                    404,
                    "NotFound",
                    f'namespaces "{ns}" not found',
                    {"name": ns, "kind": "namespaces"},
                )
        else:
            meta.pop("namespace", None)
        self._check_name(r, obj)
        obj = self._validate(r, obj, query, warnings)
        meta = obj["metadata"]
        for key in (
            "uid",
            "resourceVersion",
            "creationTimestamp",
            "generation",
            "managedFields",
            "deletionTimestamp",
        ):
            meta.pop(key, None)
        if self.store.get(r, meta.get("namespace"), meta["name"]) is not None:
            raise HttpError(
                409,
                "AlreadyExists",
                f'{r.group_resource} "{meta["name"]}" already exists',
                {"name": meta["name"], "group": r.group, "kind": r.plural},
            )
        if r.status and r.kind not in ("Node", "CertificateSigningRequest"):
            obj.pop("status", None)
        obj = self._admit(r, obj, None, user)
        obj = self._admit_new(r, obj)
        if query.get("dryRun") == "All":
            return 201, self._view(r, obj)
        self.store.put(r, obj)
        if r.kind == "CustomResourceDefinition":
            self.registry = Registry.with_crds(self._crds())
        self.store.save()
        return 201, self._view(r, obj)

    def _store_update(
        self, r: Resource, old: dict[str, Any], new: dict[str, Any], query: dict[str, str]
    ) -> dict[str, Any]:
        meta = new["metadata"]
        old_meta = old["metadata"]
        for key in ("uid", "creationTimestamp", "namespace", "name"):
            if key in old_meta:
                meta[key] = old_meta[key]
            else:
                meta.pop(key, None)
        meta.pop("managedFields", None)
        unchanged = {k: v for k, v in new.items() if k != "metadata"} == {
            k: v for k, v in old.items() if k != "metadata"
        } and meta == {
            **old_meta,
            "resourceVersion": meta.get("resourceVersion", old_meta.get("resourceVersion")),
        }
        if unchanged:
            return old
        if "generation" in old_meta:
            spec_changed = {k: v for k, v in new.items() if k not in ("metadata", "status")} != {
                k: v for k, v in old.items() if k not in ("metadata", "status")
            }
            meta["generation"] = int(old_meta["generation"]) + (1 if spec_changed else 0)
        meta["resourceVersion"] = self.store.next_rv()
        if query.get("dryRun") == "All":
            return new
        self.store.put(r, new)
        if r.kind == "CustomResourceDefinition":
            self.registry = Registry.with_crds(self._crds())
        self.store.save()
        return new

    def _update(
        self,
        r: Resource,
        ns: str | None,
        name: str,
        sub: str,
        obj: Any,
        query: dict[str, str],
        warnings: list[str],
    ) -> tuple[int, Any]:
        if not name:
            raise HttpError(
                405,
                "MethodNotAllowed",
                "the server does not allow this method on the requested resource",
            )
        self._check_type(r, obj)
        old = self._must_get(r, ns, name)
        meta = obj.setdefault("metadata", {})
        if meta.get("name") and meta["name"] != name:
            raise HttpError(
                400,
                "BadRequest",
                f"the name of the object ({meta['name']}) does not match the name on the URL "
                f"({name})",
            )
        meta["name"] = name
        if r.namespaced:
            meta["namespace"] = ns
        rv = meta.get("resourceVersion")
        if rv and rv != old["metadata"].get("resourceVersion"):
            raise HttpError(
                409,
                "Conflict",
                f'Operation cannot be fulfilled on {r.group_resource} "{name}": the object '
                "has been modified; please apply your changes to the latest version and try "
                "again",
                {"name": name, "group": r.group, "kind": r.plural},
            )
        new = self._merge_subresource(r, old, obj, sub)
        new = self._validate(r, new, query, warnings)
        new = self._admit(r, new, old, None)
        return 200, self._view(r, self._store_update(r, old, new, query))

    @staticmethod
    def _merge_subresource(
        r: Resource, old: dict[str, Any], new: dict[str, Any], sub: str
    ) -> dict[str, Any]:
        if sub == "status":
            merged = json.loads(json.dumps(old))
            merged["status"] = new.get("status", {})
            merged["metadata"]["resourceVersion"] = new["metadata"].get(
                "resourceVersion", old["metadata"].get("resourceVersion")
            )
            return merged
        if r.status and r.kind not in ("CertificateSigningRequest",):
            new = dict(new)
            if "status" in old:
                new["status"] = old["status"]
            else:
                new.pop("status", None)
        return new

    def _patch(
        self,
        r: Resource,
        ns: str | None,
        name: str,
        sub: str,
        patch: Any,
        content_type: str,
        query: dict[str, str],
        user: User,
        warnings: list[str],
    ) -> tuple[int, Any]:
        ctype = content_type.split(";")[0].strip()
        old = self.store.get(r, ns, name)
        if ctype == "application/apply-patch+yaml":
            if not isinstance(patch, dict):
                raise HttpError(400, "BadRequest", "apply patch must be an object")
            if old is None:
                patch.setdefault("metadata", {})["name"] = name
                return self._create(r, ns, patch, query, user, warnings)
            self._check_type(r, patch)
            new = merge_patch(old, patch)
        else:
            if old is None:
                raise not_found(r, name)
            if ctype == "application/json-patch+json":
                try:
                    new = json_patch(old, patch if isinstance(patch, list) else [])
                except (ValueError, KeyError, IndexError, TypeError) as exc:
                    raise HttpError(422, "Invalid", str(exc)) from None
            elif ctype in (
                "application/merge-patch+json",
                "application/strategic-merge-patch+json",
            ):
                if not isinstance(patch, dict):
                    raise HttpError(400, "BadRequest", "the patch must be a JSON object")
                new = merge_patch(old, patch)
            else:
                raise HttpError(
                    415,
                    "UnsupportedMediaType",
                    f"the server does not support the media type {content_type!r} for PATCH",
                )
        new.setdefault("metadata", {})
        new["metadata"]["name"], new["apiVersion"], new["kind"] = name, r.gv, r.kind
        if r.namespaced:
            new["metadata"]["namespace"] = ns
        new["metadata"]["resourceVersion"] = old["metadata"].get("resourceVersion")
        new = self._merge_subresource(r, old, new, sub)
        new = self._validate(r, new, query, warnings)
        new = self._admit(r, new, old, user)
        return 200, self._view(r, self._store_update(r, old, new, query))

    def _evict(
        self, r: Resource, ns: str | None, name: str, body: Any
    ) -> tuple[int, dict[str, Any]]:
        """POST pods/NAME/eviction (policy/v1 Eviction, pkg/registry/core/pod/storage/
        eviction.go): the body must name the pod; with no PodDisruptionBudget in the stand-in
        every eviction is allowed. The pod is deleted at once (no kubelet runs it, so there is
        no graceful termination to wait for), except where a real cluster keeps it: a graceful
        delete (grace period not 0) of a running pod bound to a Node that is not Ready only
        sets deletionTimestamp (now + the grace period) and deletionGracePeriodSeconds, and the
        pod stays until a kubelet confirms (none will: kubectl drain waits for it until its
        --timeout) or its Node is deleted (the pod GC) (pkg/registry/core/pod/strategy.go
        CheckGracefulDelete, staging/src/k8s.io/apiserver/pkg/registry/rest/delete.go
        BeforeDelete)."""
        if not isinstance(body, dict) or body.get("kind") != "Eviction":
            raise HttpError(400, "BadRequest", "the body of the request must be an Eviction")
        if str((body.get("metadata") or {}).get("name", "")) != name:
            raise HttpError(
                400,
                "BadRequest",
                f"name in URL does not match name in Eviction object: {name}",
            )
        with self.store.lock:
            pod = self._must_get(r, ns, name)
            grace = (body.get("deleteOptions") or {}).get("gracePeriodSeconds")
            if self._termination_waits_for_a_kubelet(pod, grace):
                meta = pod["metadata"]
                if not meta.get("deletionTimestamp"):  # a second eviction changes nothing
                    period = int(
                        grace
                        if grace is not None
                        else (pod.get("spec") or {}).get("terminationGracePeriodSeconds", 30)
                    )
                    meta["deletionTimestamp"] = rfc3339(time.time() + period)
                    meta["deletionGracePeriodSeconds"] = period
                    meta["resourceVersion"] = self.store.next_rv()
                    self.store.put(r, pod)
                    self.store.save()
            else:
                self._delete(r, ns, name)
            self.reconcile()
        return 201, {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "code": 201,
        }

    def _termination_waits_for_a_kubelet(self, pod: dict[str, Any], grace: Any) -> bool:
        """A graceful delete that only a kubelet can finish: grace period not 0, the pod
        scheduled and not finished (else CheckGracefulDelete makes the period 0), and its Node
        there but not Ready (a Ready node's kubelet would stop the pod; the stand-in's finishes
        at once)."""
        if grace is not None and int(grace) == 0:
            return False
        node_name = (pod.get("spec") or {}).get("nodeName")
        if not node_name or (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            return False
        node = self.store.get(self._res("", "Node"), None, node_name)
        if node is None:
            return False
        view = json.loads(json.dumps(node))
        self._node_view(view)
        conditions = (view.get("status") or {}).get("conditions") or []
        return not any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)

    def _delete(self, r: Resource, ns: str | None, name: str) -> tuple[int, Any]:
        if not name:
            raise HttpError(
                405, "MethodNotAllowed", "the stand-in does not implement deletecollection"
            )
        obj = self._must_get(r, ns, name)
        if r.kind == "Namespace" and name in SYSTEM_NAMESPACES:
            raise HttpError(
                403,
                "Forbidden",
                f'namespaces "{name}" is forbidden: this namespace may not be deleted',
                {"name": name, "kind": "namespaces"},
            )
        self.store.delete(r, ns, name)
        if r.kind == "Namespace":
            self.store.delete_where(lambda key: key.split("|")[2] == name)
        if r.kind == "CustomResourceDefinition":
            spec = obj.get("spec") or {}
            plural = (spec.get("names") or {}).get("plural")
            self.store.delete_where(lambda key: key.split("|")[:2] == [spec.get("group"), plural])
            self.registry = Registry.with_crds(self._crds())
        self.store.save()
        details = {
            "name": name,
            "group": r.group,
            "kind": r.plural,
            "uid": obj["metadata"].get("uid"),
        }
        return 200, {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "details": details,
        }

    # -- admission: what the controllers of a real cluster would add -----------------------------

    def _admit(
        self, r: Resource, obj: dict[str, Any], old: dict[str, Any] | None, user: User | None
    ) -> dict[str, Any]:
        if r.kind == "CustomResourceDefinition":
            return self._admit_crd(obj, old)
        if r.kind == "Secret" and isinstance(obj.get("stringData"), dict):
            data = obj.setdefault("data", {}) or {}
            for k, v in obj.pop("stringData").items():
                data[k] = base64.b64encode(str(v).encode()).decode()
            obj["data"] = data
        if r.kind == "Node" and old is None and self.config.cluster_cidr:
            spec = obj.setdefault("spec", {})
            if not spec.get("podCIDR"):
                cidr = self._next_pod_cidr()
                if cidr:
                    spec["podCIDR"], spec["podCIDRs"] = cidr, [cidr]
        if r.kind == "Service" and old is None:
            spec = obj.setdefault("spec", {})
            spec.setdefault("type", "ClusterIP")
            if not spec.get("clusterIP"):
                ip = self._next_service_ip()
                spec["clusterIP"], spec["clusterIPs"] = ip, [ip]
        if r.kind == "CertificateSigningRequest" and old is None:
            self._sign_csr(obj, user)
        return obj

    def _admit_crd(self, crd: dict[str, Any], old: dict[str, Any] | None = None) -> dict[str, Any]:
        spec = crd.get("spec") or {}
        names = spec.get("names") or {}
        name = crd["metadata"]["name"]
        errors = []
        if not spec.get("group"):
            errors.append("spec.group: Required value")
        if not names.get("plural"):
            errors.append("spec.names.plural: Required value")
        if not names.get("kind"):
            errors.append("spec.names.kind: Required value")
        if (
            spec.get("group")
            and names.get("plural")
            and name != f"{names['plural']}.{spec['group']}"
        ):
            errors.append(
                f'metadata.name: Invalid value: "{name}": must be spec.names.plural+"."+spec.group'
            )
        versions = spec.get("versions") or []
        if not versions:
            errors.append(
                "spec.versions: Invalid value: null: must have exactly one version marked as "
                "storage version"
            )
        elif sum(1 for v in versions if v.get("storage")) != 1:
            errors.append(
                f"spec.versions: Invalid value: {json.dumps(versions)[:60]}...: must have "
                "exactly one version marked as storage version"
            )
        if spec.get("scope") not in ("Namespaced", "Cluster"):
            errors.append(
                f'spec.scope: Unsupported value: "{spec.get("scope", "")}": supported '
                'values: "Cluster", "Namespaced"'
            )
        if errors:
            raise HttpError(
                422,
                "Invalid",
                f'CustomResourceDefinition.apiextensions.k8s.io "{name}" is invalid: '
                + (errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]"),
            )
        now = rfc3339()
        accepted = {k: v for k, v in names.items()}
        accepted.setdefault("singular", str(names.get("kind", "")).lower())
        accepted.setdefault("listKind", f"{names.get('kind', '')}List")
        crd["status"] = {
            "acceptedNames": accepted,
            "conditions": [
                {
                    "type": "NamesAccepted",
                    "status": "True",
                    "reason": "NoConflicts",
                    "message": "no conflicts found",
                    "lastTransitionTime": now,
                },
                {
                    "type": "Established",
                    "status": "True",
                    "reason": "InitialNamesAccepted",
                    "message": "the initial names have been accepted",
                    "lastTransitionTime": now,
                },
            ],
            "storedVersions": [v.get("name") for v in versions if v.get("storage")],
        }
        # As the API server: a condition's lastTransitionTime moves only when its status does,
        # so re-applying an unchanged CRD leaves the stored object (and its resourceVersion) alone.
        before = {
            c.get("type"): c for c in ((old or {}).get("status") or {}).get("conditions") or []
        }
        for cond in crd["status"]["conditions"]:
            prior = before.get(cond["type"])
            if prior and prior.get("status") == cond["status"] and prior.get("lastTransitionTime"):
                cond["lastTransitionTime"] = prior["lastTransitionTime"]
        return crd

    def _next_pod_cidr(self) -> str | None:
        net = ipaddress.ip_network(self.config.cluster_cidr.split(",")[0], strict=False)
        if net.prefixlen > self.config.node_cidr_mask:
            return None
        used = {
            (n.get("spec") or {}).get("podCIDR") for n in self.store.items(self._res("", "Node"))
        }
        for subnet in net.subnets(new_prefix=self.config.node_cidr_mask):
            if str(subnet) not in used:
                return str(subnet)
        return None

    def _next_service_ip(self) -> str:
        net = ipaddress.ip_network(self.config.service_cidr, strict=False)
        used = {
            (s.get("spec") or {}).get("clusterIP")
            for s in self.store.items(self._res("", "Service"))
        }
        hosts = net.hosts()
        for i, ip in enumerate(hosts):
            if i in (0, 9):  # .1 is the kubernetes Service, .10 is kept for cluster DNS
                continue
            if str(ip) not in used:
                return str(ip)
            if i > 65536:
                break
        raise HttpError(500, "InternalError", "the stand-in found no free service IP")

    def _signer_pair(self) -> tuple[Any, Any]:
        if self._signer is None:
            self._signer = (
                pki.load_cert(self.config.signing_cert.read_bytes()),
                pki.load_key(self.config.signing_key.read_bytes()),
            )
        return self._signer

    def _sign_csr(self, obj: dict[str, Any], user: User | None) -> None:
        """csrapproving + csrsigning for kubelet client certificates: a bootstrapper or a node
        may get a certificate for system:node:<name> in system:nodes."""
        spec = obj.setdefault("spec", {})
        if user is not None:
            spec["username"], spec["groups"] = user.name, user.groups
        if spec.get("signerName") != KUBELET_SIGNER:
            return
        try:
            csr = pki.load_csr(base64.b64decode(spec.get("request", "")))
        except ValueError:
            raise HttpError(
                422,
                "Invalid",
                "CertificateSigningRequest.certificates.k8s.io "
                f'"{obj["metadata"].get("name")}" is invalid: spec.request: Invalid value: '
                f"[]byte{{...}}: PEM block type must be CERTIFICATE REQUEST",
            ) from None
        from cryptography.x509.oid import NameOID

        cn_attrs = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        orgs = [str(o.value) for o in csr.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]
        cn = str(cn_attrs[0].value) if cn_attrs else ""
        allowed = user is not None and (
            user.bootstrapper or user.node_name == cn[len("system:node:") :] or user.admin
        )
        if not cn.startswith("system:node:") or orgs != ["system:nodes"] or not allowed:
            return
        ca_cert, ca_key = self._signer_pair()
        cert = pki.make_cert(ca_cert, ca_key, csr.public_key(), cn, orgs, client=True)
        now = rfc3339()
        obj["status"] = {
            "conditions": [
                {
                    "type": "Approved",
                    "status": "True",
                    "reason": "AutoApproved",
                    "message": (
                        "Auto approving kubelet client certificate after SubjectAccessReview."
                    ),
                    "lastUpdateTime": now,
                    "lastTransitionTime": now,
                }
            ],
            "certificate": base64.b64encode(pki.cert_pem(cert)).decode(),
        }


# --------------------------------------------------------------------------------------------
# the HTTPS server


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "kube-apiserver-stand-in"
    timeout = 60

    def setup(self) -> None:
        self.request.settimeout(30)
        try:
            self.request.do_handshake()
        except (ssl.SSLError, OSError):
            self.close_connection = True
            raise
        super().setup()

    def handle(self) -> None:
        try:
            super().handle()
        except (ssl.SSLError, ConnectionError, TimeoutError):
            self.close_connection = True

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        try:
            peer = self.request.getpeercert()
        except (ValueError, ssl.SSLError):
            peer = None
        headers = {k.lower(): v for k, v in self.headers.items()}
        code, out_headers, payload = self.server.api.handle(
            self.command, self.path, headers, body, peer or None
        )  # type: ignore[attr-defined]
        self.send_response(code)
        for key, value in out_headers.items():
            self.send_header(key, value)
        self.send_header(STAND_IN_HEADER, STAND_IN_HEADER_VALUE)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:
        print(f"kube-apiserver-stand-in: {self.address_string()} {format % args}", file=sys.stderr)


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], api: Api, ctx: ssl.SSLContext) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        super().__init__(address, _Handler)
        self.api = api
        self.socket = ctx.wrap_socket(self.socket, server_side=True, do_handshake_on_connect=False)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # TLS clients that hang up (kubeadm's insecure discovery) are not errors


def tls_context(config: Config) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(str(config.tls_cert), str(config.tls_key))
    ctx.load_verify_locations(cafile=str(config.client_ca))
    ctx.verify_mode = ssl.CERT_OPTIONAL
    return ctx


def serve(config: Config) -> int:
    api = Api(config)
    server = _Server((config.bind_address, config.secure_port), api, tls_context(config))
    stop = threading.Event()

    def shutdown(*_: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.5}, daemon=True
    )
    thread.start()
    print(
        "kube-apiserver-stand-in (dlrs-provision stand-in, not Kubernetes) "
        f"v{config.version} serving "
        f"https://{config.bind_address}:{config.secure_port}, state {config.state_path}",
        file=sys.stderr,
        flush=True,
    )
    # Stops by itself once kubeadm reset (or a test's clean-up) removed its manifest, and,
    # outside a real host (a test root), after a while without requests.
    idle_limit = None if config.root.is_real else float(os.environ.get(IDLE_EXIT_ENV) or 900)
    while not stop.wait(1.0):
        if not config.manifest.is_file():
            print(
                "kube-apiserver-stand-in: the static Pod manifest is gone, stopping",
                file=sys.stderr,
            )
            break
        if idle_limit is not None and time.time() - api.last_request > idle_limit:
            print(
                f"kube-apiserver-stand-in: idle for {idle_limit:.0f} s in a test root, stopping",
                file=sys.stderr,
            )
            break
    server.shutdown()
    server.server_close()
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    manifest = None
    root_base = None
    for arg in argv:
        if arg.startswith("--manifest="):
            manifest = arg.split("=", 1)[1]
        elif arg.startswith("--stand-in-root="):
            root_base = arg.split("=", 1)[1]
        elif arg in ("-h", "--help"):
            print(
                "usage: kube-apiserver-stand-in "
                "[--manifest=/etc/kubernetes/manifests/kube-apiserver.yaml]\n"
                "The API endpoint stand-in of dlrs-provision's tests (not Kubernetes)."
            )
            return 0
        elif arg == "--version":
            print(
                f"Kubernetes {version.current().git_version} (kube-apiserver stand-in of "
                "dlrs-provision)"
            )
            return 0
    root = Root(root_base)
    try:
        config = Config.from_manifests(root, manifest)
    except OSError as exc:
        print(
            f"kube-apiserver-stand-in: cannot read the static Pod manifest: {exc}", file=sys.stderr
        )
        return 1
    try:
        return serve(config)
    except OSError as exc:
        print(f"kube-apiserver-stand-in: failed to serve: {exc}", file=sys.stderr)
        return 1
