"""The OS phase on the mixed sandbox through `dlrs-provision cluster`: preflight, then the OS
roles on a Debian master, a Clear-Linux-like worker and a Debian worker; a second run changes
nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dlrs_provision import paths

pytestmark = pytest.mark.e2e

CLI = str(Path(sys.executable).parent / "dlrs-provision")


def cluster(inventory: str, state: Path) -> tuple[int, list[dict]]:
    proc = subprocess.run(
        [CLI, "cluster", inventory, "--json"],
        capture_output=True,
        text=True,
        env=os.environ | {paths.STATE_ENV: str(state)},
        timeout=1200,
    )
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert lines and lines[-1]["kind"] == "summary", proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.returncode, lines


def docker_exec(container: str, *cmd: str) -> str:
    return subprocess.run(
        ["docker", "exec", container, *cmd], capture_output=True, text=True, check=True
    ).stdout


def test_cluster_runs_preflight_and_os_then_changes_nothing(sandbox, tmp_path):
    rc, lines = cluster(sandbox.inventory, tmp_path)
    summary = lines[-1]
    assert rc == 0, summary
    phases = [x["phase"] for x in lines if x["kind"] == "phase"]
    assert phases == ["Preflight", "OS"]

    node2 = sandbox.node("node2").container
    info = docker_exec(node2, "swupd", "info", "--allow-insecure-http")
    version = int(info.split("Installed version:")[1].split()[0])
    assert version >= 26240
    bundles = docker_exec(node2, "ls", "/usr/share/clear/bundles").split()
    assert {"containers-basic", "cloud-native-basic"} <= set(bundles)
    for node in ("node1", "node2", "node3"):
        hosts = docker_exec(sandbox.node(node).container, "cat", "/etc/hosts")
        for other in ("node1", "node2", "node3"):
            assert f"{sandbox.node(other).ip} {other}" in hosts or (
                f"{sandbox.node(other).ip}\t{other}" in hosts
            ), (node, other, hosts)

    rc, lines = cluster(sandbox.inventory, tmp_path)
    assert rc == 0
    changed = {h: s["changed"] for h, s in lines[-1]["hosts"].items()}
    assert changed == {"node1": 0, "node2": 0, "node3": 0}, [
        x for x in lines if x.get("status") == "changed"
    ]
