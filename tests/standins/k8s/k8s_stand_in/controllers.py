"""The controllers of the stand-in cluster that make Pods: run inside the API endpoint stand-in
after every write (`reconcile`), under the store's lock.

- DaemonSet controller: a Pod of each DaemonSet on every node it should run on, with the
  tolerations the real controller adds, pinned to its node by node affinity as 1.32 does.
- Training operator (kubeflow/training-operator v1.9.0, only while its Deployment
  `training-operator` exists): for a TFJob, a Pod and a headless Service per replica type and
  index, TF_CONFIG in the `tensorflow` container, and the job's conditions and
  replicaStatuses from the Pods' phases.
- Scheduler (scheduler.py): binds each unbound Pod, or leaves it Pending with PodScheduled
  False / Unschedulable and a FailedScheduling Event in kube-scheduler's words.
- Garbage collector: objects whose controller owner is deleted go with it.

No container runs: a bound Pod stays Pending with its containers waiting in ContainerCreating,
as a kubelet that cannot start them reports, and carries the annotation NO_CONTAINERS.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import sys
import uuid
from typing import Any

from k8s_stand_in import scheduler
from k8s_stand_in.registry import Registry, Resource
from k8s_stand_in.util import rfc3339

NO_CONTAINERS = "stand-in.dlrs-provision.io/no-containers"
NO_CONTAINERS_TEXT = (
    "no container runs in the sandbox: the stand-in cluster binds Pods to nodes and starts nothing"
)
WAITING_MESSAGE = "stand-in: no container runs in the sandbox"
OPERATOR_DEPLOYMENT = "training-operator"
OPERATOR_NAME = "tfjob-controller"
TF_CONTAINER = "tensorflow"
TF_PORT_NAME = "tfjob-port"
TF_PORT = 2222
TF_TYPES = ("Chief", "Evaluator", "Master", "PS", "Worker")  # UpdateJobStatus's order
CLUSTER_DOMAIN_ENV = "CUSTOM_CLUSTER_DOMAIN"
LABEL_OPERATOR = "training.kubeflow.org/operator-name"
LABEL_JOB = "training.kubeflow.org/job-name"
LABEL_TYPE = "training.kubeflow.org/replica-type"
LABEL_INDEX = "training.kubeflow.org/replica-index"
LABEL_ROLE = "training.kubeflow.org/job-role"
# pkg/controller/daemon/util.AddOrUpdateDaemonPodTolerations
DAEMON_TOLERATIONS = (
    ("node.kubernetes.io/not-ready", "NoExecute"),
    ("node.kubernetes.io/unreachable", "NoExecute"),
    ("node.kubernetes.io/disk-pressure", "NoSchedule"),
    ("node.kubernetes.io/memory-pressure", "NoSchedule"),
    ("node.kubernetes.io/pid-pressure", "NoSchedule"),
    ("node.kubernetes.io/unschedulable", "NoSchedule"),
)
_NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"  # apimachinery's rand.String alphabet


def _res(registry: Registry, group: str, kind: str) -> Resource:
    r = registry.by_gvk(group, "v1", kind)
    assert r is not None, kind
    return r


def _suffix(*parts: str) -> str:
    digest = hashlib.sha256("/".join(parts).encode()).digest()
    return "".join(_NAME_CHARS[b % len(_NAME_CHARS)] for b in digest[:5])


def _owner(obj: dict[str, Any], gv: str, kind: str) -> dict[str, Any]:
    return {
        "apiVersion": gv,
        "kind": kind,
        "name": obj["metadata"]["name"],
        "uid": obj["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _owned_by(obj: dict[str, Any], uid: str) -> bool:
    return any(
        ref.get("uid") == uid and ref.get("controller")
        for ref in (obj.get("metadata") or {}).get("ownerReferences") or []
    )


class Controllers:
    def __init__(self, store: Any, registry: Registry, node_view: Any = None) -> None:
        self.store = store
        self.registry = registry
        self.node_view = node_view  # the node lifecycle controller's view (Ready turns Unknown)
        self.changed = False
        self._wanted: dict[str, int] = {}  # DaemonSet uid: nodes that should run its pod

    # -- writing -------------------------------------------------------------------------------

    def _create(self, r: Resource, obj: dict[str, Any]) -> dict[str, Any]:
        meta = obj["metadata"]
        meta["uid"] = str(uuid.uuid4())
        meta["resourceVersion"] = self.store.next_rv()
        meta["creationTimestamp"] = rfc3339()
        obj["apiVersion"], obj["kind"] = r.gv, r.kind
        self.store.put(r, obj)
        self.changed = True
        return obj

    def _put(self, r: Resource, obj: dict[str, Any], before: str) -> None:
        if json.dumps(obj, sort_keys=True) == before:
            return
        obj["metadata"]["resourceVersion"] = self.store.next_rv()
        self.store.put(r, obj)
        self.changed = True

    def _event(
        self, pod: dict[str, Any], kind: str, reason: str, message: str, component: str
    ) -> None:
        r = _res(self.registry, "", "Event")
        meta = pod["metadata"]
        ns = meta.get("namespace", "default")
        name = f"{meta['name']}.{_suffix(meta['uid'], reason, message)}"
        existing = self.store.get(r, ns, name)
        now = rfc3339()
        if existing is not None:
            before = json.dumps(existing, sort_keys=True)
            existing["count"] = int(existing.get("count", 1)) + 1
            existing["lastTimestamp"] = now
            self._put(r, existing, before)
            return
        self._create(
            r,
            {
                "metadata": {"name": name, "namespace": ns},
                "involvedObject": {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "name": meta["name"],
                    "namespace": ns,
                    "uid": meta["uid"],
                },
                "type": kind,
                "reason": reason,
                "message": message,
                "source": {"component": component},
                "reportingComponent": component,
                "firstTimestamp": now,
                "lastTimestamp": now,
                "count": 1,
            },
        )

    # -- entry point ---------------------------------------------------------------------------

    def reconcile(self) -> bool:
        """One pass of every controller; True when something was written."""
        self.changed = False
        self._wanted = {}
        self._garbage()
        self._daemonsets()
        self._tfjobs()
        self._schedule()
        self._daemonset_statuses()
        self._tfjob_statuses()
        return self.changed

    def _nodes(self) -> list[dict[str, Any]]:
        nodes = self.store.items(_res(self.registry, "", "Node"))
        if self.node_view is None:
            return nodes
        out = []
        for node in nodes:
            view = copy.deepcopy(node)
            self.node_view(view)
            out.append(view)
        return out

    # -- garbage collector ---------------------------------------------------------------------

    def _garbage(self) -> None:
        """Owned objects whose controller owner is gone, and pods bound to a node that no
        longer exists (the pod GC's orphans)."""
        uids = {o["metadata"].get("uid") for o in self.store.objects.values()}
        pod_r = _res(self.registry, "", "Pod")
        node_names = {
            n["metadata"]["name"] for n in self.store.items(_res(self.registry, "", "Node"))
        }
        for p in self.store.items(pod_r):
            bound_to = (p.get("spec") or {}).get("nodeName")
            if bound_to and bound_to not in node_names:
                self.store.delete(pod_r, p["metadata"].get("namespace"), p["metadata"]["name"])
                self.changed = True
        for key, obj in list(self.store.objects.items()):
            refs = [
                ref
                for ref in (obj.get("metadata") or {}).get("ownerReferences") or []
                if ref.get("controller")
            ]
            if refs and all(ref.get("uid") not in uids for ref in refs):
                del self.store.objects[key]
                self.changed = True

    # -- DaemonSets ----------------------------------------------------------------------------

    def _daemonsets(self) -> None:
        ds_r = _res(self.registry, "apps", "DaemonSet")
        pod_r = _res(self.registry, "", "Pod")
        nodes = self._nodes()
        for ds in self.store.items(ds_r):
            uid = ds["metadata"]["uid"]
            ns = ds["metadata"]["namespace"]
            pods = [p for p in self.store.items(pod_r, ns) if _owned_by(p, uid)]
            by_node = {self._daemon_node(p): p for p in pods}
            wanted = 0
            for node in nodes:
                name = node["metadata"]["name"]
                pod = self._daemon_pod(ds, name)
                if not self._should_run(pod, node):
                    if name in by_node and not self._may_continue(pod, node):
                        self.store.delete(pod_r, ns, by_node[name]["metadata"]["name"])
                        self.changed = True
                    continue
                wanted += 1
                if name not in by_node:
                    self._create(pod_r, pod)
            self._wanted[uid] = wanted

    def _daemonset_statuses(self) -> None:
        ds_r = _res(self.registry, "apps", "DaemonSet")
        pod_r = _res(self.registry, "", "Pod")
        for ds in self.store.items(ds_r):
            uid = ds["metadata"]["uid"]
            ns = ds["metadata"]["namespace"]
            pods = [p for p in self.store.items(pod_r, ns) if _owned_by(p, uid)]
            wanted = self._wanted.get(uid, 0)
            before = json.dumps(ds, sort_keys=True)
            scheduled = sum(1 for p in pods if p["spec"].get("nodeName"))
            ds["status"] = {
                "currentNumberScheduled": scheduled,
                "desiredNumberScheduled": wanted,
                "numberMisscheduled": 0,
                "numberReady": 0,
                "numberUnavailable": wanted,
                "observedGeneration": ds["metadata"].get("generation", 1),
                "updatedNumberScheduled": len(pods),
            }
            self._put(ds_r, ds, before)

    @staticmethod
    def _daemon_node(pod: dict[str, Any]) -> str:
        terms = scheduler._required_node_affinity(pod) or []
        for term in terms:
            for f in term.get("matchFields") or []:
                if f.get("key") == "metadata.name" and f.get("values"):
                    return str(f["values"][0])
        return str(pod["spec"].get("nodeName", ""))

    @staticmethod
    def _should_run(pod: dict[str, Any], node: dict[str, Any]) -> bool:
        """daemon controller's NodeShouldRunDaemonPod: node name, selector and affinity, and
        taints (NoSchedule and NoExecute) against the pod's tolerations."""
        if not scheduler.matches_node(pod, node):
            return False
        tolerations = pod["spec"].get("tolerations") or []
        return scheduler.untolerated(scheduler.effective_taints(node), tolerations) is None

    @staticmethod
    def _may_continue(pod: dict[str, Any], node: dict[str, Any]) -> bool:
        """A pod that should not start there may keep running when the node still matches
        and only NoSchedule taints are untolerated (shouldContinueRunning)."""
        if not scheduler.matches_node(pod, node):
            return False
        taints = [t for t in scheduler.effective_taints(node) if t.get("effect") == "NoExecute"]
        return scheduler.untolerated(taints, pod["spec"].get("tolerations") or []) is None

    @staticmethod
    def _daemon_pod(ds: dict[str, Any], node: str) -> dict[str, Any]:
        template = copy.deepcopy((ds.get("spec") or {}).get("template") or {})
        meta = template.get("metadata") or {}
        spec = template.get("spec") or {}
        ds_meta = ds["metadata"]
        labels = dict(meta.get("labels") or {})
        labels["controller-revision-hash"] = _suffix(ds_meta["uid"], "revision")[:10]
        labels["pod-template-generation"] = str(ds_meta.get("generation", 1))
        tolerations = list(spec.get("tolerations") or [])
        for key, effect in DAEMON_TOLERATIONS:
            if not any(t.get("key") == key and t.get("effect") == effect for t in tolerations):
                tolerations.append({"key": key, "operator": "Exists", "effect": effect})
        if spec.get("hostNetwork"):
            key = "node.kubernetes.io/network-unavailable"
            if not any(t.get("key") == key for t in tolerations):
                tolerations.append({"key": key, "operator": "Exists", "effect": "NoSchedule"})
        spec["tolerations"] = tolerations
        pin = {"key": "metadata.name", "operator": "In", "values": [node]}
        affinity = spec.setdefault("affinity", {})
        node_affinity = affinity.setdefault("nodeAffinity", {})
        required = node_affinity.get("requiredDuringSchedulingIgnoredDuringExecution") or {}
        terms = required.get("nodeSelectorTerms") or [{}]
        for term in terms:
            term["matchFields"] = [pin]
        node_affinity["requiredDuringSchedulingIgnoredDuringExecution"] = {
            "nodeSelectorTerms": terms
        }
        spec.setdefault("schedulerName", scheduler.DEFAULT_SCHEDULER)
        spec.setdefault("restartPolicy", "Always")
        return {
            "metadata": {
                **{k: v for k, v in meta.items() if k not in ("name", "namespace", "labels")},
                "name": f"{ds_meta['name']}-{_suffix(ds_meta['uid'], node)}",
                "generateName": f"{ds_meta['name']}-",
                "namespace": ds_meta["namespace"],
                "labels": labels,
                "ownerReferences": [_owner(ds, "apps/v1", "DaemonSet")],
            },
            "spec": spec,
            "status": {"phase": "Pending", "qosClass": "BestEffort"},
        }

    # -- the training operator -----------------------------------------------------------------

    def _operator_runs(self) -> bool:
        deployments = self.store.items(_res(self.registry, "apps", "Deployment"))
        return any(d["metadata"]["name"] == OPERATOR_DEPLOYMENT for d in deployments)

    def _tfjob_resource(self) -> Resource | None:
        return self.registry.by_gvk("kubeflow.org", "v1", "TFJob")

    def _tfjobs(self) -> None:
        r = self._tfjob_resource()
        if r is None or not self._operator_runs():
            return
        pod_r = _res(self.registry, "", "Pod")
        svc_r = _res(self.registry, "", "Service")
        for job in self.store.items(r):
            ns = job["metadata"]["namespace"]
            before = json.dumps(job, sort_keys=True)
            status = job.setdefault("status", {})
            if not status.get("conditions"):
                set_condition(
                    status,
                    "Created",
                    "True",
                    "TFJobCreated",
                    f"TFJob {job['metadata']['name']} is created.",
                )
            specs = tfjob_defaults(job)
            run_policy = (job.get("spec") or {}).get("runPolicy") or {}
            finished = is_true(status, "Succeeded") or is_true(status, "Failed")
            try:
                if not finished and not run_policy.get("suspend"):
                    for rtype, spec in specs.items():
                        for index in range(spec["replicas"]):
                            pod = tfjob_pod(job, specs, rtype, index)
                            if self.store.get(pod_r, ns, pod["metadata"]["name"]) is None:
                                self._create(pod_r, pod)
                            svc = tfjob_service(job, specs, rtype, index)
                            if self.store.get(svc_r, ns, svc["metadata"]["name"]) is None:
                                self._create(svc_r, svc)
            except ValueError as exc:  # the operator logs the reconcile error and retries
                print(
                    f"training-operator stand-in: TFJob {ns}/{job['metadata']['name']}: {exc}",
                    file=sys.stderr,
                )
            self._put(r, job, before)

    def _tfjob_statuses(self) -> None:
        r = self._tfjob_resource()
        if r is None or not self._operator_runs():
            return
        pod_r = _res(self.registry, "", "Pod")
        for job in self.store.items(r):
            before = json.dumps(job, sort_keys=True)
            pods = [
                p
                for p in self.store.items(pod_r, job["metadata"]["namespace"])
                if _owned_by(p, job["metadata"]["uid"])
            ]
            update_tfjob_status(job, pods)
            self._put(r, job, before)

    # -- the scheduler and the kubelet's report --------------------------------------------------

    def _priority_classes(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for pc in self.store.items(_res(self.registry, "scheduling.k8s.io", "PriorityClass")):
            out[pc["metadata"]["name"]] = int(pc.get("value", 0))
            if pc.get("globalDefault"):
                out[""] = int(pc.get("value", 0))
        return out

    def _schedule(self) -> None:
        pod_r = _res(self.registry, "", "Pod")
        nodes = self._nodes()
        classes = self._priority_classes()
        pods = self.store.items(pod_r)
        queue = [
            p
            for p in pods
            if not p.get("spec", {}).get("nodeName")
            and (p["spec"].get("schedulerName") or scheduler.DEFAULT_SCHEDULER)
            == scheduler.DEFAULT_SCHEDULER
            and (p.get("status") or {}).get("phase", "Pending") == "Pending"
            and not (p["metadata"].get("deletionTimestamp"))
        ]
        # the scheduling queue: higher priority first, then the older pod
        queue.sort(
            key=lambda p: (
                -scheduler.priority(p, classes),
                p["metadata"].get("creationTimestamp", ""),
                p["metadata"].get("namespace", ""),
                p["metadata"]["name"],
            )
        )
        for pod in queue:
            before = json.dumps(pod, sort_keys=True)
            result = scheduler.schedule(pod, nodes, pods, classes)
            status = pod.setdefault("status", {})
            status.setdefault("phase", "Pending")
            conditions = [c for c in status.get("conditions") or [] if c["type"] != "PodScheduled"]
            meta = pod["metadata"]
            if result.node is None:
                old = next(
                    (c for c in status.get("conditions") or [] if c["type"] == "PodScheduled"),
                    {},
                )
                if old.get("message") != result.message:
                    self._event(
                        pod,
                        "Warning",
                        "FailedScheduling",
                        result.message,
                        scheduler.DEFAULT_SCHEDULER,
                    )
                conditions.append(
                    {
                        "type": "PodScheduled",
                        "status": "False",
                        "reason": "Unschedulable",
                        "message": result.message,
                        "lastProbeTime": None,
                        "lastTransitionTime": old.get("lastTransitionTime") or rfc3339(),
                    }
                )
                status["conditions"] = conditions
                self._put(pod_r, pod, before)
                continue
            pod["spec"]["nodeName"] = result.node
            node = next(n for n in nodes if n["metadata"]["name"] == result.node)
            self._event(
                pod,
                "Normal",
                "Scheduled",
                f"Successfully assigned {meta.get('namespace')}/{meta['name']} to {result.node}",
                scheduler.DEFAULT_SCHEDULER,
            )
            conditions.append(
                {
                    "type": "PodScheduled",
                    "status": "True",
                    "lastProbeTime": None,
                    "lastTransitionTime": rfc3339(),
                }
            )
            status["conditions"] = conditions
            self._kubelet_report(pod, node)
            self._put(pod_r, pod, before)

    @staticmethod
    def _kubelet_report(pod: dict[str, Any], node: dict[str, Any]) -> None:
        """What a kubelet that cannot start containers reports: Pending, every container
        waiting in ContainerCreating; and the stand-in's note."""
        meta = pod["metadata"]
        meta.setdefault("annotations", {})[NO_CONTAINERS] = NO_CONTAINERS_TEXT
        status = pod["status"]
        addresses = (node.get("status") or {}).get("addresses") or []
        ip = next((a["address"] for a in addresses if a.get("type") == "InternalIP"), None)
        if ip:
            status["hostIP"] = ip
            status["hostIPs"] = [{"ip": ip}]
        status["startTime"] = rfc3339()
        status["containerStatuses"] = [
            {
                "name": c.get("name", ""),
                "image": c.get("image", ""),
                "imageID": "",
                "ready": False,
                "restartCount": 0,
                "started": False,
                "state": {"waiting": {"reason": "ContainerCreating", "message": WAITING_MESSAGE}},
                "lastState": {},
            }
            for c in (pod.get("spec") or {}).get("containers") or []
        ]


# --------------------------------------------------------------------------------------------
# TFJob: what training-operator v1.9.0 derives (pure functions, tested on their own)


def tfjob_defaults(job: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """SetDefaults_TFJob on a copy: replica types in their camel case, replicas 1, restart
    policy Never, the default port on the tensorflow container."""
    raw = (job.get("spec") or {}).get("tfReplicaSpecs") or {}
    out: dict[str, dict[str, Any]] = {}
    for key, spec in raw.items():
        rtype = next((t for t in TF_TYPES if t.lower() == key.lower()), key)
        spec = copy.deepcopy(spec or {})
        spec.setdefault("replicas", 1)
        spec.setdefault("restartPolicy", "Never")
        pod_spec = spec.setdefault("template", {}).setdefault("spec", {})
        containers = pod_spec.setdefault("containers", [])
        index = next((i for i, c in enumerate(containers) if c.get("name") == TF_CONTAINER), 0)
        if containers:
            ports = containers[index].setdefault("ports", [])
            if not any(p.get("name") == TF_PORT_NAME for p in ports):
                ports.append({"name": TF_PORT_NAME, "containerPort": TF_PORT})
        out[rtype] = spec
    return out


def _port(spec: dict[str, Any]) -> int:
    for c in spec["template"]["spec"].get("containers") or []:
        if c.get("name") == TF_CONTAINER:
            for p in c.get("ports") or []:
                if p.get("name") == TF_PORT_NAME:
                    return int(p["containerPort"])
    raise ValueError("failed to find the port")


def _service_ports(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """core.GetPortsFromJob: every named port of the tensorflow container (none without one;
    Go's map order is random, the stand-in sorts by name)."""
    ports: dict[str, int] = {}
    for c in spec["template"]["spec"].get("containers") or []:
        if c.get("name") == TF_CONTAINER:
            for p in c.get("ports") or []:
                if p.get("name"):
                    ports[p["name"]] = int(p["containerPort"])
    return [{"name": n, "port": ports[n], "protocol": "TCP"} for n in sorted(ports)]


def general_name(job: str, rtype: str, index: int | str) -> str:
    """common.GenGeneralName."""
    return f"{job}-{rtype.lower()}-{index}".replace("/", "-")


def tf_config(job: dict[str, Any], specs: dict[str, dict[str, Any]], rtype: str, index: int) -> str:
    """genTFConfigJSONStr: Go's json.Marshal of {cluster, task, environment}: compact, the
    cluster's keys sorted (a Go map), hosts `<job>-<type>-<i>.<namespace>.svc[.domain]:port`."""
    name, ns = job["metadata"]["name"], job["metadata"]["namespace"]
    domain = os.environ.get(CLUSTER_DOMAIN_ENV, "")
    cluster: dict[str, list[str]] = {}
    for rt, spec in specs.items():
        port = _port(spec)
        hosts = []
        for i in range(spec["replicas"]):
            host = f"{general_name(name, rt, i)}.{ns}.svc"
            if domain:
                host += "." + domain
            hosts.append(f"{host}:{port}")
        cluster[rt.lower()] = hosts
    doc = {
        "cluster": dict(sorted(cluster.items())),
        "task": {"type": rtype.lower(), "index": index},
        "environment": "cloud",
    }
    return json.dumps(doc, separators=(",", ":"))


def is_distributed(specs: dict[str, dict[str, Any]]) -> bool:
    return sum(int(s["replicas"]) for t, s in specs.items() if t in TF_TYPES) != 1


def _labels(job: dict[str, Any], rtype: str, index: int) -> dict[str, str]:
    return {
        LABEL_OPERATOR: OPERATOR_NAME,
        LABEL_JOB: job["metadata"]["name"].replace("/", "-"),
        LABEL_TYPE: rtype.lower(),
        LABEL_INDEX: str(index),
    }


def _master_role(specs: dict[str, dict[str, Any]], rtype: str, index: int) -> bool:
    if "Chief" in specs or "Master" in specs:
        return rtype in ("Chief", "Master")
    return rtype == "Worker" and index == 0


def tfjob_pod(
    job: dict[str, Any], specs: dict[str, dict[str, Any]], rtype: str, index: int
) -> dict[str, Any]:
    """ReconcilePods/createNewPod: the template with the operator's labels, TF_CONFIG and the
    replica's restart policy (ExitCode runs as Never)."""
    spec = specs[rtype]
    template = copy.deepcopy(spec.get("template") or {})
    meta = template.get("metadata") or {}
    labels = dict(meta.get("labels") or {})
    labels.update(_labels(job, rtype, index))
    if _master_role(specs, rtype, index):
        labels[LABEL_ROLE] = "master"
    pod_spec = template.get("spec") or {}
    if is_distributed(specs):
        value = tf_config(job, specs, rtype, index)
        for c in pod_spec.get("containers") or []:
            if c.get("name") == TF_CONTAINER:
                c.setdefault("env", []).append({"name": "TF_CONFIG", "value": value})
                break
    policy = spec.get("restartPolicy", "Never")
    pod_spec["restartPolicy"] = "Never" if policy == "ExitCode" else policy
    pod_spec.setdefault("schedulerName", scheduler.DEFAULT_SCHEDULER)
    return {
        "metadata": {
            **{k: v for k, v in meta.items() if k not in ("name", "namespace", "labels")},
            "name": general_name(job["metadata"]["name"], rtype, index),
            "namespace": job["metadata"]["namespace"],
            "labels": labels,
            "ownerReferences": [_owner(job, "kubeflow.org/v1", "TFJob")],
        },
        "spec": pod_spec,
        "status": {"phase": "Pending"},
    }


def tfjob_service(
    job: dict[str, Any], specs: dict[str, dict[str, Any]], rtype: str, index: int
) -> dict[str, Any]:
    """CreateNewService: headless, selecting the replica's pod, the tensorflow container's
    ports."""
    labels = _labels(job, rtype, index)
    return {
        "metadata": {
            "name": general_name(job["metadata"]["name"], rtype, index),
            "namespace": job["metadata"]["namespace"],
            "labels": dict(labels),
            "ownerReferences": [_owner(job, "kubeflow.org/v1", "TFJob")],
        },
        "spec": {
            "clusterIP": "None",
            "clusterIPs": ["None"],
            "selector": dict(labels),
            "ports": _service_ports(specs[rtype]),
            "type": "ClusterIP",
        },
    }


def is_true(status: dict[str, Any], kind: str) -> bool:
    return any(
        c.get("type") == kind and c.get("status") == "True" for c in status.get("conditions") or []
    )


def set_condition(status: dict[str, Any], kind: str, value: str, reason: str, message: str) -> None:
    """util.UpdateJobConditions/setCondition: nothing after Failed, nothing when status and
    reason are unchanged; Running goes False when the job finishes."""
    conditions = status.get("conditions") or []
    if is_true(status, "Failed"):
        return
    current = next((c for c in conditions if c.get("type") == kind), None)
    if current and current.get("status") == value and current.get("reason") == reason:
        return
    now = rfc3339()
    since = current["lastTransitionTime"] if current and current.get("status") == value else now
    kept = []
    for c in conditions:
        if c.get("type") == kind:
            continue
        if {kind, c.get("type")} == {"Running", "Restarting"}:
            continue
        if kind in ("Failed", "Succeeded") and c.get("type") == "Running":
            c = {**c, "status": "False"}
        kept.append(c)
    kept.append(
        {
            "type": kind,
            "status": value,
            "reason": reason,
            "message": message,
            "lastUpdateTime": now,
            "lastTransitionTime": since,
        }
    )
    status["conditions"] = kept


def update_tfjob_status(job: dict[str, Any], pods: list[dict[str, Any]]) -> None:
    """ReconcileJobs + UpdateJobStatus of v1.9.0: replicaStatuses counted from the pods'
    phases (Running active, Succeeded, Failed), then the job's conditions."""
    status = job.setdefault("status", {})
    name, ns = job["metadata"]["name"], job["metadata"]["namespace"]
    specs = tfjob_defaults(job)
    if is_true(status, "Succeeded") or is_true(status, "Failed"):
        if is_true(status, "Succeeded"):
            for counts in (status.get("replicaStatuses") or {}).values():
                if counts.get("active"):
                    counts["succeeded"] = counts.get("succeeded", 0) + counts.pop("active")
        return
    run_policy = (job.get("spec") or {}).get("runPolicy") or {}
    if run_policy.get("suspend"):
        msg = f"TFJob {name} is suspended."
        for counts in (status.get("replicaStatuses") or {}).values():
            counts.pop("active", None)
        if is_true(status, "Running"):
            set_condition(status, "Running", "False", "TFJobSuspended", msg)
        if not is_true(status, "Suspended"):
            set_condition(status, "Suspended", "True", "TFJobSuspended", msg)
        return
    replica_statuses: dict[str, dict[str, int]] = {}
    worker0_done = False
    for rtype in specs:
        counts: dict[str, int] = {}
        for pod in pods:
            labels = pod["metadata"].get("labels") or {}
            if labels.get(LABEL_TYPE) != rtype.lower():
                continue
            phase = (pod.get("status") or {}).get("phase")
            key = {"Running": "active", "Succeeded": "succeeded", "Failed": "failed"}.get(
                str(phase)
            )
            if key == "active" and pod["metadata"].get("deletionTimestamp"):
                key = "failed"
            if key:
                counts[key] = counts.get(key, 0) + 1
            if rtype == "Worker" and labels.get(LABEL_INDEX) == "0" and phase == "Succeeded":
                worker0_done = True
        replica_statuses[rtype] = counts
    status["replicaStatuses"] = replica_statuses
    status.setdefault("startTime", rfc3339())
    success_policy = (job.get("spec") or {}).get("successPolicy") or ""
    chief = "Chief" in specs or "Master" in specs

    def succeeded() -> None:
        status.setdefault("completionTime", rfc3339())
        set_condition(
            status,
            "Succeeded",
            "True",
            "TFJobSucceeded",
            f"TFJob {ns}/{name} successfully completed.",
        )

    for rtype in TF_TYPES:
        if rtype not in specs:
            continue
        counts = replica_statuses[rtype]
        expected = int(specs[rtype]["replicas"]) - counts.get("succeeded", 0)
        running, failed = counts.get("active", 0), counts.get("failed", 0)
        if chief:
            if rtype in ("Chief", "Master"):
                if running > 0:
                    set_condition(
                        status, "Running", "True", "TFJobRunning", f"TFJob {ns}/{name} is running."
                    )
                if expected == 0:
                    succeeded()
        elif rtype == "Worker":
            if expected == 0 or (worker0_done and success_policy != "AllWorkers"):
                succeeded()
            elif running > 0:
                set_condition(
                    status, "Running", "True", "TFJobRunning", f"TFJob {ns}/{name} is running."
                )
        if failed > 0:
            if (job.get("spec") or {}).get("enableDynamicWorker") and rtype == "Worker":
                continue
            status.setdefault("completionTime", rfc3339())
            set_condition(
                status,
                "Failed",
                "True",
                "TFJobFailed",
                f"TFJob {ns}/{name} has failed because {failed} {rtype} replica(s) failed.",
            )
