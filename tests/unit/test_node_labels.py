"""kubeadm_master's tasks_from: labels, through real Ansible against a recorded fake kubectl.

Every node carries dlrs.intel.com/node=<its inventory name> (the TFJob's node affinity matches
it), also a node whose preflight tuning is not cached; a second run changes nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import yaml

from dlrs_provision import runner

PLAYBOOK = str(Path(sys.executable).parent / "ansible-playbook")
FAKE_KUBECTL = textwrap.dedent(
    """\
    #!{python}
    import json, pathlib, sys
    here = pathlib.Path(__file__).resolve().parent
    state = here / "nodes.json"
    nodes = json.loads(state.read_text())
    args = sys.argv[1:]
    with open(here / "kubectl.calls", "a") as out:
        out.write(json.dumps(args) + "\\n")
    if args[:2] == ["get", "nodes"]:
        print(json.dumps({{"kind": "List", "items": nodes}}))
    elif args[:2] == ["label", "node"]:
        (node,) = [n for n in nodes if n["metadata"]["name"] == args[2]]
        for pair in args[3:]:
            if "=" in pair:
                key, value = pair.split("=", 1)
                node["metadata"].setdefault("labels", {{}})[key] = value
        state.write_text(json.dumps(nodes))
        print("node/" + args[2] + " labeled")
    else:
        sys.exit("fake kubectl: unexpected call")
    """
)
TUNING = {
    "topology": {"sockets": 1, "physical_cores": 4, "threads_per_core": 1},
    "variant": "mkl",
    "num_inter_threads": 1,
    "num_intra_threads": 2,
}


def _run(tmp_path: Path) -> subprocess.CompletedProcess:
    env = os.environ | runner.ansible_env(tmp_path / "hosts.yml")
    return subprocess.run(
        [PLAYBOOK, "-i", str(tmp_path / "hosts.yml"), str(tmp_path / "play.yml")],
        capture_output=True, text=True, env=env, cwd=tmp_path,
    )  # fmt: skip


def test_every_node_gets_its_inventory_name_label_idempotently(tmp_path):
    kubectl = tmp_path / "kubectl"
    kubectl.write_text(FAKE_KUBECTL.format(python=sys.executable))
    kubectl.chmod(0o755)
    nodes = [
        {"metadata": {"name": n, "labels": {"kubernetes.io/hostname": n}}}
        for n in ("xeon-m01", "xeon-w01", "xeon-w02")
    ]
    (tmp_path / "nodes.json").write_text(json.dumps(nodes))
    local = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    inv = {
        "all": {
            "vars": local,
            "children": {
                "masters": {"hosts": {"Xeon-M01": {}}},  # node names are lower case
                "workers": {"hosts": {"xeon-w01": {"preflight_tuning": TUNING}, "xeon-w02": {}}},
            },
        }
    }
    (tmp_path / "hosts.yml").write_text(yaml.safe_dump(inv))
    play = [
        {
            "name": "Labels",
            "hosts": "masters",
            "gather_facts": False,
            "tasks": [
                {
                    "ansible.builtin.include_role": {
                        "name": "kubeadm_master",
                        "tasks_from": "labels",
                    },
                    "vars": {"_kubeadm_master_kubectl": [str(kubectl)]},
                }
            ],
        }
    ]
    (tmp_path / "play.yml").write_text(yaml.safe_dump(play, sort_keys=False))

    first = _run(tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    labels = {
        n["metadata"]["name"]: n["metadata"]["labels"]
        for n in json.loads((tmp_path / "nodes.json").read_text())
    }
    assert labels["xeon-m01"]["dlrs.intel.com/node"] == "Xeon-M01"
    assert labels["xeon-w01"]["dlrs.intel.com/node"] == "xeon-w01"
    assert labels["xeon-w02"]["dlrs.intel.com/node"] == "xeon-w02"
    assert labels["xeon-w01"]["dlrs.intel.com/num-intra-threads"] == "2"
    assert "dlrs.intel.com/num-intra-threads" not in labels["xeon-w02"]  # no tuning cached

    calls = (tmp_path / "kubectl.calls").read_text().splitlines()
    second = _run(tmp_path)
    assert second.returncode == 0, second.stdout + second.stderr
    again = (tmp_path / "kubectl.calls").read_text().splitlines()[len(calls) :]
    assert [json.loads(c)[:2] for c in again] == [["get", "nodes"]]  # nothing relabelled
    assert "changed=0" in second.stdout
