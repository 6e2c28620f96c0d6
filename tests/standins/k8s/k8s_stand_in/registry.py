"""The resource types the API endpoint stand-in serves: a fixed list of built-in kinds plus the
kinds that applied CustomResourceDefinitions add, and the discovery documents built from them
(the aggregated discovery of apidiscovery.k8s.io/v2 and the older per-group lists)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

AGGREGATED_ACCEPT = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


@dataclass(frozen=True)
class Resource:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    singular: str = ""
    status: bool = False  # has the status subresource
    categories: tuple[str, ...] = field(default=())

    @property
    def gv(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_resource(self) -> str:
        """`deployments.apps`, `nodes`: how API messages name the resource."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def kind_group(self) -> str:
        """`deployment.apps`, `node`: how kubectl names objects (node/node1)."""
        return f"{self.singular_name}.{self.group}" if self.group else self.singular_name

    @property
    def singular_name(self) -> str:
        return self.singular or self.kind.lower()

    def collection_path(self, namespace: str | None) -> str:
        prefix = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            return f"{prefix}/namespaces/{namespace}/{self.plural}"
        return f"{prefix}/{self.plural}"

    def object_path(self, namespace: str | None, name: str) -> str:
        return f"{self.collection_path(namespace)}/{name}"


def _r(
    group: str,
    plural: str,
    kind: str,
    namespaced: bool,
    short: tuple[str, ...] = (),
    status: bool = False,
    version: str = "v1",
) -> Resource:
    return Resource(group, version, plural, kind, namespaced, short, kind.lower(), status)


BUILTINS: tuple[Resource, ...] = (
    _r("", "namespaces", "Namespace", False, ("ns",), status=True),
    _r("", "nodes", "Node", False, ("no",), status=True),
    _r("", "configmaps", "ConfigMap", True, ("cm",)),
    _r("", "secrets", "Secret", True),
    _r("", "services", "Service", True, ("svc",), status=True),
    _r("", "serviceaccounts", "ServiceAccount", True, ("sa",)),
    _r("", "pods", "Pod", True, ("po",), status=True),
    _r("", "persistentvolumeclaims", "PersistentVolumeClaim", True, ("pvc",), status=True),
    _r("", "persistentvolumes", "PersistentVolume", False, ("pv",), status=True),
    _r("", "limitranges", "LimitRange", True, ("limits",)),
    _r("", "resourcequotas", "ResourceQuota", True, ("quota",), status=True),
    _r("", "endpoints", "Endpoints", True, ("ep",)),
    _r("", "events", "Event", True, ("ev",)),
    _r("apps", "deployments", "Deployment", True, ("deploy",), status=True),
    _r("apps", "daemonsets", "DaemonSet", True, ("ds",), status=True),
    _r("apps", "statefulsets", "StatefulSet", True, ("sts",), status=True),
    _r("apps", "replicasets", "ReplicaSet", True, ("rs",), status=True),
    _r("batch", "jobs", "Job", True, (), status=True),
    _r("batch", "cronjobs", "CronJob", True, ("cj",), status=True),
    _r("rbac.authorization.k8s.io", "roles", "Role", True),
    _r("rbac.authorization.k8s.io", "rolebindings", "RoleBinding", True),
    _r("rbac.authorization.k8s.io", "clusterroles", "ClusterRole", False),
    _r("rbac.authorization.k8s.io", "clusterrolebindings", "ClusterRoleBinding", False),
    _r(
        "apiextensions.k8s.io",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        False,
        ("crd", "crds"),
        status=True,
    ),
    _r(
        "certificates.k8s.io",
        "certificatesigningrequests",
        "CertificateSigningRequest",
        False,
        ("csr",),
        True,
    ),
    _r("scheduling.k8s.io", "priorityclasses", "PriorityClass", False, ("pc",)),
    _r("policy", "poddisruptionbudgets", "PodDisruptionBudget", True, ("pdb",), status=True),
    _r("networking.k8s.io", "networkpolicies", "NetworkPolicy", True, ("netpol",)),
    _r("storage.k8s.io", "storageclasses", "StorageClass", False, ("sc",)),
    _r(
        "admissionregistration.k8s.io",
        "validatingwebhookconfigurations",
        "ValidatingWebhookConfiguration",
        False,
    ),
    _r(
        "admissionregistration.k8s.io",
        "mutatingwebhookconfigurations",
        "MutatingWebhookConfiguration",
        False,
    ),
    _r("coordination.k8s.io", "leases", "Lease", True),
)

# Namespaces every cluster starts with.
SYSTEM_NAMESPACES = ("default", "kube-node-lease", "kube-public", "kube-system")


def crd_resources(crd: dict[str, Any]) -> list[Resource]:
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    out = []
    for version in spec.get("versions") or []:
        if not version.get("served", True):
            continue
        out.append(
            Resource(
                group=str(spec.get("group", "")),
                version=str(version.get("name", "")),
                plural=str(names.get("plural", "")),
                kind=str(names.get("kind", "")),
                namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                short_names=tuple(names.get("shortNames") or ()),
                singular=str(names.get("singular") or str(names.get("kind", "")).lower()),
                status="status" in (version.get("subresources") or {}),
                categories=tuple(names.get("categories") or ()),
            )
        )
    return out


