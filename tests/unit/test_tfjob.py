"""The TFJob: valid against the training operator's CRD, sized and tuned by the calculator."""

from __future__ import annotations

import copy
import json
import os
import re
from pathlib import Path

import jsonschema
import pytest
import yaml
from conftest import facts_for, lscpu_text

from dlrs_provision import inventory, kube_state, tfjob, tuning
from dlrs_provision.errors import UsageError

REPO = Path(__file__).resolve().parents[2]
CRD_NAME = "kubeflow.org_tfjobs.v1.9.0.yaml"
CRD_PLACES = [
    os.environ.get("DLRS_TFJOB_CRD", ""),
    str(REPO / "tests" / "data" / "kubeflow" / CRD_NAME),
]
SEED_ARGS = {
    "--variable_update": "parameter_server",
    "--local_parameter_device": "cpu",
    "--device": "cpu",
    "--init_learning_rate": "0.0001",
    "--tf_random_seed": "8286",
}


# --------------------------------------------------------------------------- schema


def _strict(node):
    """The CRD's schema, with unknown fields refused (kubectl apply --validate=strict)."""
    if isinstance(node, dict):
        node = {k: _strict(v) for k, v in node.items()}
        if node.get("type") == "object" and "properties" in node:
            node.setdefault("additionalProperties", False)
        return node
    if isinstance(node, list):
        return [_strict(v) for v in node]
    return node


@pytest.fixture(scope="module")
def validator() -> jsonschema.Validator:
    path = next((Path(p) for p in CRD_PLACES if p and Path(p).is_file()), None)
    assert path is not None, f"the TFJob CRD {CRD_NAME} was not found in {CRD_PLACES}"
    crd = yaml.safe_load(path.read_text())
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    schema = _strict(version["schema"]["openAPIV3Schema"])
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def assert_valid(validator, job: dict) -> None:
    errors = sorted(validator.iter_errors(job), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)
    assert job["apiVersion"] == "kubeflow.org/v1" and job["kind"] == "TFJob"
    assert set(job["spec"]["tfReplicaSpecs"]) <= {"PS", "Worker", "Chief", "Evaluator"}
    for spec in job["spec"]["tfReplicaSpecs"].values():
        (container,) = spec["template"]["spec"]["containers"]
        assert container["name"] == "tensorflow"
        assert container["ports"] == [
            {"name": "tfjob-port", "containerPort": 2222, "protocol": "TCP"}
        ]


# --------------------------------------------------------------------------- fixtures


def shape_facts(sockets: int, cores: int, threads: int, memory_mb: int = 192_000) -> dict:
    """Facts as preflight stores them: Ansible's counts plus the lscpu CPU map."""
    return facts_for(sockets, cores, threads) | {
        "ansible_memtotal_mb": memory_mb,
        "preflight_cpu_topology": tuning.parse_lscpu(lscpu_text(sockets, cores, threads)),
    }


def make(tmp_path: Path, workers: dict, facts: dict, master_vars: str = "", all_vars: str = ""):
    """An inventory (one master m01 plus `workers`: host -> extra YAML vars) and its facts."""
    lines = [
        "all:",
        "  vars:",
        *[f"    {v}" for v in (all_vars or "dlrs_variant: mkl").splitlines() if v],
        "  children:",
        "    masters:",
        "      hosts:",
        "        m01:",
        "          ansible_host: 192.0.2.10",
        *[f"          {v}" for v in master_vars.splitlines() if v],
        "    workers:",
        "      hosts:",
    ]
    for i, (host, extra) in enumerate(workers.items()):
        lines += [f"        {host}:", f"          ansible_host: 192.0.2.{20 + i}"]
        lines += [f"          {v}" for v in (extra or "").splitlines() if v]
    path = tmp_path / "hosts.yml"
    path.write_text("\n".join(lines) + "\n")
    fdir = tmp_path / "facts"
    fdir.mkdir(exist_ok=True)
    for host, f in facts.items():
        (fdir / host).write_text(json.dumps({"ansible_facts": f}))
    return inventory.load(path), fdir


def args_of(spec: dict) -> dict[str, str]:
    (container,) = spec["template"]["spec"]["containers"]
    out = {}
    for arg in container["args"]:
        key, _, value = arg.partition("=")
        out[key] = value
    return out


def env_of(spec: dict) -> dict[str, str]:
    (container,) = spec["template"]["spec"]["containers"]
    return {e["name"]: e.get("value") for e in container["env"]}


def resources_of(spec: dict) -> dict:
    (container,) = spec["template"]["spec"]["containers"]
    return container["resources"]


