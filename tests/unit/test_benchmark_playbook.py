"""playbooks/benchmark.yml through `dlrs-provision benchmark`, on localhost, against a recorded
fake `docker` and a recorded fake `kubectl` put first on PATH (unit tests only: nothing runs).

Single mode: the `docker run` each run gets (the node's single-node tuning from its CPU
topology), the logs brought back, the report, the exit code when a run fails. Multi mode: what
the command says when the cluster lacks the TFJob kind, when the job times out with no pods,
and when it fails (its pods and their last log lines).
"""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pytest
import yaml
from conftest import FACTS, lscpu_text

from dlrs_provision import cli, tuning

FAKE = textwrap.dedent(
    """\
    #!{python}
    # recorded fake {tool}: replays scenario.json beside it, writes down each call
    import json, pathlib, sys
    here = pathlib.Path(__file__).resolve().parent
    scenario = json.loads((here / "scenario.json").read_text())
    args = sys.argv[1:]
    with open(here / "{tool}.calls", "a") as out:
        out.write(json.dumps(args) + "\\n")
    {body}
    """
)
DOCKER = """
word = args[0]
if word == "version":
    print("20.10.24+dfsg1")
elif word == "image":
    print("sha256:" + "ab" * 32)
elif word == "run":
    print("c0ffee")
elif word == "wait":
    print(scenario["exit"][args[1].rsplit("-", 1)[1]])
elif word == "logs":
    print(scenario["logs"][args[1].rsplit("-", 1)[1]])
"""
KUBECTL = """
words = [a for a in args if not a.startswith("-")]
# drop the values of --kubeconfig/--namespace/-l/-f
skip = {"--kubeconfig", "--namespace", "-l", "-f"}
words = [a for i, a in enumerate(args) if not a.startswith("-") and args[i - 1] not in skip]
reply = {"delete": {"rc": 0, "stdout": "", "stderr": ""}}
if words[0] == "apply":
    reply = scenario["apply"]
elif words[:2] == ["get", "tfjob"]:
    reply = {"rc": 0, "stdout": json.dumps(scenario["tfjob"]), "stderr": ""}
elif words[:2] == ["get", "nodes"]:
    node = {"metadata": {"name": "localhost"},
            "status": {"allocatable": {"cpu": "72", "memory": "190Gi", "pods": "110"}}}
    items = scenario.get("nodes", [node])
    reply = {"rc": 0, "stdout": json.dumps({"kind": "List", "items": items}), "stderr": ""}
elif words[:2] == ["get", "pods"] and "--all-namespaces" in args:
    items = scenario.get("cluster_pods", [])
    reply = {"rc": 0, "stdout": json.dumps({"kind": "List", "items": items}), "stderr": ""}
elif words[:2] == ["get", "pods"]:
    items = scenario["pods"]
    reply = {"rc": 0, "stdout": json.dumps({"kind": "List", "items": items}), "stderr": ""}
elif words[0] == "logs":
    reply = {"rc": 0, "stdout": scenario["logs"][words[1]], "stderr": ""}
elif words[0] != "delete":
    reply = {"rc": 1, "stdout": "", "stderr": "fake kubectl: unexpected call"}
sys.stdout.write(reply["stdout"] + ("\\n" if reply["stdout"] else ""))
sys.stderr.write(reply["stderr"])
sys.exit(reply["rc"])
"""

TF_LOG = textwrap.dedent(
    """\
    TensorFlow:  1.12
    Model:       resnet50
    Step\tImg/sec\ttotal_loss
    1\timages/sec: {rate:.1f} +/- 0.0 (jitter = 0.0)\t8.169
    ----------------------------------------------------------------
    total images/sec: {rate:.2f}
    ----------------------------------------------------------------"""
)


