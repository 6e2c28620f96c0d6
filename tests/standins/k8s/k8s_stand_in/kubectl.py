"""kubectl-stand-in: the kubectl subset the toolkit uses, over real TLS to the API endpoint
stand-in (the kubeconfig's server, CA and client certificate or token).

get, apply (client-side with last-applied-configuration, or --server-side), create, delete,
label, wait, version, cordon, uncordon, drain. -o json / -o yaml print objects exactly as
kubectl does (a single object, or a "List"); tables follow kubectl's columns for nodes,
namespaces and CRDs and show NAME/AGE for the rest. Anything else ends with exit 1 and
"stand-in does not implement ...".
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.parse
from collections.abc import Callable, Iterator
from typing import Any

from k8s_stand_in import STAND_IN, kubeconfig, registry, version
from k8s_stand_in.cli import FlagSpec, Parsed, UsageError, parse
from k8s_stand_in.client import ApiError, Client, ConnectError
from k8s_stand_in.registry import AGGREGATED_ACCEPT, Registry, Resource
from k8s_stand_in.util import (
    Root,
    format_duration,
    human_age,
    json_dump,
    label_key_errors,
    label_value_errors,
    parse_duration,
    parse_rfc3339,
    three_way_patch,
    yaml_dump,
    yaml_load_all,
)

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
NOTE = "stand-in: this is the kubectl stand-in of dlrs-provision's tests, not Kubernetes' kubectl"

GLOBAL_FLAGS = {
    "kubeconfig": FlagSpec(),
    "context": FlagSpec(),
    "namespace": FlagSpec("str", "n"),
    "server": FlagSpec("str", "s"),
    "request-timeout": FlagSpec(),
    "insecure-skip-tls-verify": FlagSpec("bool"),
    "v": FlagSpec("int", "v"),
}


class KubectlError(Exception):
    pass


def say(line: str) -> None:
    print(line, flush=True)


def warn_line(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def server_error(exc: ApiError, prefix: str = "") -> str:
    return f"Error from server ({exc.reason}): {prefix}{exc.message}"


class Ctx:
    def __init__(self, root: Root, p: Parsed) -> None:
        self.root = root
        self.p = p
        self._client: Client | None = None
        self._registry: Registry | None = None
        self.warnings_seen: set[str] = set()

    @property
    def creds(self) -> kubeconfig.Credentials:
        try:
            creds = kubeconfig.credentials(
                self.root, self.p.get("kubeconfig"), self.p.get("context"), self.p.get("server")
            )
        except kubeconfig.KubeconfigError as exc:
            raise KubectlError(str(exc)) from None
        if creds is None:
            raise KubectlError(
                "The connection to the server localhost:8080 was refused - did you specify "
                "the right host or port?"
            )
        if self.p.get("insecure-skip-tls-verify"):
            creds.insecure = True
        return creds

    @property
    def client(self) -> Client:
        if self._client is None:
            timeout = 30.0
            if self.p.get("request-timeout"):
                timeout = parse_duration(self.p.get("request-timeout")) or 30.0
            self._client = Client(
                self.creds,
                timeout=timeout,
                user_agent=f"kubectl-stand-in/{version.current().git_version}",
            )
        return self._client

    @property
    def namespace(self) -> str:
        return self.p.get("namespace") or self.creds.namespace or "default"

    @property
    def registry(self) -> Registry:
        if self._registry is None:
            core = self.client.get("/api", accept=AGGREGATED_ACCEPT)
            groups = self.client.get("/apis", accept=AGGREGATED_ACCEPT)
            self._registry = registry.from_aggregated(core, groups)
        return self._registry

    def refresh(self) -> None:
        self._registry = None

    def request(self, method: str, path: str, body: Any = None, **kwargs: Any) -> Any:
        code, headers, data = self.client.request(method, path, body, **kwargs)
        for warning in _warnings(headers.get("warning", "")):
            if warning not in self.warnings_seen:
                self.warnings_seen.add(warning)
                warn_line(f"Warning: {warning}")
        if code >= 400:
            raise ApiError(code, data if isinstance(data, dict) else {"message": str(data)})
        return data

    def resource(self, name: str) -> Resource:
        r = self.registry.lookup(name)
        if r is None:
            raise KubectlError(f'the server doesn\'t have a resource type "{name}"')
        return r

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


def _warnings(header: str) -> list[str]:
    out = []
    for part in header.split('299 - "')[1:]:
        text = part.rsplit('"', 1)[0]
        out.append(text.replace('\\"', '"'))
    return out


# --------------------------------------------------------------------------------------------
# reading manifests


def read_manifests(
    root: Root, files: list[str], recursive: bool
) -> list[tuple[str, dict[str, Any]]]:
    docs: list[tuple[str, dict[str, Any]]] = []
    for name in files:
        if name == "-":
            sources = [("STDIN", sys.stdin.read())]
        elif name.startswith(("http://", "https://")):
            sources = [(name, _fetch_url(name))]
        else:
            path = root.path(name)
            if path.is_dir():
                pattern = "**/*" if recursive else "*"
                found = sorted(
                    p
                    for p in path.glob(pattern)
                    if p.suffix in (".yaml", ".yml", ".json") and p.is_file()
                )
                sources = [
                    (
                        str(p)
                        if root.is_real
                        else name.rstrip("/") + "/" + str(p.relative_to(path)),
                        p.read_text(),
                    )
                    for p in found
                ]
            elif path.is_file():
                sources = [(name, path.read_text())]
            else:
                raise KubectlError(f'the path "{name}" does not exist')
        for source, text in sources:
            try:
                loaded = yaml_load_all(text)
            except Exception as exc:
                raise KubectlError(
                    f"error parsing {source}: error converting YAML to JSON: yaml: {exc}"
                ) from None
            for doc in loaded:
                if not isinstance(doc, dict):
                    raise KubectlError(
                        f'error validating "{source}": error validating data: invalid object '
                        "to validate; if you choose to ignore these errors, turn validation "
                        "off with --validate=false"
                    )
                if doc.get("kind") in ("List",) and isinstance(doc.get("items"), list):
                    docs += [(source, item) for item in doc["items"]]
                else:
                    docs.append((source, doc))
    if not docs:
        raise KubectlError(
            "no objects passed to apply" if files else "must specify one of -f and -k"
        )
    return docs


def _fetch_url(url: str) -> str:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=30) as resp:
            return resp.read().decode()
    except urllib.error.HTTPError as exc:
        raise KubectlError(
            f'unable to read URL "{url}", server reported {exc.code} {exc.reason}, '
            f"status code={exc.code}"
        ) from None
    except OSError as exc:
        raise KubectlError(f'unable to read URL "{url}": {getattr(exc, "reason", exc)}') from None


def check_doc(source: str, doc: dict[str, Any]) -> None:
    missing = [f"{k} not set" for k in ("apiVersion", "kind") if not doc.get(k)]
    if missing:
        what = missing[0] if len(missing) == 1 else "[" + ", ".join(missing) + "]"
        raise KubectlError(
            f'error validating "{source}": error validating data: {what}; if you choose to '
            "ignore these errors, turn validation off with --validate=false"
        )


def mapping(ctx: Ctx, source: str, doc: dict[str, Any]) -> Resource:
    api_version = str(doc["apiVersion"])
    group, _, ver = api_version.rpartition("/")
    r = ctx.registry.by_gvk(group, ver, str(doc["kind"]))
    if r is None:
        ctx.refresh()
        r = ctx.registry.by_gvk(group, ver, str(doc["kind"]))
    if r is None:
        meta = doc.get("metadata") or {}
        raise KubectlError(
            f'resource mapping not found for name: "{meta.get("name", "")}" namespace: '
            f'"{meta.get("namespace", "")}" from "{source}": no matches for kind '
            f'"{doc["kind"]}" in version '
            f'"{api_version}"\nensure CRDs are installed first'
        )
    return r


def object_namespace(ctx: Ctx, r: Resource, doc: dict[str, Any]) -> str | None:
    if not r.namespaced:
        return None
    meta = doc.setdefault("metadata", {})
    flag = ctx.p.get("namespace")
    if meta.get("namespace") and flag and meta["namespace"] != flag:
        raise KubectlError(
            f'the namespace from the provided object "{meta["namespace"]}" does not match '
            "the namespace "
            f"\"{flag}\". You must pass '--namespace={meta['namespace']}' to perform this "
            "operation."
        )
    meta["namespace"] = meta.get("namespace") or ctx.namespace
    return str(meta["namespace"])


def field_validation(p: Parsed) -> str:
    value = str(p.get("validate") or "strict").lower()
    return {
        "true": "Strict",
        "strict": "Strict",
        "warn": "Warn",
        "false": "Ignore",
        "ignore": "Ignore",
    }.get(value, "Strict")


# --------------------------------------------------------------------------------------------
# apply / create


APPLY_FLAGS = {
    "filename": FlagSpec("list", "f"),
    "recursive": FlagSpec("bool", "R"),
    "server-side": FlagSpec("bool"),
    "force-conflicts": FlagSpec("bool"),
    "field-manager": FlagSpec(),
    "validate": FlagSpec(default="strict"),
    "dry-run": FlagSpec(default="none"),
    "output": FlagSpec("str", "o"),
    "prune": FlagSpec("bool"),
    "wait": FlagSpec("bool"),
    "overwrite": FlagSpec("bool"),
}


def cmd_apply(ctx: Ctx, p: Parsed) -> int:
    if p.get("prune"):
        raise KubectlError('stand-in does not implement "kubectl apply --prune"')
    dry = str(p.get("dry-run") or "none")
    if dry not in ("none", "server", "client"):
        raise KubectlError(f'Invalid dry-run value ({dry}). Must be "none", "server", or "client".')
    docs = read_manifests(ctx.root, list(p.get("filename")), bool(p.get("recursive")))
    suffix = {"server": " (server dry run)", "client": " (dry run)"}.get(dry, "")

    def apply_one(source: str, doc: dict[str, Any]) -> Resource:
        check_doc(source, doc)
        r = mapping(ctx, source, doc)
        ns = object_namespace(ctx, r, doc)
        name = str((doc.get("metadata") or {}).get("name") or "")
        query = {"fieldValidation": field_validation(p)}
        if dry == "server":
            query["dryRun"] = "All"
        if p.get("server-side"):
            query |= {
                "fieldManager": p.get("field-manager") or "kubectl",
                "force": "true" if p.get("force-conflicts") else "false",
            }
            if dry != "client":
                ctx.request(
                    "PATCH",
                    r.object_path(ns, name),
                    yaml_dump(doc).encode(),
                    content_type="application/apply-patch+yaml",
                    query=query,
                )
            result = "serverside-applied"
        else:
            result = _client_side_apply(ctx, r, ns, name, doc, query, source, dry == "client")
        if p.get("output") == "name":
            say(f"{r.kind_group}/{name}")
        else:
            say(f"{r.kind_group}/{name} {result}{suffix}")
        return r

    def api_error(source: str, exc: ApiError) -> str:
        verb = "creating" if getattr(exc, "_creating", True) else "patching"
        return server_error(exc, f'error when {verb} "{source}": ')

    return _each_document(ctx, docs, apply_one, api_error)


def _each_document(
    ctx: Ctx,
    docs: list[tuple[str, dict[str, Any]]],
    one: Callable[[str, dict[str, Any]], Resource],
    api_error: Callable[[str, ApiError], str],
) -> int:
    """apply's and create's loop over the documents: each one is tried, whatever failed
    before it; an error is printed and makes the exit code 1; a CRD refreshes discovery."""
    failed = False
    for source, doc in docs:
        try:
            if one(source, doc).kind == "CustomResourceDefinition":
                ctx.refresh()
        except KubectlError as exc:
            warn_line(f"error: {exc}")
            failed = True
        except ApiError as exc:
            warn_line(api_error(source, exc))
            failed = True
    return 1 if failed else 0


def _client_side_apply(
    ctx: Ctx,
    r: Resource,
    ns: str | None,
    name: str,
    doc: dict[str, Any],
    query: dict[str, str],
    source: str,
    client_dry: bool,
) -> str:
    modified = json.loads(json.dumps(doc))
    annotation = json.dumps(modified, sort_keys=True, separators=(",", ":")) + "\n"
    modified.setdefault("metadata", {}).setdefault("annotations", {})[LAST_APPLIED] = annotation
    try:
        live = ctx.request("GET", r.object_path(ns, name))
    except ApiError as exc:
        if exc.code != 404:
            raise
        if not client_dry:
            ctx.request("POST", r.collection_path(ns), modified, query=query)
        return "created"
    previous = ((live.get("metadata") or {}).get("annotations") or {}).get(LAST_APPLIED)
    last = json.loads(previous) if previous else {}
    patch = three_way_patch(last, modified, live)
    if not patch:
        return "unchanged"
    if not client_dry:
        try:
            ctx.request(
                "PATCH",
                r.object_path(ns, name),
                patch,
                content_type="application/merge-patch+json",
                query=query,
            )
        except ApiError as exc:
            exc._creating = False  # type: ignore[attr-defined]
            raise
    return "configured"


CREATE_FLAGS = {
    "filename": FlagSpec("list", "f"),
    "recursive": FlagSpec("bool", "R"),
    "validate": FlagSpec(default="strict"),
    "dry-run": FlagSpec(default="none"),
    "output": FlagSpec("str", "o"),
    "save-config": FlagSpec("bool"),
}


def cmd_create(ctx: Ctx, p: Parsed) -> int:
    if p.args:
        if p.args[0] in ("namespace", "ns") and len(p.args) == 2:
            docs = [
                ("", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": p.args[1]}})
            ]
        else:
            raise KubectlError(
                f'stand-in does not implement "kubectl create {" ".join(p.args[:1])}"'
            )
    else:
        docs = read_manifests(ctx.root, list(p.get("filename")), bool(p.get("recursive")))

    def create_one(source: str, doc: dict[str, Any]) -> Resource:
        check_doc(source or "STDIN", doc)
        r = mapping(ctx, source, doc)
        ns = object_namespace(ctx, r, doc)
        query = {"fieldValidation": field_validation(p)}
        if p.get("dry-run") == "server":
            query["dryRun"] = "All"
        if p.get("dry-run") != "client":
            ctx.request("POST", r.collection_path(ns), doc, query=query)
        name = (doc.get("metadata") or {}).get("name", "")
        say(
            f"{r.kind_group}/{name} created"
            if p.get("output") != "name"
            else f"{r.kind_group}/{name}"
        )
        return r

    def api_error(source: str, exc: ApiError) -> str:
        if source:
            return server_error(exc, f'error when creating "{source}": ')
        return server_error(exc)

    return _each_document(ctx, docs, create_one, api_error)


# --------------------------------------------------------------------------------------------
# get


GET_FLAGS = {
    "output": FlagSpec("str", "o"),
    "selector": FlagSpec("str", "l"),
    "field-selector": FlagSpec(),
    "all-namespaces": FlagSpec("bool", "A"),
    "no-headers": FlagSpec("bool"),
    "show-labels": FlagSpec("bool"),
    "ignore-not-found": FlagSpec("bool"),
    "filename": FlagSpec("list", "f"),
    "watch": FlagSpec("bool", "w"),
    "chunk-size": FlagSpec("int"),
    "show-kind": FlagSpec("bool"),
}


def targets(ctx: Ctx, args: list[str]) -> list[tuple[Resource, list[str]]]:
    """kubectl's TYPE NAME..., TYPE/NAME ..., TYPE1,TYPE2 forms."""
    if not args:
        raise KubectlError(
            'You must specify the type of resource to get. Use "kubectl api-resources" for a '
            "complete list of supported resources."
        )
    if any("/" in a for a in args):
        out: list[tuple[Resource, list[str]]] = []
        for a in args:
            if "/" not in a:
                raise KubectlError(
                    "there is no need to specify a resource type as a separate argument when "
                    "passing arguments in resource/name form (e.g. 'kubectl get "
                    "resource/<resource_name>' instead of 'kubectl get resource "
                    "resource/<resource_name>'"
                )
            kind, _, name = a.partition("/")
            out.append((ctx.resource(kind), [name]))
        return out
    return [(ctx.resource(t), list(args[1:])) for t in args[0].split(",")]


