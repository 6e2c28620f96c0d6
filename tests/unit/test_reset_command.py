"""`dlrs-provision reset`: which hosts it resets, the confirmation, the refusal without one, the
unreachable hosts it leaves out, the playbook it runs and the command that resumes; with a fake
reach check and a fake runner (no host, no Ansible). And the role's iptables filter, run through
grep on an iptables-save text with Docker's and Kubernetes' chains."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from dlrs_provision import cli, preflight, reach, runner
from dlrs_provision.commands import hosts as host_commands

ROOT = Path(__file__).resolve().parents[2]

INVENTORY = """\
all:
  children:
    masters:
      hosts:
        m1: {ansible_host: 10.0.0.1}
    workers:
      hosts:
        w1: {ansible_host: 10.0.0.2}
        w2: {ansible_host: 10.0.0.3}
"""


@pytest.fixture
def inv(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("DLRS_PROVISION_STATE", str(tmp_path / "state"))
    path = tmp_path / "hosts.yml"
    path.write_text(INVENTORY)
    return path


class Terminal(io.StringIO):
    """Standard input that is a terminal, with what the person types."""

    def isatty(self) -> bool:
        return True


class Pipe(io.StringIO):
    def isatty(self) -> bool:
        return False


class Hosts:
    """The fake world: which hosts answer SSH, and the playbook runs asked for."""

    def __init__(self, monkeypatch, dead: tuple[str, ...] = (), failed: tuple[str, ...] = ()):
        self.dead = set(dead)
        self.failed = set(failed)
        self.reached: list[list[str]] = []
        self.runs: list[runner.RunOptions] = []
        monkeypatch.setattr(preflight, "check_reach", self.check_reach)
        monkeypatch.setattr(runner, "run_playbook", self.run_playbook)

    def check_reach(self, inv, names, *, trust_new_host_keys):
        self.reached.append(list(names))
        results = []
        for name in names:
            target = reach.SshTarget(name=name, host="192.0.2.1")
            if name in self.dead:
                results.append(
                    reach.ReachResult(target, False, "no route to host", "unreachable", 3.0)
                )
            else:
                results.append(reach.ReachResult(target, True, "", "ok", 0.1))
        return results, []

    def run_playbook(self, opts, emit):
        self.runs.append(opts)
        ran = [h for h in ("m1", "w1", "w2") if h not in self.dead]
        if opts.limit:
            ran = [h for h in ran if h in opts.limit or "workers" in opts.limit]
        summaries = {
            h: runner.HostSummary(ok=5, changed=3, failed=1 if h in self.failed else 0) for h in ran
        }
        return runner.RunResult(
            status="failed" if self.failed else "successful",
            rc=2 if self.failed else 0,
            artifact_dir=Path("/tmp/artifacts"),
            hosts=summaries,
        )


def run_cli(capsys, monkeypatch, stdin, *argv) -> tuple[int, str, str]:
    monkeypatch.setattr("sys.stdin", stdin)
    code = cli.main([str(a) for a in argv])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    return code, captured.out, captured.err


def test_without_a_terminal_and_without_yes_it_refuses_and_touches_nothing(
    inv, capsys, monkeypatch
):
    world = Hosts(monkeypatch)
    code, _, text = run_cli(capsys, monkeypatch, Pipe(""), "reset", inv)
    assert code == 2
    assert "no terminal to answer" in text
    assert f"fix: after checking the hosts above, run: dlrs-provision reset {inv} --yes" in text
    assert world.reached == [] and world.runs == []
    assert not (inv.parent / "state" / "run.lock").exists()


def test_it_lists_the_hosts_before_asking(inv, capsys, monkeypatch):
    Hosts(monkeypatch)
    _, _, text = run_cli(capsys, monkeypatch, Pipe(""), "reset", inv)
    assert "reset will remove the Kubernetes state from 3 host(s):" in text
    assert "m1  master: the control plane and etcd, the whole cluster" in text
    assert "w1  worker\n" in text and "w2  worker\n" in text
    assert "admin.conf" in text


@pytest.mark.parametrize("answer", ["no\n", "y\n", "\n", ""])
def test_an_answer_other_than_yes_changes_nothing(inv, capsys, monkeypatch, answer):
    world = Hosts(monkeypatch)
    code, _, text = run_cli(capsys, monkeypatch, Terminal(answer), "reset", inv)
    assert code == 2
    assert "type yes to reset these hosts: " in text
    assert "not reset: the answer was not 'yes'; nothing was changed" in text
    assert world.reached == [] and world.runs == []


@pytest.mark.parametrize("answer", ["yes\n", " YES \n"])
def test_yes_typed_at_the_terminal_resets(inv, capsys, monkeypatch, answer):
    world = Hosts(monkeypatch)
    code, out, _ = run_cli(capsys, monkeypatch, Terminal(answer), "reset", inv)
    assert code == 0, out
    assert [o.playbook.name for o in world.runs] == ["reset.yml"]
    assert world.runs[0].limit is None
    assert world.runs[0].check is False


def test_yes_skips_the_question(inv, capsys, monkeypatch):
    world = Hosts(monkeypatch)
    code, _, text = run_cli(capsys, monkeypatch, Pipe(""), "reset", inv, "--yes")
    assert code == 0
    assert "type yes" not in text
    assert world.reached == [["m1", "w1", "w2"]]


def test_a_worker_alone_is_reset_and_its_node_deleted_on_the_master(inv, capsys, monkeypatch):
    world = Hosts(monkeypatch)
    code, _, text = run_cli(capsys, monkeypatch, Pipe(""), "reset", inv, "--yes", "--limit", "w2")
    assert code == 0
    assert "w2  worker: its Node is deleted on m1 too" in text
    assert "from 1 host(s):" in text and "m1  master" not in text
    assert "admin.conf" not in text  # the master keeps its cluster
    assert world.reached == [["w2"]]
    assert world.runs[0].limit == "w2"


def test_the_master_alone_warns_about_the_workers_left_with_the_old_cluster(
    inv, capsys, monkeypatch
):
    Hosts(monkeypatch)
    code, _, text = run_cli(capsys, monkeypatch, Pipe(""), "reset", inv, "--yes", "--limit", "m1")
    assert code == 0
    assert "warning: w1, w2 keep(s) the state of the cluster that ends" in text


def test_an_unknown_limit_is_refused_before_asking(inv, capsys, monkeypatch):
    world = Hosts(monkeypatch)
    code, _, text = run_cli(capsys, monkeypatch, Terminal("yes\n"), "reset", inv, "--limit", "w9")
    assert code == 2
    assert "w9" in text
    assert "type yes" not in text
    assert world.reached == [] and world.runs == []


def test_a_bad_inventory_is_refused_before_asking(tmp_path, capsys, monkeypatch):
    world = Hosts(monkeypatch)
    bad = tmp_path / "hosts.yml"
    bad.write_text("all:\n  children:\n    workers:\n      hosts:\n        w1:\n")
    code, _, text = run_cli(capsys, monkeypatch, Terminal("yes\n"), "reset", bad)
    assert code == 2
    assert "masters" in text
    assert world.reached == [] and world.runs == []


def test_unreachable_hosts_are_reported_and_the_others_reset(inv, capsys, monkeypatch):
    world = Hosts(monkeypatch, dead=("w2",))
    code, out, text = run_cli(capsys, monkeypatch, Pipe(""), "reset", inv, "--yes")
    assert code == 1
    assert "1 of 3 host(s) cannot be reached and are not reset: w2" in text
    assert world.runs[0].limit == "masters:workers,!w2"
    assert "w2: not reset, it could not be reached: no route to host" in out
    assert f"once they answer, run: dlrs-provision reset {inv} --yes" in out


def test_an_unreachable_host_is_taken_out_of_the_limit_given(inv, capsys, monkeypatch):
    world = Hosts(monkeypatch, dead=("w1",))
    code, _, _ = run_cli(capsys, monkeypatch, Pipe(""), "reset", inv, "--yes", "--limit", "workers")
    assert code == 1
    assert world.runs[0].limit == "workers,!w1"


def test_nothing_reachable_runs_nothing(inv, capsys, monkeypatch):
    world = Hosts(monkeypatch, dead=("m1", "w1", "w2"))
    code, _, text = run_cli(capsys, monkeypatch, Pipe(""), "reset", inv, "--yes")
    assert code == 1
    assert "no host can be reached; nothing was changed" in text
    assert world.runs == []


def test_a_failed_host_gives_exit_1_and_the_resume_command(inv, capsys, monkeypatch):
    Hosts(monkeypatch, failed=("w1",))
    code, out, _ = run_cli(
        capsys, monkeypatch, Pipe(""), "reset", inv, "--yes", "--limit", "w1,!w2"
    )
    assert code == 1
    assert f"to resume after fixing the cause, run: dlrs-provision reset {inv} " in out
    assert "--limit 'w1,!w2' --yes" in out


def test_json_summary_names_the_hosts_not_reached(inv, capsys, monkeypatch):
    Hosts(monkeypatch, dead=("w1",))
    code, out, _ = run_cli(capsys, monkeypatch, Pipe(""), "reset", inv, "--yes", "--json")
    assert code == 1
    lines = [json.loads(line) for line in out.splitlines()]
    assert [x["result"] for x in lines if x["kind"] == "reach"] == ["ok", "unreachable", "ok"]
    summary = lines[-1]
    assert summary["kind"] == "summary"
    assert summary["not_reached"] == {"w1": "no route to host"}
    assert summary["resume"] == f"dlrs-provision reset {inv} --yes"
    assert set(summary["hosts"]) == {"m1", "w2"}


def test_a_clean_json_run_has_no_resume(inv, capsys, monkeypatch):
    Hosts(monkeypatch)
    code, out, _ = run_cli(capsys, monkeypatch, Pipe(""), "reset", inv, "--yes", "--json")
    assert code == 0
    summary = json.loads(out.splitlines()[-1])
    assert summary["resume"] is None and summary["not_reached"] == {}


def test_reset_holds_the_run_lock(inv, capsys, monkeypatch):
    seen = []

    class Locked(Hosts):
        def run_playbook(self, opts, emit):
            seen.append((inv.parent / "state" / "run.json").is_file())
            return super().run_playbook(opts, emit)

    Locked(monkeypatch)
    code, _, _ = run_cli(capsys, monkeypatch, Pipe(""), "reset", inv, "--yes")
    assert code == 0
    assert seen == [True]


def test_resume_command_quotes_and_adds_yes(inv):
    import argparse

    from dlrs_provision.commands import reset

    args = argparse.Namespace(
        command="reset", inventory="my hosts.yml", trust_new_host_keys=True, limit="w*,!w2"
    )
    assert reset.resume_command(args) == (
        "dlrs-provision reset 'my hosts.yml' --trust-new-host-keys --limit 'w*,!w2' --yes"
    )
    assert host_commands.resume_command(args).endswith("'w*,!w2'")


# --------------------------------------------------------------------------- the role


def _role_vars() -> dict:
    return yaml.safe_load((ROOT / "roles/node_reset/vars/main.yml").read_text())


IPTABLES_SAVE = textwrap.dedent(
    """\
    # Generated by iptables-save v1.8.9 (nf_tables) on Mon Dec  7 15:00:00 2026
    *nat
    :PREROUTING ACCEPT [0:0]
    :POSTROUTING ACCEPT [0:0]
    :DOCKER - [0:0]
    :KUBE-SERVICES - [0:0]
    :KUBE-POSTROUTING - [0:0]
    :FLANNEL-POSTRTG - [0:0]
    :CNI-HOSTPORT-DNAT - [0:0]
    -A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
    -A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
    -A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT
    -A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE
    -A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING
    -A POSTROUTING -m comment --comment "flanneld masq" -j FLANNEL-POSTRTG
    -A DOCKER -i docker0 -j RETURN
    -A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN
    -A FLANNEL-POSTRTG -s 10.244.0.0/16 -d 10.244.0.0/16 -j RETURN
    COMMIT
    *filter
    :INPUT ACCEPT [0:0]
    :FORWARD DROP [0:0]
    :DOCKER-USER - [0:0]
    :KUBE-FORWARD - [0:0]
    :KUBE-FIREWALL - [0:0]
    -A INPUT -j KUBE-FIREWALL
    -A FORWARD -j DOCKER-USER
    -A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD
    -A FORWARD -g KUBE-FORWARD
    -A DOCKER-USER -j RETURN
    -A KUBE-FIREWALL ! -s 127.0.0.0/8 -d 127.0.0.0/8 -j DROP
    COMMIT
    """
)


def _filtered(text: str) -> str:
    """What the role's shell task hands iptables-restore: grep -Ev with the role's pattern."""
    done = subprocess.run(
        ["grep", "-Ev", "--", _role_vars()["_node_reset_chain_pattern"]],
        input=text,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode in (0, 1), done.stderr
    return done.stdout


def test_the_iptables_filter_drops_the_kubernetes_flannel_and_cni_chains_and_jumps():
    kept = _filtered(IPTABLES_SAVE)
    for gone in ("KUBE-", "FLANNEL-", "CNI-"):
        assert gone not in kept, kept
    assert "flanneld masq" not in kept


def test_the_iptables_filter_keeps_docker_and_the_builtin_chains():
    kept = _filtered(IPTABLES_SAVE).splitlines()
    for line in (
        "*nat",
        ":PREROUTING ACCEPT [0:0]",
        ":DOCKER - [0:0]",
        "-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER",
        "-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE",
        "-A DOCKER -i docker0 -j RETURN",
        ":FORWARD DROP [0:0]",
        "-A FORWARD -j DOCKER-USER",
        "-A DOCKER-USER -j RETURN",
        "COMMIT",
    ):
        assert line in kept, line
    assert kept.count("COMMIT") == 2


def test_the_iptables_filter_leaves_a_clean_table_unchanged():
    # the task reports a change only when the text differs: a second reset changes nothing
    once = _filtered(IPTABLES_SAVE)
    assert _filtered(once) == once


def test_kubeadm_reset_runs_only_where_init_or_join_left_a_mark():
    tasks = yaml.safe_load((ROOT / "roles/node_reset/tasks/main.yml").read_text())
    task = next(t for t in tasks if t["name"].startswith("Revert kubeadm init or join"))
    argv = task["ansible.builtin.command"]["argv"]
    assert argv[1:4] == ["reset", "--force", "--cri-socket"]
    assert any("_node_reset_marks_stat" in cond for cond in task["when"])
    assert any("_node_reset_kubeadm_stat" in cond for cond in task["when"])
    marks = _role_vars()["_node_reset_kubeadm_marks"]
    assert "/etc/kubernetes/kubelet.conf" in marks  # a worker that joined
    assert "/etc/kubernetes/manifests/kube-apiserver.yaml" in marks  # a master


def test_the_node_is_deleted_only_for_a_worker_whose_master_stays():
    tasks = yaml.safe_load((ROOT / "roles/node_reset/tasks/main.yml").read_text())
    task = next(t for t in tasks if t["name"] == "Delete this worker's Node on the master")
    assert task["delegate_to"] == "{{ node_reset_master }}"
    assert task["ignore_unreachable"] is True and task["failed_when"] is False
    assert "node_reset_master not in ansible_play_hosts_all" in task["when"]
    assert "--ignore-not-found" in task["ansible.builtin.command"]["argv"]


def test_the_removed_paths_are_cluster_state_only():
    removed = _role_vars()["_node_reset_paths"]
    assert {"/etc/kubernetes", "/var/lib/kubelet", "/etc/cni/net.d", "/var/lib/cni"} <= set(removed)
    # the runtime, its registry trust and the cluster registry's images stay
    for kept in ("/etc/containerd", "/etc/docker", "/var/lib/docker-registry", "/etc/cni"):
        assert kept not in removed


def _iptables_task() -> dict:
    tasks = yaml.safe_load((ROOT / "roles/node_reset/tasks/main.yml").read_text())
    return next(t for t in tasks if "iptables chains" in t["name"])


def _fake_iptables(bin_dir: Path, tables: dict[str, Path]) -> None:
    """iptables-save prints its table file; iptables-restore replaces it (as the real pair does
    with every table it is given); ip6tables likewise, from its own file."""
    bin_dir.mkdir()
    for tool, table in tables.items():
        save = bin_dir / f"{tool}-save"
        save.write_text(f"#!/bin/sh\ncat {table}\n")
        restore = bin_dir / f"{tool}-restore"
        restore.write_text(f"#!/bin/sh\ncat > {table}.new && mv {table}.new {table}\n")
        save.chmod(0o755)
        restore.chmod(0o755)


def _run_iptables_task(bin_dir: Path) -> subprocess.CompletedProcess:
    task = _iptables_task()
    shell = task["ansible.builtin.shell"]
    return subprocess.run(
        [shell["executable"], "-c", shell["cmd"]],
        env={
            "PATH": f"{bin_dir}:/usr/bin:/bin",
            "PATTERN": _role_vars()["_node_reset_chain_pattern"],
        },
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_iptables_task_cleans_both_families_once_and_then_changes_nothing(tmp_path):
    v4, v6 = tmp_path / "v4", tmp_path / "v6"
    v4.write_text(IPTABLES_SAVE)
    v6.write_text(
        "*filter\n:INPUT ACCEPT [0:0]\n:KUBE-FIREWALL - [0:0]\n-A INPUT -j KUBE-FIREWALL\nCOMMIT\n"
    )
    _fake_iptables(tmp_path / "bin", {"iptables": v4, "ip6tables": v6})
    first = _run_iptables_task(tmp_path / "bin")
    assert first.returncode == 0, first.stderr
    assert "cleaned iptables" in first.stdout and "cleaned ip6tables" in first.stdout
    assert "changed=1" in first.stdout
    assert "KUBE-" not in v4.read_text() and "KUBE-" not in v6.read_text()
    assert ":DOCKER - [0:0]" in v4.read_text()
    assert v6.read_text() == "*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n"
    second = _run_iptables_task(tmp_path / "bin")
    assert second.returncode == 0, second.stderr
    assert second.stdout.strip() == "changed=0"
    assert _iptables_task()["changed_when"] == "'changed=1' in _node_reset_iptables.stdout"


def test_the_iptables_task_without_iptables_changes_nothing(tmp_path):
    (tmp_path / "bin").mkdir()
    done = _run_iptables_task(tmp_path / "bin")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "changed=0"


def test_a_failing_restore_fails_the_task(tmp_path):
    v4 = tmp_path / "v4"
    v4.write_text(IPTABLES_SAVE)
    _fake_iptables(tmp_path / "bin", {"iptables": v4})
    (tmp_path / "bin" / "iptables-restore").write_text(
        "#!/bin/sh\necho 'line 3 failed' >&2\nexit 1\n"
    )
    done = _run_iptables_task(tmp_path / "bin")
    assert done.returncode != 0
    assert "KUBE-SERVICES" in v4.read_text()  # left as it was


# --------------------------------------------------------------------------- the playbook, run
# playbooks/reset.yml through the toolkit's runner on this machine (connection local), with the
# role's system paths pointed into tmp_path and iptables off: only tmp_path is changed.


def _local_inventory(tmp_path: Path, master: str) -> Path:
    path = tmp_path / "hosts.yml"
    path.write_text(
        textwrap.dedent(
            f"""\
            all:
              vars:
                ansible_python_interpreter: {sys.executable}
                ansible_become: false
              children:
                masters:
                  hosts:
                    m1: {master}
                workers:
                  hosts:
                    w1: {{ansible_connection: local}}
            """
        )
    )
    return path


def _reset_locally(tmp_path: Path, inventory: Path, limit: str) -> tuple[runner.RunResult, list]:
    state = tmp_path / "node"
    (state / "etc-kubernetes" / "kubeadm").mkdir(parents=True)
    (state / "etc-kubernetes" / "kubeadm" / "join.yaml").write_text("kind: JoinConfiguration\n")
    (state / "var-lib-cni" / "networks").mkdir(parents=True)
    seen: list[runner.Progress] = []
    result = runner.run_playbook(
        runner.RunOptions(
            inventory=inventory,
            playbook=ROOT / "playbooks" / "reset.yml",
            limit=limit,
            extravars={
                "_node_reset_paths": [str(state / "etc-kubernetes"), str(state / "var-lib-cni")],
                "_node_reset_links": [],
                "_node_reset_kubeadm_paths": [str(tmp_path / "no-kubeadm")],
                "node_reset_iptables": False,
            },
        ),
        seen.append,
    )
    return result, seen


def test_a_worker_whose_master_does_not_answer_is_reset_with_a_note(tmp_path, monkeypatch):
    monkeypatch.setenv("DLRS_PROVISION_STATE", str(tmp_path / "state"))
    inventory = _local_inventory(
        tmp_path, "{ansible_host: 127.0.0.1, ansible_port: 1, ansible_connection: ssh}"
    )
    result, seen = _reset_locally(tmp_path, inventory, "w1")
    assert result.rc == 0, result.output_tail(40)
    assert set(result.hosts) == {"w1"}
    assert result.hosts["w1"].state == "changed" and result.hosts["w1"].unreachable == 0
    assert result.ok
    assert not (tmp_path / "node" / "etc-kubernetes").exists()
    assert not (tmp_path / "node" / "var-lib-cni").exists()
    notes = [
        p.message
        for p in seen
        if p.kind == "result" and p.task == "Say that the Node could not be deleted on the master"
    ]
    assert len(notes) == 1 and notes[0].startswith("w1 is reset, but its Node w1 is still on m1")
    assert "kubectl delete node w1" in notes[0]


def test_a_second_reset_changes_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("DLRS_PROVISION_STATE", str(tmp_path / "state"))
    inventory = _local_inventory(tmp_path, "{ansible_connection: local}")
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "admin.conf").write_text("old cluster\n")
    first, _ = _reset_locally(tmp_path, inventory, "m1")
    assert first.rc == 0, first.output_tail(40)
    assert first.hosts["m1"].changed > 0
    assert not (tmp_path / "state" / "admin.conf").exists()  # the master was reset
    assert (tmp_path / "state" / "facts").is_dir()  # the state folder itself stays
    import shutil

    shutil.rmtree(tmp_path / "node")
    (tmp_path / "node").mkdir()
    again = runner.run_playbook(
        runner.RunOptions(
            inventory=inventory,
            playbook=ROOT / "playbooks" / "reset.yml",
            limit="m1",
            extravars={
                "_node_reset_paths": [str(tmp_path / "node" / "etc-kubernetes")],
                "_node_reset_links": [],
                "_node_reset_kubeadm_paths": [str(tmp_path / "no-kubeadm")],
                "node_reset_iptables": False,
            },
        ),
        lambda _: None,
    )
    assert again.rc == 0, again.output_tail(40)
    assert again.hosts["m1"].changed == 0 and again.hosts["m1"].state == "ok"
