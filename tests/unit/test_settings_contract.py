"""One settings contract: the declaration (settings.py), dlrs_defaults, the roles, the docs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from dlrs_provision import settings_gen
from dlrs_provision.settings import SETTINGS

REPO = Path(__file__).resolve().parents[2]
ROLES = REPO / "roles"
DEFAULTS_ROLE = ROLES / "dlrs_defaults"


def _role_text(role: Path) -> str:
    files = [
        f
        for f in role.rglob("*")
        if f.is_file() and "molecule" not in f.parts and f.suffix in (".yml", ".j2", ".py")
    ]
    return "\n".join(f.read_text() for f in files)


@pytest.mark.parametrize("name", sorted(SETTINGS))
def test_null_is_refused_with_a_default_and_not_set_without(name):
    s = SETTINGS[name]
    problem = s.check(None)
    if s.default is None:
        assert problem is None
    else:
        assert problem == f"is null: remove the line to take the default ({s.default_yaml()})"


@pytest.mark.parametrize("name", sorted(n for n, s in SETTINGS.items() if s.default is not None))
def test_every_default_passes_its_own_check(name):
    assert SETTINGS[name].check(SETTINGS[name].default) is None


@pytest.mark.parametrize("name", sorted(SETTINGS))
def test_declared_roles_are_the_roles_that_read_the_setting(name):
    readers = sorted(
        r.name
        for r in ROLES.iterdir()
        if r.is_dir() and r != DEFAULTS_ROLE and re.search(rf"\b{name}\b", _role_text(r))
    )
    assert sorted(SETTINGS[name].roles) == readers


def test_dlrs_defaults_carries_every_setting_with_its_declared_default():
    defaults = yaml.safe_load((DEFAULTS_ROLE / "defaults/main.yml").read_text())
    assert defaults == {n: s.default for n, s in SETTINGS.items()}
    specs = yaml.safe_load((DEFAULTS_ROLE / "meta/argument_specs.yml").read_text())
    options = specs["argument_specs"]["main"]["options"]
    assert set(options) == set(defaults)
    for name, option in options.items():
        assert option.get("default") == SETTINGS[name].default, name
        # choices only with a default: null ("not set") is no choice
        has_default = SETTINGS[name].default is not None
        choices = list(SETTINGS[name].choices or []) if has_default else []
        assert option.get("choices") == (choices or None), name


def test_no_role_falls_back_to_a_literal_for_a_dlrs_setting():
    """The defaults live in the declaration alone: roles read dlrs_x, or `dlrs_x or ''`."""
    found = []
    for f in sorted(ROLES.rglob("*")):
        if f.is_file() and f.suffix in (".yml", ".j2") and "molecule" not in f.parts:
            for n, line in enumerate(f.read_text().splitlines(), 1):
                if re.search(r"\bdlrs_[a-z_]+\s*\|\s*default\(", line):
                    found.append(f"{f.relative_to(REPO)}:{n}: {line.strip()}")
    assert not found, "\n".join(found)


def test_every_role_that_reads_dlrs_names_depends_on_dlrs_defaults():
    for role in sorted(p for p in ROLES.iterdir() if p.is_dir() and p != DEFAULTS_ROLE):
        meta = yaml.safe_load((role / "meta/main.yml").read_text())
        deps = [d["role"] if isinstance(d, dict) else d for d in meta.get("dependencies") or []]
        reads = any(role.name in s.roles for s in SETTINGS.values())
        assert ("dlrs_defaults" in deps) == reads, role.name


@pytest.mark.parametrize("book", sorted((REPO / "playbooks").glob("*.yml")), ids=lambda p: p.name)
def test_every_play_lists_dlrs_defaults_first(book):
    for play in yaml.safe_load(book.read_text()):
        if "ansible.builtin.import_playbook" in play:
            continue
        roles = [r["role"] if isinstance(r, dict) else r for r in play.get("roles") or []]
        assert roles[:1] == ["dlrs_defaults"], (book.name, play.get("name"))


def test_generated_files_equal_the_declaration():
    """The generator's test: README tables, dlrs_defaults and the sample come from settings.py."""
    differ = settings_gen.run(REPO, check=True)
    assert not differ, f"run `make settings`: {[str(p.relative_to(REPO)) for p in differ]}"


def test_generator_check_names_a_file_that_drifted(tmp_path):
    root = tmp_path / "repo"
    for rel in ("README.md", "inventory/sample/group_vars/all.yml"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text((REPO / rel).read_text())
    (root / "roles/docker").mkdir(parents=True)
    (root / "roles/docker/README.md").write_text("# docker\n")
    assert settings_gen.run(root, check=False)  # writes dlrs_defaults, the docker block
    assert settings_gen.run(root, check=True) == []
    readme = root / "README.md"
    readme.write_text(readme.read_text().replace("`dlrs_docker_source` |", "`dlrs_docker_src` |"))
    assert settings_gen.run(root, check=True) == [readme]
    assert "dlrs_docker_source" in (root / "roles/docker/README.md").read_text()