def assert_args_match(spec: dict, t: tuning.Tuning) -> None:
    args = args_of(spec)
    assert args["--num_inter_threads"] == str(t.num_inter_threads)
    assert args["--num_intra_threads"] == str(t.num_intra_threads)
    assert args["--data_format"] == t.data_format
    for key, value in SEED_ARGS.items():
        assert args[key] == value
    assert "--nodistortions" in args
    assert args["--model"] == "resnet50"


# --------------------------------------------------------------------------- shapes


def seed(tmp_path: Path, shape: dict, **extra: str):
    """The seed's cluster: master m01 and three workers w01-w03 of one shape."""
    hosts = {h: extra.get(h, "") for h in ("w01", "w02", "w03")}
    return make(tmp_path, hosts, dict.fromkeys(hosts, shape))


def test_seed_layout_2x18_ht_example(tmp_path, validator):
    shape = shape_facts(2, 18, 2)
    inv, fdir = seed(tmp_path, shape)
    m = tfjob.build(inv, fdir, batch_size=32)
    job = m.tfjob
    assert_valid(validator, job)
    worker, ps = job["spec"]["tfReplicaSpecs"]["Worker"], job["spec"]["tfReplicaSpecs"]["PS"]
    assert worker["replicas"] == 2 and ps["replicas"] == 1

    expected = tuning.compute(shape, mode="multi", variant="mkl")
    assert (expected.num_inter_threads, expected.num_intra_threads) == (2, 32)
    assert_args_match(worker, expected)
    args = args_of(worker)
    assert args["--batch_size"] == "32"
    assert args["--mkl"] == "True"
    assert args["--kmp_blocktime"] == "1"
    assert args["--kmp_affinity"] == "granularity=fine,compact,1,0"
    assert env_of(worker) | {"DLRS_CPU_LIMIT": None} == {
        "DLRS_NODE_NAME": None,
        "PYTHONUNBUFFERED": "1",
        "OMP_NUM_THREADS": "32",
        "KMP_AFFINITY": "granularity=fine,compact,1,0",
        "KMP_BLOCKTIME": "1",
        "DLRS_CPU_LIMIT": None,
    }
    # 72 logical CPUs less 0-1,18-19,36-37,54-55 kept for IO; 192000 MB less a tenth, in GiB
    res = resources_of(worker)
    assert res["requests"] == res["limits"] == {"cpu": "64", "memory": "172032Mi"}
    assert resources_of(ps)["requests"] == resources_of(ps)["limits"]

    pod = worker["template"]["spec"]
    anti = pod["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert anti == [
        {
            "labelSelector": {
                "matchLabels": {
                    "training.kubeflow.org/job-name": "dlrs-resnet50",
                    "training.kubeflow.org/replica-type": "worker",
                }
            },
            "topologyKey": "kubernetes.io/hostname",
        }
    ]
    terms = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert terms["nodeSelectorTerms"][0]["matchExpressions"] == [
        {"key": "dlrs.intel.com/node", "operator": "In", "values": ["w02", "w03"]}
    ]
    assert pod["nodeSelector"] == {"dlrs.intel.com/variant": "mkl"}
    assert "tolerations" not in pod
    (node_env,) = [e for e in pod["containers"][0]["env"] if e["name"] == "DLRS_NODE_NAME"]
    assert node_env["valueFrom"] == {"fieldRef": {"fieldPath": "spec.nodeName"}}

    # the seed's layout: PS on a worker node of its own, the master runs no workload
    ps_pod = ps["template"]["spec"]
    ps_terms = ps_pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert ps_terms["nodeSelectorTerms"][0]["matchExpressions"][0]["values"] == ["w01"]
    assert "tolerations" not in ps_pod
    assert m.placement[0].startswith("ps-0 -> w01 (own node, seed layout")
    assert m.placement[1].startswith("worker-0..worker-1 -> w02, w03, one each")
    assert "m01 (master): no replica" in m.placement[2]

    # tf_cnn_benchmarks from git, behind the launcher, which derives the threads in the pod
    (container,) = pod["containers"]
    assert container["command"] == [
        "python3",
        "/opt/dlrs/launcher.py",
        "--nodes=/opt/dlrs/nodes.json",
        "--derive-threads",
        "--variant=mkl",
        "--",
        "python3",
        "/benchmarks/scripts/tf_cnn_benchmarks/tf_cnn_benchmarks.py",
    ]
    (init,) = pod["initContainers"]
    # the one pinned commit of the branch, by a git image pinned by digest; the values are the
    # script's positional parameters, never part of the script
    assert init["command"] == ["sh", "-c", tfjob.GIT_FETCH_SCRIPT]
    assert init["args"] == [
        "/benchmarks",
        "https://github.com/tensorflow/benchmarks.git",
        "ec056be57f189ec96611a58e8dc5562a6d620139",
    ]
    assert re.fullmatch(r"alpine/git:[\w.-]+@sha256:[0-9a-f]{64}", init["image"])
    assert init["resources"]["requests"] == init["resources"]["limits"]
    assert (
        json.loads(job["metadata"]["annotations"]["dlrs.intel.com/tuning"])["w01"]["tf_cpus"] == 64
    )
    assert m.warnings == []


