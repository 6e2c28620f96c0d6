"""The wheel-outside-the-checkout test: `pip install` of the wheel gives a `dlrs-provision` that
finds its playbooks, roles and filter plugins inside the installed package and runs validate,
tune, plan and preflight from a folder that is not a checkout (see conftest.py for how it is
installed without a network)."""

from __future__ import annotations

import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from package_install import REPO, Installed

from dlrs_provision.facts import cached_facts_file, load_facts

pytestmark = pytest.mark.package

FACTS = REPO / "tests" / "unit" / "data" / "facts" / "xeon-gold-6140-2s-ht.json"


@pytest.fixture(scope="module")
def work(installed: Installed) -> Path:
    shutil.copy2(REPO / "inventory" / "localhost" / "hosts.yml", installed.work / "hosts.yml")
    shutil.copy2(FACTS, installed.work / "facts.json")
    return installed.work


def test_wheel_carries_the_ansible_content_and_not_the_harness(installed: Installed):
    (wheel,) = Path(installed.venv).parent.glob("build/dist/*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "dlrs_provision/_ansible/playbooks/cluster.yml" in names
    assert "dlrs_provision/_ansible/roles/preflight/tasks/main.yml" in names
    assert "dlrs_provision/_ansible/ansible.cfg" in names
    assert "dlrs_provision/ansible_plugins/filter/dlrs_tuning.py" in names
    assert not [n for n in names if "/molecule/" in n]
    assert not [n for n in names if "sandbox" in n or "docker_engine" in n or "harness" in n]


def test_installed_package_is_the_wheel_not_the_checkout(installed: Installed):
    where = subprocess.check_output(
        [installed.python, "-c", "import dlrs_provision.paths as p; print(p.repo_root())"],
        env=installed.env,
        cwd=installed.work,
        text=True,
    ).strip()
    assert Path(where) == installed.site / "dlrs_provision" / "_ansible"
    for name in ("dlrs_harness", "dlrs_provision.sandbox"):
        proc = subprocess.run(
            [installed.python, "-c", f"import {name}"], env=installed.env, capture_output=True
        )
        assert proc.returncode != 0, f"{name} is importable next to the wheel"


def test_plain_install_has_no_sandbox_command(installed: Installed, work: Path):
    proc = installed.run("--help")
    assert "validate" in proc.stdout and "preflight" in proc.stdout
    assert "sandbox" not in proc.stdout + proc.stderr
    proc = installed.run("sandbox", "up", check=False)
    assert proc.returncode == 2
    assert "invalid choice: 'sandbox'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_validate_from_the_wheel(installed: Installed, work: Path):
    proc = installed.run("validate", "hosts.yml")
    assert proc.stdout.startswith("OK hosts.yml: 1 master, 0 worker(s), 1 host(s)")


def test_tune_from_the_wheel(installed: Installed, work: Path):
    proc = installed.run("tune", "--facts", "facts.json", "--mode", "multi", "--json")
    data = json.loads(proc.stdout)
    # 2 x Xeon Gold 6140 (18 cores each): inter 2, intra 36 - 2 x 2 kept for IO
    assert (data["num_inter_threads"], data["num_intra_threads"]) == (2, 32)


def test_plan_from_the_wheel_reads_the_shipped_cluster_playbook(installed: Installed, work: Path):
    proc = installed.run("plan", "hosts.yml", "--json")
    data = json.loads(proc.stdout)
    (host,) = data["hosts"]
    assert host["host"] == "localhost"
    # the phases are read from the shipped playbooks/cluster.yml
    assert host["phases"][:2] == ["preflight", "os"], host


def test_preflight_from_the_wheel_runs_the_shipped_role_in_check_mode(
    installed: Installed, work: Path
):
    """preflight on this machine (ansible_connection: local), --check: the role reads the
    hardware and OS and caches its findings; nothing is changed. The verdict on this machine
    may be a refusal (exit 1, e.g. too few cores): what counts is that the installed copy of
    the role and its filter plugins ran and wrote this host's tuning to the fact cache."""
    proc = installed.run("preflight", "hosts.yml", "--check", check=False, timeout=900)
    output = proc.stdout + proc.stderr
    assert proc.returncode in (0, 1), output
    assert "Traceback" not in output
    cache = cached_facts_file(work / ".dlrs-provision" / "facts", "localhost")
    assert cache, output
    facts = load_facts(cache)
    tuning = facts.get("preflight_tuning")
    assert tuning, sorted(facts)
    assert tuning["num_inter_threads"] >= 1 and tuning["num_intra_threads"] >= 1
    artifacts = list((work / ".dlrs-provision" / "runs").rglob("command"))
    assert artifacts, "no run artifacts"
    command = json.loads(artifacts[-1].read_text())
    assert str(installed.site / "dlrs_provision" / "_ansible" / "playbooks") in " ".join(
        command["command"]
    )
