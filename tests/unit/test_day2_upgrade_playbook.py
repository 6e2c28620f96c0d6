"""playbooks/upgrade.yml: what it runs where (read from the file), and its logic through real
Ansible on this machine (local connection) against fake kubectl, kubeadm and kubelet that
record their calls: the skew refused before any change, a worker at the target left alone (no
drain), and a failing worker that stops the roll-out with its batch, named with the step."""

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
PLAYBOOK_FILE = REPO / "playbooks" / "upgrade.yml"
PLAYBOOK = str(Path(sys.executable).parent / "ansible-playbook")


def plays() -> list[dict]:
    return yaml.safe_load(PLAYBOOK_FILE.read_text())


def test_the_master_is_read_then_upgraded_then_the_workers_in_batches():
    names = [p["name"] for p in plays()]
    assert names == ["Upgrade - versions", "Upgrade - control plane", "Upgrade - workers"]
    versions, control, workers = plays()
    assert versions["hosts"] == control["hosts"] == "masters"
    assert versions["any_errors_fatal"] is True and control["any_errors_fatal"] is True
    assert workers["hosts"] == "workers"
    assert workers["serial"] == "{{ dlrs_upgrade_batch_size | default(1) }}"
    assert workers["max_fail_percentage"] == 0
    # the first play only reads: commands that change nothing, facts and asserts
    for task in versions["tasks"]:
        if "ansible.builtin.command" in task:
            assert task["changed_when"] is False and task["check_mode"] is False


def test_the_kubelet_patches_folder_is_the_one_kubelet_config_renders():
    role_vars = yaml.safe_load((REPO / "roles/kubelet_config/vars/main.yml").read_text())
    for play in plays()[1:]:
        assert play["vars"]["_upgrade_patches"] == role_vars["_kubelet_config_patches_dir"]


def test_a_worker_is_cordoned_and_drained_before_its_packages_and_uncordoned_last():
    workers = plays()[2]
    (block,) = [t for t in workers["tasks"] if "block" in t]
    steps = [t["name"] for t in block["block"]]
    assert steps[:3] == [
        "Cordon the worker",
        "Drain the worker",
        "Ensure kubeadm, kubelet and kubectl are at the target version",
    ]
    assert steps.index("Upgrade the node's configuration (kubeadm upgrade node)") < steps.index(
        "Restart the kubelet on the new binary"
    )
    assert steps[-1] == "Uncordon the worker"
    (rescue,) = block["rescue"]
    msg = rescue["ansible.builtin.fail"]["msg"]
    assert "stays cordoned" in msg and "keep serving" in msg and "_upgrade_resume" in msg


# --------------------------------------------------------------------------- through Ansible

FAKE = textwrap.dedent(
    """\
    #!{python}
    import json, pathlib, sys
    here = pathlib.Path(__file__).resolve().parent
    tool = pathlib.Path(sys.argv[0]).name
    args = sys.argv[1:]
    if args[:2] == ["--kubeconfig", "/etc/kubernetes/admin.conf"]:
        args = args[2:]
    with open(here / "calls", "a") as out:
        out.write(json.dumps([tool] + args) + "\\n")
    state = json.loads((here / "state.json").read_text())
    if tool == "kubeadm" and args[:1] == ["version"]:
        print(state["binaries"])
    elif tool == "kubelet":
        print("Kubernetes " + state["binaries"])
    elif args[:2] == ["version", "-o"]:
        print(json.dumps({{"serverVersion": {{"gitVersion": state["cluster"]}}}}))
    elif args[:3] == ["get", "nodes", "-o"]:
        items = [{{"metadata": {{"name": n}}, "status": {{"nodeInfo": {{"kubeletVersion": v}}}}}}
                 for n, v in state["kubelets"].items()]
        print(json.dumps({{"items": items}}))
    elif args[:2] == ["get", "node"] and args[2] not in state["kubelets"]:
        if "--ignore-not-found" not in args:
            sys.exit('Error from server (NotFound): nodes "' + args[2] + '" not found')
    elif args[:2] == ["get", "node"]:
        v = state["kubelets"][args[2]]
        print(json.dumps({{"metadata": {{"name": args[2]}},
                          "status": {{"nodeInfo": {{"kubeletVersion": v}}}}}}))
    elif args[0] == "cordon":
        print("node/" + args[1] + " cordoned")
    elif args[0] == "drain":
        print("error: unable to drain node " + args[1], file=sys.stderr)
        sys.exit(1)
    else:
        sys.exit("fake: unexpected call " + " ".join([tool] + args))
    """
)


def _setup(tmp_path: Path, state: dict) -> dict[str, str]:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for tool in ("kubectl", "kubeadm", "kubelet"):
        path = bindir / tool
        path.write_text(FAKE.format(python=sys.executable))
        path.chmod(0o755)
    (bindir / "state.json").write_text(json.dumps(state))
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
                "workers": {"hosts": {"w1": {}, "w2": {}}},
            },
        }
    }
    (tmp_path / "hosts.yml").write_text(yaml.safe_dump(inv))
    env = os.environ | runner.ansible_env(tmp_path / "hosts.yml")
    env["PATH"] = f"{bindir}{os.pathsep}{env['PATH']}"
    env["DLRS_PROVISION_STATE"] = str(tmp_path / "state")
    env["PYTHONPATH"] = f"{REPO}{os.pathsep}{env.get('PYTHONPATH', '')}"
    return env