def _ns_for(ctx: Ctx, r: Resource, all_ns: bool) -> str | None:
    if not r.namespaced:
        return None
    return None if all_ns else ctx.namespace


def fetch(
    ctx: Ctx, r: Resource, names: list[str], p: Parsed, ns: str | None = None
) -> tuple[list[dict[str, Any]], list[str]]:
    """Objects by name (in ns when given: a file's object keeps its own namespace), or listed."""
    objects: list[dict[str, Any]] = []
    errors: list[str] = []
    all_ns = bool(p.get("all-namespaces"))
    if names:
        for name in names:
            try:
                where = ns if ns is not None else _ns_for(ctx, r, False)
                obj = ctx.request("GET", r.object_path(where, name))
                objects.append(obj)
            except ApiError as exc:
                if exc.code == 404 and p.get("ignore-not-found"):
                    continue
                errors.append(server_error(exc))
        return objects, errors
    query = {}
    if p.get("selector"):
        query["labelSelector"] = p.get("selector")
    if p.get("field-selector"):
        query["fieldSelector"] = p.get("field-selector")
    listed = ctx.request("GET", r.collection_path(_ns_for(ctx, r, all_ns)), query=query or None)
    for item in listed.get("items") or []:
        item.setdefault("apiVersion", r.gv)
        item.setdefault("kind", r.kind)
        objects.append(item)
    return objects, errors


