"""Faults on the session's converged sandbox cluster: the package mirror down, the cluster's
registry down, a worker lost mid-run, the master lost before a worker joins.

Each test breaks one thing, runs `dlrs-provision cluster` as an operator would, and checks that
the run fails naming host, phase, task and reason while the other hosts finish, then heals the
fault and runs the resume command the summary printed: it completes the job and changes only
what needed it. What a test breaks it puts back in `finally`; the module's `restored` fixture
puts every container and service back at the end, also when a test fails half-way, so the
modules after this one find the cluster as the `cluster` fixture left it.

Time: each fault costs two cluster runs; the runs use --limit where the fault does not need
every host (the resume command keeps that limit).
"""

from __future__ import annotations

import time

import pytest
from e2e_faults import (
    changed_results,
    failure,
    phase_started,
    resume_args,
    run_watched,
    wait_for,
)
from e2e_support import MIRROR, NODES, docker, on

from dlrs_harness import sandbox as sandbox_api

pytestmark = pytest.mark.e2e

IMAGE = "clearlinux/stacks-dlaas-mkl:latest"
KUBECTL = "kubectl --kubeconfig /etc/kubernetes/admin.conf"
TIMES: list[str] = []


def _running(container: str) -> bool:
    out = docker("inspect", "-f", "{{.State.Running}}", container, check=False).stdout
    return out.strip() == "true"


def _bring_back(sandbox, node: str) -> None:
    """Start a stopped node's container again; `up` rewrites the inventory with the new
    published SSH port, and the session's sandbox state takes it."""
    container = sandbox.node(node).container
    if not _running(container):
        docker("start", container)
    fresh = sandbox_api.up(nodes=len(NODES), os="mixed")
    sandbox.nodes[:] = fresh.nodes
    wait_for(
        lambda: (
            on(node, "systemctl is-system-running || true", check=False).strip()
            in ("running", "degraded")
        ),
        120,
        f"{node}'s systemd after the restart",
    )


@pytest.fixture(scope="module", autouse=True)
def restored(sandbox, cluster):
    """Whatever a test left broken is put back after the module: the mirror's services, the
    master's registry, every node's container."""
    yield
    for service in ("apt-cacher-ng", "docker-registry"):
        docker("exec", MIRROR, "systemctl", "start", service, check=False)
    for node in NODES:
        if not _running(sandbox.node(node).container):
            _bring_back(sandbox, node)
    on("node1", "systemctl start docker-registry", check=False)
    for line in TIMES:
        print(line)


def _timed(label: str, fn, *args, **kwargs):
    t0 = time.monotonic()
    result = fn(*args, **kwargs)
    TIMES.append(f"{label}: {time.monotonic() - t0:.0f} s")
    return result


def _time_sync_package(node: str) -> str:
    installed = on(
        node,
        "dpkg-query -W -f '${Package} ${Status}\\n' systemd-timesyncd chrony 2>/dev/null; true",
    )
    # "install ok installed"; a package dpkg knows but lacks reads "unknown ok not-installed"
    names = [ln.split()[0] for ln in installed.splitlines() if ln.endswith(" ok installed")]
    assert names, f"{node} has neither time-sync package: {installed!r}"
    return names[0]


def test_package_mirror_down_fails_the_host_that_needs_it_and_resume_installs_it(sandbox, cluster):
    # node3 (Debian) lost the time-sync package the OS phase installs, and apt's own copy of
    # it: the run must fetch it through the mirror's apt-cacher-ng, which is down.
    package = _time_sync_package("node3")
    # purged, not removed: a removed package's leftover config keeps it in dpkg's list, which
    # the role may read as installed (the first run of this test saw no install attempted)
    on("node3", f"apt-get purge -y --no-auto-remove {package} >/dev/null && apt-get clean")
    docker("exec", MIRROR, "systemctl", "stop", "apt-cacher-ng")
    try:
        run = _timed(
            "mirror down: failing run",
            run_watched,
            sandbox.inventory,
            cluster.state,
            "--limit",
            "node1,node3",
            timeout=900,
        )
    finally:
        docker("exec", MIRROR, "systemctl", "start", "apt-cacher-ng")
    assert run.rc == 1, run.explain()
    hosts = run.summary["hosts"]
    assert hosts["node3"]["state"] == "failed", run.explain()
    why = failure(run, "node3")
    assert why["phase"] == "OS" and why["task"].startswith("Report the packages apt could"), why
    # the package, apt's own words and the proxy the sandbox's nodes use (the mirror's)
    assert package in why["message"] and "apt" in why["message"], why
    assert "http://mirror:3142" in why["message"], why
    # the master did every phase, the Kubeflow one included
    assert hosts["node1"]["failed"] == 0 and hosts["node1"]["unreachable"] == 0, run.explain()
    assert any(p.startswith("Kubeflow") for p in run.phases), run.phases
    assert "node3" not in on("node3", "dpkg-query -W -f '${Status}' " + package, check=False)

    args = resume_args(run)
    assert args == ["--limit", "node1,node3"], args
    again = _timed("mirror down: resume", run_watched, sandbox.inventory, cluster.state, *args)
    assert again.rc == 0, again.explain()
    assert on("node3", f"dpkg-query -W -f '${{Status}}' {package}").endswith("installed")
    assert again.changed()["node1"] == 0, changed_results(again)
    assert {h for h, _, _ in changed_results(again)} == {"node3"}
    assert {p for _, p, _ in changed_results(again)} == {"OS"}, changed_results(again)


