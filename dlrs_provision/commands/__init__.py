"""The sub-commands of `dlrs-provision`, one module each: `register(subparsers)` declares the
command's arguments and sets `func` to the function that runs it.

Other installed packages add commands through the `dlrs_provision.commands` entry-point group:
each entry point names a callable taking the sub-parsers object (the test harness,
tests/harness, adds `sandbox` this way, so the product imports nothing from the test side).
"""

from __future__ import annotations

import argparse
from importlib.metadata import entry_points

from dlrs_provision.commands import (
    benchmark,
    cluster,
    images,
    plan,
    preflight,
    remove_node,
    render,
    reset,
    scale,
    tune,
    upgrade,
    validate,
)
from dlrs_provision.commands.console import err

ENTRY_POINT_GROUP = "dlrs_provision.commands"
BUILTIN = (
    validate,
    tune,
    plan,
    preflight,
    cluster,
    scale,
    remove_node,
    upgrade,
    benchmark,
    render,
    images,
    reset,
)


def register_all(subparsers: argparse._SubParsersAction) -> list[str]:
    """Add the built-in commands, then those of installed plugins; returns the plugins' names.

    A plugin that cannot be loaded (its package half removed, a missing dependency) costs its
    own command only: a warning names it, and every other command still works.
    """
    for module in BUILTIN:
        module.register(subparsers)
    added = []
    for entry in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        try:
            entry.load()(subparsers)
        except Exception as exc:
            dist = entry.dist.name if entry.dist else "an installed package"
            err(
                f"warning: the command `{entry.name}` of {dist} is left out: it does not load "
                f"({type(exc).__name__}: {exc}); reinstall that package or remove it"
            )
            continue
        added.append(entry.name)
    return added
