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
    p.add_argument(
        "--skip-unreachable-workers",
        action="store_true",
        help="go on without the workers that cannot be reached (named in the output); "
        "the master must be reachable",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    inv = load_inventory(args.inventory)
    if not args.json:
        err(f"inventory OK: 1 master, {len(inv.workers)} worker(s), mode {inv.mode()}")
    with hosts.one_run_at_a_time(args.inventory):
        return _run(args, inv)


def _run(args: argparse.Namespace, inv: inventory.Inventory) -> int:
    left_out: dict[str, str] | None = None
    if args.skip_unreachable_workers:
        reached = _reach_past_workers(args, inv)
        if reached is None:
            return EXIT_FAILED
        left_out = reached.left_out
        result = hosts.run_playbook(args, "cluster.yml", check=args.check, limit=reached.limit)
    else:
        if not hosts.reach_all(args, inv):
            return EXIT_FAILED
        result = hosts.run_playbook(args, "cluster.yml", check=args.check)
    resume = hosts.resume_command(args)
    if args.json:
        out(hosts.summary_json(result, resume, left_out))
    else:
        out(runner.render_summary(result, resume))
        if left_out:
            out(hosts.render_left_out(left_out))
            out(f"when they are back, run: {resume}")
    if not result.ok:
        return EXIT_FAILED
    if not args.json:
        out("")
        out(report.plan_text(plan.build(inv)))
    return EXIT_OK


def _reach_past_workers(args: argparse.Namespace, inv: inventory.Inventory) -> hosts.Reached | None:
    """--skip-unreachable-workers: the run's hosts less the workers that cannot be reached. The
    master must answer (it is reached also when --limit leaves it out: the workers' joins ask
    it for a token)."""
    wanted = hosts.cluster_hosts(inv, args.limit)
    extra = [m for m in inv.masters if m not in wanted]
    reached = hosts.reach_some(
        args,
        inv,
        [*extra, *wanted],
        required=list(inv.masters),
        left_out_because="run the same command again when it is back, to build it",
    )
    if reached is None:
        return None
    usable = [h for h in reached.usable if h in wanted]
    if not usable:
        err(
            "no host of this run can be reached; nothing was changed on any host.\n"
            f"fix the cause above, then run: {hosts.resume_command(args)}"
        )
        return None
    return hosts.Reached(usable, reached.left_out)
