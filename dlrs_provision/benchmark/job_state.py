"""How a TFJob stands, from `kubectl get tfjob -o json` and its pods' `kubectl get pods -o json`.

    state = job_state.interpret(job, pods, elapsed_s=40, timeout_s=3600, pending_timeout_s=120)
    state.done, state.outcome, state.message

The benchmark role polls the job; this module says when to stop and why, in words an operator
can act on:

- succeeded / failed: the TFJob's Succeeded or Failed condition is True (the training
  operator's message for a failure);
- unschedulable: a pod has stayed Pending with PodScheduled=False, reason Unschedulable, for
  pending_timeout_s: the scheduler's own message ("0/3 nodes are available: 1 Insufficient
  cpu, ...") is the report, not a timeout;
- not-started: every pod is bound to a node but a container has not started for
  pending_timeout_s: where each replica went, and each waiting container's reason and message
  (ContainerCreating, ErrImagePull, ImagePullBackOff, CreateContainerError, ...);
- timeout: none of these within timeout_s; the pods as they are, or "no pods at all" (the
  training operator is not running).

Pure functions over the API's JSON shapes (core/v1 Pod status: phase, conditions,
initContainerStatuses and containerStatuses with state.waiting/running/terminated).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

REPLICA_TYPE_LABEL = "training.kubeflow.org/replica-type"
REPLICA_INDEX_LABEL = "training.kubeflow.org/replica-index"
DONE = ("succeeded", "failed", "unschedulable", "not-started", "timeout")


@dataclass
class State:
    outcome: str  # succeeded, failed, unschedulable, not-started, timeout, running
    message: str
    done: bool
    replicas: list[str] = field(default_factory=list)  # "worker-0 on xeon-w02 (Running)"

    def to_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "message": self.message,
            "done": self.done,
            "replicas": list(self.replicas),
        }


def _replica(pod: dict[str, Any]) -> str:
    meta = pod.get("metadata") or {}
    labels = meta.get("labels") or {}
    kind, index = labels.get(REPLICA_TYPE_LABEL), labels.get(REPLICA_INDEX_LABEL)
    if kind and index is not None:
        return f"{kind.lower()}-{index}"
    return str(meta.get("name", "?"))


def _condition(pod: dict[str, Any], kind: str) -> dict[str, Any] | None:
    for c in (pod.get("status") or {}).get("conditions") or []:
        if c.get("type") == kind:
            return c
    return None


def unschedulable(pod: dict[str, Any]) -> str | None:
    """The scheduler's message when the pod is Pending as Unschedulable, else None."""
    if (pod.get("status") or {}).get("phase") != "Pending":
        return None
    c = _condition(pod, "PodScheduled")
    if c and c.get("status") == "False" and c.get("reason") == "Unschedulable":
        return str(c.get("message") or "Unschedulable (no message)")
    return None


def waiting(pod: dict[str, Any]) -> list[str]:
    """Each container of a bound pod that has not started: 'NAME: REASON: MESSAGE'."""
    status = pod.get("status") or {}
    out: list[str] = []
    seen = False
    for key in ("initContainerStatuses", "containerStatuses"):
        for cs in status.get(key) or []:
            seen = True
            state = cs.get("state") or {}
            if "waiting" in state:
                w = state["waiting"] or {}
                text = f"{cs.get('name', '?')}: {w.get('reason') or 'Waiting'}"
                if w.get("message"):
                    text += f": {w['message']}"
                out.append(text)
    if not seen and status.get("phase") == "Pending":
        out.append("no container status yet (the node's kubelet has not reported the pod)")
    return out