def test_plain_ansible_facts_reserve_the_hyper_threads_too(tmp_path, validator, gold6140):
    """Without the lscpu map the reserved CPUs are reserved cores x threads per core."""
    inv, fdir = seed(tmp_path, gold6140)
    job = tfjob.render(inv, fdir)
    assert_valid(validator, job)
    worker = job["spec"]["tfReplicaSpecs"]["Worker"]
    assert resources_of(worker)["limits"]["cpu"] == "64"
    assert_args_match(worker, tuning.compute(gold6140, mode="multi", variant="mkl"))


def test_small_1x4_worker(tmp_path, validator):
    shape = shape_facts(1, 4, 1, memory_mb=16_000)
    inv, fdir = seed(tmp_path, shape)
    job = tfjob.render(inv, fdir)
    assert_valid(validator, job)
    worker = job["spec"]["tfReplicaSpecs"]["Worker"]
    expected = tuning.compute(shape, mode="multi", variant="mkl")
    assert (expected.num_inter_threads, expected.num_intra_threads) == (1, 2)
    assert_args_match(worker, expected)
    # 4 CPUs less 2 for IO; 16000 MB less 2048 for the system, whole GiB
    assert resources_of(worker)["limits"] == {"cpu": "2", "memory": "13312Mi"}
    assert env_of(worker)["OMP_NUM_THREADS"] == "2"


def test_mixed_shapes_size_pods_for_the_smallest_and_say_so(tmp_path, validator):
    big, small = shape_facts(2, 18, 2), shape_facts(1, 4, 1, memory_mb=16_000)
    inv, fdir = make(
        tmp_path,
        {"w00": "", "w01": "", "w02": "", "w03": ""},
        {"w00": big, "w01": big, "w02": small, "w03": big},
    )
    m = tfjob.build(inv, fdir)
    assert_valid(validator, m.tfjob)
    worker = m.tfjob["spec"]["tfReplicaSpecs"]["Worker"]
    assert worker["replicas"] == 3  # w00 holds the PS
    assert resources_of(worker)["limits"] == {"cpu": "2", "memory": "13312Mi"}
    assert_args_match(worker, tuning.compute(small, mode="multi", variant="mkl"))
    (note,) = [w for w in m.warnings if "differ in size" in w]
    assert "sized for w02" in note and "w01 could give 64" in note and "w03 could give 64" in note
    per_host = json.loads(m.tfjob["metadata"]["annotations"]["dlrs.intel.com/tuning"])
    assert per_host["w01"]["num_intra_threads"] == 32
    assert per_host["w02"]["num_intra_threads"] == 2
    # each node's pod numbers, capped by the 2 CPUs (1 core with its sibling) a pod gets
    assert m.nodes["w01"]["worker"]["num_intra_threads"] == 1
    assert m.nodes["w02"]["worker"]["num_intra_threads"] == 2
    assert "--derive-threads" in worker["template"]["spec"]["containers"][0]["command"]


@pytest.mark.parametrize(
    ("sockets", "cores", "threads"), [(2, 18, 2), (1, 4, 1), (4, 24, 2), (2, 20, 1)]
)
def test_args_follow_the_calculator_for_every_shape(tmp_path, validator, sockets, cores, threads):
    shape = shape_facts(sockets, cores, threads)
    inv, fdir = seed(tmp_path, shape)
    job = tfjob.render(inv, fdir)
    assert_valid(validator, job)
    t = tuning.compute(shape, mode="multi", variant="mkl")
    worker = job["spec"]["tfReplicaSpecs"]["Worker"]
    assert_args_match(worker, t)
    reserved = len(tfjob.launcher.parse_cpuset(t.reserved_cpuset))
    assert int(resources_of(worker)["limits"]["cpu"]) == sockets * cores * threads - reserved


