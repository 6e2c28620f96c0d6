"""The synthetic benchmark for real: TensorFlow for CPU on this machine, tiny runs.

TensorFlow lives in .venv-tf (made by tests/tf/setup.sh), not in .venv: these tests run it in
subprocesses and skip only when .venv-tf is absent, saying so. They are marked `tf`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dlrs_provision import tuning
from dlrs_provision.benchmark import results, sweep

REPO = Path(__file__).resolve().parents[2]
VENV_TF = REPO / ".venv-tf"
TF_PYTHON = VENV_TF / "bin" / "python"
SYNTHETIC = REPO / "dlrs_provision" / "benchmark" / "synthetic.py"
LAUNCHER = REPO / "dlrs_provision" / "benchmark" / "launcher.py"
# small enough for a 2-core machine: a few seconds of steps after TensorFlow starts
TINY = ["--batch_size=2", "--num_batches=3", "--num_warmup_batches=1", "--image_size=64"]

pytestmark = [
    pytest.mark.tf,
    pytest.mark.skipif(
        not TF_PYTHON.exists(),
        reason=f"{VENV_TF} is absent: make it with `bash tests/tf/setup.sh` "
        "(tensorflow-cpu, about 1.5 GB)",
    ),
]


def calculated(variant: str) -> tuning.Tuning:
    """The calculator's values for this machine, for the TensorFlow of .venv-tf: stock
    tensorflow-cpu from PyPI, whose oneDNN is on only where the CPU flags say so ("by-cpu"), so
    the mkl variant's NCHW holds here only if this CPU runs oneDNN (else NHWC)."""
    return tuning.compute(sweep.local_facts(), mode="single", variant=variant, onednn="by-cpu")


def run(cmd: list[str], env: dict | None = None) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})}
    return subprocess.run(cmd, capture_output=True, text=True, env=full_env, timeout=600)


@pytest.mark.parametrize("variant", ["onednn", "mkl"])
def test_synthetic_benchmark_runs_and_its_images_per_sec_parse(variant):
    """NHWC as for TensorFlow 2 images; for mkl the calculator's layout for this CPU (NCHW only
    where oneDNN runs) with the MKL flags, as the TFJob passes them."""
    t = calculated(variant)
    flags = [
        "--model=resnet50",
        *TINY,
        f"--data_format={t.data_format}",
        f"--num_inter_threads={t.num_inter_threads}",
        f"--num_intra_threads={t.num_intra_threads}",
        "--variable_update=parameter_server",
        "--init_learning_rate=0.0001",
        "--tf_random_seed=8286",
        "--nodistortions",
    ]
    if variant == "mkl":
        flags += [
            "--mkl=True",
            f"--kmp_blocktime={t.env['KMP_BLOCKTIME']}",
            f"--kmp_affinity={t.env['KMP_AFFINITY']}",
        ]
    proc = run([str(TF_PYTHON), str(SYNTHETIC), *flags])
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    parsed = results.parse_log(proc.stdout, f"synthetic-{variant}")
    assert parsed.ok, parsed.error
    assert parsed.source == "synthetic" and parsed.steps == 3
    assert parsed.images_per_sec > 0 and parsed.step_images_per_sec > 0
    assert parsed.info["Data format"] == t.data_format
    assert "Step\tImg/sec\ttotal_loss" in proc.stdout
    print(f"\nsynthetic {variant} {t.data_format}: {parsed.images_per_sec:.2f} images/sec")


def test_without_onednn_nchw_fails_in_training_and_the_calculators_nhwc_runs():
    """What issue #11 saw on an AMD EPYC guest, made on any CPU: TF_ENABLE_ONEDNN_OPTS=0 turns
    oneDNN off as on a CPU without VNNI/BF16/AMX; NCHW then fails in the first training step,
    and the calculator, told of such a CPU, picks NHWC, which runs."""
    no_onednn = {"TF_ENABLE_ONEDNN_OPTS": "0"}
    base = [str(TF_PYTHON), str(SYNTHETIC), "--model=resnet50", *TINY, "--nodistortions"]
    proc = run([*base, "--data_format=NCHW", "--mkl=True"], env=no_onednn)
    assert proc.returncode != 0
    assert "only supports NHWC" in proc.stdout + proc.stderr, proc.stderr[-3000:]

    topology = sweep.local_facts()["preflight_cpu_topology"]
    t = tuning.compute(
        {"preflight_cpu_topology": topology, "preflight_cpu_features": ["avx2", "fma"]},
        variant="mkl",
        onednn="by-cpu",
    )
    assert t.data_format == "NHWC" and "none of them" in t.warnings[0]
    proc = run([*base, f"--data_format={t.data_format}", "--mkl=True"], env=no_onednn)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert results.parse_log(proc.stdout, "no-onednn").ok


def test_the_pod_command_launcher_then_synthetic():
    """What a Worker pod runs: the launcher derives the threads, then execs the benchmark."""
    config = {
        "cluster": {"worker": ["bench-worker-0.default.svc:2222"]},
        "task": {"type": "worker", "index": 0},
        "environment": "cloud",
    }
    proc = run(
        [
            sys.executable,
            str(LAUNCHER),
            "--derive-threads",
            "--variant=onednn",
            "--",
            str(TF_PYTHON),
            str(SYNTHETIC),
            *TINY,
            "--num_inter_threads=9",
            "--num_intra_threads=99",
        ],
        env={"TF_CONFIG": json.dumps(config)},
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    t = calculated("onednn")
    assert (
        f"tuning calculator: --num_inter_threads={t.num_inter_threads} "
        f"--num_intra_threads={t.num_intra_threads}"
    ) in proc.stdout
    assert f"Threads:     inter {t.num_inter_threads}, intra {t.num_intra_threads}" in proc.stdout
    parsed = results.parse_log(proc.stdout, "worker-0")
    assert parsed.ok and parsed.distributed and parsed.node_images_per_sec > 0


def test_sweep_over_a_small_grid(tmp_path):
    settings = sweep.Settings(batch_size=2, num_batches=3, num_warmup_batches=1, image_size=64)
    result = sweep.sweep(str(TF_PYTHON), [1, 2], [1, 2], settings=settings)
    assert all(p.ok for p in result.points), sweep.render_text(result)
    calc = calculated(sweep.DEFAULT_VARIANT)
    assert (result.calculated.inter, result.calculated.intra) == (
        calc.num_inter_threads,
        calc.num_intra_threads,
    )
    assert result.ratio is not None and result.ratio >= 1.0
    paths = sweep.write_report(tmp_path, result)
    assert json.loads(paths["json"].read_text())["ratio_best_to_calculated"] == result.ratio
    print("\n" + sweep.render_text(result))
