"""The documentation keeps up with the code: every setting is documented where users look."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dlrs_provision.settings import SETTINGS

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", sorted(SETTINGS))
def test_every_setting_is_in_the_readme_and_the_sample(name):
    assert name in (REPO / "README.md").read_text()
    assert (
        name in (REPO / "inventory/sample/group_vars/all.yml").read_text()
        or name in (REPO / "inventory/sample/hosts.yml").read_text()
    )


def test_readme_names_no_setting_that_does_not_exist():
    names = set(re.findall(r"`(dlrs_[a-z_]+)`", (REPO / "README.md").read_text()))
    assert names <= set(SETTINGS), names - set(SETTINGS)


def test_ci_runs_the_readme_test_command():
    readme = (REPO / "README.md").read_text()
    assert "make test " in readme
    assert "make test" in (REPO / ".ci/run").read_text()
