"""--limit selects the same hosts in every command (dlrs_provision/limits.py), and an unknown
name is exit 2 before any host is reached; a state folder that cannot be made is exit 3, also
before any host is reached."""

from __future__ import annotations

import pytest

from dlrs_provision import cli, limits
from dlrs_provision.errors import UsageError
from dlrs_provision.inventory import load

INVENTORY = """\
all:
  children:
    masters:
      hosts:
        m1: {ansible_host: 192.0.2.10}
    workers:
      hosts:
        w1: {ansible_host: 192.0.2.11}
        w2: {ansible_host: 192.0.2.12}
        w3: {ansible_host: 192.0.2.13}
"""
EVERYONE = ["m1", "w1", "w2", "w3"]


@pytest.fixture
def inv(tmp_path):
    path = tmp_path / "hosts.yml"
    path.write_text(INVENTORY)
    return load(path)


@pytest.mark.parametrize(
    "limit, expected",
    [
        (None, EVERYONE),
        ("workers", ["w1", "w2", "w3"]),
        ("masters,w2", ["m1", "w2"]),
        ("workers:!w2", ["w1", "w3"]),
        ("all:&workers", ["w1", "w2", "w3"]),
        ("!m1", ["w1", "w2", "w3"]),
        ("w*", ["w1", "w2", "w3"]),
        ("w3,m1", ["m1", "w3"]),  # the inventory's order, not the pattern's
    ],
)
def test_limit_selects_hosts_groups_exclusions_and_wildcards(inv, limit, expected):
    assert limits.select(inv, limit, EVERYONE) == expected


@pytest.mark.parametrize("limit", ["node9", "workers,node9", "!ghost"])
def test_an_unknown_name_is_a_usage_error_naming_it(inv, limit):
    with pytest.raises(UsageError) as caught:
        limits.select(inv, limit, EVERYONE)
    assert "neither a host nor a group" in caught.value.message
    assert caught.value.exit_code == 2


def test_a_limit_that_leaves_nothing_is_refused(inv):
    with pytest.raises(UsageError, match="leaves no host"):
        limits.select(inv, "workers:!workers", EVERYONE)


@pytest.mark.parametrize("command", ["preflight", "cluster", "benchmark"])
def test_every_command_refuses_an_unknown_limit_before_reaching_hosts(tmp_path, capsys, command):
    """The hosts are TEST-NET addresses: reaching them would take the SSH timeout; exit 2 with
    the name comes at once."""
    path = tmp_path / "hosts.yml"
    path.write_text(INVENTORY)
    rc = cli.main([command, str(path), "--limit", "node9"])
    text = capsys.readouterr().err
    assert rc == 2
    assert "node9 is neither a host nor a group" in text
    assert "reachable" not in text


def test_a_state_folder_that_is_a_file_is_exit_3_before_reaching_hosts(
    tmp_path, capsys, monkeypatch
):
    path = tmp_path / "hosts.yml"
    path.write_text(INVENTORY)
    blocker = tmp_path / "state-file"
    blocker.write_text("")
    monkeypatch.setenv("DLRS_PROVISION_STATE", str(blocker))
    rc = cli.main(["preflight", str(path)])
    text = capsys.readouterr().err
    assert rc == 3
    assert f"{blocker} is a file, not a folder" in text
    assert "Traceback" not in text and "reachable" not in text
