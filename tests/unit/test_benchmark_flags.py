"""The single-node benchmark's commands per node (flags.py), the tf_cnn_benchmarks stand-in's
contract, stand-in marking in the report, and the checks `dlrs-provision benchmark` makes
before anything runs."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import FACTS, facts_for

from dlrs_provision import cli, inventory, tuning
from dlrs_provision.benchmark import flags, results, run, synthetic
from dlrs_provision.errors import UsageError

REPO = Path(__file__).resolve().parents[2]
STAND_IN = REPO / "tests" / "sandbox" / "stack-test" / "tf_cnn_benchmarks-stand-in"


def single(facts: dict, variant: str) -> dict:
    return tuning.compute(facts, mode="single", variant=variant).to_dict()


def load_stand_in():
    loader = importlib.machinery.SourceFileLoader("tf_cnn_benchmarks_stand_in", str(STAND_IN))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


# --------------------------------------------------------------------------- flags per node


def test_tuned_run_of_the_seed_example_gets_the_single_node_values_and_openmp(gold6140):
    (tuned,) = flags.node_runs(single(gold6140, "mkl"), flags.Options(benchmark="synthetic"))
    assert tuned["label"] == "tuned"
    assert "--num_inter_threads=2" in tuned["argv"] and "--num_intra_threads=36" in tuned["argv"]
    assert "--data_format=NCHW" in tuned["argv"] and "--mkl=True" in tuned["argv"]
    assert tuned["env"]["OMP_NUM_THREADS"] == "36"
    assert tuned["env"]["KMP_AFFINITY"] == "granularity=fine,compact,1,0"
    assert tuned["argv"][:2] == ["python3", f"{flags.MOUNT}/synthetic.py"]


def test_untuned_run_has_no_thread_flags_and_no_openmp_but_keeps_the_data_format(gold6140):
    runs = flags.node_runs(
        single(gold6140, "mkl"), flags.Options(benchmark="synthetic", compare_default=True)
    )
    assert [r["label"] for r in runs] == ["tuned", "untuned"]
    untuned = runs[1]
    assert not [a for a in untuned["argv"] if "threads" in a or a.startswith("--kmp")]
    assert set(untuned["env"]) == {"PYTHONUNBUFFERED"}
    assert "--data_format=NCHW" in untuned["argv"]


@pytest.mark.parametrize("variant", ["mkl", "eigen", "onednn"])
def test_both_runs_of_compare_default_are_commands_tf_cnn_benchmarks_accepts(gold6140, variant):
    """The untuned NCHW run keeps --mkl=True: without it tf_cnn_benchmarks refuses
    --device=cpu with NCHW (the stand-in makes the same check, with the real message)."""
    options = flags.Options(benchmark="image", num_batches=2, compare_default=True)
    runs = flags.node_runs(single(gold6140, variant), options)
    for run_ in runs:
        proc = stand_in(*run_["argv"][1:])
        assert proc.returncode == 0, (run_["label"], proc.stderr)
        assert "total images/sec:" in proc.stdout
    untuned = runs[1]["argv"]
    nchw = "--data_format=NCHW" in untuned
    assert ("--mkl=True" in untuned) == nchw


def test_eigen_build_gets_no_openmp_environment_and_nhwc():
    (tuned,) = flags.node_runs(single(facts_for(1, 4, 2), "eigen"), flags.Options())
    assert "OMP_NUM_THREADS" not in tuned["env"] and "--mkl=True" not in tuned["argv"]
    assert "--data_format=NHWC" in tuned["argv"] and "--num_intra_threads=4" in tuned["argv"]


def test_each_node_gets_its_own_values():
    small = single(facts_for(1, 4, 1), "mkl")
    big = single(facts_for(2, 18, 2), "mkl")
    options = flags.Options(benchmark="image")
    assert "--num_intra_threads=4" in flags.node_runs(small, options)[0]["argv"]
    assert "--num_intra_threads=36" in flags.node_runs(big, options)[0]["argv"]


def test_checkout_and_image_benchmarks_run_where_the_code_is():
    t = single(facts_for(1, 4, 1), "eigen")
    (checkout,) = flags.node_runs(t, flags.Options(benchmark="tf_cnn_benchmarks"), "/srv/b/")
    assert checkout["argv"][1] == f"{flags.MOUNT}/benchmarks/{flags.TF_CNN_SCRIPT}"
    assert checkout["mounts"] == [f"/srv/b/benchmarks:{flags.MOUNT}/benchmarks:ro"]
    assert checkout["workdir"] == f"{flags.MOUNT}/benchmarks/scripts/tf_cnn_benchmarks"
    (image,) = flags.node_runs(t, flags.Options(benchmark="image", command="/opt/tf_cnn run"))
    assert image["argv"][:2] == ["/opt/tf_cnn", "run"] and image["mounts"] == []


def test_docker_run_argv_is_detached_without_network_with_env_and_mounts(gold6140):
    (tuned,) = flags.node_runs(single(gold6140, "mkl"), flags.Options(), "/var/b")
    argv = flags.docker_run_argv(tuned, "dlrs-benchmark-tuned", "img:1")
    assert argv[:5] == ["docker", "run", "--detach", "--name", "dlrs-benchmark-tuned"]
    assert argv[argv.index("--network") + 1] == "none"
    assert (
        "OMP_NUM_THREADS=36" in argv
        and f"/var/b/synthetic.py:{flags.MOUNT}/synthetic.py:ro" in argv
    )
    assert argv[argv.index("img:1") + 1 :] == tuned["argv"]


@pytest.mark.parametrize(
    ("options", "word"),
    [
        (flags.Options(batch_size=0), "batch_size"),
        (flags.Options(num_batches=-1), "num_batches"),
        (flags.Options(benchmark="mlperf"), "benchmark"),
        (flags.Options(model="resnet50; rm -rf /"), "model"),
    ],
)
def test_bad_options_are_refused(options, word):
    with pytest.raises(ValueError, match=word):
        flags.node_runs(single(facts_for(1, 2, 1), "mkl"), options)


def test_the_synthetic_benchmark_knows_every_flag_we_pass(gold6140):
    for run_ in flags.node_runs(single(gold6140, "mkl"), flags.Options(compare_default=True)):
        _, _, unknown = synthetic.parse_flags(run_["argv"][2:])
        assert unknown == []


# --------------------------------------------------------------------------- the stand-in


def test_stand_in_takes_exactly_the_synthetic_benchmarks_flags():
    stand_in = load_stand_in()
    assert set(stand_in.FLAGS) == set(synthetic.FLAGS)
    assert {k: v for k, v in stand_in.FLAGS.items()} == {
        k: kind for k, (kind, _) in synthetic.FLAGS.items()
    }
    assert set(stand_in.ACCEPTED) == set(synthetic.ACCEPTED_UNUSED)


def test_stand_in_runs_our_flags_says_so_and_its_figure_is_marked(gold6140):
    (tuned,) = flags.node_runs(single(gold6140, "mkl"), flags.Options(benchmark="image"))
    proc = subprocess.run(
        [sys.executable, str(STAND_IN), *tuned["argv"][1:]], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert "stand-in" in proc.stdout.splitlines()[0] and "NOT TensorFlow" in proc.stdout
    parsed = results.parse_log(proc.stdout, "node1")
    assert parsed.ok and parsed.stand_in and parsed.source == "stand-in"
    assert parsed.images_per_sec == 10.0 + 2 + 36  # made up from the thread flags


def stand_in(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(STAND_IN), *argv], capture_output=True, text=True)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--no_such_flag=1"], "Unknown command line flag 'no_such_flag'"),
        (["--batch_size=two"], "flag --batch_size=two: invalid literal for int() with base 10"),
        (["--data_format=NCWH"], "flag --data_format=NCWH: value should be one of <NHWC|NCHW>"),
        (["--data_format=nchw"], "value should be one of <NHWC|NCHW>"),  # case-sensitive
        (["--device=tpu"], "flag --device=tpu: value should be one of <cpu|gpu|CPU|GPU>"),
        (["--local_parameter_device=host"], "value should be one of <cpu|gpu|CPU|GPU>"),
        (["--variable_update=ps"], "value should be one of <parameter_server|replicated|"),
        (["--job_name=chief"], "value should be one of <ps|worker|controller|>"),
        (["--mkl=maybe"], "('Non-boolean argument to boolean flag', 'maybe')"),
        (["--num_batches"], "Missing value for flag --num_batches"),
    ],
)
def test_stand_in_refuses_what_absl_refuses_with_its_message_and_exit_1(argv, message):
    proc = stand_in(*argv)
    assert proc.returncode == 1, proc.stdout
    lines = proc.stderr.splitlines()
    assert lines[0] == f"FATAL Flags parsing error: {lines[0].split(': ', 1)[1]}"
    assert message in lines[0]
    assert lines[1] == "Pass --helpshort or --helpfull to see help on flags."
    assert "total images/sec" not in proc.stdout


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--device=cpu", "--data_format=NCHW"], "device=cpu requires that data_format=NHWC"),
        (["--device=cpu", "--data_format=NCHW", "--nomkl"], "requires that data_format=NHWC"),
        (["--device=cpu", "--distortions", "False"], "unknown positional arguments: ['False']"),
        (["--job_name=worker", "--variable_update=replicated"], "in distributed mode: replicated"),
        (["--variable_update=distributed_replicated"], "in local mode: distributed_replicated"),
        (["--job_name=ps", "--variable_update=horovod"], "job_name should not be specified"),
        (["--nomkl=1"], "--nomkl=1 does not take an argument"),
    ],
)
def test_stand_in_raises_what_tf_cnn_benchmarks_raises(argv, message):
    proc = stand_in("--num_batches=1", *argv)
    assert proc.returncode == 1, proc.stdout
    assert proc.stderr.startswith("Traceback (most recent call last):")
    assert f"ValueError: {message}" in proc.stderr or message in proc.stderr.splitlines()[-1]
    assert "total images/sec" not in proc.stdout


@pytest.mark.parametrize(
    "argv",
    [
        ["--device=cpu", "--data_format=NHWC"],
        ["--device=cpu", "--data_format=NCHW", "--mkl=True"],
        ["--device=CPU", "--data_format=NCHW"],  # upstream compares the lower-case word only
        ["--job_name=worker", "--variable_update=parameter_server", "--task_index=1"],
    ],
)
def test_stand_in_runs_what_tf_cnn_benchmarks_runs(argv):
    proc = stand_in("--num_batches=2", *argv)
    assert proc.returncode == 0, proc.stderr
    assert "total images/sec:" in proc.stdout


# --------------------------------------------------------------------------- report marking


def test_report_says_loudly_that_stand_in_figures_are_made_up(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(STAND_IN), "--num_intra_threads=2"], capture_output=True, text=True
    )
    fake = results.parse_log(proc.stdout, "node1")
    paths = results.write_report(tmp_path, [fake], [fake])
    summary = json.loads(paths["json"].read_text())
    assert summary["stand_in"] is True and summary["nodes"][0]["stand_in"] is True
    assert summary["notes"][0].startswith("STAND-IN FIGURES, NOT MEASUREMENTS")
    markdown = paths["markdown"].read_text()
    assert "**STAND-IN FIGURES, NOT MEASUREMENTS" in markdown.split("|")[0]
    assert "stand-in, made up" in markdown


def test_real_logs_are_not_marked_stand_in(tmp_path):
    real = results.parse_log("Step\tImg/sec\ntotal images/sec: 12.5\n", "node1")
    assert not real.stand_in
    summary = results.summarize([real])
    assert summary["stand_in"] is False and not any("STAND-IN" in n for n in summary["notes"])


# --------------------------------------------------------------------------- input checks


def write_inventory(tmp_path: Path, workers: bool = False) -> inventory.Inventory:
    text = "all:\n  children:\n    masters:\n      hosts:\n        node1:\n"
    if workers:
        text += "    workers:\n      hosts:\n        node2:\n"
    (tmp_path / "hosts.yml").write_text(text)
    return inventory.load(tmp_path / "hosts.yml")


def with_facts(tmp_path: Path, *hosts: str) -> Path:
    facts = tmp_path / "facts"
    facts.mkdir(exist_ok=True)
    for host in hosts:
        (facts / host).write_text((FACTS / "xeon-gold-6140-2s-ht.json").read_text())
    return facts


def test_prepare_needs_preflight_facts_and_says_how_to_get_them(tmp_path):
    inv = write_inventory(tmp_path, workers=True)
    facts = with_facts(tmp_path, "node1")
    with pytest.raises(UsageError) as err:
        run.prepare(run.Request(inventory=inv.path, facts_dir=facts), inv)
    assert "node2" in err.value.message and "dlrs-provision preflight" in err.value.hint
    with_facts(tmp_path, "node2")
    assert run.prepare(run.Request(inventory=inv.path, facts_dir=facts), inv) == ["node1", "node2"]


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"mode": "multi", "compare_default": True}, "single mode only"),
        ({"benchmark": "synthetic", "ref": "master"}, "--benchmark tf_cnn_benchmarks"),
        ({"mode": "multi", "benchmark": "image"}, "single mode"),
        ({"timeout": 0}, "--timeout"),
        ({"image": "Not An Image!"}, "--image"),
        ({"limit": "node9"}, "neither a host nor a group"),
        ({"ref": "v2"}, "--benchmark-ref 'v2' is neither a full commit id nor a branch"),
        ({"ref": "-c core.sshCommand=x"}, "--benchmark-ref '-c core.sshCommand=x' is neither"),
        ({"ref": "ec056be"}, "the full 40 digits"),
        ({"ref": ""}, "--benchmark-ref '' is neither"),
    ],
)
def test_prepare_refuses_bad_requests(tmp_path, changes, words):
    inv = write_inventory(tmp_path, workers=True)
    facts = with_facts(tmp_path, "node1", "node2")
    request = run.Request(inventory=inv.path, facts_dir=facts, **changes)
    with pytest.raises(UsageError, match=words.replace("-", r"\-")):
        run.prepare(request, inv)


def test_limit_takes_hosts_and_groups(tmp_path):
    inv = write_inventory(tmp_path, workers=True)
    facts = with_facts(tmp_path, "node1", "node2")
    request = run.Request(inventory=inv.path, facts_dir=facts, limit="workers")
    assert run.prepare(request, inv) == ["node2"]


def test_cli_bad_input_exits_2_with_a_message_and_no_traceback(tmp_path, capsys):
    inv = write_inventory(tmp_path)
    rc = cli.main(["benchmark", str(inv.path), "--batch-size", "0"])
    err = capsys.readouterr().err
    assert rc == 2 and "argument --batch-size: 0 is out of range: give 1 to 65536" in err
    assert "Traceback" not in err


def test_multi_mode_manifest_with_image_and_checkout_passes_the_crd_schema(tmp_path):
    import jsonschema
    import yaml

    inv = write_inventory(tmp_path, workers=True)
    facts = with_facts(tmp_path, "node1", "node2")
    request = run.Request(
        inventory=inv.path,
        mode="multi",
        facts_dir=facts,
        image="registry.example:5000/tf/bench:1",
        benchmark="tf_cnn_benchmarks",
        repo="https://git.example/benchmarks.git",
        ref="cnn_tf_v1.15_compatible",
        batch_size=32,
    )
    hosts = run.prepare(request, inv)
    out = tmp_path / "tfjob.yaml"
    run.render_manifests(request, inv, hosts, out)
    docs = list(yaml.safe_load_all(out.read_text()))
    assert [d["kind"] for d in docs] == ["ConfigMap", "TFJob"]
    job = docs[1]
    crd = yaml.safe_load((REPO / "tests/data/kubeflow/kubeflow.org_tfjobs.v1.9.0.yaml").read_text())
    jsonschema.validate(job, crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"])
    assert job["metadata"]["name"] == run.JOB_NAME
    for spec in job["spec"]["tfReplicaSpecs"].values():
        pod = spec["template"]["spec"]
        assert pod["containers"][0]["image"] == "registry.example:5000/tf/bench:1"
        fetch = pod["initContainers"][0]["args"]  # the branch's pinned commit, from the mirror
        assert fetch[1:] == [
            "https://git.example/benchmarks.git",
            "aef6daa90a467a1fc7ce8395cd0067e5fda1ecff",
        ]
    assert (
        "--batch_size=32"
        in job["spec"]["tfReplicaSpecs"]["Worker"]["template"]["spec"]["containers"][0]["args"]
    )