@pytest.fixture
def world(tmp_path, monkeypatch):
    """A local inventory (a 2 x 18-core, hyper-threaded topology), cached facts, fake tools."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool, body in (("docker", DOCKER), ("kubectl", KUBECTL)):
        script = bin_dir / tool
        script.write_text(FAKE.format(python=sys.executable, tool=tool, body=body.strip()))
        script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{Path(sys.executable).parent}:/usr/bin:/bin")
    state = tmp_path / "state"
    monkeypatch.setenv("DLRS_PROVISION_STATE", str(state))
    (state / "facts").mkdir(parents=True)
    (state / "facts" / "localhost").write_text((FACTS / "xeon-gold-6140-2s-ht.json").read_text())
    host = {
        "ansible_connection": "local",
        "ansible_user": "root",  # no become: the fake docker needs none
        "ansible_python_interpreter": sys.executable,
        "preflight_cpu_topology": tuning.parse_lscpu(lscpu_text(2, 18, 2)),
        "benchmark_node_dir": str(tmp_path / "node"),
        "benchmark_poll_interval": 1,
    }
    inv = tmp_path / "hosts.yml"
    inv.write_text(
        yaml.safe_dump({"all": {"children": {"masters": {"hosts": {"localhost": host}}}}})
    )

    class World:
        path = inv
        node = tmp_path / "node"

        def scenario(self, data: dict) -> None:
            (bin_dir / "scenario.json").write_text(json.dumps(data))

        def calls(self, tool: str) -> list[list[str]]:
            path = bin_dir / f"{tool}.calls"
            return [json.loads(ln) for ln in path.read_text().splitlines()] if path.exists() else []

    return World()


def words(call: list[str]) -> list[str]:
    """A kubectl call without its options (and their values)."""
    skip = {"--kubeconfig", "--namespace", "-l", "-f"}
    return [a for i, a in enumerate(call) if not a.startswith("-") and call[i - 1] not in skip]


def wrote(out: str) -> dict[str, Path]:
    return {Path(ln[6:]).name: Path(ln[6:]) for ln in out.splitlines() if ln.startswith("wrote ")}


def test_single_mode_runs_each_node_with_its_tuning_and_reports_a_failed_run(world, capsys):
    world.scenario(
        {
            "exit": {"tuned": "0", "untuned": "1"},
            "logs": {
                "tuned": TF_LOG.format(rate=88.16),
                "untuned": "Traceback (most recent call last):\nValueError: boom",
            },
        }
    )
    rc = cli.main(
        ["benchmark", str(world.path), "--benchmark", "synthetic", "--compare-default",
         "--batch-size", "8", "--num-batches", "20", "--timeout", "60"]
    )  # fmt: skip
    out, err = capsys.readouterr()
    assert rc == 1, out + err  # a run failed: the report is still written

    runs = {c[c.index("--name") + 1]: c for c in world.calls("docker") if c[0] == "run"}
    tuned, untuned = runs["dlrs-benchmark-tuned"], runs["dlrs-benchmark-untuned"]
    for flag in ("--num_inter_threads=2", "--num_intra_threads=36", "--batch_size=8", "--mkl=True"):
        assert flag in tuned
    assert "OMP_NUM_THREADS=36" in tuned and "KMP_BLOCKTIME=1" in tuned
    assert not [a for a in untuned if "threads" in a or a.startswith(("OMP_", "KMP_", "--kmp"))]
    # NCHW (the catalogued MKL image always runs oneDNN): tf_cnn_benchmarks needs --mkl for it
    assert "--data_format=NCHW" in untuned and "--mkl=True" in untuned
    assert (world.node / "synthetic.py").is_file()  # the benchmark code went to the node
    waits = [c for c in world.calls("docker") if c[0] == "wait"]
    assert len(waits) == 2

    files = wrote(out)
    summary = json.loads(files["report.json"].read_text())
    (node,) = summary["nodes"]
    assert node["tuned"] == 88.16 and node["untuned"] is None
    assert "localhost untuned run: exited 1" in out and "ValueError: boom" in out
    assert (
        (files["report.json"].parent / "localhost-untuned.log").read_text().startswith("Traceback")
    )
    assert files["chart.png"].read_bytes()[:4] == b"\x89PNG"


TFJOB = {"apiVersion": "kubeflow.org/v1", "kind": "TFJob", "metadata": {"name": "dlrs-resnet50"}}


def multi(world, capsys, scenario: dict) -> tuple[int, str]:
    world.scenario(scenario)
    rc = cli.main(["benchmark", str(world.path), "--mode", "multi", "--timeout", "2"])
    out, err = capsys.readouterr()
    return rc, out + err


def test_multi_mode_without_the_tfjob_kind_names_the_kubeflow_phase(world, capsys):
    rc, text = multi(
        world,
        capsys,
        {
            "apply": {
                "rc": 1,
                "stdout": "configmap/dlrs-resnet50-dlrs created",
                "stderr": 'error: resource mapping not found for name: "dlrs-resnet50" namespace: '
                '"default" from "tfjob.yaml": no matches for kind "TFJob" in version '
                '"kubeflow.org/v1"\nensure CRDs are installed first\n',
            },
        },
    )
    assert rc == 1
    assert "the training operator is not installed; the Kubeflow phase installs" in text
    calls = [words(c)[:2] for c in world.calls("kubectl")]
    # the survey (nodes, every pod), then no waiting for a job that was never submitted
    assert calls == [["get", "nodes"], ["get", "pods"], ["delete", "tfjob"], ["apply"]]


def test_multi_mode_timeout_without_pods_says_the_operator_is_not_running(world, capsys):
    job = {**TFJOB, "status": {"conditions": [{"type": "Created", "status": "True"}]}}
    rc, text = multi(
        world,
        capsys,
        {"apply": {"rc": 0, "stdout": "tfjob created", "stderr": ""}, "tfjob": job, "pods": []},
    )
    assert rc == 1
    assert "TFJob default/dlrs-resnet50 did not finish within 2 s" in text
    assert "no pods at all: the training operator is not running or not installed" in text
    polls = [c for c in world.calls("kubectl") if words(c)[:2] == ["get", "tfjob"]]
    assert 2 <= len(polls) <= 4  # every second for 2 s
    applied = [c for c in world.calls("kubectl") if words(c)[0] == "apply"]
    assert applied and (world.node / "tfjob.yaml").is_file()
    kinds = [d["kind"] for d in yaml.safe_load_all((world.node / "tfjob.yaml").read_text())]
    assert kinds == ["ConfigMap", "TFJob"]


def test_multi_mode_failure_gives_each_pods_last_log_lines(world, capsys):
    failed = {
        "type": "Failed",
        "status": "True",
        "message": "TFJob default/dlrs-resnet50 has failed because 1 Worker replica(s) failed.",
    }
    pods = [
        {
            "metadata": {
                "name": "dlrs-resnet50-worker-0",
                "labels": {"training.kubeflow.org/replica-type": "worker"},
            },
            "spec": {"nodeName": "localhost"},
            "status": {"phase": "Failed"},
        }
    ]
    log = (
        "\n".join(f"step {i}" for i in range(30)) + "\nResourceExhaustedError: OOM when allocating"
    )
    rc, text = multi(
        world,
        capsys,
        {
            "apply": {"rc": 0, "stdout": "tfjob created", "stderr": ""},
            "tfjob": {**TFJOB, "status": {"conditions": [failed]}},
            "pods": pods,
            "logs": {"dlrs-resnet50-worker-0": log},
        },
    )
    assert rc == 1
    assert "failed: TFJob default/dlrs-resnet50 has failed because 1 Worker" in text
    assert "pods: dlrs-resnet50-worker-0 Failed localhost" in text
    assert "pod dlrs-resnet50-worker-0 (Failed), last lines of its log:" in text
    assert "ResourceExhaustedError: OOM when allocating" in text and "step 29" in text
    logs_calls = [c for c in world.calls("kubectl") if words(c)[0] == "logs"]
    assert logs_calls and "--tail=40" in logs_calls[0]


def test_multi_mode_sizes_from_the_survey_and_stops_on_an_unschedulable_pod(world, capsys):
    """Issue #11, break 2: pods sized to allocatable less the DaemonSets' requests, and a pod
    the scheduler cannot place is reported with the scheduler's message, not as a timeout."""
    inv = yaml.safe_load(world.path.read_text())
    inv["all"]["children"]["masters"]["hosts"]["localhost"]["benchmark_pending_timeout"] = 2
    world.path.write_text(yaml.safe_dump(inv))
    node = {
        "metadata": {"name": "localhost", "labels": {"dlrs.intel.com/node": "localhost"}},
        "status": {"allocatable": {"cpu": "8", "memory": "30Gi", "pods": "110"}},
    }
    flannel = {
        "metadata": {"name": "kube-flannel-ds-x", "namespace": "kube-flannel"},
        "spec": {
            "nodeName": "localhost",
            "containers": [
                {
                    "name": "kube-flannel",
                    "resources": {"requests": {"cpu": "100m", "memory": "50Mi"}},
                }
            ],
        },
        "status": {"phase": "Running"},
    }
    message = "0/1 nodes are available: 1 Insufficient memory."
    pending = {
        "metadata": {
            "name": "dlrs-resnet50-worker-0",
            "labels": {
                "training.kubeflow.org/replica-type": "worker",
                "training.kubeflow.org/replica-index": "0",
            },
        },
        "spec": {},
        "status": {
            "phase": "Pending",
            "conditions": [
                {"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                 "message": message}
            ],
        },
    }  # fmt: skip
    job = {**TFJOB, "status": {"conditions": [{"type": "Created", "status": "True"}]}}
    world.scenario(
        {
            "apply": {"rc": 0, "stdout": "tfjob created", "stderr": ""},
            "nodes": [node],
            "cluster_pods": [flannel],
            "tfjob": job,
            "pods": [pending],
            "logs": {"dlrs-resnet50-worker-0": ""},
        }
    )
    rc = cli.main(["benchmark", str(world.path), "--mode", "multi", "--timeout", "60"])
    out, err = capsys.readouterr()
    text = out + err
    assert rc == 1
    assert "placement: ps-0 -> localhost" in text
    # 8 CPUs less flannel's 100m: 7 whole; the PS beside the worker takes 2
    docs = list(yaml.safe_load_all((world.node / "tfjob.yaml").read_text()))
    worker = docs[1]["spec"]["tfReplicaSpecs"]["Worker"]["template"]["spec"]["containers"][0]
    assert worker["resources"]["limits"]["cpu"] == "5"
    assert "TFJob default/dlrs-resnet50 cannot be scheduled: worker-0" in text
    assert (
        "PodScheduled=False Unschedulable: 0/1 nodes are available: 1 Insufficient memory" in text
    )
    assert "did not finish within" not in text
    polls = [c for c in world.calls("kubectl") if words(c)[:2] == ["get", "tfjob"]]
    assert len(polls) <= 4  # stopped after the pending time, long before the 60 s timeout
