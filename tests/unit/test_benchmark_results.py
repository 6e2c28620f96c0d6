"""Reading benchmark logs and writing the report; the sweep and the synthetic benchmark's flags
(no TensorFlow needed here: tests/tf runs the real thing)."""

from __future__ import annotations

import json
import struct
import textwrap

import pytest
from conftest import facts_for

from dlrs_provision import tuning
from dlrs_provision.benchmark import results, sweep, synthetic
from dlrs_provision.errors import UsageError

# tf_cnn_benchmarks on one node (the layout of its output; the numbers are made up)
SINGLE = textwrap.dedent(
    """\
    TensorFlow:  1.12
    Model:       resnet50
    Dataset:     imagenet (synthetic)
    Mode:        training
    SingleSess:  False
    Batch size:  64 global
                 64 per device
    Num batches: 100
    Num epochs:  0.00
    Devices:     ['/cpu:0']
    NUMA bind:   False
    Data format: NCHW
    Optimizer:   sgd
    Variables:   parameter_server
    ==========
    Generating training model
    Initializing graph
    Running warm up
    Done warm up
    Step\tImg/sec\ttotal_loss
    1\timages/sec: 88.1 +/- 0.0 (jitter = 0.0)\t8.169
    10\timages/sec: 87.9 +/- 0.4 (jitter = 1.1)\t7.948
    100\timages/sec: 88.2 +/- 0.1 (jitter = 0.9)\t7.839
    ----------------------------------------------------------------
    total images/sec: 88.16
    ----------------------------------------------------------------
    """
)


def worker_log(index: int, step_rate: float, total: float) -> str:
    """A TFJob worker's log: the launcher's lines, then tf_cnn_benchmarks in PS mode."""
    return textwrap.dedent(
        f"""\
        launcher: task worker {index} of a cluster of 2 worker(s) and 1 ps
        launcher: cpuset 2-17,20-35,38-53,56-71 from /sys/fs/cgroup/cpuset.cpus.effective
        launcher: exec python3 tf_cnn_benchmarks.py --model=resnet50 --job_name=worker
        TensorFlow:  1.12
        Model:       resnet50
        Batch size:  64 global
        Devices:     ['/job:worker/task:{index}/cpu:0']
        Data format: NCHW
        Running warm up
        Done warm up
        Step\tImg/sec\ttotal_loss
        1\timages/sec: {step_rate - 1:.1f} +/- 0.0 (jitter = 0.0)\t8.100
        100\timages/sec: {step_rate:.1f} +/- 0.3 (jitter = 1.0)\t7.800
        ----------------------------------------------------------------
        total images/sec: {total:.2f}
        ----------------------------------------------------------------
        """
    )


SYNTHETIC = textwrap.dedent(
    """\
    dlrs-provision synthetic benchmark: tf.keras ResNet50 on random images (not tf_cnn_benchmarks)
    note: accepted, no effect on a single-process run: --variable_update=parameter_server
    TensorFlow:  2.21.0
    Model:       resnet50
    Data format: NHWC
    Running warm up
    Done warm up
    Step\tImg/sec\ttotal_loss
    1\timages/sec: 9.6 +/- 0.0 (jitter = 0.0)\t7.042
    4\timages/sec: 7.7 +/- 0.9 (jitter = 2.2)\t7.692
    ----------------------------------------------------------------
    total images/sec: 7.64
    ----------------------------------------------------------------
    """
)

OOM = textwrap.dedent(
    """\
    Running warm up
    Traceback (most recent call last):
      File "tf_cnn_benchmarks.py", line 72, in <module>
        app.run(main)
    tensorflow.python.framework.errors_impl.ResourceExhaustedError: OOM when allocating tensor
    """
)


# --------------------------------------------------------------------------- parsing


def test_single_node_tf_cnn_benchmarks_log():
    run = results.parse_log(SINGLE, "xeon-w01")
    assert run.ok and run.images_per_sec == 88.16
    assert run.step_images_per_sec == 88.2 and run.steps == 100
    assert run.source == "tf_cnn_benchmarks" and not run.distributed
    assert run.node_images_per_sec == 88.16
    assert run.info["Model"] == "resnet50" and run.info["Data format"] == "NCHW"
    assert run.info["Batch size"] == "64 global"


def test_synthetic_log():
    run = results.parse_log(SYNTHETIC, "local")
    assert run.ok and run.images_per_sec == 7.64 and run.source == "synthetic"
    assert run.info["TensorFlow"] == "2.21.0"


def test_distributed_worker_counts_its_own_step_rate():
    run = results.parse_log(worker_log(0, 60.5, 119.8), "w01")
    assert run.distributed and run.images_per_sec == 119.8
    assert run.node_images_per_sec == 60.5


