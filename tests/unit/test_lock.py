"""One host-changing run per inventory: real processes racing for the lock (dlrs_provision/lock).

The holder is the real `dlrs-provision cluster` (or `preflight`) whose SSH reach step is replaced
by a sleep: it holds the lock exactly as a run does while Ansible works, and no host is needed.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dlrs_provision import lock

INVENTORY = """\
all:
  children:
    masters:
      hosts:
        node1:
          ansible_host: 192.0.2.10
    workers:
      hosts:
        node2:
          ansible_host: 192.0.2.11
"""

# the real CLI, its reach step replaced: prints HOLDING, then sleeps (a run in progress), then
# answers "unreachable" so that the command ends without touching anything
SLEEPING_RUN = """\
import sys, time
from dlrs_provision.commands import hosts
SECONDS = float(sys.argv[1])
def reach_all(args, inv):
    print("HOLDING", flush=True)
    time.sleep(SECONDS)
    return False
hosts.reach_all = reach_all
from dlrs_provision.cli import main
sys.argv = ["dlrs-provision", *sys.argv[2:]]
raise SystemExit(main(sys.argv[1:]))
"""

# a bare holder of the lock module, started when the file GO appears (for the race)
RACER = """\
import os, sys, time
from pathlib import Path
from dlrs_provision import lock
go, release = Path(sys.argv[2]), Path(sys.argv[3])
Path(sys.argv[4]).touch()  # ready: imported, waiting for GO
while not go.exists():
    time.sleep(0.01)
try:
    with lock.held(Path(sys.argv[1]), "racer %d" % os.getpid()):
        print("RAN", flush=True)
        # held until the test has seen every other racer end (a loaded machine may start a
        # late racer seconds after GO: it must still find the lock taken)
        deadline = time.monotonic() + 120
        while not release.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
except lock.RunInProgress as e:
    print("REFUSED", e.message, flush=True)
    sys.exit(e.exit_code)
