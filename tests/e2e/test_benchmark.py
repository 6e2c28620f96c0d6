"""`dlrs-provision benchmark` on the cluster the session built (conftest's `cluster`).

Single mode runs the sandbox's test stack image on every node with `docker run`: that image is
NOT TensorFlow; its tf_cnn_benchmarks stand-in checks the flags it is given and prints a made-up
figure (10 + inter + intra threads), which is what lets this test see that each node got its
own calculator values. The report must say that the figures are a stand-in's. (The real
TensorFlow run is tests/tf/test_benchmark_command_tf.py.)

Multi mode surveys the stand-in cluster (nodes, pods), sizes the TFJob to what each node has
free and submits it: the API stand-in checks it against the v1.9.0 CRD's schema and stores it;
the stand-in training operator and scheduler create and bind its pods (placement by the
dlrs.intel.com/node label the Kubernetes phase sets), and the stand-in kubelets start no
containers, so the job must time out saying where each replica was bound and that its
containers never started. The sandbox has the seed's four nodes: the PS gets a worker node of its
own and each of the two workers another one; the master runs no replica (the placement says so).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from e2e_support import CLI, NODES, on

from dlrs_provision import paths
from dlrs_provision.facts import cached_facts_file, load_facts
from dlrs_provision.tuning import compute

pytestmark = pytest.mark.e2e

JOB = "dlrs-resnet50"
KUBECTL = "kubectl --kubeconfig /etc/kubernetes/admin.conf"


def bench(sandbox, cluster, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, "benchmark", sandbox.inventory, *args],
        capture_output=True,
        text=True,
        env=os.environ | {paths.STATE_ENV: str(cluster.state)},
        timeout=900,
    )


def written(proc: subprocess.CompletedProcess[str]) -> dict[str, Path]:
    paths_ = [Path(line[len("wrote ") :]) for line in proc.stdout.splitlines()
              if line.startswith("wrote ")]  # fmt: skip
    return {p.name: p for p in paths_}


def test_single_mode_runs_each_node_with_its_own_values_and_marks_stand_in_figures(
    sandbox, cluster
):
    proc = bench(
        sandbox, cluster, "--mode", "single", "--benchmark", "image", "--compare-default",
        "--batch-size", "2", "--num-batches", "3",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    files = written(proc)
    assert set(files) == {"report.md", "report.json", "chart.png"}
    assert files["chart.png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = json.loads(files["report.json"].read_text())
    assert report["stand_in"] is True and report["compared"] is True
    by_node = {n["node"]: n for n in report["nodes"]}
    assert set(by_node) == set(NODES)
    for node in NODES:
        facts = load_facts(cached_facts_file(cluster.state / "facts", node))
        want = compute(facts, mode="single")
        # the stand-in's made-up figure carries the thread counts it was given
        expected = 10 + want.num_inter_threads + want.num_intra_threads
        assert by_node[node]["tuned"] == pytest.approx(expected), (node, by_node[node])
        assert by_node[node]["untuned"] == pytest.approx(10.0), (node, by_node[node])
    assert "STAND-IN FIGURES, NOT MEASUREMENTS" in files["report.md"].read_text()
    assert "STAND-IN" in proc.stdout
    # no benchmark container is left on any node
    for node in NODES:
        assert "dlrs-benchmark-" not in on(node, "docker ps -a --format '{{.Names}}'")


def test_multi_mode_submits_a_schema_valid_tfjob_whose_pods_are_placed_but_never_run(
    sandbox, cluster
):
    try:
        proc = bench(sandbox, cluster, "--mode", "multi", "--timeout", "20")
        out = proc.stdout + proc.stderr
        assert proc.returncode == 1, out[-3000:]
        workers = cluster_workers(sandbox)
        ps_node, worker_nodes = workers[0], workers[1:]
        # the seed's layout: 1 PS and 2 workers, each on a node of its own, nothing on the master
        assert f"placement: ps-0 -> {ps_node} (own node, seed layout: 1 PS and 2 workers" in out
        assert f"placement: worker-0..worker-1 -> {', '.join(worker_nodes)}, one each" in out
        assert "placement: node1 (master): no replica" in out
        assert "did not finish within 20 s" in out, out[-3000:]
        assert "all replicas bound: " in out, out[-3000:]
        assert "; containers not started after" in out, out[-3000:]
        bound = out.split("all replicas bound: ", 1)[1].split(";", 1)[0].split(", ")
        # which worker index lands on which worker node is the scheduler's choice
        placed = {r.split(" on ")[0]: r.split(" on ")[1] for r in bound}
        assert placed["ps-0"] == ps_node, bound
        assert sorted(placed[f"worker-{i}"] for i in (0, 1)) == sorted(worker_nodes), bound
        job = json.loads(on("node1", f"{KUBECTL} get tfjob {JOB} -o json"))
        # the stand-in API server stored it only after checking it against the CRD's schema
        assert job["kind"] == "TFJob" and set(job["spec"]["tfReplicaSpecs"]) == {"PS", "Worker"}
        specs = job["spec"]["tfReplicaSpecs"]
        assert specs["Worker"]["replicas"] == len(worker_nodes)
        for kind, hosts in (("PS", [ps_node]), ("Worker", worker_nodes)):
            pod = specs[kind]["template"]["spec"]
            term = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
            assert term["nodeSelectorTerms"][0]["matchExpressions"][0]["values"] == hosts
            assert "tolerations" not in pod  # the master runs no workload
            res = pod["containers"][0]["resources"]
            assert res["requests"] == res["limits"] and res["limits"]["cpu"].isdigit()
        nodes = json.loads(on("node1", f"{KUBECTL} get nodes -o json"))["items"]
        labels = {n["metadata"]["name"]: n["metadata"]["labels"] for n in nodes}
        for name in NODES:
            assert labels[name]["dlrs.intel.com/node"] == name
        # the training operator stand-in made every replica's pod; each is bound (and runs no
        # container) or Pending with the scheduler's reason
        pods = json.loads(
            on("node1", f"{KUBECTL} get pods -l training.kubeflow.org/job-name={JOB} -o json")
        )["items"]
        names = sorted(p["metadata"]["name"] for p in pods)
        assert names == [f"{JOB}-ps-0"] + [f"{JOB}-worker-{i}" for i in range(len(worker_nodes))]
        for p in pods:
            replica = p["metadata"]["name"].removeprefix(f"{JOB}-")
            assert p["spec"]["nodeName"] == placed[replica], (replica, p["spec"])
            # the stand-in kubelet runs no container, and the pod says so
            assert "stand-in.dlrs-provision.io/no-containers" in p["metadata"]["annotations"]
        record = json.loads(next(cluster.state.glob("runs/*-benchmark/benchmark/multi.json"))
                            .read_text())  # fmt: skip
        assert record["outcome"] == "timeout"
        assert sorted(r.split(" (")[0] for r in record["replicas"]) == sorted(bound)
    finally:
        on("node1", f"{KUBECTL} delete tfjob {JOB} --ignore-not-found", check=False)


def cluster_workers(sandbox) -> list[str]:
    return [n.name for n in sandbox.nodes if n.role == "worker"]
