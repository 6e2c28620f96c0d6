"""What a role reads from preflight is checked by its argument spec against the fact cache.

Two ansible-playbook runs with the toolkit's environment (runner.ansible_env: a jsonfile fact
cache beside the inventory), as two phases are: the first caches a fact with `set_fact:
cacheable: true`, the second starts a role whose meta/argument_specs.yml declares that fact.
A cached value of the wrong type stops the role in its spec validation, before its first task:
the spec sees the cached fact as a host variable.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from dlrs_provision import runner

PLAYBOOK = str(Path(sys.executable).parent / "ansible-playbook")


def _run(tmp_path: Path, play: list[dict]) -> subprocess.CompletedProcess:
    (tmp_path / "play.yml").write_text(yaml.safe_dump(play, sort_keys=False))
    env = os.environ | runner.ansible_env(tmp_path / "hosts.yml")
    return subprocess.run(
        [PLAYBOOK, "-i", str(tmp_path / "hosts.yml"), str(tmp_path / "play.yml")],
        capture_output=True, text=True, env=env, cwd=tmp_path,
    )  # fmt: skip


def _cache_then_run_role(tmp_path: Path, value, role: str) -> subprocess.CompletedProcess:
    local = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    inv = {"all": {"children": {"workers": {"hosts": {"node1": local}}}}}
    (tmp_path / "hosts.yml").write_text(yaml.safe_dump(inv))
    cache = [
        {
            "name": "Cache as preflight does",
            "hosts": "all",
            "gather_facts": False,
            "tasks": [
                {
                    "name": "Cache the fact",
                    "ansible.builtin.set_fact": {"preflight_tuning": value, "cacheable": True},
                }
            ],
        }
    ]
    first = _run(tmp_path, cache)
    assert first.returncode == 0, first.stdout + first.stderr
    use = [
        {
            "name": "A later phase",
            "hosts": "all",
            "gather_facts": False,
            "tasks": [{"name": "Run the role", "ansible.builtin.include_role": {"name": role}}],
        }
    ]
    return _run(tmp_path, use)


def test_a_cached_fact_of_the_wrong_type_stops_kubelet_config_in_its_spec(tmp_path):
    result = _cache_then_run_role(tmp_path, "not-a-dict", "kubelet_config")
    out = result.stdout + result.stderr
    assert result.returncode != 0, out
    assert "Validating arguments against arg spec" in out
    assert "preflight_tuning" in out and "dict" in out, out
    # stopped by the spec: the role's first task never ran
    assert "Check that the static CPU manager policy has CPUs to reserve" not in out


def test_a_worker_without_a_cached_cpuset_is_stopped_first_with_the_fix(tmp_path):
    result = _cache_then_run_role(tmp_path, {"mode": "multi"}, "kubelet_config")
    out = result.stdout + result.stderr
    assert result.returncode != 0, out
    assert "preflight cached no reserved cpuset for this host" in out, out
    assert "Run the preflight phase first, or set kubelet_config_reserved_cpus" in out
