"""The collection test: dlrs.provision assembled from the package's roles, filter plugins and
tuning code (dlrs_provision/collection.py), built with `ansible-galaxy collection build`,
installed with `ansible-galaxy collection install` into a temporary collections path, and used by
its fully qualified names from a playbook on localhost (connection local, check mode): the
tuning filter on the worked example's facts, and the preflight role on this machine."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from package_install import REPO

from dlrs_provision import collection, paths, tuning
from dlrs_provision.errors import UsageError
from dlrs_provision.facts import load_facts

pytestmark = pytest.mark.package

BIN = Path(sys.executable).parent
FACTS = REPO / "tests" / "unit" / "data" / "facts" / "xeon-gold-6140-2s-ht.json"

PLAYBOOK = """\
---
- name: The collection's filter and role by their full names
  hosts: localhost
  connection: local
  gather_facts: false
  vars:
    xeon_facts: "{{ (lookup('ansible.builtin.file', facts_file) | from_json).ansible_facts }}"
  tasks:
    - name: Compute the tuning of the worked example with the collection's filter
      ansible.builtin.set_fact:
        example: "{{ xeon_facts | dlrs.provision.dlrs_tuning(mode='multi', variant='mkl') }}"
    - name: The collection's calculator gives the package's values
      ansible.builtin.assert:
        that:
          - example.num_inter_threads == expected.num_inter_threads
          - example.num_intra_threads == expected.num_intra_threads
          - example.reserved_cores == expected.reserved_cores
          - example.data_format == expected.data_format
    - name: Run the collection's preflight role on this machine
      ansible.builtin.include_role:
        name: dlrs.provision.preflight
    - name: The role's tuning follows this machine's topology (single node)
      ansible.builtin.assert:
        that:
          - preflight_tuning.num_inter_threads == preflight_tuning.topology.sockets
          - preflight_tuning.num_intra_threads == preflight_tuning.topology.physical_cores