def cmd_get(ctx: Ctx, p: Parsed) -> int:
    if p.get("watch"):
        raise KubectlError('stand-in does not implement "kubectl get --watch"')
    fmt = str(p.get("output") or "")
    if fmt and fmt not in ("json", "yaml", "name", "wide"):
        raise KubectlError(f'stand-in does not implement "kubectl get -o {fmt.split("=")[0]}"')
    file_ns: list[str | None] = []  # with -f, as kubectl: each object's own namespace
    if p.get("filename"):
        pairs = []
        for source, doc in read_manifests(ctx.root, list(p.get("filename")), False):
            check_doc(source, doc)
            r = mapping(ctx, source, doc)
            pairs.append((r, [str((doc.get("metadata") or {}).get("name", ""))]))
            file_ns.append(object_namespace(ctx, r, doc))
    else:
        pairs = targets(ctx, p.args)
    collected: list[tuple[Resource, dict[str, Any]]] = []
    errors: list[str] = []
    single = len(pairs) == 1 and len(pairs[0][1]) == 1
    for i, (r, names) in enumerate(pairs):
        objects, errs = fetch(ctx, r, names, p, file_ns[i] if file_ns else None)
        collected += [(r, o) for o in objects]
        errors += errs
    if fmt in ("json", "yaml"):
        if single and collected:
            doc: Any = collected[0][1]
        elif single and not collected:
            doc = None
        else:
            doc = {
                "apiVersion": "v1",
                "items": [o for _, o in collected],
                "kind": "List",
                "metadata": {"resourceVersion": ""},
            }
        if doc is not None:
            say(json_dump(doc) if fmt == "json" else yaml_dump(doc).rstrip("\n"))
    elif fmt == "name":
        for r, o in collected:
            say(f"{r.kind_group}/{o['metadata']['name']}")
    else:
        print_tables(ctx, collected, pairs, p, wide=fmt == "wide")
    for e in errors:
        warn_line(e)
    return 1 if errors else 0


