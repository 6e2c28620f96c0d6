"""The TF_CONFIG launcher: TFJob's TF_CONFIG -> tf_cnn_benchmarks' cluster flags, and the
per-pod thread counts from the CPUs a pod was given, by the calculator shipped beside it."""

from __future__ import annotations

import glob
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import facts_for, lscpu_text

from dlrs_provision import tfjob, tuning
from dlrs_provision.benchmark import launcher

LAUNCHER = Path(launcher.__file__)
# as training-operator v1.9 writes it for job "resnet" in namespace "bench": 1 ps, 3 workers
TF_CONFIG = {
    "cluster": {
        "ps": ["resnet-ps-0.bench.svc:2222"],
        "worker": [
            "resnet-worker-0.bench.svc:2222",
            "resnet-worker-1.bench.svc:2222",
            "resnet-worker-2.bench.svc:2222",
        ],
    },
    "task": {"type": "worker", "index": 1},
    "environment": "cloud",
}
BENCH = ["python3", "tf_cnn_benchmarks.py", "--model=resnet50", "--num_intra_threads=32"]


def tf_config(**task) -> str:
    return json.dumps(TF_CONFIG | {"task": TF_CONFIG["task"] | task})


# --------------------------------------------------------------------------- TF_CONFIG


def test_worker_flags_from_the_operators_tf_config():
    spec = launcher.parse_tf_config(tf_config())
    assert launcher.cluster_flags(spec) == [
        "--job_name=worker",
        "--ps_hosts=resnet-ps-0.bench.svc:2222",
        "--worker_hosts=resnet-worker-0.bench.svc:2222,resnet-worker-1.bench.svc:2222,"
        "resnet-worker-2.bench.svc:2222",
        "--task_index=1",
    ]


def test_ps_task_and_a_custom_cluster_domain():
    config = {
        "cluster": {
            "ps": ["j-ps-0.ns.svc.cluster.local:2222", "j-ps-1.ns.svc.cluster.local:2222"],
            "worker": ["j-worker-0.ns.svc.cluster.local:2222"],
        },
        "task": {"type": "ps", "index": 1},
        "environment": "cloud",
    }
    spec = launcher.parse_tf_config(json.dumps(config))
    assert spec == {
        "job_name": "ps",
        "task_index": 1,
        "ps_hosts": config["cluster"]["ps"],
        "worker_hosts": config["cluster"]["worker"],
    }


def test_workers_only_cluster_leaves_out_ps_hosts():
    config = {
        "cluster": {"worker": ["w-worker-0.d.svc:2222"]},
        "task": {"type": "worker", "index": 0},
    }
    flags = launcher.cluster_flags(launcher.parse_tf_config(json.dumps(config)))
    assert flags == ["--job_name=worker", "--worker_hosts=w-worker-0.d.svc:2222", "--task_index=0"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (None, "TF_CONFIG is not set"),
        ("  ", "TF_CONFIG is not set"),
        ("{cluster: }", "TF_CONFIG is not JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('{"task": {"type": "worker", "index": 0}}', 'needs a "cluster" and a "task"'),
        (tf_config(type="chief", index=0), "task type 'chief' is not one"),
        (tf_config(type="evaluator", index=0), "no Chief or Evaluator"),
        (tf_config(type=None), "task type None"),
        (tf_config(index=3), "task worker 3 does not exist: the cluster has 3 worker"),
        (tf_config(index=-1), "whole number >= 0"),
        (tf_config(index=True), "whole number >= 0"),
        (tf_config(type="ps", index=1), "task ps 1 does not exist"),
        (
            json.dumps({"sparseCluster": {"worker": {"0": "a:2222"}}, "task": TF_CONFIG["task"]}),
            "enableDynamicWorker",
        ),
        (  # training-operator v1.9.0's sparse form (SparseTFConfig's json tag is "cluster")
            '{"cluster":{"worker":{"1":"j-worker-1.ns.svc:2222"},"ps":null},'
            '"task":{"type":"worker","index":1}}',
            "enableDynamicWorker",
        ),
        (
            json.dumps({"cluster": {"worker": ["nohostport"]}, "task": TF_CONFIG["task"]}),
            'not "host:port"',
        ),
        (
            json.dumps({"cluster": {"worker": "a:1"}, "task": TF_CONFIG["task"]}),
            "must be a list",
        ),
        (json.dumps({"cluster": {"ps": ["p:1"]}, "task": {"type": "ps", "index": 0}}), "no worker"),
    ],
)
def test_bad_tf_config_is_a_clear_error(text, message):
    with pytest.raises(launcher.LaunchError) as err:
        launcher.parse_tf_config(text)
    assert message in str(err.value)