class Registry:
    def __init__(self, resources: list[Resource]) -> None:
        self.resources = resources

    @classmethod
    def with_crds(cls, crds: list[dict[str, Any]]) -> Registry:
        resources = list(BUILTINS)
        for crd in crds:
            resources += crd_resources(crd)
        return cls(resources)

    def by_gvk(self, group: str, version: str, kind: str) -> Resource | None:
        for r in self.resources:
            if r.group == group and r.version == version and r.kind == kind:
                return r
        return None

    def by_path(self, group: str, version: str, plural: str) -> Resource | None:
        for r in self.resources:
            if r.group == group and r.version == version and r.plural == plural:
                return r
        return None

    def groups(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for r in self.resources:
            versions = out.setdefault(r.group, [])
            if r.version not in versions:
                versions.append(r.version)
        return out

    def lookup(self, name: str) -> Resource | None:
        """kubectl's resource argument: plural, singular, short name or kind, optionally
        qualified with a group (deployments.apps) or group and version (tfjobs.v1.kubeflow.org)."""
        name = name.strip()
        lowered = name.lower()
        candidates = []
        for r in self.resources:
            forms = {r.plural, r.singular_name, r.kind.lower(), *r.short_names}
            if r.group:
                forms |= {f"{f}.{r.group}" for f in (r.plural, r.singular_name, r.kind.lower())}
                forms |= {f"{f}.{r.version}.{r.group}" for f in (r.plural, r.singular_name)}
            if lowered in forms or name in forms:
                candidates.append(r)
        if not candidates:
            return None
        # Prefer the core group, then the first served version, as kubectl's RESTMapper does.
        candidates.sort(key=lambda r: (r.group != "", r.group))
        return candidates[0]

    # -- discovery documents ---------------------------------------------------------------------

    def _resource_entry(self, r: Resource) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "resource": r.plural,
            "responseKind": {"group": r.group, "version": r.version, "kind": r.kind},
            "scope": "Namespaced" if r.namespaced else "Cluster",
            "singularResource": r.singular_name,
            "verbs": VERBS,
        }
        if r.short_names:
            entry["shortNames"] = list(r.short_names)
        if r.categories:
            entry["categories"] = list(r.categories)
        if r.status:
            entry["subresources"] = [
                {
                    "subresource": "status",
                    "responseKind": {"group": r.group, "version": r.version, "kind": r.kind},
                    "verbs": ["get", "patch", "update"],
                }
            ]
        return entry

    def aggregated(self, core: bool) -> dict[str, Any]:
        items = []
        for group, versions in self.groups().items():
            if (group == "") != core:
                continue
            items.append(
                {
                    "metadata": {"name": group, "creationTimestamp": None},
                    "versions": [
                        {
                            "version": v,
                            "resources": [
                                self._resource_entry(r)
                                for r in self.resources
                                if r.group == group and r.version == v
                            ],
                            "freshness": "Current",
                        }
                        for v in versions
                    ],
                }
            )
        return {
            "kind": "APIGroupDiscoveryList",
            "apiVersion": "apidiscovery.k8s.io/v2",
            "metadata": {},
            "items": items,
        }

    def group_list(self) -> dict[str, Any]:
        groups = []
        for group, versions in self.groups().items():
            if not group:
                continue
            gvs = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
            groups.append({"name": group, "versions": gvs, "preferredVersion": gvs[0]})
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}

    def resource_list(self, group: str, version: str) -> dict[str, Any] | None:
        rs = [r for r in self.resources if r.group == group and r.version == version]
        if not rs:
            return None
        resources = []
        for r in rs:
            resources.append(
                {
                    "name": r.plural,
                    "singularName": r.singular_name,
                    "namespaced": r.namespaced,
                    "kind": r.kind,
                    "verbs": VERBS,
                    **({"shortNames": list(r.short_names)} if r.short_names else {}),
                }
            )
            if r.status:
                resources.append(
                    {
                        "name": f"{r.plural}/status",
                        "singularName": "",
                        "namespaced": r.namespaced,
                        "kind": r.kind,
                        "verbs": ["get", "patch", "update"],
                    }
                )
        return {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": f"{group}/{version}" if group else version,
            "resources": resources,
        }


def from_aggregated(core: dict[str, Any], groups: dict[str, Any]) -> Registry:
    """A registry rebuilt on the client side from the two aggregated discovery documents."""
    resources = []
    for doc in (core, groups):
        for item in doc.get("items") or []:
            group = (item.get("metadata") or {}).get("name") or ""
            for v in item.get("versions") or []:
                for entry in v.get("resources") or []:
                    rk = entry.get("responseKind") or {}
                    resources.append(
                        Resource(
                            group=group,
                            version=str(v.get("version", "")),
                            plural=str(entry.get("resource", "")),
                            kind=str(rk.get("kind", "")),
                            namespaced=entry.get("scope") == "Namespaced",
                            short_names=tuple(entry.get("shortNames") or ()),
                            singular=str(entry.get("singularResource") or ""),
                            status=any(
                                s.get("subresource") == "status"
                                for s in entry.get("subresources") or []
                            ),
                            categories=tuple(entry.get("categories") or ()),
                        )
                    )
    return Registry(resources)