"""


def _run(*cmd: str | Path, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=900
    )
    assert proc.returncode == 0, f"{cmd}:\n{proc.stdout[-6000:]}\n{proc.stderr[-3000:]}"
    return proc


@pytest.fixture(scope="module")
def installed_collection(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict]:
    root = tmp_path_factory.mktemp("collection")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env |= {
        "ANSIBLE_COLLECTIONS_PATH": str(root / "collections"),
        # nothing of the checkout: no roles path, no filter plugins folder, no ansible.cfg
        "ANSIBLE_ROLES_PATH": str(root / "no-roles"),
        "ANSIBLE_FILTER_PLUGINS": str(root / "no-filters"),
        "ANSIBLE_CONFIG": str(root / "none.cfg"),
        "ANSIBLE_NOCOLOR": "True",
        "HOME": str(root / "home"),
    }
    tree = collection.assemble(root / "tree")
    _run(BIN / "ansible-galaxy", "collection", "build", "--output-path", root / "dist", tree,
         cwd=root, env=env)  # fmt: skip
    (tarball,) = (root / "dist").glob("dlrs-provision-*.tar.gz")
    _run(BIN / "ansible-galaxy", "collection", "install", "--offline", "-p", root / "collections",
         tarball, cwd=root, env=env)  # fmt: skip
    return tarball, root / "collections" / "ansible_collections" / "dlrs" / "provision", env


def test_collection_tarball_has_the_roles_and_plugins_and_no_molecule(installed_collection):
    tarball, _, _ = installed_collection
    with tarfile.open(tarball) as archive:
        names = archive.getnames()
    assert "roles/preflight/tasks/main.yml" in names
    assert "plugins/filter/dlrs_tuning.py" in names
    assert "plugins/module_utils/tuning.py" in names
    assert "MANIFEST.json" in names
    assert not [n for n in names if "/molecule" in n or n.startswith("molecule")]


def test_collection_code_imports_only_its_own_copy(installed_collection):
    _, installed, _ = installed_collection
    files = sorted((installed / "plugins").rglob("*.py"))
    assert files
    for path in files:
        text = path.read_text()
        assert not re.search(r"^\s*(from|import) dlrs_provision\b", text, re.M), path
    tuning_copy = (installed / "plugins" / "module_utils" / "tuning.py").read_text()
    assert "from ansible_collections.dlrs.provision.plugins.module_utils import catalog" in (
        tuning_copy
    )


def test_collection_roles_call_the_filters_by_full_name(installed_collection):
    _, installed, _ = installed_collection
    main = (installed / "roles" / "preflight" / "tasks" / "main.yml").read_text()
    assert "| dlrs.provision.dlrs_tuning(" in main
    assert not re.search(r"\|\s*dlrs_(tuning|parse_lscpu|preflight_refusals)\b", main)


def test_role_and_filter_run_from_the_installed_collection(installed_collection, tmp_path):
    _, _, env = installed_collection
    facts = load_facts(FACTS)
    expected = tuning.compute(facts, mode="multi", variant="mkl").to_dict()
    # the worked example of DESIGN.md: 2 x 18 cores, multi node
    assert (expected["num_inter_threads"], expected["num_intra_threads"]) == (2, 32)
    (tmp_path / "play.yml").write_text(PLAYBOOK)
    extra = {"facts_file": str(FACTS), "expected": expected}
    proc = _run(BIN / "ansible-playbook", "-i", "localhost,", "--check", "-e", json.dumps(extra),
                "-e", f"ansible_python_interpreter={sys.executable}", "play.yml",
                cwd=tmp_path, env=env)  # fmt: skip
    assert "dlrs.provision.preflight : " in proc.stdout
    recap = re.search(r"localhost\s*:\s*ok=(\d+)\s+changed=(\d+).*failed=(\d+)", proc.stdout)
    assert recap, proc.stdout[-3000:]
    assert recap.group(2) == "0" and recap.group(3) == "0", proc.stdout[-3000:]


def test_every_playbook_runs_by_its_full_name(installed_collection, tmp_path):
    """Each playbook of the checkout is one of the collection, by a name ansible-core accepts
    (remove-node.yml as dlrs.provision.remove_node): --syntax-check loads them all by name."""
    _, installed, env = installed_collection
    names = sorted(p.stem.replace("-", "_") for p in (REPO / "playbooks").glob("*.yml"))
    assert "remove_node" in names and "cluster" in names
    assert sorted(p.stem for p in (installed / "playbooks").glob("*.yml")) == names
    proc = _run(BIN / "ansible-playbook", "-i", "localhost,", "--syntax-check",
                *[f"dlrs.provision.{n}" for n in names], cwd=tmp_path, env=env)  # fmt: skip
    assert proc.returncode == 0


def test_role_plugins_are_the_collections_own(installed_collection):
    """ansible-core loads no library/, module_utils/ or filter_plugins/ of a role inside a
    collection (collection.assemble): they are the collection's plugins/, the roles keep none."""
    _, installed, _ = installed_collection
    for folder in collection.ROLE_PLUGIN_FOLDERS:
        assert not sorted((installed / "roles").glob(f"*/{folder}")), folder
    modules = sorted(p.name for p in (installed / "plugins" / "modules").glob("*.py"))
    assert modules == sorted(p.name for p in (REPO / "roles").glob("*/library/*.py"))
    assert "node_prep_probe.py" in modules and "clearlinux_swupd_state.py" in modules
    state = (installed / "plugins" / "modules" / "clearlinux_swupd_state.py").read_text()
    assert "from ansible_collections.dlrs.provision.plugins.module_utils.clearlinux_swupd " in (
        state
    )
    assert not re.search(r"^\s*from ansible\.module_utils\.clearlinux_swupd\b", state, re.M)
    assert (installed / "plugins" / "module_utils" / "clearlinux_swupd.py").is_file()
    filters = {p.name for p in (installed / "plugins" / "filter").glob("*.py")}
    assert {"containerd_registries.py", "benchmark.py", "stack_images.py"} <= filters
    # dlrs_defaults' wrapper re-exports the package's dlrs_settings: shipped once, the package's
    settings = (installed / "plugins" / "filter" / "dlrs_settings.py").read_text()
    assert "class FilterModule" in settings and "__all__" not in settings
    hosts = (installed / "roles" / "containerd" / "vars" / "main.yml").read_text()
    assert "| dlrs.provision.containerd_registry_hosts(" in hosts