def print_tables(
    ctx: Ctx,
    collected: list[tuple[Resource, dict[str, Any]]],
    pairs: list[tuple[Resource, list[str]]],
    p: Parsed,
    wide: bool,
) -> None:
    if not collected:
        if not p.get("ignore-not-found") and not any(names for _, names in pairs):
            r = pairs[0][0]
            if r.namespaced and not p.get("all-namespaces"):
                warn_line(f"No resources found in {ctx.namespace} namespace.")
            else:
                warn_line("No resources found")
        return
    multiple = len({r for r, _ in collected}) > 1
    groups: dict[Resource, list[dict[str, Any]]] = {}
    for r, o in collected:
        groups.setdefault(r, []).append(o)
    first = True
    for r, objects in groups.items():
        header, rows = table(
            r, objects, wide, bool(p.get("all-namespaces")) and r.namespaced, multiple
        )
        if p.get("show-labels"):
            header.append("LABELS")
            for row, o in zip(rows, objects, strict=True):
                labels = (o.get("metadata") or {}).get("labels") or {}
                row.append(",".join(f"{k}={v}" for k, v in sorted(labels.items())) or "<none>")
        if not first:
            say("")
        first = False
        print_table([] if p.get("no-headers") else header, rows)


def print_table(header: list[str], rows: list[list[str]]) -> None:
    """text/tabwriter as kubectl sets it up: minimum width 6, padding 3."""
    all_rows = ([header] if header else []) + rows
    if not all_rows:
        return
    widths = [max(len(r[i]) for r in all_rows) for i in range(len(all_rows[0]))]
    for row in all_rows:
        cells = [c.ljust(max(w + 3, 6)) for c, w in zip(row[:-1], widths[:-1], strict=True)] + [
            row[-1]
        ]
        say("".join(cells).rstrip())


def age(obj: dict[str, Any]) -> str:
    created = (obj.get("metadata") or {}).get("creationTimestamp")
    if not created:
        return "<unknown>"
    try:
        return human_age(time.time() - parse_rfc3339(created))
    except ValueError:
        return "<unknown>"


def node_state(node: dict[str, Any]) -> str:
    conditions = (node.get("status") or {}).get("conditions") or []
    ready = next((c for c in conditions if c.get("type") == "Ready"), None)
    state = (
        "Unknown" if ready is None else ("Ready" if ready.get("status") == "True" else "NotReady")
    )
    if (node.get("spec") or {}).get("unschedulable"):
        state += ",SchedulingDisabled"
    return state


def pod_state(pod: dict[str, Any]) -> str:
    """kubectl's STATUS column (printers.go printPod): the phase, or the pod's reason, or the
    last waiting or terminated container's reason; Terminating while being deleted."""
    status = pod.get("status") or {}
    reason = status.get("reason") or status.get("phase") or ""
    for c in reversed(status.get("containerStatuses") or []):
        state = c.get("state") or {}
        if (state.get("waiting") or {}).get("reason"):
            reason = state["waiting"]["reason"]
        elif (state.get("terminated") or {}).get("reason"):
            reason = state["terminated"]["reason"]
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        reason = "Terminating"
    return reason


def table(
    r: Resource, objects: list[dict[str, Any]], wide: bool, with_ns: bool, qualify: bool
) -> tuple[list[str], list[list[str]]]:
    def name_of(o: dict[str, Any]) -> str:
        n = o["metadata"]["name"]
        return f"{r.kind_group}/{n}" if qualify else n

    rows: list[list[str]] = []
    if r.kind == "Node" and not r.group:
        header = ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
        if wide:
            header += [
                "INTERNAL-IP",
                "EXTERNAL-IP",
                "OS-IMAGE",
                "KERNEL-VERSION",
                "CONTAINER-RUNTIME",
            ]
        for o in objects:
            labels = (o.get("metadata") or {}).get("labels") or {}
            roles = sorted(
                k.split("/", 1)[1] for k in labels if k.startswith("node-role.kubernetes.io/")
            ) or ["<none>"]
            info = (o.get("status") or {}).get("nodeInfo") or {}
            row = [
                name_of(o),
                node_state(o),
                ",".join(roles),
                age(o),
                info.get("kubeletVersion") or "<unknown>",
            ]
            if wide:
                addrs = {
                    a.get("type"): a.get("address")
                    for a in (o.get("status") or {}).get("addresses") or []
                }
                row += [
                    addrs.get("InternalIP") or "<none>",
                    addrs.get("ExternalIP") or "<none>",
                    info.get("osImage") or "<unknown>",
                    info.get("kernelVersion") or "<unknown>",
                    info.get("containerRuntimeVersion") or "<unknown>",
                ]
            rows.append(row)
        return header, rows
    if r.kind == "Pod" and not r.group:
        header = (["NAMESPACE"] if with_ns else []) + ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
        if wide:
            header += ["IP", "NODE", "NOMINATED NODE", "READINESS GATES"]
        for o in objects:
            status = o.get("status") or {}
            statuses = status.get("containerStatuses") or []
            total = len((o.get("spec") or {}).get("containers") or [])
            ready = sum(1 for c in statuses if c.get("ready"))
            row = ([o["metadata"].get("namespace", "")] if with_ns else []) + [
                name_of(o),
                f"{ready}/{total}",
                pod_state(o),
                str(sum(int(c.get("restartCount", 0)) for c in statuses)),
                age(o),
            ]
            if wide:
                row += [
                    status.get("podIP") or "<none>",
                    (o.get("spec") or {}).get("nodeName") or "<none>",
                    status.get("nominatedNodeName") or "<none>",
                    "<none>",
                ]
            rows.append(row)
        return header, rows
    if r.kind == "Namespace" and not r.group:
        return ["NAME", "STATUS", "AGE"], [
            [name_of(o), (o.get("status") or {}).get("phase", ""), age(o)] for o in objects
        ]
    if r.kind == "CustomResourceDefinition":
        return ["NAME", "CREATED AT"], [
            [name_of(o), str(o["metadata"].get("creationTimestamp", ""))] for o in objects
        ]
    header = (["NAMESPACE"] if with_ns else []) + ["NAME", "AGE"]
    for o in objects:
        rows.append(
            ([o["metadata"].get("namespace", "")] if with_ns else []) + [name_of(o), age(o)]
        )
    return header, rows


