"""`dlrs-provision validate INVENTORY`: check an inventory; touches no host."""

from __future__ import annotations

import argparse

from dlrs_provision.commands.console import load_inventory, out
from dlrs_provision.errors import EXIT_OK


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("validate", help="check an inventory; touches no host")
    p.add_argument("inventory", help="hosts file (YAML or INI) or inventory folder")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    inv = load_inventory(args.inventory)
    out(
        f"OK {args.inventory}: 1 master, {len(inv.workers)} worker(s), "
        f"{len(inv.hosts)} host(s), mode {inv.mode()}"
    )
    return EXIT_OK
