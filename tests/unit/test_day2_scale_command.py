"""`dlrs-provision scale`, `remove-node` and `cluster --skip-unreachable-workers` (issue 15, items
1, 2, 5 and 6), through the real command line with the SSH reach check and the playbook run
replaced by fakes: which hosts are reached, which the run gets as its --limit, what reaches the
play as variables, what is refused before any host is touched, and what the operator is told."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from dlrs_provision import cli, preflight, reach, runner
from dlrs_provision.commands import hosts
from dlrs_provision.errors import UsageError

INVENTORY = textwrap.dedent(
    """\
    all:
      children:
        masters:
          hosts:
            m1: {ansible_host: 10.0.0.1}
        workers:
          hosts:
            w1: {ansible_host: 10.0.0.2}
            w2: {ansible_host: 10.0.0.3}
            w3: {ansible_host: 10.0.0.4}
    """
)


class Fakes:
    """What the commands asked for: the hosts reached, and each playbook run's options."""

    def __init__(self) -> None:
        self.down: set[str] = set()
        self.reached: list[list[str]] = []
        self.runs: list[runner.RunOptions] = []
        self.progress: list[runner.Progress] = []  # emitted by the fake run
        self.fail: str | None = None  # a host the fake run reports as failed

    def check_reach(self, inv, hosts, *, trust_new_host_keys, timeout=8.0):
        self.reached.append(list(hosts))
        results = [
            reach.ReachResult(
                target=reach.SshTarget(name=h, host=h),
                ok=h not in self.down,
                reason="" if h not in self.down else "connection timed out after 8 s",
                kind="ok" if h not in self.down else "timeout",
                seconds=0.1,
            )
            for h in hosts
        ]
        return results, []

    def run_playbook(self, opts: runner.RunOptions, emit) -> runner.RunResult:
        self.runs.append(opts)
        for item in self.progress:
            emit(item)
        limited = opts.limit.split(",") if opts.limit else []
        hosts = {h: runner.HostSummary(ok=3) for h in limited}
        rc = 0
        if self.fail:
            hosts[self.fail] = runner.HostSummary(
                ok=1,
                failed=1,
                failure=runner.Progress(
                    "result", "Remove node - cordon and drain", "Drain", self.fail, "failed", "x"
                ),
            )
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


def json_summary(out: str) -> dict:
    lines = [json.loads(ln) for ln in out.splitlines() if ln.startswith("{")]
    assert lines and lines[-1]["kind"] == "summary", out
    return lines[-1]


# --------------------------------------------------------------------------- scale


def test_scale_reaches_the_master_and_the_workers_and_runs_scale_yml_on_them(fakes, inv, capsys):
    code, out, err = run_cli(capsys, "scale", inv)
    assert code == 0, out + err
    assert fakes.reached == [["m1", "w1", "w2", "w3"]]
    (opts,) = fakes.runs
    assert opts.playbook.name == "scale.yml"
    assert opts.limit == "m1,w1,w2,w3"


def test_scale_with_nothing_new_says_so_and_exits_0(fakes, inv, capsys):
    code, out, err = run_cli(capsys, "scale", inv)
    assert code == 0, out + err
    assert "nothing to add: every worker of this run is a node of the cluster already" in out


def test_scale_names_the_workers_that_ran_the_new_worker_plays(fakes, inv, capsys):
    fakes.progress = [
        runner.Progress("result", "Scale - which workers are new", "Put", "w1", "ok"),
        runner.Progress("result", "Scale - preflight", "Read the CPUs", "w3", "ok"),
        runner.Progress("result", "Scale - preflight verdict", "Preflight verdict", "w3", "ok"),
    ]
    code, out, err = run_cli(capsys, "scale", inv)
    assert code == 0, out + err
    assert "joined and labelled: w3" in out
    code, out, _ = run_cli(capsys, "scale", inv, "--json")
    assert code == 0
    assert json_summary(out)["added"] == ["w3"]


def test_scale_goes_on_without_an_unreachable_worker_and_names_it(fakes, inv, capsys):
    fakes.down = {"w2"}
    code, out, err = run_cli(capsys, "scale", inv)
    assert code == 0, out + err
    assert fakes.runs[0].limit == "m1,w1,w3"
    assert "w2 cannot be reached (connection timed out after 8 s): left out of this run" in err
    assert "w2: left out, unreachable" in out
    code, out, _ = run_cli(capsys, "scale", inv, "--json")
    assert code == 0
    summary = json_summary(out)
    assert summary["left_out"] == {"w2": "connection timed out after 8 s"}
    reach_lines = [json.loads(ln) for ln in out.splitlines() if '"kind": "reach"' in ln]
    assert {ln["host"]: ln["required"] for ln in reach_lines} == {
        "m1": True,
        "w1": False,
        "w2": False,
        "w3": False,
    }


