"""node_prep's OS logic, driven by facts: which vars file, setup tasks and values apply per OS.

No image of Ubuntu or the RHEL family can be built on the machines this project is tested on, so
these OSes are covered here instead of in molecule: the venv's ansible-playbook runs
tests/unit/data/node_prep/plan.yml in check mode with connection local. Each inventory host stands
for one OS and gets the facts of its fixture (<host>.json, setup's output form) through
`set_fact: cacheable: true`, which is how facts reach `ansible_facts` without gathering. Then only
the role's tasks/vars.yml runs: it reads facts and the inventory and changes nothing, and the plan
it works out is read back from the json callback. No module runs on this machine (the task that
would gather missing facts is checked to be skipped), and no fact cache file is written.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ROLE = ROOT / "roles" / "node_prep"
DATA = Path(__file__).parent / "data" / "node_prep"
ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"

MASTERS = ["rhel9"]
WORKERS = ["debian12", "ubuntu2204", "ubuntu2404", "rocky9", "alma9", "clearlinux"]
NODES = MASTERS + WORKERS
ADDRESS = {
    "rhel9": "192.0.2.10",
    "debian12": "192.0.2.11",
    "ubuntu2204": "192.0.2.12",
    "ubuntu2404": "192.0.2.13",
    "rocky9": "192.0.2.14",
    "alma9": "192.0.2.15",
    "clearlinux": "198.51.100.7",  # node_prep_address in the inventory, over the facts' 192.0.2.16
}
HTTP_PROXY = "http://proxy.example:3128"


def _inventory() -> dict:
    local = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    return {
        "all": {
            "vars": {**local, "dlrs_http_proxy": HTTP_PROXY, "dlrs_no_proxy": [".corp.example"]},
            "hosts": {"gentoo": {}},
            "children": {
                "masters": {"hosts": {name: {} for name in MASTERS}},
                "workers": {
                    "hosts": {
                        **{name: {} for name in WORKERS},
                        "clearlinux": {"node_prep_address": ADDRESS["clearlinux"]},
                    }
                },
            },
        }
    }


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> dict:
    """One check-mode run of plan.yml for every OS; its json callback output."""
    work = tmp_path_factory.mktemp("node_prep_plan")
    inventory = work / "hosts.yml"
    inventory.write_text(yaml.safe_dump(_inventory(), sort_keys=False))
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(work / "none.cfg"),  # not the checkout's (it caches facts on disk)
        "ANSIBLE_ROLES_PATH": str(ROOT / "roles"),
        "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
        "ANSIBLE_CACHE_PLUGIN": "memory",
        "ANSIBLE_GATHERING": "explicit",
        "ANSIBLE_HOME": str(work / "ansible-home"),
        "ANSIBLE_LOCAL_TEMP": str(work / "tmp"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_DEPRECATION_WARNINGS": "False",
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
    }
    proc = subprocess.run(
        [
            str(ANSIBLE_PLAYBOOK),
            "--check",
            "-i",
            str(inventory),
            "-e",
            json.dumps({"fixtures_dir": str(DATA)}),
            str(DATA / "plan.yml"),
        ],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.stdout.strip(), proc.stderr
    output = json.loads(proc.stdout)
    failed = [
        f"{task['task']['name']} [{host}]: {result.get('msg')}"
        for play in output["plays"]
        for task in play["tasks"]
        for host, result in task["hosts"].items()
        if result.get("failed") and not _rescued(output, host)
    ]
    assert proc.returncode == 0, "\n".join(failed) + proc.stderr
    return output


def _rescued(output: dict, host: str) -> bool:
    return output["stats"].get(host, {}).get("rescued", 0) > 0


def _results(run: dict, play: str, task: str) -> dict:
    """{host: result} of the task named `task` in the play named `play`."""
    for p in run["plays"]:
        if p["play"]["name"] == play:
            found = [t["hosts"] for t in p["tasks"] if t["task"]["name"] == task]
            assert found, f"no task {task!r} in play {play!r}"
            merged: dict = {}
            for hosts in found:
                merged.update(hosts)
            return merged
    raise AssertionError(f"no play {play!r}")


@pytest.fixture(scope="module")
def plan(run) -> dict:
    shown = _results(run, "Work out the plan of every cluster node", "Show the plan")
    return {host: result["msg"] for host, result in shown.items()}


@pytest.mark.parametrize(
    ("host", "vars_file", "setup_tasks"),
    [
        ("debian12", "Debian.yml", "setup-Debian.yml"),
        ("ubuntu2204", "Debian.yml", "setup-Debian.yml"),
        ("ubuntu2404", "Debian.yml", "setup-Debian.yml"),
        ("rocky9", "RedHat.yml", "setup-RedHat.yml"),
        ("rhel9", "RedHat.yml", "setup-RedHat.yml"),
        ("alma9", "RedHat.yml", "setup-RedHat.yml"),
        ("clearlinux", "ClearLinux.yml", "setup-ClearLinux.yml"),
    ],
)
def test_each_os_loads_its_family_vars_file_and_setup_tasks(plan, host, vars_file, setup_tasks):
    assert plan[host]["os_vars_file"] == vars_file
    assert plan[host]["setup_tasks"] == setup_tasks
    assert (ROLE / "vars" / vars_file).is_file()
    assert (ROLE / "tasks" / setup_tasks).is_file()


@pytest.mark.parametrize(
    ("host", "name", "package", "service"),
    [
        ("debian12", "timesyncd", "systemd-timesyncd", "systemd-timesyncd"),
        ("ubuntu2204", "timesyncd", "systemd-timesyncd", "systemd-timesyncd"),
        ("ubuntu2404", "timesyncd", "systemd-timesyncd", "systemd-timesyncd"),
        ("rocky9", "chrony", "chrony", "chronyd"),
        ("rhel9", "chrony", "chrony", "chronyd"),
        ("alma9", "chrony", "chrony", "chronyd"),
        # Clear Linux's systemd brings timesyncd: nothing to install, no bundle named.
        ("clearlinux", "timesyncd", "", "systemd-timesyncd"),
    ],
)
def test_auto_time_sync_is_the_os_usual_service(plan, host, name, package, service):
    assert plan[host]["time_sync_name"] == name
    assert plan[host]["time_sync"] == {"package": package, "service": service}


@pytest.mark.parametrize(
    ("host", "packages"),
    [
        ("debian12", ["systemd-timesyncd"]),
        ("ubuntu2404", ["systemd-timesyncd"]),
        ("rocky9", ["chrony", "python3-libselinux"]),
        ("rhel9", ["chrony", "python3-libselinux"]),
        ("clearlinux", []),
    ],
)
def test_packages_to_install_per_os(plan, host, packages):
    assert plan[host]["packages"] == packages


def test_modules_are_looked_for_where_the_kernel_shows_them(plan):
    # br_netfilter has no parameters, so no /sys/module entry when built in: its sysctls show it.
    for host in NODES:
        assert plan[host]["module_paths"] == {
            "overlay": "/sys/module/overlay",
            "br_netfilter": "/proc/sys/net/bridge/bridge-nf-call-iptables",
        }


def _modules(task_file: str) -> set[str]:
    """FQCNs of the modules a task file uses, following include_tasks one level down."""
    return _task_modules(yaml.safe_load((ROLE / "tasks" / task_file).read_text()))


def _task_modules(tasks: list) -> set[str]:
    """... of a task list, blocks (block, rescue, always) included."""
    found: set[str] = set()
    for task in tasks:
        for key, value in task.items():
            if key in ("block", "rescue", "always"):
                found |= _task_modules(value)
            elif key.startswith("ansible.") or key.startswith("community."):
                found.add(key)
            if key == "ansible.builtin.include_tasks":
                found |= _modules(value["file"])
    return found


def test_only_the_rhel_setup_manages_selinux_and_firewalld_and_uses_dnf():
    rhel = _modules("setup-RedHat.yml")
    assert {"ansible.posix.selinux", "ansible.posix.firewalld", "ansible.builtin.dnf"} <= rhel
    for other in ("setup-Debian.yml", "setup-ClearLinux.yml"):
        used = _modules(other)
        assert not used & {"ansible.posix.selinux", "ansible.posix.firewalld"}, other
        assert "ansible.builtin.dnf" not in used, other


def test_clear_linux_setup_uses_swupd_never_apt():
    assert "ansible.builtin.apt" not in _modules("setup-ClearLinux.yml")
    text = (ROLE / "tasks" / "setup-ClearLinux.yml").read_text()
    assert "'swupd', 'bundle-add'" in text
    assert "ansible.builtin.apt" in _modules("setup-Debian.yml")


def test_firewalld_ports_follow_the_node_role(plan):
    assert plan["rhel9"]["firewalld_ports"] == [
        "8472/udp",
        "6443/tcp",
        "2379-2380/tcp",
        "10250/tcp",
        "10257/tcp",
        "10259/tcp",
    ]
    assert plan["rocky9"]["firewalld_ports"] == ["8472/udp", "10250/tcp", "30000-32767/tcp"]


def test_hosts_block_lists_every_node_with_its_address_or_override(plan):
    expected = [f"{ADDRESS[name]} {name}" for name in NODES]
    for host in NODES:
        assert plan[host]["hosts_block"].splitlines() == expected, host


def test_no_proxy_covers_localhost_nodes_cluster_networks_and_extras(plan):
    expected = (
        ["localhost", "127.0.0.1"]
        + [ADDRESS[name] for name in NODES]
        + NODES
        + ["10.244.0.0/16", "10.96.0.0/12", ".corp.example"]
    )
    for host in NODES:
        assert plan[host]["no_proxy"].split(",") == expected, host
        assert plan[host]["proxy_configured"] is True
        assert plan[host]["proxy_is_secret"] is False


def test_containers_are_told_apart_by_their_facts(plan):
    containers = {host for host in NODES if plan[host]["in_container"]}
    # The Debian and Clear Linux facts are those of the sandbox's containers (docker, guest);
    # the others are bare metal (kvm host) or VMs (kvm guest).
    assert containers == {"debian12", "clearlinux"}


def test_time_service_the_os_lacks_is_refused_with_the_choices(run):
    refused = _results(run, "Refuse what an OS cannot do", "Show why the plan was refused")
    assert "dlrs_time_sync=timesyncd: RedHat offers chrony here" in refused["rhel9"]["msg"]
    assert (
        "dlrs_time_sync=chrony: Clear Linux OS offers timesyncd here"
        in refused["clearlinux"]["msg"]
    )


def test_unknown_os_is_refused_naming_it(run):
    refused = _results(run, "Refuse what an OS cannot do", "Show why the plan was refused")
    assert "node_prep has no variables for Gentoo 2.15" in refused["gentoo"]["msg"]


def test_without_a_proxy_nothing_is_configured(run):
    shown = _results(run, "Work out the plan without a proxy", "Show whether a proxy is configured")
    assert shown["debian12"]["msg"] is False


def test_the_plan_changes_nothing_and_contacts_no_host(run):
    for host, stats in run["stats"].items():
        assert stats["changed"] == 0, host
        assert stats["unreachable"] == 0, host
    gather = _results(
        run,
        "Work out the plan of every cluster node",
        "node_prep : Gather the network facts of cluster nodes whose address is not known yet",
    )
    assert gather, "the task that gathers missing facts is gone from tasks/vars.yml"
    for host, result in gather.items():
        assert result.get("skipped") is True, (host, result)
