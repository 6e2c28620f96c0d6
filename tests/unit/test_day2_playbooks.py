"""playbooks/scale.yml and playbooks/remove-node.yml: what they run where (read from the files),
and their logic through real Ansible on this machine (local connection) against a fake kubectl
that records its calls: which workers scale finds new, the addresses it takes from the Nodes,
and remove-node's drain, its refusal to go on, and its order."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import yaml

from dlrs_provision import runner

REPO = Path(__file__).resolve().parents[2]
PLAYBOOKS = REPO / "playbooks"
PLAYBOOK = str(Path(sys.executable).parent / "ansible-playbook")


def plays(name: str) -> list[dict]:
    return yaml.safe_load((PLAYBOOKS / name).read_text())


def role_names(play: dict) -> list[str]:
    return [r["role"] if isinstance(r, dict) else r for r in play.get("roles", [])]


def modules(play: dict) -> list[str]:
    keys = {"name", "when", "vars", "register", "changed_when", "failed_when", "check_mode",
            "run_once", "loop", "delegate_to", "delegate_facts", "no_log", "loop_control",
            "ignore_unreachable", "block", "become"}  # fmt: skip
    found = []
    for task in play.get("tasks", []):
        for inner in task.get("block", [task]):
            found += [k for k in inner if k not in keys]
    return found


def worker_plays_of_cluster() -> list[dict]:
    """The plays of cluster.yml's phases that run on the workers, in order."""
    out = []
    for entry in plays("cluster.yml"):
        for play in plays(entry["ansible.builtin.import_playbook"]):
            if "workers" in play["hosts"].split(":"):
                out.append(play)
    return out


# --------------------------------------------------------------------------- scale.yml


def test_scale_runs_on_new_workers_the_roles_a_worker_gets_from_cluster_yml_in_order():
    def entries(selected: list[dict]) -> list:
        return [
            r
            for play in selected
            for r in play.get("roles", [])
            if (r["role"] if isinstance(r, dict) else r) != "dlrs_defaults"
        ]

    new = [p for p in plays("scale.yml") if p["hosts"] == "scale_new"]
    assert entries(new) == entries(worker_plays_of_cluster())
    assert [r["role"] for r in entries(new)][:3] == ["preflight", "clearlinux", "node_prep"]


def test_scale_runs_no_role_and_changes_nothing_on_existing_nodes():
    for play in plays("scale.yml"):
        if play["hosts"] == "scale_new":
            continue
        assert set(role_names(play)) <= {"dlrs_defaults"}, play["name"]
        if play["hosts"] == "workers":
            # nothing here reaches a worker: in-memory grouping and a message
            assert play["gather_facts"] is False
            assert set(modules(play)) == {
                "ansible.builtin.assert",
                "ansible.builtin.group_by",
                "ansible.builtin.debug",
            }
        else:
            assert play["hosts"] == "masters", play["name"]
            assert set(modules(play)) <= {
                "ansible.builtin.command",
                "ansible.builtin.set_fact",
                "ansible.builtin.include_role",
            }
            for task in play.get("tasks", []):
                if "ansible.builtin.command" in task:
                    argv = task["ansible.builtin.command"]["argv"]
                    assert argv[0] == "kubectl" and "get" in argv, argv
                    assert task["changed_when"] is False
                if "ansible.builtin.include_role" in task:
                    assert task["ansible.builtin.include_role"]["tasks_from"] == "labels"
                    assert "scale_new" in task["vars"]["kubeadm_master_label_hosts"]


def test_remove_node_resets_the_node_before_its_node_object_is_deleted():
    names = [p["name"] for p in plays("remove-node.yml")]
    assert names == [
        "Remove node - ask whether the node answers",
        "Remove node - cordon and drain",
        "Remove node - reset the node",
        "Remove node - delete the Node",
    ]


# --------------------------------------------------------------------------- through Ansible