# --------------------------------------------------------------------------------------------
# delete, label, wait


DELETE_FLAGS = {
    "filename": FlagSpec("list", "f"),
    "recursive": FlagSpec("bool", "R"),
    "ignore-not-found": FlagSpec("bool"),
    "all": FlagSpec("bool"),
    "selector": FlagSpec("str", "l"),
    "wait": FlagSpec("bool"),
    "force": FlagSpec("bool"),
    "grace-period": FlagSpec("int"),
    "timeout": FlagSpec(),
    "cascade": FlagSpec(),
}


def _named_objects(
    ctx: Ctx, p: Parsed, args: list[str]
) -> Iterator[tuple[Resource, str | None, list[str]]]:
    """delete's and label's objects by resource: the names given, else (--all, --selector)
    those the server lists; a resource without either is an error. One resource at a time,
    so that what comes before an error is done first, as kubectl does."""
    for r, names in targets(ctx, args):
        ns = _ns_for(ctx, r, False)
        if not names:
            if not (p.get("all") or p.get("selector")):
                raise KubectlError("resource(s) were provided, but no name was specified")
            objects, _ = fetch(ctx, r, [], p)
            names = [o["metadata"]["name"] for o in objects]
        yield r, ns, names


def cmd_delete(ctx: Ctx, p: Parsed) -> int:
    items: list[tuple[Resource, str | None, str]] = []
    if p.get("filename"):
        for source, doc in read_manifests(
            ctx.root, list(p.get("filename")), bool(p.get("recursive"))
        ):
            check_doc(source, doc)
            try:
                r = mapping(ctx, source, doc)
            except KubectlError:
                if p.get("ignore-not-found"):
                    continue
                raise
            ns = object_namespace(ctx, r, doc)
            items.append((r, ns, str(doc["metadata"].get("name", ""))))
    else:
        for r, ns, names in _named_objects(ctx, p, p.args):
            items += [(r, ns, n) for n in names]
    failed = False
    for r, ns, name in items:
        try:
            ctx.request("DELETE", r.object_path(ns, name))
            say(f'{r.kind_group} "{name}" deleted')
            if r.kind == "CustomResourceDefinition":
                ctx.refresh()
        except ApiError as exc:
            if exc.code == 404 and p.get("ignore-not-found"):
                continue
            warn_line(server_error(exc))
            failed = True
    return 1 if failed else 0


LABEL_FLAGS = {
    "overwrite": FlagSpec("bool"),
    "all": FlagSpec("bool"),
    "selector": FlagSpec("str", "l"),
    "list": FlagSpec("bool"),
    "dry-run": FlagSpec(default="none"),
    "resource-version": FlagSpec(),
    "output": FlagSpec("str", "o"),
}


def cmd_label(ctx: Ctx, p: Parsed) -> int:
    resources = [a for a in p.args if "=" not in a and not a.endswith("-")]
    changes = [a for a in p.args if "=" in a or (a.endswith("-") and a not in resources)]
    if not changes:
        raise KubectlError("at least one label update is required")
    set_labels: dict[str, str] = {}
    remove: list[str] = []
    for change in changes:
        if change.endswith("-") and "=" not in change:
            remove.append(change[:-1])
            continue
        key, _, value = change.partition("=")
        problems = label_key_errors(key)
        if problems:
            raise KubectlError(f"invalid label spec: {change}")
        value_problems = label_value_errors(value)
        if value_problems:
            raise KubectlError(f'invalid label value: "{change}": {"; ".join(value_problems)}')
        set_labels[key] = value
    failed = False
    for r, ns, names in _named_objects(ctx, p, resources):
        for name in names:
            try:
                live = ctx.request("GET", r.object_path(ns, name))
                labels = (live.get("metadata") or {}).get("labels") or {}
                for key, value in set_labels.items():
                    if key in labels and labels[key] != value and not p.get("overwrite"):
                        raise KubectlError(
                            f"'{key}' already has a value ({labels[key]}), and --overwrite is false"
                        )
                patch: dict[str, Any] = {}
                for key, value in set_labels.items():
                    if labels.get(key) != value:
                        patch[key] = value
                for key in remove:
                    if key in labels:
                        patch[key] = None
                if patch and p.get("dry-run") in (None, "none"):
                    ctx.request(
                        "PATCH",
                        r.object_path(ns, name),
                        {"metadata": {"labels": patch}},
                        content_type="application/merge-patch+json",
                    )
                say(f"{r.kind_group}/{name} {'labeled' if patch else 'not labeled'}")
            except ApiError as exc:
                warn_line(server_error(exc))
                failed = True
    return 1 if failed else 0


WAIT_FLAGS = {
    "for": FlagSpec(),
    "timeout": FlagSpec(default="30s"),
    "all": FlagSpec("bool"),
    "selector": FlagSpec("str", "l"),
    "all-namespaces": FlagSpec("bool", "A"),
    "filename": FlagSpec("list", "f"),
    "output": FlagSpec("str", "o"),
}


