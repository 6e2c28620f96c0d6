"""`dlrs-provision preflight INVENTORY`: reach every host, read its hardware and OS, check them
and compute its tuning; changes nothing."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from dlrs_provision import inventory, paths, preflight, runner
from dlrs_provision.commands import hosts
from dlrs_provision.commands.console import load_inventory, out
from dlrs_provision.errors import EXIT_FAILED, EXIT_OK


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "preflight",
        help="reach every host, read its hardware and OS, check "
        "them and compute its tuning; changes nothing",
    )
    p.add_argument("inventory")
    hosts.add_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    inv = load_inventory(args.inventory)
    # it changes nothing on the hosts, but it writes their facts into the shared cache
    with hosts.one_run_at_a_time(args.inventory):
        return _run(args, inv)


def _run(args: argparse.Namespace, inv: inventory.Inventory) -> int:
    limited = hosts.cluster_hosts(inv, args.limit)
    if not hosts.reach_all(args, inv):
        return EXIT_FAILED
    result = hosts.run_playbook(args, "preflight.yml", check=args.check)
    reports = preflight.host_reports(
        inv, paths.facts_dir(Path(args.inventory)), result, hosts=limited
    )
    if args.json:
        out(json.dumps({"kind": "preflight", "hosts": [r.__dict__ for r in reports]}))
    else:
        out(preflight.render_reports(reports))
        if not result.ok:
            out(runner.render_summary(result, hosts.resume_command(args)))
    return EXIT_OK if result.ok else EXIT_FAILED
