"""job_state: when the benchmark's wait stops and what it says, on real-shaped pod JSON."""

from __future__ import annotations

import json

from dlrs_provision.benchmark import job_state

LABEL = "TFJob default/dlrs-resnet50"
RUNNING_JOB = {
    "apiVersion": "kubeflow.org/v1",
    "kind": "TFJob",
    "status": {"conditions": [{"type": "Created", "status": "True", "reason": "TFJobCreated"}]},
}
# what kube-scheduler writes on a pod it cannot place (pkg/scheduler/schedule_one.go)
INSUFFICIENT = (
    "0/4 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/"
    "control-plane: }, 3 Insufficient cpu. preemption: 0/4 nodes are available: 4 No "
    "preemption victims found for incoming pod."
)


def pod(kind: str, index: int, node: str | None = None, phase="Pending", **status) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"dlrs-resnet50-{kind}-{index}",
            "namespace": "default",
            "labels": {
                "training.kubeflow.org/job-name": "dlrs-resnet50",
                "training.kubeflow.org/replica-type": kind,
                "training.kubeflow.org/replica-index": str(index),
            },
        },
        "spec": {"nodeName": node} if node else {},
        "status": {"phase": phase, **status},
    }


def unschedulable_pod(kind: str, index: int) -> dict:
    return pod(
        kind,
        index,
        conditions=[
            {
                "type": "PodScheduled",
                "status": "False",
                "reason": "Unschedulable",
                "message": INSUFFICIENT,
                "lastTransitionTime": "2026-12-02T16:00:00Z",
            }
        ],
    )


def waiting_pod(kind: str, index: int, node: str, reason: str, message: str = "") -> dict:
    state = {"waiting": {"reason": reason} | ({"message": message} if message else {})}
    return pod(
        kind,
        index,
        node,
        conditions=[{"type": "PodScheduled", "status": "True"}],
        containerStatuses=[
            {"name": "tensorflow", "ready": False, "restartCount": 0, "state": state,
             "image": "clearlinux/stacks-dlaas-mkl:latest", "imageID": ""}
        ],
    )  # fmt: skip


def interpret(pods: list, elapsed: int, job=RUNNING_JOB, timeout=3600, pending=120):
    return job_state.interpret(
        job, pods, elapsed_s=elapsed, timeout_s=timeout, pending_timeout_s=pending, label=LABEL
    )


def test_an_unschedulable_pod_stops_the_wait_with_the_schedulers_message():
    pods = [pod("ps", 0, "xeon-w01", phase="Running"), unschedulable_pod("worker", 1)]
    early = interpret(pods, elapsed=30)
    assert not early.done and early.outcome == "running"
    state = interpret(pods, elapsed=120)
    assert state.done and state.outcome == "unschedulable"
    assert state.message.startswith(f"{LABEL} cannot be scheduled: worker-1 (dlrs-resnet50-")
    assert "PodScheduled=False Unschedulable: 0/4 nodes are available" in state.message
    assert "3 Insufficient cpu" in state.message
    assert "did not finish" not in state.message and "no pods" not in state.message


def test_bound_pods_whose_containers_never_start_are_reported_as_such():
    pods = [
        waiting_pod("ps", 0, "xeon-w01", "ContainerCreating"),
        waiting_pod("worker", 0, "xeon-w02", "ImagePullBackOff",
                    'Back-off pulling image "clearlinux/stacks-dlaas-mkl:latest"'),
        waiting_pod("worker", 1, "xeon-w03", "CreateContainerError",
                    "failed to create containerd task: no such file"),
    ]  # fmt: skip
    assert not interpret(pods, elapsed=60).done
    state = interpret(pods, elapsed=300)
    assert state.done and state.outcome == "not-started"
    assert (
        f"{LABEL}: all replicas bound: ps-0 on xeon-w01, worker-0 on xeon-w02, worker-1 on "
        "xeon-w03; containers not started after 300 s: "
    ) in state.message
    assert "ps-0 tensorflow: ContainerCreating" in state.message
    assert 'worker-0 tensorflow: ImagePullBackOff: Back-off pulling image "clearlinux' in (
        state.message
    )
    assert "worker-1 tensorflow: CreateContainerError: failed to create" in state.message


def test_a_pod_without_container_statuses_yet_counts_as_not_started():
    pods = [pod("worker", 0, "xeon-w02", conditions=[{"type": "PodScheduled", "status": "True"}])]
    state = interpret(pods, elapsed=200, pending=100)
    assert state.outcome == "not-started"
    assert "worker-0 no container status yet" in state.message


def test_running_pods_keep_the_wait_going_until_the_timeout():
    pods = [pod("ps", 0, "xeon-w01", phase="Running"), pod("worker", 0, "xeon-w02", "Running")]
    assert interpret(pods, elapsed=500).outcome == "running"
    state = interpret(pods, elapsed=3600)
    assert state.done and state.outcome == "timeout"
    assert state.message.startswith(f"{LABEL} did not finish within 3600 s; pods: ")
    assert "dlrs-resnet50-worker-0 Running xeon-w02" in state.message


def test_no_pods_at_all_names_the_training_operator():
    state = interpret([], elapsed=3600)
    assert state.outcome == "timeout"
    assert "no pods at all: the training operator is not running" in state.message


def test_the_jobs_conditions_decide_first():
    failed = {
        "status": {
            "conditions": [
                {"type": "Created", "status": "True"},
                {"type": "Failed", "status": "True",
                 "message": "TFJob default/dlrs-resnet50 has failed because 1 Worker replica(s) "
                 "failed."},
            ]
        }
    }  # fmt: skip
    pods = [pod("worker", 0, "xeon-w02", phase="Failed")]
    state = interpret(pods, elapsed=10, job=failed)
    assert state.done and state.outcome == "failed"
    assert "failed: TFJob default/dlrs-resnet50 has failed because 1 Worker" in state.message
    ok = {"status": {"conditions": [{"type": "Succeeded", "status": "True"}]}}
    assert interpret(pods, elapsed=10, job=ok).outcome == "succeeded"


def test_the_wait_tasks_output_is_read_whole():
    text = (
        json.dumps(RUNNING_JOB)
        + "\n"
        + job_state.SEPARATOR
        + "\n"
        + json.dumps({"kind": "List", "items": [unschedulable_pod("worker", 0)]})
    )
    state = job_state.from_output(
        text, elapsed_s=10, timeout_s=100, pending_timeout_s=10, label=LABEL
    )
    assert state.outcome == "unschedulable" and state.replicas == ["worker-0 on no node (Pending)"]