def cmd_wait(ctx: Ctx, p: Parsed) -> int:
    cond = str(p.get("for") or "")
    if not cond:
        raise KubectlError("--for must be specified")
    want_delete = cond == "delete"
    cond_name, cond_value = "", "true"
    if not want_delete:
        if not cond.lower().startswith("condition="):
            raise KubectlError(
                f'stand-in does not implement "kubectl wait --for={cond.split("=")[0]}"'
            )
        spec = cond.split("=", 1)[1]
        cond_name, _, value = spec.partition("=")
        cond_value = (value or "true").lower()
    try:
        timeout = parse_duration(p.get("timeout"))
    except ValueError as exc:
        raise KubectlError(str(exc)) from None
    items: list[tuple[Resource, str | None, str]] = []
    for r, names in targets(ctx, p.args):
        ns = _ns_for(ctx, r, False)
        if not names:
            if not (p.get("all") or p.get("selector")):
                raise KubectlError(
                    "resource(s) were provided, but no name, label selector, or --all flag "
                    "specified"
                )
            objects, _ = fetch(ctx, r, [], p)
            if not objects:
                raise KubectlError("no matching resources found")
            names = [o["metadata"]["name"] for o in objects]
        items += [(r, ns, n) for n in names]
    deadline = time.time() + timeout
    failed = False
    for r, ns, name in items:
        while True:
            try:
                obj = ctx.request("GET", r.object_path(ns, name))
                met = False if want_delete else _condition_met(obj, cond_name, cond_value)
            except ApiError as exc:
                if exc.code == 404:
                    if want_delete:
                        say(f"{r.kind_group}/{name} condition met")
                        break
                    warn_line(server_error(exc))
                    failed = True
                    break
                raise
            if met:
                say(f"{r.kind_group}/{name} condition met")
                break
            if time.time() >= deadline:
                warn_line(
                    f"error: timed out waiting for the condition on {r.group_resource}/{name}"
                )
                failed = True
                break
            time.sleep(min(0.5, max(deadline - time.time(), 0.05)))
    return 1 if failed else 0


def _condition_met(obj: dict[str, Any], name: str, value: str) -> bool:
    for c in (obj.get("status") or {}).get("conditions") or []:
        if str(c.get("type", "")).lower() == name.lower():
            return str(c.get("status", "")).lower() == value
    return False


# --------------------------------------------------------------------------------------------
# version and dispatch


def cmd_version(ctx: Ctx, p: Parsed) -> int:
    v = version.current()
    fmt = p.get("output") or ""
    client_info = v.info()
    doc: dict[str, Any] = {"clientVersion": client_info, "kustomizeVersion": v.kustomize}
    server_error_text = ""
    if not p.get("client"):
        try:
            doc["serverVersion"] = ctx.request("GET", "/version")
        except ConnectError as exc:
            server_error_text = exc.kubectl_message()
        except (ApiError, KubectlError) as exc:
            server_error_text = str(exc)
    if fmt == "json":
        say(json.dumps(doc, indent=2))
    elif fmt == "yaml":
        say(yaml_dump(doc).rstrip("\n"))
    elif fmt == "":
        say(f"Client Version: {v.git_version}")
        say(f"Kustomize Version: {v.kustomize}")
        if "serverVersion" in doc:
            say(f"Server Version: {doc['serverVersion'].get('gitVersion')}")
    else:
        raise KubectlError("--output must be 'yaml' or 'json'")
    warn_line(NOTE)
    if server_error_text:
        warn_line(server_error_text)
        return 1
    return 0


LOGS_FLAGS = {
    "container": FlagSpec("str", "c"),
    "tail": FlagSpec("int"),
}


def cmd_logs(ctx: Ctx, p: Parsed) -> int:
    """`kubectl logs POD [-c C] [--tail N]`. No container ever runs in the stand-in cluster, so
    there is never a log: for a pod that exists the answer is the kubelet's refusal for a
    container that has not started (kubernetes/kubernetes pkg/kubelet/kubelet_pods.go,
    validateContainerLogStatus: "container %q in pod %q is waiting to start: %s", passed on by
    the API server as BadRequest), exit 1, as real kubectl gives for a ContainerCreating pod."""
    if len(p.args) != 1:
        raise KubectlError("expected 'logs [-f] [-p] (POD | TYPE/NAME) [-c CONTAINER]'.")
    name = p.args[0].removeprefix("pod/").removeprefix("pods/")
    try:
        pod = ctx.request("GET", f"/api/v1/namespaces/{ctx.namespace}/pods/{name}")
    except ApiError as exc:
        warn_line(server_error(exc))
        return 1
    containers = [c["name"] for c in pod["spec"].get("containers") or []]
    wanted = p.get("container")
    if wanted is None:
        if len(containers) != 1:
            warn_line(
                f"error: a container name must be specified for pod {name}, choose one of: "
                f"[{' '.join(containers)}]"
            )
            return 1
        wanted = containers[0]
    if wanted not in containers:
        warn_line(f"Error from server (BadRequest): container {wanted} is not valid for pod {name}")
        return 1
    statuses = {c.get("name"): c for c in (pod.get("status") or {}).get("containerStatuses") or []}
    waiting = ((statuses.get(wanted) or {}).get("state") or {}).get("waiting") or {}
    reason = waiting.get("reason") or "ContainerCreating"
    warn_line(
        f'Error from server (BadRequest): container "{wanted}" in pod "{name}" is waiting to '
        f"start: {reason}"
    )
    return 1


# --------------------------------------------------------------------------------------------
# cordon, uncordon, drain (kubernetes/kubernetes staging/src/k8s.io/kubectl/pkg/cmd/drain/
# drain.go, pkg/drain/cordon.go, pkg/drain/drain.go, pkg/drain/filters.go)

CORDON_FLAGS = {"selector": FlagSpec("str", "l"), "dry-run": FlagSpec(default="none")}
DRAIN_FLAGS = {
    "ignore-daemonsets": FlagSpec("bool"),
    "delete-emptydir-data": FlagSpec("bool"),
    "delete-local-data": FlagSpec("bool"),
    "force": FlagSpec("bool"),
    "grace-period": FlagSpec("int", default=-1),
    "timeout": FlagSpec(default="0s"),
    "disable-eviction": FlagSpec("bool"),
    "pod-selector": FlagSpec(),
    "selector": FlagSpec("str", "l"),
    "skip-wait-for-delete-timeout": FlagSpec("int", default=0),
    "chunk-size": FlagSpec("int", default=500),
    "dry-run": FlagSpec(default="none"),
}
# filters.go
DAEMONSET_FATAL = "DaemonSet-managed Pods (use --ignore-daemonsets to ignore)"
DAEMONSET_WARNING = "ignoring DaemonSet-managed Pods"
LOCAL_STORAGE_FATAL = "Pods with local storage (use --delete-emptydir-data to override)"
LOCAL_STORAGE_WARNING = "deleting Pods with local storage"
UNMANAGED_FATAL = "cannot delete Pods that declare no controller (use --force to override)"
UNMANAGED_WARNING = "deleting Pods that declare no controller"
MIRROR_ANNOTATION = "kubernetes.io/config.mirror"


