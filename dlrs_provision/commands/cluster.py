"""`dlrs-provision cluster INVENTORY`: validate, reach every host, then run every phase."""

from __future__ import annotations

import argparse

from dlrs_provision import inventory, plan, report, runner
from dlrs_provision.commands import hosts
from dlrs_provision.commands.console import err, load_inventory, out
from dlrs_provision.errors import EXIT_FAILED, EXIT_OK


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("cluster", help="validate, then run every phase on the inventory")
    p.add_argument("inventory")
    hosts.add_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    inv = load_inventory(args.inventory)
    if not args.json:
        err(f"inventory OK: 1 master, {len(inv.workers)} worker(s), mode {inv.mode()}")
    with hosts.one_run_at_a_time(args.inventory):
        return _run(args, inv)


def _run(args: argparse.Namespace, inv: inventory.Inventory) -> int:
    if not hosts.reach_all(args, inv):
        return EXIT_FAILED
    result = hosts.run_playbook(args, "cluster.yml", check=args.check)
    resume = hosts.resume_command(args)
    if args.json:
        out(hosts.summary_json(result, resume))
    else:
        out(runner.render_summary(result, resume))
    if not result.ok:
        return EXIT_FAILED
    if not args.json:
        out("")
        out(report.plan_text(plan.build(inv)))
    return EXIT_OK