def test_eigen_variant_has_no_openmp(tmp_path, validator):
    shape = shape_facts(2, 18, 2)
    inv, fdir = make(tmp_path, {"w01": ""}, {"w01": shape}, all_vars="dlrs_variant: eigen")
    job = tfjob.render(inv, fdir)
    assert_valid(validator, job)
    worker = job["spec"]["tfReplicaSpecs"]["Worker"]
    args = args_of(worker)
    assert args["--data_format"] == "NHWC"
    assert "--mkl" not in args and "--kmp_blocktime" not in args
    assert set(env_of(worker)) == {"PYTHONUNBUFFERED", "DLRS_CPU_LIMIT", "DLRS_NODE_NAME"}
    assert worker["template"]["spec"]["containers"][0]["image"] == (
        "clearlinux/stacks-dlaas-oss:latest"
    )


@pytest.mark.parametrize(
    ("features", "layout"), [(["avx2", "fma"], "NHWC"), (["amx_bf16"], "NCHW")]
)
def test_an_uncatalogued_mkl_image_gets_nchw_only_where_the_workers_cpu_runs_onednn(
    tmp_path, validator, features, layout
):
    shape = shape_facts(2, 18, 2) | {"preflight_cpu_features": features}
    all_vars = "dlrs_variant: mkl\ndlrs_image: registry.local:5000/site/tf:2.21"
    inv, fdir = make(tmp_path, {"w01": ""}, {"w01": shape}, all_vars=all_vars)
    job = tfjob.render(inv, fdir)
    assert_valid(validator, job)
    assert args_of(job["spec"]["tfReplicaSpecs"]["Worker"])["--data_format"] == layout


def test_tensorflow_2_images_run_the_synthetic_benchmark_without_ps(tmp_path, validator):
    shape = shape_facts(2, 18, 2)
    inv, fdir = make(
        tmp_path, {"w01": "", "w02": ""}, {"w01": shape, "w02": shape}, "", "dlrs_variant: onednn"
    )
    m = tfjob.build(inv, fdir)
    assert_valid(validator, m.tfjob)
    specs = m.tfjob["spec"]["tfReplicaSpecs"]
    assert set(specs) == {"Worker"}
    pod = specs["Worker"]["template"]["spec"]
    assert pod["containers"][0]["command"][-2:] == ["python3", "/opt/dlrs/synthetic.py"]
    assert "initContainers" not in pod
    assert any("no parameter server" in w for w in m.warnings)
    assert m.tfjob["metadata"]["annotations"]["dlrs.intel.com/benchmark"] == "synthetic"
    # its workers train together through MultiWorkerMirroredStrategy: all-reduce, no PS
    assert args_of(specs["Worker"])["--variable_update"] == "collective_all_reduce"


def test_tf_cnn_benchmarks_keeps_the_parameter_server_mode(tmp_path):
    shape = shape_facts(2, 18, 2)
    inv, fdir = make(tmp_path, {"w01": "", "w02": ""}, {"w01": shape, "w02": shape})
    specs = tfjob.render(inv, fdir, benchmark="tf_cnn_benchmarks")["spec"]["tfReplicaSpecs"]
    assert set(specs) == {"PS", "Worker"}
    assert args_of(specs["Worker"])["--variable_update"] == "parameter_server"
    assert args_of(specs["PS"])["--variable_update"] == "parameter_server"


def test_benchmark_choice_and_git_source_are_options(tmp_path, validator):
    shape = shape_facts(1, 8, 2)
    inv, fdir = make(tmp_path, {"w01": ""}, {"w01": shape})
    job = tfjob.render(
        inv,
        fdir,
        benchmark="tf_cnn_benchmarks",
        git_url="http://mirror.example:8080/benchmarks.git",
        git_ref="0123456789abcdef0123456789abcdef01234567",
        git_image="registry.example/git:2",
    )
    assert_valid(validator, job)
    (init,) = job["spec"]["tfReplicaSpecs"]["Worker"]["template"]["spec"]["initContainers"]
    assert init["image"] == "registry.example/git:2"
    assert init["args"][1:] == [
        "http://mirror.example:8080/benchmarks.git",
        "0123456789abcdef0123456789abcdef01234567",
    ]
    master = tfjob.render(inv, fdir, benchmark="tf_cnn_benchmarks", git_ref="master")
    (init,) = master["spec"]["tfReplicaSpecs"]["Worker"]["template"]["spec"]["initContainers"]
    assert init["args"][2] == "8fb79079265933ad39bea628b777af662f5bf15d"
    # a tag, a branch the toolkit does not pin, an abbreviated commit, an option: refused
    for ref in ("v1.0", "cnn_tf_v9_compatible", "ec056be", "--upload-pack=touch /tmp/x"):
        with pytest.raises(UsageError, match="neither a full commit id nor a branch"):
            tfjob.render(inv, fdir, benchmark="tf_cnn_benchmarks", git_ref=ref)
    synthetic = tfjob.render(inv, fdir, benchmark="synthetic")
    assert_valid(validator, synthetic)
    assert set(synthetic["spec"]["tfReplicaSpecs"]) == {"Worker"}
    with pytest.raises(UsageError, match="unknown benchmark"):
        tfjob.render(inv, fdir, benchmark="mlperf")


