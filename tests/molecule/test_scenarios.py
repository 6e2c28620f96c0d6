"""Every role's molecule scenarios, one test each: `molecule test -s NAME` in the role directory.

Scenarios are found on disk (roles/*/molecule/*/molecule.yml), so a new role's scenario is
picked up without touching this file. The test-host images are made sure of once per session
(tests/harness/dlrs_harness/sandbox/images.py builds them when missing) and their tags handed
to molecule in the variables .config/molecule/config.yml reads. `-m "not molecule"` skips
these tests.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.molecule


def _load_harness():
    """tests/molecule/run.py, the entry point `make molecule` uses, loaded by its path."""
    path = Path(__file__).with_name("run.py")
    spec = importlib.util.spec_from_file_location("dlrs_molecule_run", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being created
    spec.loader.exec_module(module)
    return module


harness = _load_harness()
SCENARIOS = harness.find_scenarios(harness.ROOT)


def _progress(message: str) -> None:
    print(f"molecule: {message}", file=sys.stderr, flush=True)


@pytest.fixture(scope="session")
def molecule_env() -> dict[str, str]:
    """The environment of every `molecule test`: image tags exported, the venv's bin/ on PATH."""
    images = harness.ensure_images(echo=_progress)
    return harness.molecule_env(images, os.environ)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=str)
def test_scenario_passes_molecule_test_and_leaves_no_container(molecule_env, scenario):
    result = harness.run_scenario(scenario, molecule_env)
    print(f"{scenario}: {result.seconds:.0f} s", file=sys.stderr)
    how = "ran past its time limit" if result.timed_out else f"exited {result.rc}"
    assert result.ok, (
        f"`molecule test -s {scenario.name}` in {scenario.role_dir} {how}; "
        f"full output: {scenario.log_path}; its end:\n{result.tail()}"
    )
    assert harness.leftover_containers(scenario) == []


def test_every_role_with_scenarios_has_a_default_one():
    """`molecule test` with no -s runs `default`: each role that has scenarios keeps one."""
    roles = {s.role for s in SCENARIOS}
    assert all(any(s.role == r and s.name == "default" for s in SCENARIOS) for r in roles)


def test_base_config_hosts_differ_only_in_name_image_and_group():
    """The two test hosts of .config/molecule/config.yml are run alike (systemd flags)."""
    config = yaml.safe_load((harness.ROOT / ".config/molecule/config.yml").read_text())
    debian, clear = config["platforms"]
    own = {"name", "image", "groups"}
    assert {k: v for k, v in debian.items() if k not in own} == {
        k: v for k, v in clear.items() if k not in own
    }
    assert not debian.get("privileged")
    assert debian["command"] == "/lib/systemd/systemd"