# --------------------------------------------------------------------------- main


def run_main(argv, environ, **kw):
    calls = []

    def fake_exec(file, args, env):
        calls.append((file, args, env))

    rc = launcher.main(argv, environ, execvpe=fake_exec, **kw)
    return rc, calls


def test_main_appends_the_cluster_flags_and_execs(capsys):
    rc, calls = run_main(["--", *BENCH], {"TF_CONFIG": tf_config(), "HOME": "/root"})
    assert rc == 0
    ((file, args, env),) = calls
    assert file == "python3"
    assert args == [*BENCH, *launcher.cluster_flags(launcher.parse_tf_config(tf_config()))]
    assert env["HOME"] == "/root"
    out = capsys.readouterr().out
    assert "launcher: task worker 1 of a cluster of 3 worker(s) and 1 ps" in out
    assert "launcher: exec python3 tf_cnn_benchmarks.py" in out


@pytest.mark.parametrize(
    ("argv", "environ", "message"),
    [
        (BENCH, {"TF_CONFIG": tf_config()}, "give it after `--`"),
        (["--"], {"TF_CONFIG": tf_config()}, "no benchmark command"),
        (["--bogus", "--", *BENCH], {"TF_CONFIG": tf_config()}, "unknown launcher option"),
        (["--", *BENCH], {}, "TF_CONFIG is not set"),
        (["--", *BENCH], {"TF_CONFIG": "not json"}, "TF_CONFIG is not JSON"),
        (["--", *BENCH, "--job_name=ps"], {"TF_CONFIG": tf_config()}, "already sets --job_name"),
    ],
)
def test_main_errors_exit_2_with_a_message(capsys, argv, environ, message):
    rc, calls = run_main(argv, environ)
    assert rc == launcher.EXIT_USAGE == 2
    assert calls == []
    err = capsys.readouterr().err
    assert err.startswith("launcher: error: ") and message in err