FAKE_KUBECTL = textwrap.dedent(
    """\
    #!{python}
    import json, pathlib, sys
    here = pathlib.Path(__file__).resolve().parent
    args = sys.argv[1:]
    if args[:2] == ["--kubeconfig", "/etc/kubernetes/admin.conf"]:
        args = args[2:]
    with open(here / "kubectl.calls", "a") as out:
        out.write(json.dumps(args) + "\\n")
    nodes = json.loads((here / "nodes.json").read_text())
    names = [n["metadata"]["name"] for n in nodes]
    drain_rc = int((here / "drain.rc").read_text())
    if args[:3] == ["get", "nodes", "-o"]:
        print(json.dumps({{"kind": "List", "items": nodes}}))
    elif args[:2] == ["get", "node"]:
        print("node/" + args[2] if args[2] in names else "")
    elif args[0] == "cordon":
        print("node/" + args[1] + " cordoned")
    elif args[0] == "drain":
        print("node/" + args[1] + " cordoned")
        if drain_rc:
            print("evicting pod default/p1")
            print("error: drain did not complete within 1m0s", file=sys.stderr)
            sys.exit(drain_rc)
        print("node/" + args[1] + " drained")
    elif args[:2] == ["delete", "node"]:
        print('node "' + args[2] + '" deleted')
    else:
        sys.exit("fake kubectl: unexpected call " + " ".join(args))
    """
)


def node(name: str, address: str) -> dict:
    return {
        "metadata": {"name": name, "labels": {}},
        "status": {"addresses": [{"type": "InternalIP", "address": address},
                                 {"type": "Hostname", "address": name}]},
    }  # fmt: skip


def _setup(tmp_path: Path, nodes: list[dict], drain_rc: int = 0) -> dict[str, str]:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    kubectl = bindir / "kubectl"
    kubectl.write_text(FAKE_KUBECTL.format(python=sys.executable))
    kubectl.chmod(0o755)
    (bindir / "nodes.json").write_text(json.dumps(nodes))
    (bindir / "drain.rc").write_text(str(drain_rc))
    local = {
        "ansible_connection": "local",
        "ansible_python_interpreter": sys.executable,
        "ansible_become": False,
    }
    inv = {
        "all": {
            "vars": local,
            "children": {
                "masters": {"hosts": {"m1": {}}},
                "workers": {"hosts": {"w1": {}, "w2": {}, "W3": {}}},
            },
        }
    }
    (tmp_path / "hosts.yml").write_text(yaml.safe_dump(inv))
    env = os.environ | runner.ansible_env(tmp_path / "hosts.yml")
    env["PATH"] = f"{bindir}{os.pathsep}{env['PATH']}"
    env["DLRS_PROVISION_STATE"] = str(tmp_path / "state")
    return env


def _play(tmp_path: Path, env: dict, playbook: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [PLAYBOOK, "-i", str(tmp_path / "hosts.yml"), str(playbook), *args],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300,
    )  # fmt: skip


def _calls(tmp_path: Path) -> list[list[str]]:
    path = tmp_path / "bin" / "kubectl.calls"
    return [json.loads(c) for c in path.read_text().splitlines()] if path.exists() else []


def test_scale_finds_the_new_workers_and_the_existing_nodes_addresses(tmp_path):
    env = _setup(tmp_path, [node("m1", "10.0.0.1"), node("w1", "10.0.0.2"), node("w3", "10.0.0.4")])
    # the two plays that decide, from scale.yml itself, then one that records what they decided
    selected = plays("scale.yml")[:2]
    selected.append(
        {
            "name": "Record",
            "hosts": "m1",
            "gather_facts": False,
            "tasks": [
                {
                    "ansible.builtin.copy": {
                        "dest": str(tmp_path / "decided.json"),
                        "mode": "0600",
                        "content": "{{ {'new': groups['scale_new'] | default([]), 'address': "
                        "dict(groups['workers'] | zip(groups['workers'] | map('extract', "
                        "hostvars, 'node_prep_address') | map('default', '') ))} | to_json }}",
                    }
                }
            ],
        }
    )
    play = tmp_path / "decide.yml"
    play.write_text(yaml.safe_dump(selected, sort_keys=False))
    run = _play(tmp_path, env, play)
    assert run.returncode == 0, run.stdout + run.stderr
    decided = json.loads((tmp_path / "decided.json").read_text())
    # W3 is Node w3 (node names are lower case): not new; w2 is no Node: new
    assert decided["new"] == ["w2"]
    # existing nodes without cached facts get the InternalIP their Node reports; a new one none
    assert decided["address"] == {"w1": "10.0.0.2", "w2": "", "W3": "10.0.0.4"}
    assert "Joining w2; the 2 existing node(s) of this run are only read." in run.stdout
    assert _calls(tmp_path) == [["get", "nodes", "-o", "json"]]