def _module(module: str, args: dict, cwd: Path, env: dict) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "ansible"), "localhost", "-i", "localhost,", "-c", "local",
         "-e", f"ansible_python_interpreter={sys.executable}",
         "-m", module, "-a", json.dumps(args)],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_moved_modules_run_from_the_installed_collection(installed_collection, tmp_path):
    """node_prep's probe, now plugins/modules/node_prep_probe.py, runs by its full name; and
    clearlinux_swupd_state reaches its module_utils by the rewritten import: the message of a
    missing swupd is written in module_utils/clearlinux_swupd.py."""
    _, _, env = installed_collection
    proc = _module("dlrs.provision.node_prep_probe", {"sysctls": ["kernel.ostype"]}, tmp_path, env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads(proc.stdout.split("=>", 1)[1])
    assert result["sysctls"]["kernel.ostype"] == {
        "exists": True,
        "writable": result["sysctls"]["kernel.ostype"]["writable"],
        "value": "Linux",
    }
    assert result["changed"] is False and "swaps" in result
    args = {"executable": "dlrs-no-such-swupd"}
    proc = _module("dlrs.provision.clearlinux_swupd_state", args, tmp_path, env)
    assert proc.returncode != 0
    assert "dlrs-no-such-swupd is not installed: this is not a Clear Linux host" in proc.stdout
    assert "ModuleNotFoundError" not in proc.stdout + proc.stderr


FILTER_PLAY = """\
---
- name: A role's filter by its full name from the installed collection
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Compute containerd's registry hosts
      ansible.builtin.set_fact:
        hosts_of: >-
          {{ ['https://mirror.example:5000']
             | dlrs.provision.containerd_registry_hosts(['r.example:5000']) }}
    - name: Show them
      ansible.builtin.debug:
        msg: "{{ hosts_of | map(attribute='server') | join(' ') }}"
    - name: The benchmark role's file for the nodes is the collection's copy
      ansible.builtin.debug:
        msg: "shipped {{ 'synthetic.py' | dlrs.provision.benchmark_shipped }}"
"""


def test_role_filter_runs_from_the_installed_collection(installed_collection, tmp_path):
    _, installed, env = installed_collection
    (tmp_path / "play.yml").write_text(FILTER_PLAY)
    proc = _run(BIN / "ansible-playbook", "-i", "localhost,", "play.yml", cwd=tmp_path, env=env)
    assert '"msg": "https://registry-1.docker.io http://r.example:5000"' in proc.stdout, (
        proc.stdout[-3000:]
    )
    shipped = re.search(r'"msg": "shipped (.*)"', proc.stdout)
    assert shipped, proc.stdout[-3000:]
    path = Path(shipped.group(1))
    assert path == installed / "plugins" / "module_utils" / "benchmark" / "synthetic.py"
    assert path.read_text() == (REPO / "dlrs_provision" / "benchmark" / "synthetic.py").read_text()


def _plugin(tmp_path: Path, role: str, body: str) -> Path:
    path = tmp_path / role / "filter_plugins" / f"{role}.py"
    path.parent.mkdir(parents=True)
    path.write_text(body)
    return path


def test_role_filter_plugins_keep_one_filter_by_each_name(tmp_path):
    """A role's wrapper of the package's filters is left out; a role filter that takes a name of
    the package's with other code is refused, before any file is written."""
    top = sorted(paths.FILTER_PLUGINS.glob("*.py"))
    wrapper = REPO / "roles" / "dlrs_defaults" / "filter_plugins" / "dlrs_settings.py"
    own = REPO / "roles" / "containerd" / "filter_plugins" / "containerd_registries.py"
    assert collection.role_filter_plugins(top, [wrapper, own]) == [own]
    other = _plugin(tmp_path, "rogue", (
        "def dlrs_tuning(facts):\n    return {}\n\n\n"
        "class FilterModule:\n    def filters(self):\n        return {'dlrs_tuning': dlrs_tuning}\n"
    ))  # fmt: skip
    with pytest.raises(
        UsageError, match=r"defines the filter dlrs_tuning, which .*dlrs_tuning\.py"
    ):
        collection.role_filter_plugins(top, [own, other])