def _forget_image(node: str) -> None:
    on(
        node,
        f"docker image rm -f {IMAGE} >/dev/null 2>&1; "
        "docker images --format '{{.Repository}}:{{.Tag}}' | grep stacks-dlaas-mkl "
        "| xargs -r docker image rm -f >/dev/null 2>&1; "
        "ctr -n k8s.io images ls -q | grep stacks-dlaas-mkl "
        "| xargs -r ctr -n k8s.io images rm --sync >/dev/null; true",
    )


def test_cluster_registry_down_fails_the_pull_and_resume_pulls_only_there(sandbox, cluster):
    # node3 lost the stack image; the master's registry goes down once the workers' image play
    # starts (a run that reaches the master's registry_cache role first would start it again).
    _forget_image("node3")
    try:
        run = _timed(
            "registry down: failing run",
            run_watched,
            sandbox.inventory,
            cluster.state,
            when=phase_started("Images - stack image on the workers"),
            then=lambda: on("node1", "systemctl stop docker-registry"),
            timeout=1200,
        )
    finally:
        on("node1", "systemctl start docker-registry")
    assert run.rc == 1, run.explain()
    hosts = run.summary["hosts"]
    assert hosts["node3"]["state"] == "failed", run.explain()
    why = failure(run, "node3")
    assert why["phase"].startswith("Images - stack image on the workers"), why
    assert "node1:5443" in why["message"] and IMAGE in why["message"], why
    # The workers that hold the image cannot check it against the registry either (the tag is
    # resolved there): they stop in the same play, saying so; none of them goes further.
    for worker in ("node2", "node4"):
        assert hosts[worker]["state"] == "failed", run.explain()
        assert failure(run, worker)["phase"] == why["phase"], failure(run, worker)
    # The master does not need its registry after it filled it: it did every phase, although
    # every host of the workers' play failed (Ansible ends a run there unless the play keeps
    # one host that did not fail: the master stays in it, doing nothing)
    assert hosts["node1"]["failed"] == 0 and hosts["node1"]["unreachable"] == 0, run.explain()
    assert any(p.startswith("Kubeflow") for p in run.phases), run.phases
    kubeflow = [x for x in run.lines if x["kind"] == "result" and x["phase"].startswith("Kubeflow")]
    assert {x["host"] for x in kubeflow} == {"node1"}, kubeflow[:3]

    # healed (the registry runs again): the resume pulls on node3 and changes nothing else
    args = resume_args(run)
    assert args == [], args
    again = _timed("registry down: resume", run_watched, sandbox.inventory, cluster.state, *args)
    assert again.rc == 0, again.explain()
    assert IMAGE.split(":")[0] in on("node3", "docker images --format '{{.Repository}}'")
    assert {h for h, _, _ in changed_results(again)} == {"node3"}, changed_results(again)
    assert {p for _, p, _ in changed_results(again)} == {
        "Images - stack image on the workers (from the cache)"
    }, changed_results(again)


def test_worker_lost_mid_run_leaves_the_others_done_and_resume_finishes_it(sandbox, cluster):
    node4 = sandbox.node("node4").container
    try:
        run = _timed(
            "worker lost: failing run",
            run_watched,
            sandbox.inventory,
            cluster.state,
            when=phase_started("Container runtime"),
            then=lambda: docker("stop", "-t", "1", node4),
            timeout=1200,
        )
    finally:
        _bring_back(sandbox, "node4")
    assert run.rc == 1, run.explain()
    hosts = run.summary["hosts"]
    assert hosts["node4"]["state"] == "unreachable", run.explain()
    why = failure(run, "node4")
    assert why["status"] == "unreachable" and why["phase"] == "Container runtime", why
    assert why["task"] and why["message"], why
    for other in ("node1", "node2", "node3"):
        assert hosts[other]["failed"] == 0 and hosts[other]["unreachable"] == 0, run.explain()
    assert any(p.startswith("Kubeflow") for p in run.phases), run.phases

    args = resume_args(run)
    assert args == [], args
    again = _timed("worker lost: resume", run_watched, sandbox.inventory, cluster.state, *args)
    assert again.rc == 0, again.explain()
    changed = again.changed()
    assert changed["node1"] == changed["node2"] == changed["node3"] == 0, changed_results(again)
    nodes = on("node1", f"{KUBECTL} get nodes -o name")
    assert "node/node4" in nodes, nodes


def test_master_lost_before_a_worker_joins_and_resume_joins_it(sandbox, cluster):
    # node3 must join again: reset it and remove it from the cluster
    on("node3", "kubeadm reset -f >/dev/null")
    on("node1", f"{KUBECTL} delete node node3 >/dev/null")
    node1 = sandbox.node("node1").container
    try:
        run = _timed(
            "master lost: failing run",
            run_watched,
            sandbox.inventory,
            cluster.state,
            when=phase_started("Kubernetes workers"),
            then=lambda: docker("stop", "-t", "1", node1),
            timeout=1200,
        )
    finally:
        _bring_back(sandbox, "node1")
    assert run.rc == 1, run.explain()
    hosts = run.summary["hosts"]
    assert hosts["node3"]["state"] in ("failed", "unreachable"), run.explain()
    why = failure(run, "node3")
    assert why["phase"] == "Kubernetes workers" and why["task"] and why["message"], why
    # the joined workers had nothing that needs the master in that play
    for other in ("node2", "node4"):
        assert hosts[other]["unreachable"] == 0, run.explain()

    wait_for(
        lambda: "node2" in on("node1", f"{KUBECTL} get nodes -o name", check=False),
        180,
        "the API server after the master's restart",
    )
    args = resume_args(run)
    again = _timed("master lost: resume", run_watched, sandbox.inventory, cluster.state, *args)
    assert again.rc == 0, again.explain()
    nodes = on("node1", f"{KUBECTL} get nodes -o name")
    assert "node/node3" in nodes, nodes
    assert again.changed()["node2"] == again.changed()["node4"] == 0, changed_results(again)