def test_scale_with_every_worker_a_node_has_nothing_to_add(tmp_path):
    env = _setup(
        tmp_path,
        [node("m1", "10.0.0.1"), node("w1", "10.0.0.2"), node("w2", "10.0.0.3"),
         node("w3", "10.0.0.4")],
    )  # fmt: skip
    run = _play(tmp_path, env, PLAYBOOKS / "scale.yml")
    assert run.returncode == 0, run.stdout + run.stderr
    said = "Nothing to add: every worker of this run is a node of the cluster already."
    assert said in run.stdout
    # no play for new workers found a host; the labels were not even asked for
    assert "Scale - preflight" in run.stdout
    assert _calls(tmp_path) == [["get", "nodes", "-o", "json"]]
    assert "changed=0" in run.stdout and "changed=1" not in run.stdout


def test_remove_node_of_a_dead_node_drains_by_force_and_deletes_the_node(tmp_path):
    env = _setup(tmp_path, [node("m1", "10.0.0.1"), node("w2", "10.0.0.3")], drain_rc=1)
    # the variables as `dlrs-provision remove-node` hands them over: every string !unsafe
    extravars = runner.write_unsafe_vars(
        tmp_path / "extravars",
        {"remove_node_host": "w2", "remove_node_timeout": "1m", "remove_node_reachable": False},
    )
    assert "!unsafe 'w2'" in extravars.read_text()
    run = _play(
        tmp_path, env, PLAYBOOKS / "remove-node.yml", "--limit", "m1", "-e", f"@{extravars}"
    )
    assert run.returncode == 0, run.stdout + run.stderr
    calls = _calls(tmp_path)
    assert calls == [
        ["get", "node", "w2", "-o", "name", "--ignore-not-found"],
        ["cordon", "w2"],
        ["drain", "w2", "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=1m",
         "--force", "--grace-period=0"],
        ["delete", "node", "w2", "--ignore-not-found"],
    ]  # fmt: skip
    assert "w2 is down and its drain did not finish" in run.stdout
    assert "or the next `dlrs-provision scale` joins it again" in run.stdout


def test_remove_node_stops_with_the_node_cordoned_when_a_live_node_cannot_be_drained(tmp_path):
    env = _setup(tmp_path, [node("m1", "10.0.0.1"), node("w2", "10.0.0.3")], drain_rc=1)
    run = _play(
        tmp_path, env, PLAYBOOKS / "remove-node.yml", "--limit", "m1",
        "-e", "remove_node_host=w2", "-e", '{"remove_node_reachable": true}',
    )  # fmt: skip
    assert run.returncode != 0
    calls = _calls(tmp_path)
    drain = [c for c in calls if c[0] == "drain"]
    assert drain == [
        ["drain", "w2", "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=5m"]
    ]
    assert not [c for c in calls if c[0] == "delete"]
    assert "kubectl drain w2 did not finish: error: drain did not complete within 1m0s" in (
        " ".join(run.stdout.split())
    )
    assert "The node stays cordoned and in the cluster" in run.stdout