def test_ps_on_a_worker_node_is_taken_from_the_worker(tmp_path, validator):
    """A single-node cluster: the master is the only worker and holds the PS too."""
    shape = shape_facts(1, 8, 2, memory_mb=64_000)
    inv, fdir = make(tmp_path, {}, {"m01": shape})
    job = tfjob.render(inv, fdir, ps_cpus=2, ps_memory_mb=4096)
    assert_valid(validator, job)
    worker = job["spec"]["tfReplicaSpecs"]["Worker"]
    # 16 logical less 4 reserved (2 cores + siblings) less 2 for the PS
    assert resources_of(worker)["limits"]["cpu"] == "10"
    # 64000 less 6400 for the system, less 4096 for the PS, whole GiB
    assert resources_of(worker)["limits"]["memory"] == "53248Mi"
    assert worker["template"]["spec"]["tolerations"][0]["effect"] == "NoSchedule"


def test_spare_cpus_and_worker_memory_options(tmp_path):
    shape = shape_facts(2, 18, 2)
    inv, fdir = seed(tmp_path, shape)
    job = tfjob.render(inv, fdir, spare_cpus=1, worker_memory_mb=65536)
    worker = job["spec"]["tfReplicaSpecs"]["Worker"]
    assert resources_of(worker)["limits"] == {"cpu": "63", "memory": "65536Mi"}


def test_inventory_thread_overrides_are_used_as_given(tmp_path, validator):
    shape = shape_facts(2, 18, 2)
    inv, fdir = seed(
        tmp_path, shape, w02="dlrs_num_intra_threads: 30", w03="dlrs_num_intra_threads: 30"
    )
    m = tfjob.build(inv, fdir)
    assert_valid(validator, m.tfjob)
    for host in ("w02", "w03"):
        entry = m.nodes[host]["worker"]
        assert entry["num_intra_threads"] == 30 and entry["env"]["OMP_NUM_THREADS"] == "30"
        assert entry["derive"] is False  # the launcher keeps them: no cpuset re-derivation
    assert any("overrides on w02, w03" in w for w in m.warnings)


def test_a_per_host_intra_override_on_one_worker_is_carried_in_nodes_json(tmp_path, validator):
    """Issue #11, break 4: one worker's own dlrs_num_intra_threads was refused."""
    shape = shape_facts(2, 18, 2)
    inv, fdir = seed(tmp_path, shape, w03="dlrs_num_intra_threads: 30\ndlrs_kmp_blocktime: 0")
    m = tfjob.build(inv, fdir)
    assert_valid(validator, m.tfjob)
    table = json.loads(m.configmap["data"]["nodes.json"])
    assert table == m.nodes
    assert set(table) == {"w01", "w02", "w03"}
    assert table["w03"]["worker"]["num_intra_threads"] == 30
    assert table["w03"]["worker"]["env"]["KMP_BLOCKTIME"] == "0"
    assert table["w03"]["worker"]["derive"] is False
    assert table["w02"]["worker"]["num_intra_threads"] == 32
    assert table["w02"]["worker"]["derive"] is True
    assert set(table["w01"]) == {"host", "ps"}  # the PS's node
    assert table["w01"]["ps"]["cpus"] == 2 and table["w01"]["ps"]["num_intra_threads"] == 1
    pod = m.tfjob["spec"]["tfReplicaSpecs"]["Worker"]["template"]["spec"]
    (volume,) = [v for v in pod["volumes"] if v["name"] == "dlrs"]
    assert {"key": "nodes.json", "path": "nodes.json"} in volume["configMap"]["items"]


def test_workers_with_different_variants_are_refused(tmp_path):
    shape = shape_facts(2, 18, 2)
    inv, fdir = make(
        tmp_path, {"w01": "", "w02": "dlrs_variant: eigen"}, {"w01": shape, "w02": shape}
    )
    with pytest.raises(UsageError, match="differ in dlrs_variant") as err:
        tfjob.render(inv, fdir)
    assert "w01: mkl" in err.value.message and "w02: eigen" in err.value.message