def _pods_said(pods: list[dict[str, Any]], log_tail: int, results_dir: str) -> str:
    if not pods:
        return (
            "no pods at all: the training operator is not running or not installed (the "
            "Kubeflow phase installs it)"
        )
    listed = ", ".join(
        f"{(p.get('metadata') or {}).get('name', '?')} "
        f"{(p.get('status') or {}).get('phase', 'Unknown')} "
        f"{(p.get('spec') or {}).get('nodeName') or 'not scheduled'}"
        for p in pods
    )
    return f"pods: {listed}; the last {log_tail} lines of each pod log are in {results_dir}"


def interpret(
    job: dict[str, Any] | None,
    pods: list[dict[str, Any]],
    elapsed_s: int,
    timeout_s: int,
    pending_timeout_s: int,
    label: str = "TFJob",
    log_tail: int = 40,
    results_dir: str = "the results folder",
) -> State:
    conditions = ((job or {}).get("status") or {}).get("conditions") or []
    true = {c.get("type"): c for c in conditions if c.get("status") == "True"}
    replicas = [
        f"{_replica(p)} on {(p.get('spec') or {}).get('nodeName') or 'no node'} "
        f"({(p.get('status') or {}).get('phase', 'Unknown')})"
        for p in pods
    ]
    if "Succeeded" in true:
        return State("succeeded", f"{label} succeeded", True, replicas)
    if "Failed" in true:
        reason = true["Failed"].get("message") or ""
        return State(
            "failed",
            f"{label} failed"
            + (f": {reason}" if reason else "")
            + "; "
            + _pods_said(pods, log_tail, results_dir),
            True,
            replicas,
        )

    def waiting_on(verdict: str, message: str) -> State:
        """Replicas that wait on something: the verdict once pending_timeout_s has passed,
        a timeout once timeout_s has, else still running."""
        if elapsed_s >= pending_timeout_s:
            return State(verdict, message, True, replicas)
        if elapsed_s >= timeout_s:
            return State("timeout", f"{label} did not finish within {timeout_s} s; {message}",
                         True, replicas)  # fmt: skip
        return State("running", message, False, replicas)

    blocked = [(p, msg) for p in pods if (msg := unschedulable(p)) is not None]
    if blocked:
        message = f"{label} cannot be scheduled: " + "; ".join(
            f"{_replica(p)} ({(p.get('metadata') or {}).get('name', '?')}) Pending, "
            f"PodScheduled=False Unschedulable: {msg}"
            for p, msg in blocked
        )
        return waiting_on("unschedulable", message)
    bound = [p for p in pods if (p.get("spec") or {}).get("nodeName")]
    not_started = [(p, w) for p in bound if (p.get("status") or {}).get("phase") == "Pending"
                   and (w := waiting(p))]  # fmt: skip
    if pods and len(bound) == len(pods) and not_started:
        placed = ", ".join(
            f"{_replica(p)} on {(p.get('spec') or {}).get('nodeName')}" for p in bound
        )
        message = (
            f"{label}: all replicas bound: {placed}; containers not started after "
            f"{elapsed_s} s: " + "; ".join(f"{_replica(p)} {', '.join(w)}" for p, w in not_started)
        )
        return waiting_on("not-started", message)
    if elapsed_s >= timeout_s:
        return State(
            "timeout",
            f"{label} did not finish within {timeout_s} s; "
            + _pods_said(pods, log_tail, results_dir),
            True,
            replicas,
        )
    return State("running", f"{label} running: " + (", ".join(replicas) or "no pods yet"),
                 False, replicas)  # fmt: skip


SEPARATOR = "---dlrs-provision---"


def from_output(text: str, **options: Any) -> State:
    """interpret() over the wait task's output: the TFJob's JSON, SEPARATOR, the pods' List."""
    job_text, _, pods_text = (text or "").partition(SEPARATOR)
    try:
        job = json.loads(job_text) if job_text.strip() else None
    except ValueError:
        job = None
    try:
        pods = (json.loads(pods_text) or {}).get("items") or [] if pods_text.strip() else []
    except ValueError:
        pods = []
    return interpret(job, [p for p in pods if isinstance(p, dict)], **options)