def test_timestamped_kubectl_logs_parse_too():
    stamped = "\n".join(f"2026-05-01T10:00:00.000Z {line}" for line in SINGLE.splitlines())
    run = results.parse_log(stamped)
    assert run.images_per_sec == 88.16 and run.step_images_per_sec == 88.2


@pytest.mark.parametrize(
    ("text", "error"),
    [
        (OOM, "ResourceExhaustedError: OOM when allocating tensor"),
        ("Running warm up\nKilled\n", "Killed"),
        (SINGLE.split("----")[0], "no `total images/sec` line"),
        ("", "the log is empty"),
    ],
)
def test_failures_say_why_with_the_last_lines(text, error):
    run = results.parse_log(text, "w02")
    assert not run.ok and run.images_per_sec is None and run.node_images_per_sec is None
    assert error in run.error
    assert run.tail == [line.rstrip() for line in text.splitlines() if line.strip()][-15:]


def test_parse_file_names_the_run_after_the_file(tmp_path):
    path = tmp_path / "xeon-w03.log"
    path.write_text(SINGLE)
    assert results.parse_file(path).name == "xeon-w03"


# --------------------------------------------------------------------------- report


def png_size(path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_report_of_a_cluster_run(tmp_path):
    runs = [
        results.parse_log(worker_log(0, 60.5, 119.8), "w01"),
        results.parse_log(worker_log(1, 59.5, 120.1), "w02"),
    ]
    paths = results.write_report(
        tmp_path / "report", runs, context={"image": "clearlinux/stacks-dlaas-mkl:latest"}
    )
    summary = json.loads(paths["json"].read_text())
    assert summary["total"]["tuned"] == 120.0
    assert [n["tuned"] for n in summary["nodes"]] == [60.5, 59.5]
    assert [n["reported_total"] for n in summary["nodes"]] == [119.8, 120.1]
    md = paths["markdown"].read_text()
    assert "| w01 | 60.50 | tf_cnn_benchmarks |" in md
    assert "| **total** | 120.00 | |" in md
    assert "image: clearlinux/stacks-dlaas-mkl:latest" in md
    assert "distributed run" in md and "![images/sec" in md
    width, height = png_size(paths["chart"])
    assert width > 400 and height > 300


def test_report_tuned_against_untuned_with_a_failure(tmp_path):
    tuned = [results.parse_log(SINGLE, "w01"), results.parse_log(OOM, "w02")]
    untuned = [
        results.parse_log(SINGLE.replace("88.16", "44.08"), "w01"),
        results.parse_log(SINGLE.replace("88.16", "50.00"), "w02"),
    ]
    paths = results.write_report(tmp_path, tuned, untuned, title="tuned vs untuned")
    summary = json.loads(paths["json"].read_text())
    w01, w02 = summary["nodes"]
    assert (w01["tuned"], w01["untuned"], w01["ratio"]) == (88.16, 44.08, 2.0)
    assert (w02["tuned"], w02["untuned"], w02["ratio"]) == (None, 50.0, None)
    assert summary["total"] == {"tuned": None, "untuned": 94.08, "ratio": None}
    (failure,) = summary["failures"]
    assert failure["node"] == "w02" and failure["run"] == "tuned"
    assert "ResourceExhaustedError" in failure["error"]
    md = paths["markdown"].read_text()
    assert "| w01 | 88.16 | 44.08 | 2.000 | tf_cnn_benchmarks |" in md
    assert "| w02 | failed | 50.00 |  | tf_cnn_benchmarks |" in md
    assert "### w02 (tuned)" in md and "app.run(main)" in md
    assert png_size(paths["chart"])[0] > 400


def test_report_chart_is_drawn_headless(tmp_path, monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.setenv("MPLBACKEND", "TkAgg")  # results.py must still pick Agg
    paths = results.write_report(tmp_path, [results.parse_log(SYNTHETIC, "local")])
    assert png_size(paths["chart"])[1] > 300


# --------------------------------------------------------------------------- sweep


TWO_CORES = facts_for(1, 2, 1)


def fake_runner(rates: dict):
    calls = []

    def run(python, inter, intra, settings, data_format, env):
        calls.append((inter, intra, data_format, dict(env)))
        rate = rates.get((inter, intra))
        text = f"total images/sec: {rate:.2f}\n" if rate is not None else "Killed\n"
        return results.parse_log(text, f"inter {inter} intra {intra}")

    return run, calls


def test_sweep_reports_best_beside_the_calculators_choice():
    rates = {(1, 1): 4.0, (1, 2): 7.5, (2, 1): 4.1, (2, 2): 8.0}
    runner, calls = fake_runner(rates)
    result = sweep.sweep("python", facts=TWO_CORES, runner=runner)
    calc = tuning.compute(TWO_CORES, mode="single", variant=sweep.DEFAULT_VARIANT)
    assert (result.calculated.inter, result.calculated.intra) == (1, 2)
    assert (calc.num_inter_threads, calc.num_intra_threads) == (1, 2)
    assert (result.best.inter, result.best.intra) == (2, 2)
    assert result.ratio == round(8.0 / 7.5, 3)
    assert [(i, j) for i, j, _, _ in calls] == [(1, 1), (1, 2), (2, 1), (2, 2)]
    # the data layout and the OpenMP environment come from the calculator, per point
    assert {fmt for _, _, fmt, _ in calls} == {calc.data_format}
    assert [env.get("OMP_NUM_THREADS") for _, _, _, env in calls] == ["1", "2", "1", "2"]
    text = sweep.render_text(result)
    assert "7.50*" in text and "best / calculated: 1.067" in text
    data = result.to_dict()
    assert data["ratio_best_to_calculated"] == 1.067 and len(data["points"]) == 4


def test_sweep_adds_the_calculated_point_when_the_grid_misses_it():
    runner, _ = fake_runner({(1, 1): 3.0, (1, 2): 6.0})
    result = sweep.sweep("python", [1], [1], facts=TWO_CORES, runner=runner)
    assert [(p.inter, p.intra) for p in result.points] == [(1, 1), (1, 2)]
    assert result.ratio == 1.0


def test_sweep_with_a_failed_point_still_reports():
    runner, _ = fake_runner({(1, 1): 3.0, (1, 2): 6.0, (2, 1): 3.2})
    result = sweep.sweep("python", facts=TWO_CORES, runner=runner)
    assert result.best.images_per_sec == 6.0 and result.ratio == 1.0
    assert "failed: inter 2 intra 2: Killed" in sweep.render_text(result)


def test_sweep_repeats_go_in_rounds_over_the_grid():
    runner, calls = fake_runner({(1, 1): 3.0, (1, 2): 6.0})
    seen = []
    settings = sweep.Settings(repeats=2)
    sweep.sweep(
        "python",
        [1],
        [1, 2],
        facts=TWO_CORES,
        runner=runner,
        settings=settings,
        on_point=lambda p: seen.append((p.inter, p.intra, len(p.runs))),
    )
    assert [(i, j) for i, j, _, _ in calls] == [(1, 1), (1, 2), (1, 1), (1, 2)]
    assert seen == [(1, 1, 2), (1, 2, 2)]


def test_sweep_repeats_take_the_median():
    seq = iter([5.0, 9.0, 6.0])

    def runner(python, inter, intra, settings, data_format, env):
        return results.parse_log(f"total images/sec: {next(seq)}\n")

    settings = sweep.Settings(repeats=3)
    result = sweep.sweep("python", [1], [2], facts=TWO_CORES, runner=runner, settings=settings)
    assert result.calculated.images_per_sec == 6.0


def test_sweep_report_files(tmp_path):
    runner, _ = fake_runner({(1, 1): 3.0, (1, 2): 6.0, (2, 1): 3.2, (2, 2): 5.9})
    paths = sweep.write_report(tmp_path, sweep.sweep("python", facts=TWO_CORES, runner=runner))
    assert "best / calculated: 1.000" in paths["markdown"].read_text()
    assert json.loads(paths["json"].read_text())["best"]["intra"] == 2


def test_sweep_refuses_a_bad_grid():
    runner, _ = fake_runner({})
    with pytest.raises(UsageError):
        sweep.sweep("python", [0], [1], facts=TWO_CORES, runner=runner)


@pytest.mark.parametrize(
    ("shape", "inter", "intra"),
    [((1, 2, 1), [1, 2], [1, 2]), ((2, 18, 2), [1, 2, 4], [1, 18, 36, 72])],
)
def test_default_grid(shape, inter, intra):
    topo = tuning.topology_from_facts(facts_for(*shape))
    assert sweep.default_grid(topo) == (inter, intra)


def test_local_facts_describe_this_machine():
    t = tuning.compute(sweep.local_facts(), mode="single")
    assert t.topology.logical_cpus == len(__import__("os").sched_getaffinity(0))


def test_find_python_says_how_to_get_tensorflow(tmp_path):
    from dlrs_provision.errors import EnvironmentProblem

    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\nexit 1\n")
    fake.chmod(0o755)
    with pytest.raises(EnvironmentProblem) as err:
        sweep.find_python(str(fake))
    assert "tests/tf/setup.sh" in err.value.hint


# --------------------------------------------------------------------------- synthetic flags


def test_synthetic_takes_the_flags_given_to_tf_cnn_benchmarks():
    argv = [
        "--model=resnet50",
        "--batch_size=32",
        "--num_batches",
        "20",
        "--data_format=NCHW",
        "--num_inter_threads=2",
        "--num_intra_threads=32",
        "--variable_update=parameter_server",
        "--local_parameter_device=cpu",
        "--device=cpu",
        "--init_learning_rate=0.0001",
        "--tf_random_seed=8286",
        "--nodistortions",
        "--mkl=True",
        "--kmp_blocktime=1",
        "--kmp_affinity=granularity=fine,compact,1,0",
        "--job_name=worker",
        "--some_new_flag=1",
    ]
    values, unused, unknown = synthetic.parse_flags(argv)
    synthetic.check(values)
    assert values["batch_size"] == 32 and values["num_batches"] == 20
    assert (values["num_inter_threads"], values["num_intra_threads"]) == (2, 32)
    assert values["mkl"] is True and values["kmp_affinity"] == "granularity=fine,compact,1,0"
    assert values["init_learning_rate"] == 0.0001 and values["tf_random_seed"] == 8286
    assert "--nodistortions" in unused and "--variable_update=parameter_server" in unused
    assert unknown == ["--some_new_flag=1"]
    assert synthetic.parse_flags(["--nomkl"])[0]["mkl"] is False


TWO_WORKERS = ["--job_name=worker", "--worker_hosts=127.0.0.1:1001,127.0.0.1:1002"]
COLLECTIVE = "--variable_update=collective_all_reduce"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--model=vgg16"], "only resnet50"),
        (["--batch_size=x"], "expected a int"),
        (["--batch_size=0"], "1 or more"),
        (["--data_format=NCWH"], "NCHW or NHWC"),
        (["--device=gpu"], "runs on cpu"),
        (["--mkl=maybe"], "true or false"),
        (["--num_batches"], "needs a value"),
        (["--variable_update=allreduce"], "expected one of parameter_server"),
        (["--job_name=chief"], "expected ps or worker"),
        (
            [*TWO_WORKERS, "--task_index=0", "--variable_update=parameter_server"],
            "only with --variable_update=collective_all_reduce",
        ),
        ([*TWO_WORKERS, "--task_index=2", COLLECTIVE], "names 2 workers"),
        (["--job_name=worker", "--worker_hosts=a:1,b", "--task_index=0", COLLECTIVE], "not host"),
    ],
)
def test_synthetic_refuses_bad_flags(argv, message):
    with pytest.raises(synthetic.FlagError, match=message):
        values, _, _ = synthetic.parse_flags(argv)
        synthetic.check(values)