def test_real_exec_passes_the_flags_and_the_exit_code(tmp_path):
    show = "import json, sys; print(json.dumps(sys.argv[1:])); sys.exit(7)"
    proc = subprocess.run(
        [sys.executable, str(LAUNCHER), "--", sys.executable, "-c", show, "--model=resnet50"],
        capture_output=True,
        text=True,
        env={"TF_CONFIG": tf_config(type="ps", index=0), "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 7
    printed = json.loads(proc.stdout.strip().splitlines()[-1])
    assert printed == [
        "--model=resnet50",
        "--job_name=ps",
        "--ps_hosts=resnet-ps-0.bench.svc:2222",
        "--worker_hosts=resnet-worker-0.bench.svc:2222,resnet-worker-1.bench.svc:2222,"
        "resnet-worker-2.bench.svc:2222",
        "--task_index=0",
    ]


def test_real_run_without_tf_config_fails_cleanly():
    proc = subprocess.run(
        [sys.executable, str(LAUNCHER), "--", "true"], capture_output=True, text=True, env={}
    )
    assert proc.returncode == 2
    assert "launcher: error: TF_CONFIG is not set" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_missing_benchmark_program_exits_127(capsys):
    rc = launcher.main(["--", "/nonexistent/python3"], {"TF_CONFIG": tf_config()})
    assert rc == 127
    assert "cannot run /nonexistent/python3" in capsys.readouterr().err


# --------------------------------------------------------------------------- helpers


def test_parse_cpuset():
    assert launcher.parse_cpuset("0-2,5,7-8\n") == [0, 1, 2, 5, 7, 8]
    assert launcher.parse_cpuset("3") == [3]
    for bad in ("a-b", "5-2"):
        with pytest.raises(launcher.LaunchError):
            launcher.parse_cpuset(bad)


def test_set_flag_replaces_both_forms_and_leaves_others():
    args = ["--num_intra_threads=32", "--num_inter_threads", "2", "--model=resnet50"]
    out = launcher.set_flag(args, "--num_intra_threads", 4)
    out = launcher.set_flag(out, "--num_inter_threads", 1)
    assert out == ["--num_intra_threads=4", "--num_inter_threads=1", "--model=resnet50"]
    assert launcher.set_flag(["--model=x"], "--num_intra_threads", 4) == ["--model=x"]


# --------------------------------------------------------------------------- per-pod threads


def fake_node(root: Path, sockets: int, cores: int, threads: int, cpuset: str, v1=False):
    """sysfs topology of a node laid out as Linux numbers Xeon CPUs, and a pod's cgroup."""
    cpus = tuning.parse_lscpu(lscpu_text(sockets, cores, threads))
    for c in cpus:
        base = root / "sys" / "devices" / "system" / "cpu" / f"cpu{c['cpu']}"
        (base / "topology").mkdir(parents=True)
        (base / "topology" / "core_id").write_text(f"{c['core'] % cores}\n")  # per socket
        (base / "topology" / "physical_package_id").write_text(f"{c['socket']}\n")
        (base / f"node{c['node']}").mkdir()
    cgroup = root / "cgroup"
    target = cgroup / ("cpuset/cpuset.effective_cpus" if v1 else "cpuset.cpus.effective")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(cpuset + "\n")
    return str(cgroup), str(root / "sys")


def allocatable(sockets: int, cores: int, threads: int) -> tuple[str, tuning.Tuning]:
    """What the static CPU manager gives a pod asking for every allocatable CPU: all CPUs but
    the reserved ones (the calculator's multi-node reservation, as reservedSystemCPUs)."""
    facts = {"preflight_cpu_topology": tuning.parse_lscpu(lscpu_text(sockets, cores, threads))}
    multi = tuning.compute(facts, mode="multi", variant="mkl")
    everything = set(range(sockets * cores * threads))
    reserved = set(launcher.parse_cpuset(multi.reserved_cpuset)) if multi.reserved_cores else set()
    return tuning.format_cpuset(everything - reserved), multi


SHAPES = [(2, 18, 2), (1, 4, 1), (4, 24, 2), (2, 20, 1), (1, 28, 2), (1, 2, 1)]


@pytest.mark.parametrize(("sockets", "cores", "threads"), SHAPES)
def test_derived_threads_equal_the_calculators_multi_node_values(tmp_path, sockets, cores, threads):
    cpuset, multi = allocatable(sockets, cores, threads)
    cg, sysfs = fake_node(tmp_path, sockets, cores, threads, cpuset)
    values, message = launcher.derive_threads("mkl", {}, cg, sysfs)
    assert values is not None, message
    assert (values["num_inter_threads"], values["num_intra_threads"]) == (
        multi.num_inter_threads,
        multi.num_intra_threads,
    )
    assert values["env"]["OMP_NUM_THREADS"] == str(multi.num_intra_threads)
    assert f"cpuset {cpuset}" in message


def test_cgroup_v1_cpuset_is_read_too(tmp_path):
    cpuset, multi = allocatable(2, 18, 2)
    cg, sysfs = fake_node(tmp_path, 2, 18, 2, cpuset, v1=True)
    values, _ = launcher.derive_threads("mkl", {"DLRS_CPU_LIMIT": "64"}, cg, sysfs)
    assert values["num_intra_threads"] == multi.num_intra_threads == 32


def test_a_small_pod_on_a_big_node_gets_its_own_numbers(tmp_path):
    """Mixed shapes: pods sized for a 1x4 node; on a 2x18 HT node the pod's 2 CPUs are one core
    and its hyper-thread sibling, so the calculator says intra 1, not the template's 2."""
    cg, sysfs = fake_node(tmp_path, 2, 18, 2, "2,38")
    values, message = launcher.derive_threads("mkl", {"DLRS_CPU_LIMIT": "2"}, cg, sysfs)
    assert (values["num_inter_threads"], values["num_intra_threads"]) == (1, 1)
    assert "1 core(s) on 1 socket(s)" in message


def test_no_exclusive_cpuset_keeps_the_rendered_values(tmp_path):
    cg, sysfs = fake_node(tmp_path, 2, 18, 2, "0-71")
    values, message = launcher.derive_threads("mkl", {"DLRS_CPU_LIMIT": "64"}, cg, sysfs)
    assert values is None
    assert "static CPU manager" in message and "keeping the rendered" in message


def test_a_pod_split_unevenly_over_sockets_gets_the_per_socket_rules(tmp_path):
    """The rules are per socket (issue #11): a pod of 3 + 1 cores gets inter 2, intra 3 + 1."""
    cg, sysfs = fake_node(tmp_path, 2, 4, 1, "0-2,4")
    values, message = launcher.derive_threads("mkl", {}, cg, sysfs)
    assert (values["num_inter_threads"], values["num_intra_threads"]) == (2, 4)
    assert values["env"]["OMP_NUM_THREADS"] == "4"
    assert "4 core(s) on 2 socket(s)" in message


def test_unreadable_topology_keeps_the_rendered_values(tmp_path):
    cg, _ = fake_node(tmp_path, 1, 4, 1, "2-3")
    values, message = launcher.derive_threads("mkl", {}, cg, str(tmp_path / "nosys"))
    assert values is None and "cannot read the topology of cpu2" in message


def test_without_a_cgroup_file_the_affinity_is_used(tmp_path):
    cpus, source = launcher.pod_cpus(str(tmp_path / "none"))
    assert source == "sched_getaffinity" and cpus


def test_main_rewrites_threads_and_omp(tmp_path):
    cpuset, _ = allocatable(1, 4, 1)
    cg, sysfs = fake_node(tmp_path, 1, 4, 1, cpuset)
    environ = {"TF_CONFIG": tf_config(), "OMP_NUM_THREADS": "32", "DLRS_CPU_LIMIT": "2"}
    rc, calls = run_main(
        ["--derive-threads", "--variant", "mkl", "--", *BENCH, "--num_inter_threads=2"],
        environ,
        cgroup_root=cg,
        sys_root=sysfs,
    )
    assert rc == 0
    ((_, args, env),) = calls
    assert "--num_intra_threads=2" in args and "--num_inter_threads=1" in args
    assert "--num_intra_threads=32" not in args
    assert env["OMP_NUM_THREADS"] == "2"


def test_eigen_variant_sets_no_omp(tmp_path):
    cpuset, _ = allocatable(1, 4, 1)
    cg, sysfs = fake_node(tmp_path, 1, 4, 1, cpuset)
    rc, calls = run_main(
        ["--derive-threads", "--variant=eigen", "--", *BENCH],
        {"TF_CONFIG": tf_config()},
        cgroup_root=cg,
        sys_root=sysfs,
    )
    assert rc == 0
    ((_, args, env),) = calls
    assert "OMP_NUM_THREADS" not in env and "--num_intra_threads=2" in args


# --------------------------------------------------------------------------- as shipped


def materialize(tmp_path: Path) -> Path:
    """The ConfigMap's files laid out as the pod sees them under /opt/dlrs."""
    cm = tfjob.launcher_configmap("x", "default", {})
    root = tmp_path / "opt-dlrs"
    for key, (_, rel) in tfjob.SHIPPED.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(cm["data"][key])
    return root


SHIPPED_RUN = textwrap.dedent(
    """
    import json, sys
    root, cg, sysfs, config = sys.argv[1:5]
    sys.path.insert(0, root)
    import launcher
    rc = launcher.main(
        ["--derive-threads", "--variant=mkl", "--dry-run", "--", "python3", "bench.py",
         "--num_inter_threads=9", "--num_intra_threads=99"],
        {"TF_CONFIG": config}, cgroup_root=cg, sys_root=sysfs)
    import dlrs_provision.tuning as t
    print("TUNING_FROM", t.__file__)
    sys.exit(rc)
    """
)


def run_shipped(python: str, root: Path, cg: str, sysfs: str) -> subprocess.CompletedProcess:
    # -I -S: nothing from this checkout or its virtual environment, only the shipped files
    return subprocess.run(
        [python, "-I", "-S", "-c", SHIPPED_RUN, str(root), cg, sysfs, tf_config()],
        capture_output=True,
        text=True,
    )


@pytest.mark.parametrize(("sockets", "cores", "threads"), [(2, 18, 2), (1, 4, 1), (4, 24, 2)])
def test_shipped_files_alone_give_the_calculators_values(tmp_path, sockets, cores, threads):
    root = materialize(tmp_path)
    cpuset, multi = allocatable(sockets, cores, threads)
    cg, sysfs = fake_node(tmp_path, sockets, cores, threads, cpuset)
    proc = run_shipped(sys.executable, root, cg, sysfs)
    assert proc.returncode == 0, proc.stderr
    assert f"TUNING_FROM {root}/dlrs_provision/tuning.py" in proc.stdout
    (line,) = [ln for ln in proc.stdout.splitlines() if ln.startswith("launcher: exec ")]
    assert f"--num_inter_threads={multi.num_inter_threads}" in line.split()
    assert f"--num_intra_threads={multi.num_intra_threads}" in line.split()
    assert line.endswith("--task_index=1")


def test_shipped_files_run_on_an_old_python(tmp_path):
    """The seed's images carry an old Python 3; the shipped files need 3.7 or newer."""
    found = sorted(glob.glob(str(Path.home() / ".pyenv/versions/3.7*/bin/python3.7")))
    if not found:
        pytest.skip("no Python 3.7 under ~/.pyenv/versions to try the shipped files with")
    root = materialize(tmp_path)
    cpuset, multi = allocatable(2, 18, 2)
    cg, sysfs = fake_node(tmp_path, 2, 18, 2, cpuset)
    proc = run_shipped(found[0], root, cg, sysfs)
    assert proc.returncode == 0, proc.stderr
    assert f"--num_intra_threads={multi.num_intra_threads}" in proc.stdout


def test_facts_for_helper_matches_the_lscpu_layout():
    """The fake nodes above and the TFJob tests describe the same machines."""
    from_counts = tuning.compute(facts_for(2, 18, 2), mode="multi")
    from_map = tuning.compute(
        {"preflight_cpu_topology": tuning.parse_lscpu(lscpu_text(2, 18, 2))}, mode="multi"
    )
    assert from_counts.num_intra_threads == from_map.num_intra_threads == 32


# --------------------------------------------------------------------------- node table


NODES = {
    "xeon-w01": {
        "host": "xeon-w01",
        "ps": {"num_inter_threads": 1, "num_intra_threads": 1, "data_format": "NCHW",
               "env": {"OMP_NUM_THREADS": "1"}, "cpus": 2, "derive": True},
    },
    "xeon-w02": {
        "host": "xeon-w02",
        "worker": {"num_inter_threads": 2, "num_intra_threads": 30, "data_format": "NCHW",
                   "env": {"OMP_NUM_THREADS": "30", "KMP_BLOCKTIME": "0",
                           "KMP_AFFINITY": "granularity=fine,compact,1,0"},
                   "cpus": 64, "derive": False},
    },
    "xeon-w03": {
        "host": "xeon-w03",
        "worker": {"num_inter_threads": 2, "num_intra_threads": 32, "data_format": "NHWC",
                   "env": {"OMP_NUM_THREADS": "32"}, "cpus": 64, "derive": True},
    },
}  # fmt: skip
MKL_BENCH = [*BENCH, "--data_format=NCHW", "--kmp_blocktime=1", "--num_inter_threads=1"]


def node_table(tmp_path: Path) -> str:
    path = tmp_path / "nodes.json"
    path.write_text(json.dumps(NODES))
    return str(path)


def test_the_launcher_takes_its_nodes_entry_overrides_included(tmp_path, capsys):
    environ = {"TF_CONFIG": tf_config(), "DLRS_NODE_NAME": "xeon-w02"}
    rc, calls = run_main(
        [f"--nodes={node_table(tmp_path)}", "--derive-threads", "--", *MKL_BENCH], environ
    )
    assert rc == 0
    ((_, args, env),) = calls
    assert "--num_intra_threads=30" in args and "--num_inter_threads=2" in args
    assert "--kmp_blocktime=0" in args and "--data_format=NCHW" in args
    assert "--kmp_affinity" not in " ".join(args)  # only flags the command already has
    assert env["OMP_NUM_THREADS"] == "30" and env["KMP_BLOCKTIME"] == "0"
    out = capsys.readouterr().out
    assert "node xeon-w02 (host xeon-w02), worker: --num_inter_threads=2" in out
    # derive is off for a host with thread overrides: the cpuset is not read
    assert "cpuset" not in out


def test_another_node_gets_its_own_entry(tmp_path):
    environ = {"TF_CONFIG": tf_config(), "DLRS_NODE_NAME": "xeon-w03"}
    rc, calls = run_main(["--nodes", node_table(tmp_path), "--", *MKL_BENCH], environ)
    assert rc == 0
    ((_, args, env),) = calls
    assert "--num_intra_threads=32" in args and "--data_format=NHWC" in args
    assert env["OMP_NUM_THREADS"] == "32"


def test_the_ps_takes_the_ps_entry(tmp_path):
    environ = {"TF_CONFIG": tf_config(type="ps", index=0), "DLRS_NODE_NAME": "xeon-w01"}
    rc, calls = run_main([f"--nodes={node_table(tmp_path)}", "--", *MKL_BENCH], environ)
    assert rc == 0
    ((_, args, _),) = calls
    assert "--num_intra_threads=1" in args and "--job_name=ps" in args


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"DLRS_NODE_NAME": "xeon-w09"}, "node xeon-w09 has no entry in"),
        ({}, "DLRS_NODE_NAME is not set"),
        ({"DLRS_NODE_NAME": "xeon-w01"}, "has no worker entry"),
    ],
)
def test_a_node_missing_from_the_table_fails_clearly(tmp_path, capsys, environ, message):
    rc, calls = run_main(
        [f"--nodes={node_table(tmp_path)}", "--", *BENCH], {"TF_CONFIG": tf_config()} | environ
    )
    assert rc == 2 and calls == []
    err = capsys.readouterr().err
    assert message in err
    if "xeon-w09" in message:
        assert "xeon-w01, xeon-w02, xeon-w03" in err and "render it again" in err