# --------------------------------------------------------------------------- errors


def test_missing_facts_name_the_hosts_and_preflight(tmp_path):
    shape = shape_facts(2, 18, 2)
    inv, fdir = make(tmp_path, {"w01": "", "w02": "", "w03": ""}, {"w02": shape})
    with pytest.raises(UsageError) as err:
        tfjob.render(inv, fdir)
    assert "w01, w03" in err.value.message
    assert str(fdir) in err.value.message
    assert "dlrs-provision preflight" in err.value.hint


def test_unusable_facts_name_the_host(tmp_path):
    inv, fdir = make(tmp_path, {"w01": ""}, {"w01": {"ansible_processor_count": 2}})
    with pytest.raises(UsageError) as err:
        tfjob.render(inv, fdir)
    assert "w01" in err.value.message and "ansible_processor_cores" in err.value.message
    assert "dlrs-provision preflight" in err.value.hint


def test_missing_memory_fact_names_the_host(tmp_path):
    facts = facts_for(2, 18, 2)  # no ansible_memtotal_mb
    inv, fdir = make(tmp_path, {"w01": ""}, {"w01": facts})
    with pytest.raises(UsageError, match=r"w01.*ansible_memtotal_mb"):
        tfjob.render(inv, fdir)
    # an explicit size needs no memory fact
    job = tfjob.render(inv, fdir, worker_memory_mb=8192)
    assert resources_of(job["spec"]["tfReplicaSpecs"]["Worker"])["limits"]["memory"] == "8192Mi"


def test_the_default_facts_folder_is_the_inventorys_state(tmp_path, monkeypatch):
    monkeypatch.delenv("DLRS_PROVISION_STATE", raising=False)
    inv, _ = make(tmp_path, {"w01": ""}, {})
    with pytest.raises(UsageError) as err:
        tfjob.render(inv)
    assert str(tmp_path / ".dlrs-provision" / "facts") in err.value.message


@pytest.mark.parametrize("name", ["Bad_Name", "-x", "a" * 41])
def test_job_names_must_be_dns_labels(tmp_path, name):
    inv, fdir = make(tmp_path, {"w01": ""}, {"w01": shape_facts(1, 4, 1)})
    with pytest.raises(UsageError, match="job name"):
        tfjob.render(inv, fdir, name=name)


def test_unknown_worker_hosts_are_refused(tmp_path):
    inv, fdir = make(tmp_path, {"w01": ""}, {"w01": shape_facts(1, 4, 1)})
    with pytest.raises(UsageError, match="nosuch"):
        tfjob.render(inv, fdir, workers=["w01", "nosuch"])


def test_a_node_with_nothing_left_for_tensorflow_is_refused(tmp_path):
    inv, fdir = make(tmp_path, {}, {"m01": shape_facts(1, 2, 1)})
    with pytest.raises(UsageError, match="m01 has no room left for a worker"):
        tfjob.render(inv, fdir, ps_cpus=2)


# --------------------------------------------------------------------------- the objects


def test_schema_check_is_strict_enough_to_catch_a_typo(tmp_path, validator):
    inv, fdir = seed(tmp_path, shape_facts(1, 4, 1))
    job = copy.deepcopy(tfjob.render(inv, fdir))
    job["spec"]["tfReplicaSpecs"]["Worker"]["template"]["spec"]["nodeSelectr"] = {}
    assert list(validator.iter_errors(job))
    job = copy.deepcopy(tfjob.render(inv, fdir))
    job["spec"]["tfReplicaSpecs"]["Worker"]["replicas"] = "two"
    assert list(validator.iter_errors(job))


def test_configmap_ships_the_launcher_and_the_calculator(tmp_path):
    inv, fdir = seed(tmp_path, shape_facts(1, 4, 1))
    m = tfjob.build(inv, fdir, name="bench")
    cm = m.configmap
    assert cm["metadata"]["name"] == "bench-dlrs"
    pkg = REPO / "dlrs_provision"
    assert cm["data"]["launcher.py"] == (pkg / "benchmark" / "launcher.py").read_text()
    assert cm["data"]["dlrs_provision.tuning.py"] == (pkg / "tuning.py").read_text()
    pod = m.tfjob["spec"]["tfReplicaSpecs"]["Worker"]["template"]["spec"]
    (volume,) = [v for v in pod["volumes"] if v["name"] == "dlrs"]
    assert volume["configMap"]["name"] == "bench-dlrs"
    paths = {i["key"]: i["path"] for i in volume["configMap"]["items"]}
    assert paths["dlrs_provision.tuning.py"] == "dlrs_provision/tuning.py"
    assert set(paths) == set(cm["data"]) and "nodes.json" in paths
    assert len(json.dumps(cm)) < 1_000_000  # a ConfigMap holds at most 1 MiB


