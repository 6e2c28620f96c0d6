"""Conventions every role keeps (STYLE.md): argument specs equal defaults, names prefixed, and
what a role reads from another role declared in its specs as that role's output."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

ROLES_DIR = Path(__file__).resolve().parents[2] / "roles"
ROLES = sorted(p for p in ROLES_DIR.iterdir() if p.is_dir())


def _entry_points(role: Path) -> dict:
    return yaml.safe_load((role / "meta/argument_specs.yml").read_text())["argument_specs"]


def _prefix(role: Path) -> str:
    # dlrs_defaults holds the inventory settings themselves, named dlrs_ (settings.py)
    return "dlrs_" if role.name == "dlrs_defaults" else f"{role.name}_"


def _inputs(role: Path, options) -> set[str]:
    """Options named after another role: inputs that role sets, not defaults of this one."""
    return {name for name in options if not name.startswith(_prefix(role))}


def _cached_facts(role: Path) -> set[str]:
    """Names a role sets with `set_fact: cacheable: true` in its tasks."""
    names: set[str] = set()
    for path in sorted((role / "tasks").glob("*.yml")):
        for task in yaml.safe_load(path.read_text()) or []:
            fact = task.get("ansible.builtin.set_fact") or {}
            if isinstance(fact, dict) and fact.get("cacheable") is True:
                names |= set(fact) - {"cacheable"}
    return names


@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.name)
def test_argument_specs_list_exactly_the_defaults(role):
    defaults = yaml.safe_load((role / "defaults/main.yml").read_text()) or {}
    options = _entry_points(role)["main"]["options"]
    assert set(options) - _inputs(role, options) == set(defaults)


@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.name)
def test_every_default_carries_the_role_prefix(role):
    defaults = yaml.safe_load((role / "defaults/main.yml").read_text()) or {}
    assert all(name.startswith(_prefix(role)) for name in defaults), sorted(defaults)


@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.name)
def test_every_spec_option_is_described(role):
    for entry, spec in _entry_points(role).items():
        for name, option in spec["options"].items():
            assert option.get("description"), f"{entry}: {name}"
            assert option.get("type"), f"{entry}: {name}"


@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.name)
def test_declared_inputs_are_cached_facts_of_the_role_they_name(role):
    for entry, spec in _entry_points(role).items():
        for name in _inputs(role, spec["options"]):
            source = next((r for r in ROLES if name.startswith(f"{r.name}_")), None)
            assert source is not None, f"{role.name} {entry}: {name} names no role"
            assert name in _cached_facts(source), (
                f"{role.name} {entry}: {source.name} never caches {name}"
            )
            description = spec["options"][name]["description"]
            assert f"Set by the {source.name} role as a cached fact" in description, name


def test_the_roles_that_read_preflight_facts_declare_them():
    """The contract of issue 13: each reader of preflight's facts lists them in its specs."""
    declared = {
        (role.name, entry): _inputs(role, spec["options"])
        for role in ROLES
        for entry, spec in _entry_points(role).items()
    }
    assert declared[("kubelet_config", "main")] == {"preflight_tuning"}
    assert declared[("kubeadm_master", "labels")] == {"preflight_tuning", "preflight_cpu_features"}
    assert declared[("benchmark", "main")] == {"preflight_cpu_topology", "preflight_cpu_features"}
    for role in ROLES:
        if role.name == "preflight":
            continue
        text = "\n".join(
            p.read_text() for p in sorted(role.glob("**/*.yml")) if "molecule" not in p.parts
        )
        text += "\n".join(p.read_text() for p in sorted(role.glob("templates/*")))
        for fact in _cached_facts(ROLES_DIR / "preflight"):
            if fact in text.replace(f"{fact}:", ""):
                readers = [
                    e for (r, e), names in declared.items() if r == role.name and fact in names
                ]
                assert readers, f"{role.name} reads {fact} without declaring it"