def test_scale_refuses_to_start_without_the_master(fakes, inv, capsys):
    fakes.down = {"m1"}
    code, _out, err = run_cli(capsys, "scale", inv)
    assert code == 1
    assert fakes.runs == []
    assert "m1 cannot be reached and this run needs it; nothing was changed" in err
    assert "dlrs-provision scale" in err


def test_scale_limit_picks_the_workers_and_keeps_the_master(fakes, inv, capsys):
    code, out, err = run_cli(capsys, "scale", inv, "--limit", "w3")
    assert code == 0, out + err
    assert fakes.reached == [["m1", "w3"]]
    assert fakes.runs[0].limit == "m1,w3"


@pytest.mark.parametrize("limit", ["m1", "masters"])
def test_scale_without_a_worker_in_the_run_reaches_no_host(fakes, inv, capsys, limit):
    code, out, err = run_cli(capsys, "scale", inv, "--limit", limit)
    assert code == 0, out + err
    assert "nothing to add: no worker of the inventory is in this run" in err
    assert fakes.reached == [] and fakes.runs == []


def test_scale_unknown_limit_is_refused_before_any_host(fakes, inv, capsys):
    code, _out, err = run_cli(capsys, "scale", inv, "--limit", "w9")
    assert code == 2
    assert "--limit w9: w9 is neither a host nor a group" in err
    assert fakes.reached == [] and fakes.runs == []


def test_a_host_named_like_a_pattern_never_reaches_the_limit(fakes, tmp_path, capsys):
    # the inventory check refuses such a name first (exit 2); check_limit_names is the guard
    # of the --limit these commands build from host names, should that rule ever loosen
    path = tmp_path / "hosts.yml"
    path.write_text(INVENTORY.replace("w3:", "'w*3':"))
    code, out, err = run_cli(capsys, "scale", path)
    assert code == 2, out + err
    assert "host name 'w*3' holds characters a host name cannot have" in err
    assert fakes.reached == []
    for name in ("w*3", "w,3", "w:3", "!w3", "w[0]", "~w", "@w", "-w"):
        with pytest.raises(UsageError, match="holds a character of Ansible's host patterns"):
            hosts.check_limit_names(["m1", name])
    hosts.check_limit_names(["m1", "node-3.example_x"])


def test_scale_failure_prints_the_resume_command(fakes, inv, capsys):
    fakes.fail = "w3"
    code, out, _err = run_cli(capsys, "scale", inv, "--limit", "workers")
    assert code == 1
    assert "to resume after fixing the cause, run: dlrs-provision scale" in out
    assert "--limit workers" in out
    assert "nothing to add" not in out


# --------------------------------------------------------------------------- remove-node


@pytest.mark.parametrize(
    ("node", "says"),
    [
        ("m1", "m1 is the master: remove-node does not remove the control plane"),
        ("masters", "NODE masters is a group or pattern of 1 host(s) (m1)"),
        ("w9", "NODE w9: w9 is neither a host nor a group of"),
        ("workers", "NODE workers is a group or pattern of 3 host(s)"),
        ("w*", "NODE w* is a group or pattern of 3 host(s)"),
    ],
)
def test_remove_node_refuses_before_any_host_is_touched(fakes, inv, capsys, node, says):
    code, out, err = run_cli(capsys, "remove-node", inv, node)
    assert code == 2, out + err
    assert says in err
    assert "fix:" in err
    assert fakes.reached == [] and fakes.runs == []


def test_remove_node_refuses_a_host_outside_group_workers(fakes, tmp_path, capsys):
    path = tmp_path / "hosts.yml"
    path.write_text(INVENTORY + "    mirror:\n      hosts:\n        x1: {ansible_host: 10.0.0.9}\n")
    code, out, err = run_cli(capsys, "remove-node", path, "x1")
    assert code == 2, out + err
    assert "x1 is not in group workers" in err
    assert fakes.reached == []


@pytest.mark.parametrize("value", ["0s", "5", "5x", "-1m", "25h", "1m 30s", "5m;id"])
def test_remove_node_timeout_is_checked(fakes, inv, capsys, value):
    code, _out, err = run_cli(capsys, "remove-node", inv, "w1", "--timeout", value)
    assert code == 2
    assert "argument --timeout" in err
    assert fakes.reached == []


def test_remove_node_reaches_only_the_master_and_the_node(fakes, inv, capsys):
    code, out, err = run_cli(capsys, "remove-node", inv, "w2", "--timeout", "90s")
    assert code == 0, out + err
    assert fakes.reached == [["m1", "w2"]]
    (opts,) = fakes.runs
    assert opts.playbook.name == "remove-node.yml"
    assert opts.limit == "m1,w2"
    assert opts.extravars == {
        "remove_node_host": "w2",
        "remove_node_timeout": "90s",
        "remove_node_reachable": True,
    }
    assert "the other 2 host(s) of the inventory are not needed: not reached" in err
    assert f"w2 is out of the cluster. It is still in {inv}: remove it from group workers" in out
    assert "not reset" not in out