def _nodes_named(ctx: Ctx, p: Parsed, verb: str) -> list[dict[str, Any]]:
    """The nodes of NAME arguments (node/NAME too) or of -l; NotFound as kubectl prints it."""
    if p.get("dry-run") not in (None, "none"):
        raise KubectlError(f'stand-in does not implement "kubectl {verb} --dry-run"')
    names = [a.removeprefix("nodes/").removeprefix("node/") for a in p.args]
    if p.get("selector"):
        if names:
            raise KubectlError("cannot specify both a node name and a --selector option")
        listed = ctx.request(
            "GET", "/api/v1/nodes?labelSelector=" + urllib.parse.quote(p.get("selector"))
        )
        return list(listed.get("items") or [])
    if not names:
        raise KubectlError(
            f"USAGE: {verb} NODE [flags]\nSee 'kubectl {verb} -h' for help and examples"
        )
    return [ctx.request("GET", f"/api/v1/nodes/{name}") for name in names]


def _set_unschedulable(ctx: Ctx, node: dict[str, Any], desired: bool) -> None:
    """CordonHelper: the node already as desired prints "already"; else a patch of
    spec.unschedulable (false is left out of the object, as Go's omitempty does)."""
    name = node["metadata"]["name"]
    word = "cordoned" if desired else "uncordoned"
    if bool((node.get("spec") or {}).get("unschedulable")) == desired:
        say(f"node/{name} already {word}")
        return
    ctx.request(
        "PATCH",
        f"/api/v1/nodes/{name}",
        {"spec": {"unschedulable": True if desired else None}},
        content_type="application/merge-patch+json",
    )
    say(f"node/{name} {word}")


def cmd_cordon(ctx: Ctx, p: Parsed) -> int:
    for node in _nodes_named(ctx, p, "cordon"):
        _set_unschedulable(ctx, node, True)
    return 0


def cmd_uncordon(ctx: Ctx, p: Parsed) -> int:
    for node in _nodes_named(ctx, p, "uncordon"):
        _set_unschedulable(ctx, node, False)
    return 0


def _controller_of(pod: dict[str, Any]) -> dict[str, Any] | None:
    for ref in (pod.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return ref
    return None


def _finished(pod: dict[str, Any]) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def _filter_pod(ctx: Ctx, p: Parsed, pod: dict[str, Any]) -> tuple[bool, str, str]:
    """makeFilters in their order (skip deleted, DaemonSet, mirror, local storage,
    unreplicated): each gives a status, the first that does not delete ends the run, and the
    last one given counts (so a warning of an earlier filter is dropped when a later one says
    okay, as in kubectl). (delete, kind, message) with kind "" (okay), "skip", "warning" or
    "error"."""
    meta = pod.get("metadata") or {}
    okay: tuple[bool, str, str] = (True, "", "")
    skip_after = int(p.get("skip-wait-for-delete-timeout") or 0)
    deleted_at = meta.get("deletionTimestamp")
    if skip_after > 0 and deleted_at and time.time() - parse_rfc3339(deleted_at) > skip_after:
        return False, "skip", ""
    ref = _controller_of(pod)
    if ref is not None and ref.get("kind") == "DaemonSet" and not _finished(pod):
        try:
            ctx.request(
                "GET", f"/apis/apps/v1/namespaces/{meta.get('namespace')}/daemonsets/{ref['name']}"
            )
        except ApiError as exc:
            if not (exc.code == 404 and p.get("force")):
                return False, "error", exc.message
        else:
            if not p.get("ignore-daemonsets"):
                return False, "error", DAEMONSET_FATAL
            return False, "warning", DAEMONSET_WARNING
    if MIRROR_ANNOTATION in (meta.get("annotations") or {}):
        return False, "skip", ""
    empty_dir = any(
        isinstance(v, dict) and "emptyDir" in v
        for v in (pod.get("spec") or {}).get("volumes") or []
    )
    allowed = p.get("delete-emptydir-data") or p.get("delete-local-data")
    if empty_dir and not _finished(pod) and not allowed:
        return False, "error", LOCAL_STORAGE_FATAL
    if _finished(pod) or ref is not None:
        return okay
    if p.get("force"):
        return True, "warning", UNMANAGED_WARNING
    return False, "error", UNMANAGED_FATAL


def _grouped(items: list[tuple[str, str]]) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for message, pod in items:
        groups.setdefault(message, []).append(pod)
    return groups


def _drain_node(ctx: Ctx, p: Parsed, name: str, timeout: float) -> list[str]:
    """deleteOrEvictPodsSimple for one node: the filters' errors (nothing is evicted then),
    else the warnings, the evictions and the wait for the pods to go. Returns the errors."""
    listed = ctx.request("GET", "/api/v1/pods")
    selector = parse_pod_selector(p.get("pod-selector") or "")
    pods = [
        pod
        for pod in listed.get("items") or []
        if (pod.get("spec") or {}).get("nodeName") == name
        and selector_matches(selector, (pod.get("metadata") or {}).get("labels") or {})
    ]
    deletable: list[dict[str, Any]] = []
    warnings: list[tuple[str, str]] = []
    errors: list[tuple[str, str]] = []
    for pod in pods:
        meta = pod["metadata"]
        full = f"{meta.get('namespace')}/{meta.get('name')}"
        delete, kind, message = _filter_pod(ctx, p, pod)
        if kind == "error":
            errors.append((message or "unexpected error", full))
        elif kind == "warning":
            warnings.append((message, full))
        if delete:
            deletable.append(pod)
    if errors:
        return [
            (
                f"{msg}: {', '.join(names)}"
                if msg.lower().startswith("cannot delete")
                else f"cannot delete {msg}: {', '.join(names)}"
            )
            for msg, names in _grouped(errors).items()
        ]
    if warnings:
        warn_line(
            "Warning: "
            + "; ".join(f"{msg}: {', '.join(names)}" for msg, names in _grouped(warnings).items())
        )
    deadline = time.time() + timeout if timeout > 0 else None
    body_options: dict[str, Any] = {}
    if int(p.get("grace-period")) >= 0:
        body_options["gracePeriodSeconds"] = int(p.get("grace-period"))
    for pod in deletable:
        meta = pod["metadata"]
        ns, pod_name = meta.get("namespace"), meta.get("name")
        path = f"/api/v1/namespaces/{ns}/pods/{pod_name}"
        try:
            if p.get("disable-eviction"):
                ctx.request("DELETE", path, body_options or None)
            else:
                say(f"evicting pod {ns}/{pod_name}")
                eviction = {
                    "apiVersion": "policy/v1",
                    "kind": "Eviction",
                    "metadata": {"name": pod_name, "namespace": ns},
                }
                if body_options:
                    eviction["deleteOptions"] = body_options
                ctx.request("POST", f"{path}/eviction", eviction)
        except ApiError as exc:
            if exc.code != 404:
                return [f'error when evicting pods/"{pod_name}" -n "{ns}": {exc.message}']
    for pod in deletable:
        meta = pod["metadata"]
        ns, pod_name = meta.get("namespace"), meta.get("name")
        while True:
            try:
                now = ctx.request("GET", f"/api/v1/namespaces/{ns}/pods/{pod_name}")
                gone = (now.get("metadata") or {}).get("uid") != meta.get("uid")
            except ApiError as exc:
                if exc.code != 404:
                    raise
                gone = True
            if gone:
                say(f"pod/{pod_name} {'deleted' if p.get('disable-eviction') else 'evicted'}")
                break
            if deadline is not None and time.time() >= deadline:
                return [f"drain did not complete within {format_duration(timeout)}"]
            time.sleep(0.5)
    return []


def parse_pod_selector(text: str) -> list[tuple[str, str]]:
    """--pod-selector: equality terms (key=value, key==value, key!=value) only."""
    terms = []
    for part in filter(None, (t.strip() for t in text.split(","))):
        if "!=" in part:
            key, value = part.split("!=", 1)
            terms.append((key.strip(), "!" + value.strip()))
        else:
            key, _, value = part.replace("==", "=").partition("=")
            terms.append((key.strip(), value.strip()))
    return terms


def selector_matches(terms: list[tuple[str, str]], labels: dict[str, str]) -> bool:
    for key, value in terms:
        if value.startswith("!"):
            if labels.get(key) == value[1:]:
                return False
        elif labels.get(key) != value:
            return False
    return True


def cmd_drain(ctx: Ctx, p: Parsed) -> int:
    """RunDrain: cordon every node first, then drain each; a node that fails is reported and
    the others go on; the pending nodes and the errors end the command (exit 1)."""
    try:
        timeout = parse_duration(p.get("timeout"))
    except ValueError as exc:
        raise KubectlError(
            f'invalid argument "{p.get("timeout")}" for "--timeout" flag: {exc}'
        ) from None
    nodes = _nodes_named(ctx, p, "drain")
    for node in nodes:
        _set_unschedulable(ctx, node, True)
    pending: list[str] = []
    last: list[str] = []
    for node in nodes:
        name = node["metadata"]["name"]
        errors = _drain_node(ctx, p, name, timeout)
        if not errors:
            say(f"node/{name} drained")
            continue
        joined = errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]"
        warn_line(
            f'error: unable to drain node "{name}" due to error: {joined}, continuing command...'
        )
        pending.append(name)
        last = errors
    if pending:
        warn_line("There are pending nodes to be drained:")
        for name in pending:
            warn_line(f" {name}")
        for line in last:
            warn_line(line)
        return 1
    return 0


