"""`dlrs-provision benchmark` for real on this machine: single mode, a real TensorFlow image.

The image is tests/tf/image/ (tensorflow-cpu on the sandbox's Debian base), built once and
cached by its recipe's hash (tf_image.py; about 4 minutes the first time). The inventory is
inventory/localhost/hosts.yml; its facts come from `dlrs-provision preflight` run first, into a
state folder of the test's own. Marked `tf`; skipped, saying why, when no Docker Engine
answers (`dlrs-provision sandbox docker` starts one).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import tf_image

from dlrs_harness.docker_engine import run_docker
from dlrs_provision import tuning
from dlrs_provision.benchmark import sweep

REPO = Path(__file__).resolve().parents[2]
INVENTORY = REPO / "inventory" / "localhost" / "hosts.yml"


def _docker_answers() -> bool:
    try:
        return run_docker(["version"], check=False).returncode == 0
    except Exception:  # no docker CLI at all
        return False


pytestmark = [
    pytest.mark.tf,
    pytest.mark.skipif(
        not _docker_answers(),
        reason="no Docker Engine answers: start one with `dlrs-provision sandbox docker`",
    ),
]


def cli(args: list[str], state: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "DLRS_PROVISION_STATE": str(state)}
    return subprocess.run(
        [sys.executable, "-m", "dlrs_provision", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=1800,
    )


def test_single_mode_with_real_tensorflow_writes_the_report(tmp_path):
    started = time.monotonic()
    image = tf_image.ensure(echo=print)
    image_s = time.monotonic() - started

    state = tmp_path / "state"
    proc = cli(["preflight", str(INVENTORY)], state)
    assert proc.returncode == 0, proc.stdout + proc.stderr

    started = time.monotonic()
    proc = cli(
        [
            "benchmark", str(INVENTORY), "--mode", "single", "--image", image,
            "--benchmark", "synthetic", "--batch-size", "2", "--num-batches", "3",
            "--compare-default",
        ],
        state,
    )  # fmt: skip
    run_s = time.monotonic() - started
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    written = [Path(line[len("wrote ") :]) for line in proc.stdout.splitlines()
               if line.startswith("wrote ")]  # fmt: skip
    by_name = {p.name: p for p in written}
    assert set(by_name) == {"report.md", "report.json", "chart.png"}
    for path in written:
        assert path.is_file() and path.stat().st_size > 0
        assert path.parent.parent.parent == state / "runs"  # <state>/runs/<run>/benchmark/
    assert by_name["chart.png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    report = json.loads(by_name["report.json"].read_text())
    assert report["compared"] is True and report["stand_in"] is False
    assert not report["failures"]
    for key in ("runs", "untuned_runs"):
        (run,) = report[key]
        assert run["name"] == "localhost" and run["ok"] and run["source"] == "synthetic"
        assert run["images_per_sec"] > 0 and run["steps"] == 3
        assert run["info"]["TensorFlow"].startswith("2.")
    (node,) = report["nodes"]
    assert node["tuned"] > 0 and node["untuned"] > 0 and node["ratio"] > 0

    # the tuned run got the calculator's threads; the untuned one none (TensorFlow's defaults)
    logs = by_name["report.json"].parent
    tuned_log = (logs / "localhost-tuned.log").read_text()
    untuned_log = (logs / "localhost-untuned.log").read_text()
    record = json.loads((logs / "localhost-tuned.json").read_text())
    t = record["tuning"]
    assert f"Threads:     inter {t['num_inter_threads']}, intra {t['num_intra_threads']}" in (
        tuned_log
    )
    assert "Threads:     inter default, intra default" in untuned_log
    # the layout is the calculator's for this CPU and this (uncatalogued, stock) TensorFlow image:
    # NCHW only where its oneDNN is on, for both runs (the untuned NCHW run keeps --mkl=True)
    want = tuning.compute(sweep.local_facts(), variant=t["variant"], image=image).data_format
    assert t["data_format"] == want
    assert f"Data format: {want}" in tuned_log and f"Data format: {want}" in untuned_log
    markdown = by_name["report.md"].read_text()
    assert "| localhost |" in markdown and "stand-in" not in markdown.lower()
    print(
        f"\nimage {image}: ready in {image_s:.0f} s; benchmark command {run_s:.0f} s; "
        f"tuned {node['tuned']} images/sec, untuned {node['untuned']} (batch 2, 3 batches)"
    )