"""


@pytest.fixture
def inv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "inv" / "hosts.yml"
    path.parent.mkdir()
    path.write_text(INVENTORY)
    monkeypatch.delenv("DLRS_PROVISION_STATE", raising=False)
    return path


def _start_sleeping(inv: Path, command: str = "cluster", seconds: float = 60) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", SLEEPING_RUN, str(seconds), command, str(inv)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()  # blocks until it holds the lock (or ends)
    assert line.strip() == "HOLDING", proc.communicate(timeout=30)
    return proc


def _cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "dlrs_provision", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.communicate(timeout=30)


def test_a_second_run_is_refused_with_the_running_ones_command_start_host_and_pid(inv: Path):
    first = _start_sleeping(inv)
    try:
        second = _cli("cluster", str(inv))
        assert second.returncode == 3, second.stderr
        assert "Traceback" not in second.stderr
        assert "another run is changing the hosts" in second.stderr
        assert f"dlrs-provision cluster {inv}" in second.stderr
        assert f"pid {first.pid} " in second.stderr
        assert f"on {socket.gethostname()}" in second.stderr
        assert "started 20" in second.stderr
        assert "fix:" in second.stderr
        # refused before any host was reached: nothing of a run was started
        assert "reachable" not in second.stderr
        # any host-changing command is refused, not only cluster
        other = _cli("preflight", str(inv))
        assert other.returncode == 3, other.stderr
        assert f"pid {first.pid} " in other.stderr
    finally:
        _stop(first)


def test_read_only_commands_take_no_lock(inv: Path):
    first = _start_sleeping(inv)
    try:
        for args in (("validate", str(inv)), ("plan", str(inv))):
            result = _cli(*args)
            assert result.returncode == 0, (args, result.stderr)
            assert "another run" not in result.stderr
    finally:
        _stop(first)


def test_the_lock_is_released_when_a_run_ends(inv: Path):
    first = _start_sleeping(inv, seconds=0)
    first.communicate(timeout=30)
    assert first.returncode == 1  # the stubbed reach said "unreachable"
    state = inv.parent / ".dlrs-provision"
    assert not (state / lock.RECORD_NAME).exists()
    second = _start_sleeping(inv, seconds=0)
    _, stderr = second.communicate(timeout=30)
    assert second.returncode == 1, stderr
    assert "another run" not in stderr
    assert "ended without clearing" not in stderr


def test_a_killed_run_leaves_no_lock_and_its_record_is_reported_stale(inv: Path):
    first = _start_sleeping(inv)
    state = inv.parent / ".dlrs-provision"
    assert json.loads((state / lock.RECORD_NAME).read_text())["pid"] == first.pid
    os.kill(first.pid, signal.SIGKILL)
    first.communicate(timeout=30)
    # the record outlives the process; the lock does not
    assert (state / lock.RECORD_NAME).exists()
    second = _start_sleeping(inv, seconds=0)
    _, stderr = second.communicate(timeout=30)
    assert second.returncode == 1, stderr  # it ran (the stub's "unreachable"), not refused (3)
    assert "another run" not in stderr
    assert f"pid {first.pid} " in stderr and "ended without clearing its record" in stderr


def _wait(check, what: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"{what}: not after {seconds:.0f} s"
        time.sleep(0.05)


def test_eight_concurrent_starts_exactly_one_runs(inv: Path, tmp_path: Path):
    go, release = tmp_path / "go", tmp_path / "release"
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, str(inv), str(go), str(release), str(tmp_path / f"r{n}")],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(8)
    ]
    try:
        _wait(lambda: all((tmp_path / f"r{n}").exists() for n in range(8)), "every racer ready")
        go.touch()
        _wait(lambda: sum(r.poll() is not None for r in racers) >= 7, "seven racers ended")
    finally:
        release.touch()
    outcomes = [r.communicate(timeout=120) for r in racers]
    ran = [r for r, (o, _) in zip(racers, outcomes, strict=True) if o.startswith("RAN")]
    refused = [r for r, (o, _) in zip(racers, outcomes, strict=True) if o.startswith("REFUSED")]
    assert len(ran) == 1, outcomes
    assert len(refused) == 7, outcomes
    assert all(r.returncode == 3 for r in refused)
    # every refusal names the one that ran
    for (o, _), r in zip(outcomes, racers, strict=True):
        if r in refused:
            assert f"racer {ran[0].pid}" in o, o


def test_a_state_folder_that_is_a_file_is_exit_3_not_a_crash(tmp_path: Path, monkeypatch):
    blocker = tmp_path / "state"
    blocker.write_text("")
    monkeypatch.setenv("DLRS_PROVISION_STATE", str(blocker))
    with pytest.raises(lock.EnvironmentProblem) as caught:
        lock.acquire(tmp_path / "hosts.yml", "x")
    assert caught.value.exit_code == 3
    assert "not a folder" in caught.value.message


def test_a_symlink_in_place_of_the_lock_file_is_refused(tmp_path: Path, monkeypatch):
    state = tmp_path / "state"
    state.mkdir()
    target = tmp_path / "elsewhere"
    (state / lock.LOCK_NAME).symlink_to(target)
    monkeypatch.setenv("DLRS_PROVISION_STATE", str(state))
    with pytest.raises(lock.EnvironmentProblem):
        lock.acquire(tmp_path / "hosts.yml", "x")
    assert not target.exists()


def test_the_state_folder_is_private(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("DLRS_PROVISION_STATE", str(tmp_path / "fresh"))
    with lock.held(tmp_path / "hosts.yml", "x") as held:
        assert held.path.parent.stat().st_mode & 0o077 == 0
        assert held.path.stat().st_mode & 0o077 == 0


def test_the_json_summary_names_what_stopped_each_failed_host(tmp_path: Path):
    from dlrs_provision import runner
    from dlrs_provision.commands import hosts

    stopped = runner.Progress(
        "result", phase="OS", task="Install the missing packages", host="node3",
        status="failed", message="Failed to fetch http://mirror:3142/...",
    )  # fmt: skip
    result = runner.RunResult(
        status="failed",
        rc=2,
        artifact_dir=tmp_path,
        hosts={
            "node1": runner.HostSummary(ok=5, changed=1),
            "node3": runner.HostSummary(ok=3, failed=1, failure=stopped),
        },
    )
    summary = json.loads(hosts.summary_json(result, "dlrs-provision cluster inv --limit node3"))
    assert summary["hosts"]["node1"]["failure"] is None
    assert summary["hosts"]["node3"]["failure"] == {
        "status": "failed",
        "phase": "OS",
        "task": "Install the missing packages",
        "message": "Failed to fetch http://mirror:3142/...",
    }
    assert summary["resume"] == "dlrs-provision cluster inv --limit node3"