def test_remove_node_keeps_the_node_object_of_a_live_node_that_was_not_reset(tmp_path):
    # the node answers, but its reset play did not run (here: left out by --limit): deleting
    # its Node now would only see it registered again by its kubelet
    env = _setup(tmp_path, [node("m1", "10.0.0.1"), node("w2", "10.0.0.3")])
    run = _play(
        tmp_path, env, PLAYBOOKS / "remove-node.yml", "--limit", "m1",
        "-e", "remove_node_host=w2", "-e", '{"remove_node_reachable": true}',
    )  # fmt: skip
    assert run.returncode != 0
    assert "w2 answers but its reset did not finish" in " ".join(run.stdout.split())
    assert not [c for c in _calls(tmp_path) if c[0] == "delete"]


def test_remove_node_playbook_refuses_the_master(tmp_path):
    env = _setup(tmp_path, [node("m1", "10.0.0.1")])
    run = _play(
        tmp_path, env, PLAYBOOKS / "remove-node.yml", "--limit", "m1",
        "-e", "remove_node_host=m1", "-e", '{"remove_node_reachable": true}',
    )  # fmt: skip
    assert run.returncode != 0
    assert "remove_node_host must name one worker of the inventory, never a master" in " ".join(
        run.stdout.split()
    )
    assert _calls(tmp_path) == []


def test_scale_without_the_master_in_the_run_stops_before_any_worker_is_grouped(tmp_path):
    env = _setup(tmp_path, [node("m1", "10.0.0.1")])
    run = _play(tmp_path, env, PLAYBOOKS / "scale.yml", "--limit", "w1,w2")
    assert run.returncode != 0
    assert "m1 did not list the cluster's Nodes: the master must be in the run" in " ".join(
        run.stdout.split()
    )
    assert "TASK [preflight : " not in run.stdout  # no new-worker play ran
    assert _calls(tmp_path) == []


# systemctl as the systemd_service module asks it, for a kubelet that runs and is enabled; the
# calls go to the same log as kubectl's, so that their order shows
FAKE_SYSTEMCTL = textwrap.dedent(
    """\
    #!{python}
    import json, pathlib, sys
    here = pathlib.Path(__file__).resolve().parent
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    with open(here / "kubectl.calls", "a") as out:
        out.write(json.dumps(["systemctl", *args]) + "\\n")
    state = here / "kubelet.state"
    active, enabled = (state.read_text().split() if state.exists() else ["active", "enabled"])
    if args[0] == "show":
        print(f"Id=kubelet.service\\nLoadState=loaded\\nActiveState={{active}}\\n"
              f"SubState=running\\nUnitFileState={{enabled}}")
    elif args[0] == "is-enabled":
        print(enabled)
        sys.exit(0 if enabled == "enabled" else 1)
    elif args[0] == "is-active":
        print(active)
        sys.exit(0 if active == "active" else 3)
    elif args[0] == "stop":
        state.write_text("inactive " + enabled)
    elif args[0] == "disable":
        state.write_text(active + " disabled")
    """
)


def test_remove_node_of_a_live_node_stops_its_kubelet_before_the_node_is_deleted(tmp_path):
    env = _setup(tmp_path, [node("m1", "10.0.0.1"), node("w2", "10.0.0.3")])
    systemctl = tmp_path / "bin" / "systemctl"
    systemctl.write_text(FAKE_SYSTEMCTL.format(python=sys.executable))
    systemctl.chmod(0o755)
    run = _play(
        tmp_path, env, PLAYBOOKS / "remove-node.yml", "--limit", "m1,w2",
        "-e", "remove_node_host=w2", "-e", '{"remove_node_reachable": true}',
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    calls = [c[:2] for c in _calls(tmp_path)]
    stop, disable = calls.index(["systemctl", "stop"]), calls.index(["systemctl", "disable"])
    delete = calls.index(["delete", "node"])
    assert calls.index(["drain", "w2"]) < stop < delete and disable < delete, calls
    assert (tmp_path / "bin" / "kubelet.state").read_text() == "inactive disabled"
