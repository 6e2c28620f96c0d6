"""`dlrs-provision validate INVENTORY`: check an inventory; touches no host."""

from __future__ import annotations

import argparse

from dlrs_provision.commands import hosts, options
from dlrs_provision.commands.console import load_inventory, out
from dlrs_provision.errors import EXIT_OK


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("validate", help="check an inventory; touches no host")
    p.add_argument("inventory", help="hosts file (YAML or INI) or inventory folder")
    p.add_argument(
        "--limit",
        type=options.limit_pattern,
        help="also check a --limit pattern as the other commands read it (exit 2 "
        "when it names a host or group the inventory does not have)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    inv = load_inventory(args.inventory)
    if args.limit:
        chosen = hosts.cluster_hosts(inv, args.limit)
        out(f"--limit {args.limit}: {len(chosen)} host(s): {', '.join(chosen)}")
    out(
        f"OK {args.inventory}: 1 master, {len(inv.workers)} worker(s), "
        f"{len(inv.hosts)} host(s), mode {inv.mode()}"
    )
    return EXIT_OK