def test_synthetic_trains_across_workers_only_with_collective_all_reduce():
    values, unused, _ = synthetic.parse_flags([*TWO_WORKERS, "--task_index=1", COLLECTIVE])
    synthetic.check(values)
    assert synthetic.distributed(values)
    assert values["task_index"] == 1 and values["variable_update"] == "collective_all_reduce"
    assert synthetic.hosts(values["worker_hosts"]) == ["127.0.0.1:1001", "127.0.0.1:1002"]
    assert COLLECTIVE in unused  # still a tf_cnn_benchmarks flag, named in the single-run note
    # a lone worker, or a single-node run, trains on its own whatever variable_update says
    for argv in (
        ["--job_name=worker", "--worker_hosts=a:1", "--task_index=0", COLLECTIVE],
        ["--variable_update=parameter_server"],
        [COLLECTIVE],
    ):
        values, _, _ = synthetic.parse_flags(argv)
        synthetic.check(values)
        assert not synthetic.distributed(values)


def test_synthetic_ps_task_has_nothing_to_do(capsys):
    assert synthetic.main(["--job_name=ps", "--task_index=0"]) == 0
    assert "no parameter server" in capsys.readouterr().out


def test_synthetic_per_step_line_has_tf_cnn_benchmarks_form():
    line = synthetic.perf_line(10, 64, [0.5, 0.5, 0.5], 7.25)
    assert line == "10\timages/sec: 128.0 +/- 0.0 (jitter = 0.0)\t7.250"
    run = results.parse_log(line + "\ntotal images/sec: 128.00\n")
    assert run.step_images_per_sec == 128.0 and run.steps == 10


def test_local_cpu_flags_read_the_first_flags_line_as_preflight_does(tmp_path):
    from dlrs_provision.benchmark import sweep

    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(
        "processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu avx2 fma\n\n"
        "processor\t: 1\nflags\t\t: fpu avx2 fma avx512_vnni\n"
    )
    assert sweep.local_cpu_flags(str(cpuinfo)) == ["avx2", "fma", "fpu"]
    assert sweep.local_cpu_flags(str(tmp_path / "absent")) == []