COMMANDS = {
    "apply": (cmd_apply, APPLY_FLAGS),
    "cordon": (cmd_cordon, CORDON_FLAGS),
    "create": (cmd_create, CREATE_FLAGS),
    "drain": (cmd_drain, DRAIN_FLAGS),
    "get": (cmd_get, GET_FLAGS),
    "delete": (cmd_delete, DELETE_FLAGS),
    "label": (cmd_label, LABEL_FLAGS),
    "logs": (cmd_logs, LOGS_FLAGS),
    "uncordon": (cmd_uncordon, CORDON_FLAGS),
    "wait": (cmd_wait, WAIT_FLAGS),
    "version": (
        cmd_version,
        {"client": FlagSpec("bool"), "output": FlagSpec("str", "o"), "short": FlagSpec("bool")},
    ),
}


def usage() -> str:
    return (
        "kubectl controls the Kubernetes cluster manager.\n\n"
        "Commands implemented by the stand-in: apply, cordon, create, delete, drain, get, label,\n"
        "logs, uncordon, version, wait\n\n"
        f"{NOTE}\n"
    )


def split_command(argv: list[str]) -> tuple[str | None, list[str]]:
    """The command word (the first argument that is not a global flag or its value) and the
    other arguments."""
    i = 0
    while i < len(argv):
        arg = argv[i]
        if not arg.startswith("-") or arg == "-":
            return arg, argv[:i] + argv[i + 1 :]
        name = arg.lstrip("-").split("=", 1)[0]
        spec = GLOBAL_FLAGS.get(name) or next(
            (s for s in GLOBAL_FLAGS.values() if s.short == name), None
        )
        takes_value = (
            spec is not None
            and spec.kind != "bool"
            and "=" not in arg
            and not (not arg.startswith("--") and len(arg) > 2)
        )
        i += 2 if takes_value else 1
    return None, argv


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    root = Root()
    command, rest = split_command(argv)
    if command is None or command in ("help", "-h", "--help") or argv in (["-h"], ["--help"]):
        print(usage(), end="")
        return 0
    entry = COMMANDS.get(command)
    if entry is None:
        warn_line(f'error: stand-in does not implement "kubectl {command}"')
        warn_line(NOTE)
        return 1
    handler, specs = entry
    try:
        p = parse(rest, {**GLOBAL_FLAGS, **specs})
    except UsageError as exc:
        warn_line(f"error: {exc}")
        warn_line(f"See 'kubectl {command} --help' for usage.")
        return 1
    if os.environ.get("KUBECTL_STAND_IN_DEBUG"):
        warn_line(f"{STAND_IN}: kubectl {command} {p.values} {p.args}")
    ctx = Ctx(root, p)
    try:
        return handler(ctx, p)
    except KubectlError as exc:
        warn_line(f"error: {exc}")
        return 1
    except ConnectError as exc:
        warn_line(exc.kubectl_message())
        return 1
    except ApiError as exc:
        if exc.code == 401:
            warn_line("error: You must be logged in to the server (Unauthorized)")
        else:
            warn_line(server_error(exc))
        return 1
    except Exception as exc:  # a bug of the stand-in: say so, with the trace
        import traceback

        warn_line(f"error: kubectl stand-in internal error: {exc!r}\n{traceback.format_exc()}")
        return 1
    finally:
        ctx.close()
