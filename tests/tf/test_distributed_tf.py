"""The multi-node job for real: its replicas as local processes, TensorFlow across them.

The TFJob is rendered by dlrs_provision.tfjob for two workers; each replica runs the command
and arguments of its container (the launcher, then the benchmark) from the rendered
ConfigMap's files laid out as its volume shows them at /opt/dlrs, with TF_CONFIG as
training-operator v1.9.0 writes it (tests/tf/tf_config.py) except that the addresses are
free 127.0.0.1 ports. A few tiny steps; every worker's
images/sec is parsed with the parser that reads tf_cnn_benchmarks' logs, and the logs must
show that the workers trained together (an all-reduce over both, equal weights at the end
although each worker trained on its own random images).

TensorFlow 2 variant (onednn, synthetic benchmark): MultiWorkerMirroredStrategy, Worker
replicas only (see README.md for why). tf_cnn_benchmarks' own parameter_server mode (PS +
workers, TensorFlow 1 graph mode) needs a TensorFlow 1.x image and runs only in the cluster.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import tf_config

from dlrs_provision import inventory, tfjob
from dlrs_provision.benchmark import results

REPO = Path(__file__).resolve().parents[2]
TF_PYTHON = REPO / ".venv-tf" / "bin" / "python"
WORKERS = 2
DEADLINE_S = 420  # the whole cluster; a lone worker waiting for a peer that never comes hangs
TINY = {"batch_size": 2, "num_batches": 3, "num_warmup_batches": 1}

pytestmark = [
    pytest.mark.tf,
    pytest.mark.skipif(
        not TF_PYTHON.exists(),
        reason=f"{TF_PYTHON.parent.parent} is absent: make it with `bash tests/tf/setup.sh`",
    ),
]


def free_ports(n: int) -> list[int]:
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def node_facts(cpus: int = 8) -> dict:
    """A worker node as preflight stores it: one socket, `cpus` cores, no hyper-threads."""
    topo = [{"cpu": c, "core": c, "socket": 0, "node": 0} for c in range(cpus)]
    return {
        "ansible_processor_count": 1,
        "ansible_processor_cores": cpus,
        "ansible_processor_threads_per_core": 1,
        "ansible_processor_vcpus": cpus,
        "ansible_memtotal_mb": 32_000,
        "preflight_cpu_topology": topo,
    }


def rendered_job(tmp_path: Path) -> tfjob.Manifests:
    workers = [f"w{i:02d}" for i in range(1, WORKERS + 1)]
    lines = ["all:", "  vars:", "    dlrs_variant: onednn", "  children:", "    masters:"]
    lines += ["      hosts:", "        m01:", "          ansible_host: 192.0.2.10"]
    lines += ["    workers:", "      hosts:"]
    for i, host in enumerate(workers):
        lines += [f"        {host}:", f"          ansible_host: 192.0.2.{20 + i}"]
    (tmp_path / "hosts.yml").write_text("\n".join(lines) + "\n")
    facts = tmp_path / "facts"
    facts.mkdir()
    for host in workers:
        (facts / host).write_text(json.dumps({"ansible_facts": node_facts()}))
    inv = inventory.load(tmp_path / "hosts.yml")
    return tfjob.build(inv, facts, name="dlrs-dist", namespace="bench", **TINY)


def mount_configmap(m: tfjob.Manifests, pod: dict, root: Path) -> dict[str, str]:
    """The files the pod's ConfigMap volume shows, under root; mount path -> local path."""
    (volume,) = [v for v in pod["volumes"] if "configMap" in v]
    assert volume["configMap"]["name"] == m.configmap["metadata"]["name"]
    (container,) = pod["containers"]
    (mount,) = [vm for vm in container["volumeMounts"] if vm["name"] == volume["name"]]
    for item in volume["configMap"]["items"]:
        path = root / item["path"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(m.configmap["data"][item["key"]])
    return {mount["mountPath"]: str(root)}


def local_command(container: dict, mounts: dict[str, str]) -> list[str]:
    """The container's command and args, its ConfigMap's mount path replaced by a folder."""
    argv = [*container["command"], *container["args"]]
    for mount, local in mounts.items():
        argv = [a.replace(mount + "/", local + "/", 1) if mount + "/" in a else a for a in argv]
    assert argv[0] == "python3" and argv[0] in argv[argv.index("--") + 1 :]
    argv = [str(TF_PYTHON) if a == "python3" else a for a in argv]
    return [*argv, "--image_size=64"]  # ours, for speed on 2 cores (224 is ResNet50's)


def stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGTERM)
    end = time.monotonic() + 10
    for p in procs:
        try:
            p.wait(timeout=max(0.1, end - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()


def test_operator_tf_config_for_the_rendered_job_names_its_services(tmp_path):
    """What a worker pod of the rendered job gets, byte for byte as the operator marshals it."""
    m = rendered_job(tmp_path)
    text = tf_config.tf_config(m.tfjob, "Worker", 1)
    assert text == (
        '{"cluster":{"worker":["dlrs-dist-worker-0.bench.svc:2222",'
        '"dlrs-dist-worker-1.bench.svc:2222"]},'
        '"task":{"type":"worker","index":1},"environment":"cloud"}'
    )


def job(replicas: dict, port: int | None = None, **spec) -> dict:
    ports = [{"name": tf_config.PORT_NAME, "containerPort": port}] if port else []
    template = {"spec": {"containers": [{"name": "tensorflow", "ports": ports}]}}
    specs = {t: {"replicas": n, "template": template} for t, n in replicas.items()}
    return {"metadata": {"name": "j", "namespace": "ns"}, "spec": {"tfReplicaSpecs": specs, **spec}}


def test_operator_tf_config_rules_beyond_the_rendered_job(monkeypatch):
    """Sorted cluster keys, the tfjob-port, no TF_CONFIG for one replica, the sparse form."""
    text = tf_config.tf_config(job({"Worker": 1, "PS": 1}, port=2345), "PS", 0)
    assert text == (
        '{"cluster":{"ps":["j-ps-0.ns.svc:2345"],"worker":["j-worker-0.ns.svc:2345"]},'
        '"task":{"type":"ps","index":0},"environment":"cloud"}'
    )
    assert tf_config.tf_config(job({"Worker": 1}), "Worker", 0) is None
    monkeypatch.setenv(tf_config.CLUSTER_DOMAIN_ENV, "cluster.local")
    sparse = tf_config.tf_config(job({"Worker": 2}, enableDynamicWorker=True), "Worker", 1)
    assert sparse == (
        '{"cluster":{"worker":{"1":"j-worker-1.ns.svc.cluster.local:2222"},"ps":null},'
        '"task":{"type":"worker","index":1}}'
    )


def test_two_workers_train_together_through_the_launcher(tmp_path):
    m = rendered_job(tmp_path)
    specs = m.tfjob["spec"]["tfReplicaSpecs"]
    # the replica set MultiWorkerMirroredStrategy needs: workers only, no PS, no chief
    assert set(specs) == {"Worker"} and specs["Worker"]["replicas"] == WORKERS
    pod = specs["Worker"]["template"]["spec"]
    (container,) = pod["containers"]
    assert "--variable_update=collective_all_reduce" in container["args"]
    argv = local_command(container, mount_configmap(m, pod, tmp_path / "dlrs"))
    ports = free_ports(WORKERS)
    address = tf_config.local_address({"worker": ports})
    base_env = {e["name"]: e["value"] for e in container["env"] if "value" in e}
    # what the downward API gives each pod: its node's name (the launcher takes that node's
    # entry of nodes.json) and its CPU limit; which worker index lands on which worker node is
    # the scheduler's choice, here worker i on the i-th worker host
    from_fields = {
        e["name"]: e["valueFrom"]["fieldRef"]["fieldPath"]
        for e in container["env"]
        if "fieldRef" in e.get("valueFrom", {})
    }
    assert from_fields == {tfjob.NODE_NAME_ENV: "spec.nodeName"}
    nodes = sorted(json.loads(m.configmap["data"][tfjob.NODES_FILE]))
    procs: list[subprocess.Popen] = []
    logs: list[Path] = []
    try:
        for index in range(WORKERS):
            text = tf_config.tf_config(m.tfjob, "Worker", index, address)
            assert json.loads(text)["cluster"]["worker"] == [f"127.0.0.1:{p}" for p in ports]
            env = {
                **os.environ,
                **base_env,
                "TF_CONFIG": text,
                tfjob.NODE_NAME_ENV: nodes[index],
                tfjob.CPU_LIMIT_ENV: str(len(os.sched_getaffinity(0))),
                "TF_CPP_MIN_LOG_LEVEL": "2",
            }
            log = tmp_path / f"worker-{index}.log"
            logs.append(log)
            with log.open("w") as out:
                procs.append(
                    subprocess.Popen(
                        argv,
                        env=env,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        cwd=tmp_path,
                        start_new_session=True,
                    )
                )
        end = time.monotonic() + DEADLINE_S
        while time.monotonic() < end and any(p.poll() is None for p in procs):
            if any(p.poll() not in (None, 0) for p in procs):
                break  # one failed: its peer would wait for it until the deadline
            time.sleep(1)
        codes = [p.poll() for p in procs]
    finally:
        stop(procs)
    texts = [log.read_text() for log in logs]
    for index, (code, text) in enumerate(zip(codes, texts, strict=True)):
        assert code == 0, f"worker {index} exit {code}:\n{text[-4000:]}"

    checksums = []
    for index, text in enumerate(texts):
        # the launcher turned TF_CONFIG into the cluster flags
        assert f"launcher: task worker {index} of a cluster of {WORKERS} worker(s) and 0 ps" in (
            text
        )
        assert f"--worker_hosts=127.0.0.1:{ports[0]},127.0.0.1:{ports[1]}" in text
        assert f"--task_index={index}" in text
        # and, with the calculator from the ConfigMap, the threads for this machine's CPUs
        assert "launcher: tuning calculator: --num_inter_threads=" in text
        # only an all-reduce over both workers gives 1 + 2
        assert f"Cluster:     worker {index} of {WORKERS} workers, collective_all_reduce" in text
        assert f"all-reduce over {WORKERS} workers of (task index + 1): 3 (expected 3)" in text
        run = results.parse_log(text, f"worker-{index}")
        assert run.ok, run.error
        assert run.steps == TINY["num_batches"]
        assert run.images_per_sec is not None and run.images_per_sec > 0
        assert run.info["Batch size"] == f"{TINY['batch_size'] * WORKERS} global"
        (line,) = [ln for ln in text.splitlines() if ln.startswith("Weights checksum: ")]
        checksums.append(line)
        print(f"\nworker {index}: {run.images_per_sec:.2f} images/sec")
    # each worker trained on its own random images: equal weights only through the all-reduce
    assert checksums[0] == checksums[1]
