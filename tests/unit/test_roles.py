"""Conventions every role keeps (STYLE.md): argument specs equal defaults, names prefixed."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

ROLES = sorted(p for p in (Path(__file__).resolve().parents[2] / "roles").iterdir() if p.is_dir())


@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.name)
def test_argument_specs_list_exactly_the_defaults(role):
    defaults = yaml.safe_load((role / "defaults/main.yml").read_text()) or {}
    specs = yaml.safe_load((role / "meta/argument_specs.yml").read_text())
    options = specs["argument_specs"]["main"]["options"]
    assert set(options) == set(defaults)


@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.name)
def test_every_default_carries_the_role_prefix(role):
    defaults = yaml.safe_load((role / "defaults/main.yml").read_text()) or {}
    # dlrs_defaults holds the inventory settings themselves, named dlrs_ (settings.py)
    prefix = "dlrs_" if role.name == "dlrs_defaults" else f"{role.name}_"
    assert all(name.startswith(prefix) for name in defaults), sorted(defaults)


@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.name)
def test_every_spec_option_is_described(role):
    specs = yaml.safe_load((role / "meta/argument_specs.yml").read_text())
    for name, option in specs["argument_specs"]["main"]["options"].items():
        assert option.get("description"), name
        assert option.get("type"), name