def test_remove_node_of_a_dead_node_runs_on_the_master_alone(fakes, inv, capsys):
    fakes.down = {"w2"}
    code, out, err = run_cli(capsys, "remove-node", inv, "w2")
    assert code == 0, out + err
    (opts,) = fakes.runs
    assert opts.limit == "m1"
    assert opts.extravars["remove_node_reachable"] is False
    assert opts.extravars["remove_node_timeout"] == "5m"
    assert "w2 was down and is not reset" in out
    assert "w2: left out, unreachable" in out


def test_remove_node_needs_the_master(fakes, inv, capsys):
    fakes.down = {"m1"}
    code, _out, err = run_cli(capsys, "remove-node", inv, "w2")
    assert code == 1
    assert fakes.runs == []
    assert "nothing was changed on any host" in err


def test_remove_node_failure_resumes_with_the_node_and_the_timeout(fakes, inv, capsys):
    fakes.fail = "m1"
    code, out, _err = run_cli(capsys, "remove-node", inv, "w2", "--timeout", "10m")
    assert code == 1
    assert "run: dlrs-provision remove-node" in out
    line = next(ln for ln in out.splitlines() if "to resume" in ln)
    assert line.endswith(f"{inv} w2 --timeout 10m"), line
    assert "is out of the cluster" not in out


def test_remove_node_json_summary_names_a_dead_node(fakes, inv, capsys):
    fakes.down = {"w1"}
    code, out, err = run_cli(capsys, "remove-node", inv, "w1", "--json")
    assert code == 0, out + err
    assert json_summary(out)["left_out"] == {"w1": "connection timed out after 8 s"}


# --------------------------------------------------------------------------- cluster


def test_cluster_still_refuses_an_unreachable_worker_by_default(fakes, inv, capsys):
    fakes.down = {"w3"}
    code, _out, err = run_cli(capsys, "cluster", inv)
    assert code == 1
    assert fakes.runs == []
    assert "nothing was changed on any host" in err


def test_cluster_skip_unreachable_workers_leaves_them_out(fakes, inv, capsys):
    fakes.down = {"w1", "w3"}
    code, out, err = run_cli(capsys, "cluster", inv, "--skip-unreachable-workers")
    assert code == 0, out + err
    assert fakes.runs[0].limit == "m1,w2"
    assert "w1: left out, unreachable" in out and "w3: left out, unreachable" in out
    assert "when they are back, run: dlrs-provision cluster" in out
    resume = next(ln for ln in out.splitlines() if ln.startswith("when they are back"))
    assert resume.endswith(f"{inv} --skip-unreachable-workers"), resume


def test_cluster_skip_unreachable_workers_still_needs_the_master(fakes, inv, capsys):
    fakes.down = {"m1"}
    code, _out, err = run_cli(capsys, "cluster", inv, "--skip-unreachable-workers")
    assert code == 1
    assert fakes.runs == []
    assert "m1 cannot be reached and this run needs it" in err


def test_cluster_skip_reaches_the_master_outside_the_limit_but_does_not_run_it(fakes, inv, capsys):
    code, out, err = run_cli(capsys, "cluster", inv, "--skip-unreachable-workers", "--limit", "w2")
    assert code == 0, out + err
    assert fakes.reached == [["m1", "w2"]]
    assert fakes.runs[0].limit == "w2"


def test_cluster_skip_with_every_host_of_the_run_down_changes_nothing(fakes, inv, capsys):
    fakes.down = {"w2"}
    code, _out, err = run_cli(capsys, "cluster", inv, "--skip-unreachable-workers", "--limit", "w2")
    assert code == 1
    assert fakes.runs == []
    assert "no host of this run can be reached" in err


@pytest.mark.parametrize("value", ["5m", "90s", "1h30m", "1.5h", "24h", "1s"])
def test_remove_node_timeout_takes_kubectl_durations_as_typed(fakes, inv, capsys, value):
    code, out, err = run_cli(capsys, "remove-node", inv, "w1", "--timeout", value)
    assert code == 0, out + err
    assert fakes.runs[0].extravars["remove_node_timeout"] == value


def test_cluster_skip_unreachable_workers_json_summary_names_them(fakes, inv, capsys):
    fakes.down = {"w2"}
    code, out, err = run_cli(capsys, "cluster", inv, "--skip-unreachable-workers", "--json")
    assert code == 0, out + err
    assert json_summary(out)["left_out"] == {"w2": "connection timed out after 8 s"}
    # without the option the summary has no such key (cluster's JSON stays as it was)
    fakes.down = set()
    code, out, _ = run_cli(capsys, "cluster", inv, "--json")
    assert code == 0
    assert "left_out" not in json_summary(out)


def test_remove_node_in_check_mode_does_not_claim_a_removal(fakes, inv, capsys):
    code, out, err = run_cli(capsys, "remove-node", inv, "w1", "--check")
    assert code == 0, out + err
    assert fakes.runs[0].check is True
    assert "check mode: w1 is not removed" in out
    assert "is out of the cluster" not in out
