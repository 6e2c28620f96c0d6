"""`dlrs-provision upgrade INVENTORY --to VERSION` (issue 15, item 3) through the real command
line, with the SSH reach check and the playbook run replaced by fakes: what is refused before
any host is touched (exit 2), which hosts are reached and run, what reaches the play, the resume
command, and the note about the inventory's pin."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from dlrs_provision import cli, preflight, reach, runner

INVENTORY = textwrap.dedent(
    """\
    all:
      vars:
        dlrs_kubernetes_version: "1.31.7"
      children:
        masters:
          hosts:
            m1: {ansible_host: 10.0.0.1}
        workers:
          hosts:
            w1: {ansible_host: 10.0.0.2}
            w2: {ansible_host: 10.0.0.3}
    """
)


class Fakes:
    def __init__(self) -> None:
        self.down: set[str] = set()
        self.reached: list[list[str]] = []
        self.runs: list[runner.RunOptions] = []
        self.fail: str | None = None

    def check_reach(self, inv, hosts, *, trust_new_host_keys, timeout=8.0):
        self.reached.append(list(hosts))
        return [
            reach.ReachResult(
                target=reach.SshTarget(name=h, host=h),
                ok=h not in self.down,
                reason="" if h not in self.down else "connection timed out after 8 s",
                kind="ok" if h not in self.down else "timeout",
                seconds=0.1,
            )
            for h in hosts
        ], []

    def run_playbook(self, opts: runner.RunOptions, emit) -> runner.RunResult:
        self.runs.append(opts)
        hosts = {h: runner.HostSummary(ok=3) for h in (opts.limit or "").split(",") if h}
        rc = 0
        if self.fail:
            hosts[self.fail] = runner.HostSummary(
                ok=1,
                failed=1,
                failure=runner.Progress(
                    "result", "Upgrade - workers", "Stop the roll-out at this worker",
                    self.fail, "failed", f'{self.fail} was not upgraded: step "Drain the worker"',
                ),
            )  # fmt: skip
            rc = 2
        return runner.RunResult("successful" if rc == 0 else "failed", rc, opts.inventory, hosts)


@pytest.fixture
def fakes(monkeypatch, tmp_path) -> Fakes:
    f = Fakes()
    monkeypatch.setattr(preflight, "check_reach", f.check_reach)
    monkeypatch.setattr(runner, "run_playbook", f.run_playbook)
    monkeypatch.setenv("DLRS_PROVISION_STATE", str(tmp_path / "state"))
    return f


@pytest.fixture
def inv(tmp_path) -> Path:
    path = tmp_path / "hosts.yml"
    path.write_text(INVENTORY)
    return path


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in argv])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    return code, captured.out, captured.err


# --------------------------------------------------------------------------- refused at once


@pytest.mark.parametrize(
    ("value", "said"),
    [("1.32", "is not an exact Kubernetes release: give X.Y.Z"),
     ("latest", "is not an exact Kubernetes release"),
     ("1.32.3; reboot", "is not an exact Kubernetes release"),
     ("1.21.14", "Kubernetes 1.21 is older than 1.22")],
)  # fmt: skip
def test_to_must_be_an_exact_release_from_1_22(fakes, inv, capsys, value, said):
    code, _, err = run_cli(capsys, "upgrade", inv, "--to", value)
    assert code == 2
    assert "argument --to" in err and said in err
    assert fakes.reached == [] and fakes.runs == []


def test_to_is_required(fakes, inv, capsys):
    code, _, err = run_cli(capsys, "upgrade", inv)
    assert code == 2 and "--to" in err
    assert fakes.reached == []


@pytest.mark.parametrize("value", ["0", "1001", "two"])
def test_batch_size_is_1_to_1000(fakes, inv, capsys, value):
    code, _, err = run_cli(capsys, "upgrade", inv, "--to", "1.32.3", "--batch-size", value)
    assert code == 2 and "argument --batch-size" in err and "give 1 to 1000" in err
    assert fakes.reached == []


def test_drain_timeout_is_a_duration(fakes, inv, capsys):
    code, _, err = run_cli(capsys, "upgrade", inv, "--to", "1.32.3", "--drain-timeout", "5")
    assert code == 2 and "argument --drain-timeout" in err
    assert fakes.reached == []


def test_a_version_without_release_binary_checksums_is_refused_before_any_host(fakes, inv, capsys):
    code, out, err = run_cli(capsys, "upgrade", inv, "--to", "1.33.0")
    assert code == 2, out + err
    assert "error: --to 1.33.0: 1 problem found" in err
    assert f"{inv}: dlrs_kubernetes_binary_checksums: --to 1.33.0" in err
    assert "Kubernetes 1.33.0 has no sha256 for its release binaries" in err
    assert "no host has been changed" in err
    assert fakes.reached == [] and fakes.runs == []


def test_checksums_in_the_inventory_make_a_version_installable(fakes, tmp_path, capsys):
    digest = "sha256:" + "a" * 64
    path = tmp_path / "hosts.yml"
    path.write_text(
        INVENTORY.replace(
            '    dlrs_kubernetes_version: "1.31.7"\n',
            '    dlrs_kubernetes_version: "1.31.7"\n'
            '    dlrs_kubernetes_binary_checksums:\n'
            f'      "1.33.0": {{kubeadm: "{digest}", kubelet: "{digest}", kubectl: "{digest}"}}\n',
        )
    )  # fmt: skip
    code, out, err = run_cli(capsys, "upgrade", path, "--to", "1.33.0")
    assert code == 0, out + err
    assert fakes.runs and fakes.runs[0].extravars["dlrs_upgrade_to"] == "1.33.0"


def test_a_host_whose_cached_facts_name_another_os_is_not_held_to_the_checksums(
    fakes, inv, tmp_path, capsys
):
    facts = tmp_path / "state" / "facts"
    facts.mkdir(parents=True)
    for host in ("m1", "w1", "w2"):
        (facts / host).write_text(json.dumps({"ansible_os_family": "Debian"}))
    code, out, err = run_cli(capsys, "upgrade", inv, "--to", "1.33.0")
    assert code == 0, out + err
    (facts / "w2").write_text(json.dumps({"ansible_os_family": "ClearLinux"}))
    code, out, err = run_cli(capsys, "upgrade", inv, "--to", "1.33.0")
    assert code == 2 and "(w2 is checked" in err


# --------------------------------------------------------------------------- the run


def test_upgrade_reaches_the_master_and_workers_and_hands_the_play_its_variables(
    fakes, inv, capsys
):
    code, out, err = run_cli(
        capsys, "upgrade", inv, "--to", "v1.32.3", "--batch-size", "2", "--drain-timeout", "90s"
    )
    assert code == 0, out + err
    assert fakes.reached == [["m1", "w1", "w2"]]
    (opts,) = fakes.runs
    assert opts.playbook.name == "upgrade.yml"
    assert opts.limit == "m1,w1,w2"
    assert opts.extravars == {
        "dlrs_upgrade_to": "1.32.3",
        "dlrs_upgrade_batch_size": 2,
        "dlrs_upgrade_drain_timeout": "90s",
        "dlrs_upgrade_resume": f"dlrs-provision upgrade {inv} --to 1.32.3 --batch-size 2 "
        "--drain-timeout 90s",
    }
    assert "upgraded to Kubernetes 1.32.3: m1, w1, w2" in out


def test_limit_keeps_the_master_in_the_run(fakes, inv, capsys):
    code, out, err = run_cli(capsys, "upgrade", inv, "--to", "1.32.3", "--limit", "w2")
    assert code == 0, out + err
    assert fakes.runs[0].limit == "m1,w2"


def test_an_unreachable_worker_is_left_out_and_named(fakes, inv, capsys):
    fakes.down = {"w1"}
    code, out, err = run_cli(capsys, "upgrade", inv, "--to", "1.32.3")
    assert code == 0, out + err
    assert fakes.runs[0].limit == "m1,w2"
    assert "note: w1 cannot be reached" in err and "keeps its Kubernetes version" in err
    assert "w1: left out, unreachable" in out


def test_an_unreachable_master_stops_before_the_playbook(fakes, inv, capsys):
    fakes.down = {"m1"}
    code, _, err = run_cli(capsys, "upgrade", inv, "--to", "1.32.3")
    assert code == 1
    assert fakes.runs == []
    assert f"then run: dlrs-provision upgrade {inv}" in err


def test_a_failed_worker_gives_the_resume_command_with_the_same_target(fakes, inv, capsys):
    fakes.fail = "w1"
    code, out, _ = run_cli(capsys, "upgrade", inv, "--to", "1.32.3", "--json")
    assert code == 1
    summary = [json.loads(ln) for ln in out.splitlines() if ln.startswith("{")][-1]
    assert summary["kind"] == "summary"
    assert summary["resume"] == f"dlrs-provision upgrade {inv} --to 1.32.3"
    assert summary["hosts"]["w1"]["failure"]["task"] == "Stop the roll-out at this worker"
    assert "Drain the worker" in summary["hosts"]["w1"]["failure"]["message"]
    # no pin note after a failure: the cluster is not at the target
    assert summary["inventory_pin"] == []


def test_after_success_the_inventory_pin_is_named_with_the_line_to_set(fakes, inv, capsys):
    code, out, err = run_cli(capsys, "upgrade", inv, "--to", "1.32.3")
    assert code == 0, out + err
    assert (
        f"{inv}:3 pins dlrs_kubernetes_version 1.31.7 (m1, w1, w2): set "
        '`dlrs_kubernetes_version: "1.32.3"` there' in out
    )
    code, out, err = run_cli(capsys, "upgrade", inv, "--to", "1.32.3", "--json")
    summary = [json.loads(ln) for ln in out.splitlines() if ln.startswith("{")][-1]
    assert summary["to"] == "1.32.3"
    (note,) = summary["inventory_pin"]
    assert 'set `dlrs_kubernetes_version: "1.32.3"`' in note


def test_no_pin_note_when_the_inventory_pins_the_target(fakes, tmp_path, capsys):
    path = tmp_path / "hosts.yml"
    path.write_text(INVENTORY.replace('"1.31.7"', '"1.32.3"'))
    code, out, err = run_cli(capsys, "upgrade", path, "--to", "1.32.3")
    assert code == 0, out + err
    assert "pins dlrs_kubernetes_version" not in out


def test_check_mode_reaches_the_play_as_check_and_gives_no_pin_note(fakes, inv, capsys):
    code, out, err = run_cli(capsys, "upgrade", inv, "--to", "1.32.3", "--check")
    assert code == 0, out + err
    assert fakes.runs[0].check is True
    assert "check mode: would upgrade to Kubernetes 1.32.3" in out
    assert "pins dlrs_kubernetes_version" not in out
