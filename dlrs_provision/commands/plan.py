"""`dlrs-provision plan INVENTORY`: what `cluster` would do to each host, from cached facts."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from dlrs_provision import plan, report
from dlrs_provision.commands import hosts, options
from dlrs_provision.commands.console import load_inventory, out
from dlrs_provision.errors import EXIT_OK


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("plan", help="show what `cluster` would do to each host")
    p.add_argument("inventory")
    p.add_argument(
        "--facts-dir",
        type=options.input_folder("facts folder"),
        help="fact cache folder (default: the inventory's own)",
    )
    p.add_argument("--json", action="store_true")
    p.add_argument(
        "--limit",
        type=options.limit_pattern,
        help="only these hosts or groups (comma-separated pattern)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    inv = load_inventory(args.inventory)
    chosen = hosts.cluster_hosts(inv, args.limit)
    result = plan.build(inv, Path(args.facts_dir) if args.facts_dir else None)
    result.hosts = [h for h in result.hosts if h.host in chosen]
    out(json.dumps(result.to_dict(), indent=2) if args.json else report.plan_text(result))
    return EXIT_OK
