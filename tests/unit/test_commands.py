"""The command table of `dlrs-provision`: the built-in commands, and those that installed
packages add through the dlrs_provision.commands entry points (the harness adds `sandbox`)."""

from __future__ import annotations

from importlib.metadata import EntryPoint

import pytest

from dlrs_provision import cli, commands


def _entry(name: str, value: str) -> EntryPoint:
    return EntryPoint(name=name, value=value, group=commands.ENTRY_POINT_GROUP)


def _add_hello(subparsers) -> None:
    p = subparsers.add_parser("hello", help="a plugin's command")
    p.set_defaults(func=lambda args: 7)


def test_a_plugin_adds_its_command(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(
        commands, "entry_points", lambda group: [_entry("hello", f"{__name__}:_add_hello")]
    )
    assert cli.main(["hello"]) == 7


def test_a_plugin_that_does_not_load_costs_only_its_command(monkeypatch, capsys):
    monkeypatch.setattr(
        commands, "entry_points", lambda group: [_entry("sandbox", "no_such_module_x:register")]
    )
    parser = cli.build_parser()
    err = capsys.readouterr().err
    assert "warning: the command `sandbox`" in err and "ModuleNotFoundError" in err
    assert "Traceback" not in err
    with pytest.raises(SystemExit) as stop:
        parser.parse_args(["sandbox"])
    assert stop.value.code == 2
    assert parser.parse_args(["validate", "hosts.yml"]).func is commands.validate.run


def test_the_harness_registers_the_sandbox_command_in_the_dev_venv():
    from importlib.metadata import entry_points

    names = {e.name: e.value for e in entry_points(group=commands.ENTRY_POINT_GROUP)}
    assert names.get("sandbox") == "dlrs_harness.sandbox.cli:register_cli"


def test_trust_new_host_keys_has_one_help_for_every_command():
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    helps = {
        name: next(a.help for a in p._actions if a.dest == "trust_new_host_keys")
        for name, p in sub.choices.items()
        if any(a.dest == "trust_new_host_keys" for a in p._actions)
    }
    assert set(helps) == {
        "preflight", "cluster", "scale", "remove-node", "upgrade", "benchmark", "reset"
    }  # fmt: skip
    assert len(set(helps.values())) == 1