def test_yaml_output_round_trips(tmp_path):
    inv, fdir = seed(tmp_path, shape_facts(1, 4, 1))
    m = tfjob.build(inv, fdir)
    text = m.to_yaml()
    assert list(yaml.safe_load_all(text)) == m.objects()
    assert "launcher.py: |" in text  # the shipped files stay readable
    assert "&id" not in text and "*id" not in text  # no YAML anchors between PS and Worker


# --------------------------------------------------------------------------- placement


def test_two_workers_fall_back_to_the_ps_beside_a_worker_and_say_why(tmp_path, validator):
    shape = shape_facts(2, 18, 2)
    inv, fdir = make(tmp_path, {"w01": "", "w02": ""}, {"w01": shape, "w02": shape})
    m = tfjob.build(inv, fdir)
    assert_valid(validator, m.tfjob)
    specs = m.tfjob["spec"]["tfReplicaSpecs"]
    assert specs["Worker"]["replicas"] == 2
    ps_pod = specs["PS"]["template"]["spec"]
    ps_terms = ps_pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert ps_terms["nodeSelectorTerms"][0]["matchExpressions"][0]["values"] == ["w01"]
    assert "tolerations" not in ps_pod  # still not on the master
    # the PS's 2 CPUs come off w01, and one template sizes both workers for it
    assert resources_of(specs["Worker"])["limits"]["cpu"] == "62"
    assert (
        "shares the node with a worker: 2 node(s) for the job, the seed layout needs 3"
        in (m.placement[0])
    )
    assert json.loads(m.tfjob["metadata"]["annotations"]["dlrs.intel.com/placement"]) == (
        m.placement
    )


def test_the_ps_goes_where_ps_hosts_say(tmp_path, validator):
    shape = shape_facts(2, 18, 2)
    inv, fdir = make(tmp_path, {"w01": "", "w02": ""}, {"m01": shape, "w01": shape, "w02": shape})
    m = tfjob.build(inv, fdir, ps_hosts=["m01"])
    assert_valid(validator, m.tfjob)
    ps_pod = m.tfjob["spec"]["tfReplicaSpecs"]["PS"]["template"]["spec"]
    assert ps_pod["tolerations"][0]["key"] == "node-role.kubernetes.io/control-plane"
    assert m.placement[0] == "ps-0 -> m01 (own node, as ps_hosts asks)"
    assert resources_of(m.tfjob["spec"]["tfReplicaSpecs"]["Worker"])["limits"]["cpu"] == "64"


# --------------------------------------------------------------------------- cluster state


def k8s_node(name: str, cpu: str, memory: str) -> dict:
    return {
        "metadata": {"name": name, "labels": {"dlrs.intel.com/node": name}},
        "status": {"allocatable": {"cpu": cpu, "memory": memory, "pods": "110"}},
    }


def k8s_pod(name: str, node: str, cpu: str, memory: str) -> dict:
    return {
        "metadata": {"name": name, "namespace": "kube-flannel"},
        "spec": {
            "nodeName": node,
            "containers": [
                {"name": "c", "resources": {"requests": {"cpu": cpu, "memory": memory}}}
            ],
        },
        "status": {"phase": "Running"},
    }


def rooms_of(nodes: list, pods: list) -> dict:
    return kube_state.rooms({"items": nodes}, {"items": pods})


