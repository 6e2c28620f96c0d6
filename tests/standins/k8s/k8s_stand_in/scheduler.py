"""The stand-in cluster's scheduler: kube-scheduler 1.32's filters, in its order, on plain dicts.

Pure functions: `schedule(pod, nodes, pods)` says which node a pod goes to, or why none fits,
in kube-scheduler's words. The API endpoint stand-in calls it (see controllers.py) for every
unbound pod whose schedulerName is default-scheduler. What each filter follows upstream is in
tests/standins/k8s/README.md ("Scheduling").

Filters run in the default profile's order and a node stops at the first that refuses it
(framework RunFilterPlugins): NodeUnschedulable, TaintToleration, NodeAffinity (nodeSelector
and required node affinity), NodeResourcesFit (pods, cpu, memory, ephemeral-storage, extended
resources), InterPodAffinity (required affinity and anti-affinity, both ways).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

NO_NODES = "no nodes available to schedule pods"
NODE_UNSCHEDULABLE = "node(s) were unschedulable"
UNTOLERATED_TAINT = "node(s) had untolerated taint {{{key}: {value}}}"
AFFINITY_SELECTOR = "node(s) didn't match Pod's node affinity/selector"
ANTI_AFFINITY = "node(s) didn't match pod anti-affinity rules"
EXISTING_ANTI_AFFINITY = "node(s) didn't satisfy existing pods anti-affinity rules"
POD_AFFINITY = "node(s) didn't match pod affinity rules"
TOO_MANY_PODS = "Too many pods"
NOT_HELPFUL = "Preemption is not helpful for scheduling"
NO_VICTIMS = "No preemption victims found for incoming pod"
DEFAULT_SCHEDULER = "default-scheduler"
# built-in PriorityClasses (pkg/apis/scheduling: SystemCriticalPriority = 2000000000)
SYSTEM_PRIORITIES = {"system-node-critical": 2000001000, "system-cluster-critical": 2000000000}

QUANTITY_SUFFIX = {
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
    "Ei": 2**60,
    "n": 1e-9,
    "u": 1e-6,
    "m": 1e-3,
    "": 1,
    "k": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "P": 1e15,
    "E": 1e18,
}


def amount(text: Any, milli: bool = False) -> int:
    """A resource.Quantity as the scheduler reads it: MilliValue() for cpu, Value() (rounded
    up) for the rest."""
    m = re.fullmatch(r"\s*([+-]?\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?\s*", str(text))
    if not m:
        raise ValueError(f"quantities must match the regular expression: {text!r}")
    value = float(m.group(1)) * QUANTITY_SUFFIX[m.group(2) or ""] * (1000 if milli else 1)
    return int(-(-value // 1))


# --------------------------------------------------------------------------------------------
# requests


def _requests_of(container: dict[str, Any]) -> dict[str, int]:
    res = container.get("resources") or {}
    # API defaulting: a limit without a request makes the request equal to it
    merged = {**(res.get("limits") or {}), **(res.get("requests") or {})}
    return {name: amount(q, milli=name == "cpu") for name, q in merged.items()}


def _add(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    out = dict(a)
    for k, v in b.items():
        out[k] = out.get(k, 0) + v
    return out


def _max(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    out = dict(a)
    for k, v in b.items():
        out[k] = max(out.get(k, 0), v)
    return out


def pod_requests(pod: dict[str, Any]) -> dict[str, int]:
    """component-helpers resource.PodRequests: the sum over containers, against the largest
    init container (plus the restartable init containers started before it), plus overhead.
    cpu in millicores, the rest in units."""
    spec = pod.get("spec") or {}
    reqs: dict[str, int] = {}
    for c in spec.get("containers") or []:
        reqs = _add(reqs, _requests_of(c))
    init_max: dict[str, int] = {}
    sidecars: dict[str, int] = {}
    for c in spec.get("initContainers") or []:
        own = _requests_of(c)
        if c.get("restartPolicy") == "Always":
            reqs = _add(reqs, own)
            sidecars = _add(sidecars, own)
            step = sidecars
        else:
            step = _add(own, sidecars)
        init_max = _max(init_max, step)
    reqs = _max(reqs, init_max)
    overhead = spec.get("overhead") or {}
    return _add(reqs, {k: amount(v, milli=k == "cpu") for k, v in overhead.items()})


# --------------------------------------------------------------------------------------------
# taints, selectors


def tolerates(toleration: dict[str, Any], taint: dict[str, Any]) -> bool:
    """core/v1 Toleration.ToleratesTaint."""
    effect = toleration.get("effect") or ""
    if effect and effect != taint.get("effect"):
        return False
    key = toleration.get("key") or ""
    if key and key != taint.get("key"):
        return False
    op = toleration.get("operator") or "Equal"
    if op == "Exists":
        return True
    if op == "Equal":
        return (toleration.get("value") or "") == (taint.get("value") or "")
    return False


def untolerated(taints: list[dict[str, Any]], tolerations: list[dict[str, Any]]) -> Any:
    """The first NoSchedule/NoExecute taint no toleration tolerates (v1helper
    FindMatchingUntoleratedTaint, as TaintToleration's Filter uses it)."""
    for taint in taints:
        if taint.get("effect") not in ("NoSchedule", "NoExecute"):
            continue
        if not any(tolerates(t, taint) for t in tolerations):
            return taint
    return None


def _expression(req: dict[str, Any], values: dict[str, str]) -> bool:
    key, op, want = req.get("key", ""), req.get("operator", ""), req.get("values") or []
    have = values.get(key)
    if op == "In":
        return have is not None and have in want
    if op == "NotIn":
        return have is None or have not in want
    if op == "Exists":
        return have is not None
    if op == "DoesNotExist":
        return have is None
    if op in ("Gt", "Lt"):
        if have is None or len(want) != 1:
            return False
        try:
            a, b = int(have), int(want[0])
        except ValueError:
            return False
        return a > b if op == "Gt" else a < b
    return False


def node_selector_term(term: dict[str, Any], node: dict[str, Any]) -> bool:
    """A NodeSelectorTerm: its expressions and fields ANDed; an empty term matches nothing."""
    exprs = term.get("matchExpressions") or []
    fields = term.get("matchFields") or []
    if not exprs and not fields:
        return False
    labels = (node.get("metadata") or {}).get("labels") or {}
    if not all(_expression(e, labels) for e in exprs):
        return False
    name = {"metadata.name": node["metadata"]["name"]}
    return all(_expression(f, name) for f in fields)


def label_selector(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    """metav1.LabelSelector; a nil selector matches nothing, an empty one everything."""
    if selector is None:
        return False
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    return all(_expression(e, labels) for e in selector.get("matchExpressions") or [])


def _required_node_affinity(pod: dict[str, Any]) -> list[dict[str, Any]] | None:
    affinity = ((pod.get("spec") or {}).get("affinity") or {}).get("nodeAffinity") or {}
    required = affinity.get("requiredDuringSchedulingIgnoredDuringExecution")
    if required is None:
        return None
    return required.get("nodeSelectorTerms") or []


def matches_node(pod: dict[str, Any], node: dict[str, Any]) -> bool:
    """NodeAffinity's Filter: spec.nodeSelector, then the required terms (ORed)."""
    labels = (node.get("metadata") or {}).get("labels") or {}
    for k, v in ((pod.get("spec") or {}).get("nodeSelector") or {}).items():
        if labels.get(k) != v:
            return False
    terms = _required_node_affinity(pod)
    if terms is None:
        return True
    return any(node_selector_term(t, node) for t in terms)


# --------------------------------------------------------------------------------------------
# the scheduler's view of nodes


def effective_taints(node: dict[str, Any]) -> list[dict[str, Any]]:
    """The node's taints plus what the node lifecycle controller adds for a node that is not
    Ready (TaintNodesByCondition: node.kubernetes.io/not-ready, /unreachable)."""
    taints = list((node.get("spec") or {}).get("taints") or [])
    ready = next(
        (
            c
            for c in ((node.get("status") or {}).get("conditions") or [])
            if c.get("type") == "Ready"
        ),
        None,
    )
    status = (ready or {}).get("status", "Unknown")
    if status != "True":
        key = (
            "node.kubernetes.io/not-ready"
            if status == "False"
            else "node.kubernetes.io/unreachable"
        )
        for effect in ("NoSchedule", "NoExecute"):
            if not any(t.get("key") == key and t.get("effect") == effect for t in taints):
                taints.append({"key": key, "effect": effect})
    return taints


def allocatable(node: dict[str, Any]) -> dict[str, int]:
    alloc = (node.get("status") or {}).get("allocatable") or {}
    out = {k: amount(v, milli=k == "cpu") for k, v in alloc.items()}
    out.setdefault("cpu", 0)
    out.setdefault("memory", 0)
    out.setdefault("pods", 0)
    return out


def counts(pod: dict[str, Any]) -> bool:
    """Pods the scheduler's cache holds for a node: bound and not terminated."""
    phase = (pod.get("status") or {}).get("phase")
    return bool((pod.get("spec") or {}).get("nodeName")) and phase not in ("Succeeded", "Failed")


@dataclass
class Status:
    reasons: list[str]
    resolvable: bool  # Unschedulable (True) or UnschedulableAndUnresolvable (False)


@dataclass
class Result:
    node: str | None
    message: str = ""
    statuses: dict[str, Status] = field(default_factory=dict)


def _fit(pod: dict[str, Any], node: dict[str, Any], on_node: list[dict[str, Any]]) -> list[str]:
    """NodeResourcesFit (fitsRequest): pods first, then cpu, memory, ephemeral-storage, and
    the extended resources; every shortage is a reason of its own."""
    alloc = allocatable(node)
    reasons = []
    if len(on_node) + 1 > alloc["pods"]:
        reasons.append(TOO_MANY_PODS)
    want = pod_requests(pod)
    used: dict[str, int] = {}
    for other in on_node:
        used = _add(used, pod_requests(other))
    if not any(v for v in want.values()):
        return reasons
    for name in ("cpu", "memory", "ephemeral-storage"):
        need = want.get(name, 0)
        if need > 0 and need > alloc.get(name, 0) - used.get(name, 0):
            reasons.append(f"Insufficient {name}")
    for name in sorted(want):
        if name in ("cpu", "memory", "ephemeral-storage", "pods") or "/" not in name:
            continue
        if want[name] > 0 and want[name] > alloc.get(name, 0) - used.get(name, 0):
            reasons.append(f"Insufficient {name}")
    return reasons


def _namespaces(term: dict[str, Any], pod: dict[str, Any]) -> set[str] | None:
    names = term.get("namespaces") or []
    if not names and term.get("namespaceSelector") is None:
        return {pod["metadata"].get("namespace", "default")}
    return set(names) if names else None  # None: every namespace (a selector, taken as {})


def _term_matches(term: dict[str, Any], owner: dict[str, Any], other: dict[str, Any]) -> bool:
    namespaces = _namespaces(term, owner)
    if namespaces is not None and other["metadata"].get("namespace") not in namespaces:
        return False
    return label_selector(term.get("labelSelector"), other["metadata"].get("labels") or {})


def _terms(pod: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    aff = ((pod.get("spec") or {}).get("affinity") or {}).get(kind) or {}
    return aff.get("requiredDuringSchedulingIgnoredDuringExecution") or []


def _same_domain(key: str, a: dict[str, Any], b: dict[str, Any]) -> bool:
    la = (a.get("metadata") or {}).get("labels") or {}
    lb = (b.get("metadata") or {}).get("labels") or {}
    return key in la and key in lb and la[key] == lb[key]


def _inter_pod(
    pod: dict[str, Any],
    node: dict[str, Any],
    nodes: dict[str, dict[str, Any]],
    bound: list[dict[str, Any]],
) -> Status | None:
    """InterPodAffinity's Filter, in its order: the pod's affinity (a pod whose own labels
    match its terms may go first), its anti-affinity, then the existing pods' anti-affinity."""
    affinity = _terms(pod, "podAffinity")
    if affinity and not _pod_affinity(pod, affinity, node, nodes, bound):
        return Status([POD_AFFINITY], False)
    for term in _terms(pod, "podAntiAffinity"):
        key = term.get("topologyKey", "")
        for other in bound:
            other_node = nodes.get(other["spec"]["nodeName"])
            if (
                other_node is not None
                and _same_domain(key, node, other_node)
                and _term_matches(term, pod, other)
            ):
                return Status([ANTI_AFFINITY], True)
    for other in bound:
        other_node = nodes.get(other["spec"]["nodeName"])
        if other_node is None:
            continue
        for term in _terms(other, "podAntiAffinity"):
            key = term.get("topologyKey", "")
            if _same_domain(key, node, other_node) and _term_matches(term, other, pod):
                return Status([EXISTING_ANTI_AFFINITY], True)
    return None


def _pod_affinity(
    pod: dict[str, Any],
    affinity: list[dict[str, Any]],
    node: dict[str, Any],
    nodes: dict[str, dict[str, Any]],
    bound: list[dict[str, Any]],
) -> bool:
    if not any(_term_matches(t, pod, o) for t in affinity for o in bound):
        labels = (node.get("metadata") or {}).get("labels") or {}
        return all(_term_matches(t, pod, pod) for t in affinity) and all(
            t.get("topologyKey", "") in labels for t in affinity
        )
    for term in affinity:
        key = term.get("topologyKey", "")
        if not any(
            o["spec"]["nodeName"] in nodes
            and _same_domain(key, node, nodes[o["spec"]["nodeName"]])
            and _term_matches(term, pod, o)
            for o in bound
        ):
            return False
    return True


def filter_node(
    pod: dict[str, Any],
    node: dict[str, Any],
    nodes: dict[str, dict[str, Any]],
    bound: list[dict[str, Any]],
) -> Status | None:
    """None when the node passes every filter, else the first refusal."""
    spec = pod.get("spec") or {}
    tolerations = spec.get("tolerations") or []
    if (node.get("spec") or {}).get("unschedulable") and not any(
        tolerates(t, {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"})
        for t in tolerations
    ):
        return Status([NODE_UNSCHEDULABLE], False)
    taint = untolerated(effective_taints(node), tolerations)
    if taint is not None:
        text = UNTOLERATED_TAINT.format(key=taint.get("key", ""), value=taint.get("value", ""))
        return Status([text], False)
    if not matches_node(pod, node):
        return Status([AFFINITY_SELECTOR], False)
    name = node["metadata"]["name"]
    on_node = [p for p in bound if p["spec"]["nodeName"] == name]
    reasons = _fit(pod, node, on_node)
    if reasons:
        return Status(reasons, True)
    return _inter_pod(pod, node, nodes, bound)


def priority(pod: dict[str, Any], classes: dict[str, int] | None = None) -> int:
    spec = pod.get("spec") or {}
    if isinstance(spec.get("priority"), int):
        return spec["priority"]
    name = spec.get("priorityClassName") or ""
    table = {**SYSTEM_PRIORITIES, **(classes or {})}
    return table.get(name, table.get("", 0))


def fit_error(total: int, statuses: dict[str, Status], post: str = "") -> str:
    """framework FitError.Error: "0/N nodes are available: " and the reasons, each with its
    count, sorted as strings, then the PostFilter message."""
    histogram: dict[str, int] = {}
    for status in statuses.values():
        for reason in status.reasons:
            histogram[reason] = histogram.get(reason, 0) + 1
    text = f"0/{total} nodes are available:"
    parts = sorted(f"{n} {reason}" for reason, n in histogram.items())
    if parts:
        text += f" {', '.join(parts)}."
    if post:
        text += f" {post}"
    return text


def _preemption(
    pod: dict[str, Any],
    nodes: dict[str, dict[str, Any]],
    bound: list[dict[str, Any]],
    statuses: dict[str, Status],
    classes: dict[str, int] | None,
) -> str:
    """DefaultPreemption's PostFilter message when no node can be freed: per node, "not
    helpful" for an unresolvable refusal, "no victims" where no pod of lower priority runs,
    else the filters' reasons with those pods gone. The stand-in never evicts: a node that
    would fit after eviction is said so in the stand-in's own words."""
    mine = priority(pod, classes)
    after: dict[str, Status] = {}
    would_fit = 0
    for name, status in statuses.items():
        if not status.resolvable:
            after[name] = Status([NOT_HELPFUL], False)
            continue
        victims = [
            p for p in bound if p["spec"]["nodeName"] == name and priority(p, classes) < mine
        ]
        if not victims:
            after[name] = Status([NO_VICTIMS], False)
            continue
        rest = [p for p in bound if p not in victims]
        again = filter_node(pod, nodes[name], nodes, rest)
        if again is None:
            would_fit += 1
        else:
            after[name] = again
    if would_fit:
        return (
            f"preemption: stand-in: {would_fit} node(s) would fit after evicting lower-priority "
            "pods, and the stand-in does not evict."
        )
    return "preemption: " + fit_error(len(nodes), after)


def _score(pod: dict[str, Any], node: dict[str, Any], bound: list[dict[str, Any]]) -> float:
    """NodeResourcesFit's LeastAllocated scoring, cpu and memory weighted equally."""
    alloc = allocatable(node)
    used = pod_requests(pod)
    for p in bound:
        if p["spec"]["nodeName"] == node["metadata"]["name"]:
            used = _add(used, pod_requests(p))
    score = 0.0
    for name in ("cpu", "memory"):
        if alloc.get(name, 0) > 0:
            score += (alloc[name] - used.get(name, 0)) / alloc[name]
    return score / 2


def schedule(
    pod: dict[str, Any],
    nodes: list[dict[str, Any]],
    pods: list[dict[str, Any]],
    classes: dict[str, int] | None = None,
) -> Result:
    """One scheduling cycle for `pod`: the node it binds to, or the FitError message."""
    if not nodes:
        return Result(None, NO_NODES)
    by_name = {n["metadata"]["name"]: n for n in nodes}
    bound = [p for p in pods if counts(p) and p["spec"]["nodeName"] in by_name]
    statuses: dict[str, Status] = {}
    feasible = []
    for node in nodes:
        status = filter_node(pod, node, by_name, bound)
        if status is None:
            feasible.append(node)
        else:
            statuses[node["metadata"]["name"]] = status
    if feasible:
        feasible.sort(key=lambda n: n["metadata"]["name"])  # ties go to the first name
        best = max(feasible, key=lambda n: _score(pod, n, bound))
        return Result(best["metadata"]["name"], statuses=statuses)
    post = _preemption(pod, by_name, bound, statuses, classes)
    return Result(None, fit_error(len(nodes), statuses, post), statuses)
