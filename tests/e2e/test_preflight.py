"""Preflight end to end on the 3-node sandbox, over real SSH.

Tests that change a host (a stopped host, an old Clear Linux version) put it back before they
end, also when they fail, so that the shared sandbox stays as the other tests expect it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from e2e_support import NODES

from dlrs_harness import sandbox as sandbox_api
from dlrs_provision import paths, tuning
from dlrs_provision.facts import cached_facts_file, load_facts

pytestmark = pytest.mark.e2e

CLI = str(Path(sys.executable).parent / "dlrs-provision")
INSECURE = "--allow-insecure-http"  # the sandbox's swupd mirror is plain HTTP


def run_cli(*args: str, state_dir: Path) -> subprocess.CompletedProcess[str]:
    env = os.environ | {paths.STATE_ENV: str(state_dir)}
    return subprocess.run([CLI, *args], capture_output=True, text=True, env=env, timeout=300)


def controller_topology() -> tuning.Topology:
    """The CPUs this machine has: the containers share its kernel, so they see the same."""
    text = subprocess.run(
        ["lscpu", "-p=CPU,CORE,SOCKET,NODE"], capture_output=True, text=True, check=True
    ).stdout
    return tuning.topology_from_facts({"preflight_cpu_topology": tuning.parse_lscpu(text)})


def docker(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=True)


def test_preflight_reports_the_hardware_the_hosts_really_see(sandbox, tmp_path):
    proc = run_cli("preflight", sandbox.inventory, "--json", state_dir=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    reached = {x["host"]: x["result"] for x in lines if x["kind"] == "reach"}
    assert reached == dict.fromkeys(NODES, "ok")
    report = next(x for x in lines if x["kind"] == "preflight")
    hosts = {h["host"]: h for h in report["hosts"]}
    assert {h["verdict"] for h in hosts.values()} == {"ok"}
    assert hosts["node2"]["os"] == "Clear Linux OS 26240"
    assert hosts["node1"]["os"].startswith("Debian 12")

    topo = controller_topology()
    for node in NODES:
        facts = load_facts(cached_facts_file(tmp_path / "facts", node))
        assert facts["ansible_processor_count"] == topo.sockets
        assert facts["ansible_processor_cores"] == topo.cores_per_socket
        assert len(facts["preflight_cpu_topology"]) == topo.logical_cpus
        # the tuning stored by the role is the calculator's for those facts, multi-node rule
        want = tuning.compute(facts, mode="multi", variant="mkl").to_dict()
        got = facts["preflight_tuning"]
        for key in ("num_inter_threads", "num_intra_threads", "data_format", "reserved_cpuset"):
            assert got[key] == want[key], key
        assert hosts[node]["tuning"].startswith(
            f"inter {want['num_inter_threads']}, intra {want['num_intra_threads']}, NCHW"
        )


def test_stopped_host_is_unreachable_within_seconds_while_others_are_checked(sandbox, tmp_path):
    node = sandbox.node("node3")
    docker("stop", "-t", "1", node.container)
    try:
        started = time.monotonic()
        proc = run_cli("cluster", sandbox.inventory, "--json", state_dir=tmp_path)
        elapsed = time.monotonic() - started
        lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
        reached = {x["host"]: x for x in lines if x["kind"] == "reach"}
        assert proc.returncode == 1
        assert reached["node3"]["result"] == "unreachable"
        assert "refused" in reached["node3"]["reason"] and "127.0.0.1" in reached["node3"]["reason"]
        assert reached["node1"]["result"] == reached["node2"]["result"] == "ok"
        assert "nothing was changed" in proc.stderr
        # Ansible never started: no run's artifacts (the state folders are made before the
        # reach check, so that one unusable is refused before any host is reached)
        assert not any((tmp_path / "runs").glob("*"))
        assert elapsed < 60  # a guard against hanging, not a speed claim
    finally:
        docker("start", node.container)
        # the restarted container has a new published port: `up` writes the inventory anew,
        # and the session's state (shared with the other tests) takes the new ports
        fresh = sandbox_api.up(nodes=len(NODES), os="mixed")
        sandbox.nodes[:] = fresh.nodes


def test_wrong_key_is_an_authentication_failure(sandbox, tmp_path):
    key = tmp_path / "other_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    inv = yaml.safe_load(Path(sandbox.inventory).read_text())
    inv["all"]["vars"]["ansible_ssh_private_key_file"] = str(key)
    wrong = tmp_path / "hosts.yml"
    wrong.write_text(yaml.safe_dump(inv))
    proc = run_cli("preflight", str(wrong), "--json", state_dir=tmp_path / "state")
    reached = {
        x["host"]: x for x in map(json.loads, proc.stdout.splitlines()) if x["kind"] == "reach"
    }
    assert proc.returncode == 1
    assert {r["result"] for r in reached.values()} == {"auth"}
    assert str(key) in reached["node1"]["reason"] and "dlrs" in reached["node1"]["reason"]


def test_clear_linux_host_below_26240_fails_the_support_check(sandbox, tmp_path):
    """Below the minimum without a mirror to update from: refused, with the version. With the
    sandbox's mirror configured, the same host passes: the OS phase will bring it up."""
    container = sandbox.node("node2").container

    def swupd(*args: str) -> str:
        return docker("exec", container, "swupd", *args, INSECURE).stdout

    inv = yaml.safe_load(Path(sandbox.inventory).read_text())
    del inv["all"]["vars"]["dlrs_clearlinux_mirror"]
    no_mirror = tmp_path / "hosts.yml"
    no_mirror.write_text(yaml.safe_dump(inv))

    swupd("repair", "--picky", "-V", "26000", "--force")
    try:
        assert "Installed version: 26000" in swupd("info")
        proc = run_cli("preflight", str(no_mirror), state_dir=tmp_path / "a")
        assert proc.returncode == 1
        rows: dict[str, str] = {}
        for line in proc.stdout.splitlines():  # the preflight table comes first
            if line.strip():
                rows.setdefault(line.split()[0], line)
        assert "Clear Linux OS 26000 is not supported" in rows["node2"]
        assert "26240 or newer" in rows["node2"]
        # the other hosts have no refusal of their own: their row is ok, or the cluster's
        # verdict (which ends every host's run once) naming node2 alone
        for other in ("node1", "node3", "node4"):
            row = rows[other].rstrip()
            assert row.endswith("ok") or (
                "Preflight refuses this cluster" in row and f"] {other}:" not in row
            ), row

        proc = run_cli("preflight", sandbox.inventory, "-v", state_dir=tmp_path / "b")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "the OS phase updates it from http://mirror:8080" in proc.stderr
    finally:
        swupd("repair", "--picky", "-V", "26240", "--force")
    assert "Installed version: 26240" in swupd("info")