def _run(tmp_path: Path, env: dict, selected: list[dict], *args: str):
    play = tmp_path / "upgrade-part.yml"
    play.write_text(yaml.safe_dump(selected, sort_keys=False))
    (tmp_path / "roles").symlink_to(REPO / "roles")
    return subprocess.run(
        [PLAYBOOK, "-i", str(tmp_path / "hosts.yml"), str(play), *args],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300,
    )  # fmt: skip


def _calls(tmp_path: Path) -> list[list[str]]:
    path = tmp_path / "bin" / "calls"
    return [json.loads(c) for c in path.read_text().splitlines()] if path.exists() else []


def test_a_downgrade_is_refused_by_the_first_play_with_only_reads(tmp_path):
    state = {"cluster": "v1.32.3", "binaries": "v1.32.3",
             "kubelets": {"m1": "v1.32.3", "w1": "v1.32.3", "w2": "v1.32.3"}}  # fmt: skip
    env = _setup(tmp_path, state)
    run = _run(tmp_path, env, plays()[:1], "-e", "dlrs_upgrade_to=1.31.7")
    assert run.returncode != 0
    assert "Upgrade to v1.31.7 refused; no host has been changed." in run.stdout
    assert "v1.31.7 is older than the cluster's v1.32.3" in run.stdout
    assert _calls(tmp_path) == [
        ["kubectl", "version", "-o", "json"],
        ["kubectl", "get", "nodes", "-o", "json"],
    ]


def test_one_minor_up_passes_the_first_play_and_two_are_refused(tmp_path):
    state = {"cluster": "v1.31.7", "binaries": "v1.31.7",
             "kubelets": {"m1": "v1.31.7", "w1": "v1.31.7", "w2": "v1.31.7"}}  # fmt: skip
    env = _setup(tmp_path, state)
    ok = _run(tmp_path, env, plays()[:1], "-e", "dlrs_upgrade_to=1.32.3")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    (tmp_path / "roles").unlink()
    skip = _run(tmp_path, env, plays()[:1], "-e", "dlrs_upgrade_to=1.33.0")
    assert skip.returncode != 0
    assert "upgrade to 1.32.x first" in skip.stdout


def test_workers_at_the_target_are_not_drained_and_nothing_changes(tmp_path):
    state = {"cluster": "v1.32.3", "binaries": "v1.32.3",
             "kubelets": {"m1": "v1.32.3", "w1": "v1.32.3", "w2": "v1.32.3"}}  # fmt: skip
    env = _setup(tmp_path, state)
    run = _run(tmp_path, env, plays()[2:], "-e", "dlrs_upgrade_to=1.32.3")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "w1 is at v1.32.3 already: not drained, nothing changed." in run.stdout
    called = [c[1] for c in _calls(tmp_path) if c[0] == "kubectl"]
    assert "cordon" not in called and "drain" not in called
    assert "changed=0" in run.stdout and "changed=1" not in run.stdout


def test_a_worker_that_is_not_a_node_is_left_alone_and_the_roll_out_goes_on(tmp_path):
    state = {"cluster": "v1.32.3", "binaries": "v1.32.3",
             "kubelets": {"m1": "v1.32.3", "w2": "v1.32.3"}}  # fmt: skip
    env = _setup(tmp_path, state)
    run = _run(tmp_path, env, plays()[2:], "-e", "dlrs_upgrade_to=1.32.3")
    assert run.returncode == 0, run.stdout + run.stderr
    out = " ".join(run.stdout.split())
    assert "w1 is not a Node of the cluster: left alone" in out
    assert "w2 is at v1.32.3 already" in out
    called = [c for c in _calls(tmp_path) if c[0] != "kubectl" or c[1:3] != ["get", "node"]]
    assert not [c for c in called if "w1" in c], called


def test_a_failing_worker_stops_the_roll_out_with_its_batch_naming_node_and_step(tmp_path):
    state = {"cluster": "v1.32.3", "binaries": "v1.31.7",
             "kubelets": {"m1": "v1.32.3", "w1": "v1.31.7", "w2": "v1.31.7"}}  # fmt: skip
    env = _setup(tmp_path, state)
    run = _run(
        tmp_path, env, plays()[2:], "-e", "dlrs_upgrade_to=1.32.3",
        "-e", "dlrs_upgrade_resume='dlrs-provision upgrade hosts.yml --to 1.32.3'",
    )  # fmt: skip
    assert run.returncode != 0
    out = " ".join(run.stdout.split())
    assert 'w1 was not upgraded to v1.32.3: step "Drain the worker" failed' in out
    assert "w1 stays cordoned" in out
    assert "the nodes not yet upgraded keep serving on the old version" in out
    assert "then run: dlrs-provision upgrade hosts.yml --to 1.32.3" in out
    kubectl = [c[1:] for c in _calls(tmp_path) if c[0] == "kubectl"]
    # w2 is in the next batch: never read, never cordoned
    assert all("w2" not in c for c in kubectl), kubectl
    assert ["cordon", "w1"] in kubectl
