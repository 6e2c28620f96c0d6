"""`dlrs-provision scale INVENTORY`: join the workers of the inventory that are not yet nodes of
the cluster (playbooks/scale.yml); existing nodes are only read, and one that cannot be reached
is named and left out."""

from __future__ import annotations

import argparse
import json

from dlrs_provision import inventory, runner
from dlrs_provision.commands import hosts
from dlrs_provision.commands.console import err, load_inventory, out
from dlrs_provision.errors import EXIT_FAILED, EXIT_OK

# the plays of scale.yml that run on the new workers alone begin with this name
NEW_WORKER_PHASE = "Scale - preflight"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "scale", help="prepare and join the workers that are not yet nodes of the cluster"
    )
    p.add_argument("inventory")
    hosts.add_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    inv = load_inventory(args.inventory)
    workers = run_workers(inv, args.limit)
    if not args.json:
        err(f"inventory OK: 1 master, {len(inv.workers)} worker(s), {len(workers)} in this run")
    hosts.check_limit_names([*inv.masters, *workers])
    with hosts.one_run_at_a_time(args.inventory):
        return _run(args, inv, workers)


def run_workers(inv: inventory.Inventory, limit: str | None) -> list[str]:
    """The workers this run may add: all of them, or those --limit selects (the master is in
    every run: it is asked for the Nodes and makes the join tokens)."""
    chosen = hosts.cluster_hosts(inv, limit)
    return [w for w in inv.workers if w in chosen and w not in inv.masters]


def _run(args: argparse.Namespace, inv: inventory.Inventory, workers: list[str]) -> int:
    master = inv.masters[0]
    if not workers:
        # no host is reached: there is nothing a run could add
        err("nothing to add: no worker of the inventory is in this run; no host was reached")
        return EXIT_OK
    reached = hosts.reach_some(
        args,
        inv,
        [master, *workers],
        required=[master],
        left_out_because="an existing node is only read, and a new one joins at the next "
        "`dlrs-provision scale`",
    )
    if reached is None:
        return EXIT_FAILED
    new: list[str] = []

    def watch(item: runner.Progress) -> None:
        new_host = item.kind == "result" and item.phase.startswith(NEW_WORKER_PHASE)
        if new_host and item.host not in new:
            new.append(item.host)

    result = hosts.run_playbook(
        args, "scale.yml", check=args.check, limit=reached.limit, watch=watch
    )
    resume = hosts.resume_command(args)
    added = [w for w in workers if w in new]
    if args.json:
        line = json.loads(hosts.summary_json(result, resume, reached.left_out))
        line["added"] = added
        out(json.dumps(line, sort_keys=True))
    else:
        out(runner.render_summary(result, resume))
        if reached.left_out:
            out(hosts.render_left_out(reached.left_out))
    if not result.ok:
        return EXIT_FAILED
    if not args.json:
        out(outcome(added, args.check))
    return EXIT_OK


def outcome(added: list[str], check: bool = False) -> str:
    """The last line of a successful run: what joined, or that there was nothing to add."""
    if not added:
        return "nothing to add: every worker of this run is a node of the cluster already"
    verb = "would join" if check else "joined and labelled"
    return f"{verb}: {', '.join(added)}"