def test_pods_are_sized_to_allocatable_less_daemonset_requests(tmp_path, validator):
    """Issue #11, break 2: a worker asked for every allocatable CPU; flannel's 100m left it
    Pending with "Insufficient cpu"."""
    shape = shape_facts(1, 4, 1, memory_mb=16_000)  # 4 CPUs, 2 kept for IO: 2 from the facts
    inv, fdir = seed(tmp_path, shape)
    rooms = rooms_of(
        [k8s_node("w01", "2", "7Gi"), k8s_node("w02", "2", "8012345Ki"),
         k8s_node("w03", "1900m", "7Gi")],
        [k8s_pod(f"kube-flannel-ds-{n}", n, "100m", "50Mi") for n in ("w01", "w02", "w03")],
    )  # fmt: skip
    m = tfjob.build(inv, fdir, rooms=rooms)
    assert_valid(validator, m.tfjob)
    worker = m.tfjob["spec"]["tfReplicaSpecs"]["Worker"]
    res = resources_of(worker)
    # w02: 2000m - 100m = 1900m: one whole CPU; w03: 1800m: one; memory: w03's 7Gi - 50Mi,
    # in steps of 256Mi (the facts alone would give 13312Mi)
    assert res["requests"] == res["limits"] == {"cpu": "1", "memory": "6912Mi"}
    # the PS on w01 gets what w01 has free: 1 CPU, not the 2 asked for, and says so
    assert resources_of(m.tfjob["spec"]["tfReplicaSpecs"]["PS"])["limits"]["cpu"] == "1"
    assert any(w.startswith("the PS gets 1 CPU(s) and 4096Mi instead of 2") for w in m.warnings)
    assert m.nodes["w02"]["worker"]["num_intra_threads"] == 1  # capped by what the pod gets
    assert m.nodes["w02"]["worker"]["env"]["OMP_NUM_THREADS"] == "1"
    # every pod fits its node: request + what is bound there <= allocatable
    for host in ("w02", "w03"):
        room = rooms[host]
        assert 1000 + room.requested_cpu_m <= room.allocatable_cpu_m
    # without the cluster's state the same inventory asks for 2 CPUs: more than w02 can give
    assert (
        resources_of(tfjob.render(inv, fdir)["spec"]["tfReplicaSpecs"]["Worker"])["limits"]["cpu"]
        == "2"
    )


def test_a_node_without_room_for_a_worker_is_refused_naming_its_pods(tmp_path):
    shape = shape_facts(1, 4, 1, memory_mb=8_000)
    inv, fdir = seed(tmp_path, shape)
    rooms = rooms_of(
        [k8s_node(n, "1900m", "7Gi") for n in ("w01", "w02", "w03")],
        [k8s_pod("kube-flannel-ds-a", "w03", "100m", "50Mi"),
         k8s_pod("metrics", "w03", "900m", "64Mi")],
    )  # fmt: skip
    with pytest.raises(UsageError) as err:
        tfjob.build(inv, fdir, rooms=rooms)
    assert "w03 has no room left for a worker" in err.value.message
    assert "allocatable cpu 1900m" in err.value.message
    assert "kube-flannel/metrics 900m 64Mi" in err.value.message


def test_a_host_that_is_no_node_of_the_cluster_is_refused(tmp_path):
    shape = shape_facts(1, 4, 1, memory_mb=8_000)
    inv, fdir = seed(tmp_path, shape)
    rooms = rooms_of([k8s_node(n, "4", "7Gi") for n in ("w01", "w02")], [])
    with pytest.raises(UsageError, match=r"host\(s\) w03 are not nodes of the cluster") as err:
        tfjob.build(inv, fdir, rooms=rooms)
    assert "Kubernetes phase" in err.value.hint


def test_small_nodes_that_cannot_share_give_the_ps_its_own_node(tmp_path, validator):
    """The sandbox's shape: 2 worker nodes of 2 cores, 1 CPU each for pods (flannel aside)."""
    shape = shape_facts(1, 2, 1, memory_mb=8_000)
    inv, fdir = make(tmp_path, {"w01": "", "w02": ""}, {"w01": shape, "w02": shape})
    rooms = rooms_of(
        [k8s_node("w01", "1", "6Gi"), k8s_node("w02", "1", "6Gi")],
        [k8s_pod("kube-proxy-a", "w02", "0", "0")],
    )
    m = tfjob.build(inv, fdir, rooms=rooms)
    assert_valid(validator, m.tfjob)
    specs = m.tfjob["spec"]["tfReplicaSpecs"]
    assert specs["Worker"]["replicas"] == 1
    assert resources_of(specs["PS"])["limits"]["cpu"] == "1"
    assert resources_of(specs["Worker"])["limits"]["cpu"] == "1"
    worker_terms = specs["Worker"]["template"]["spec"]["affinity"]["nodeAffinity"]
    terms = worker_terms["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert terms[0]["matchExpressions"][0]["values"] == ["w02"]
    assert m.placement[0].startswith(
        "ps-0 -> w01 (own node: a PS and a worker do not both fit on w01 (w01 cannot take the PS"
    )
    assert "that leaves 1 worker(s)" in m.placement[0]
    # one node only: nothing to fall back to, the refusal stands
    (tmp_path / "one").mkdir()
    inv1, fdir1 = make(tmp_path / "one", {"w01": ""}, {"w01": shape})
    with pytest.raises(UsageError, match="w01 cannot take the PS"):
        tfjob.build(inv1, fdir1, rooms=rooms)
