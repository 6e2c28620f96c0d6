"""`dlrs-provision remove-node INVENTORY NODE`: take one worker out of the cluster
(playbooks/remove-node.yml): cordon and drain it, reset it when it answers, delete its Node.

Refused before any host is touched (exit 2): the master, a NODE that is not a host of the
inventory (inventory.select's message), a group or pattern, a host that is not a worker. Only
the master and the node are reached; a node that is down is removed all the same (its drain
cannot wait for pods that will never report stopping: see remove-node.yml). The inventory file
is never edited: the command says to take the node out of it.
"""

from __future__ import annotations

import argparse
import shlex

from dlrs_provision import inventory, runner
from dlrs_provision.commands import hosts, options
from dlrs_provision.commands.console import err, load_inventory, out
from dlrs_provision.errors import EXIT_FAILED, EXIT_OK, UsageError

DEFAULT_TIMEOUT = "5m"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "remove-node", help="drain a worker, reset it if it answers, delete its Node"
    )
    p.add_argument("inventory")
    p.add_argument("node", help="the inventory name of the worker to remove")
    p.add_argument(
        "--timeout",
        type=options.duration(1, 86400),
        default=DEFAULT_TIMEOUT,
        help="how long kubectl drain waits for the pods to go, e.g. 5m, 90s "
        f"(default {DEFAULT_TIMEOUT}); a node that answers and is not drained by then is "
        "left cordoned, not removed",
    )
    hosts.add_options(p, limit=False)
    p.set_defaults(func=run)


def check_node(inv: inventory.Inventory, node: str) -> str:
    """The worker NODE names, or a UsageError (exit 2) that says why it cannot be removed."""
    chosen = inventory.select(inv, node, what="NODE")
    if chosen != [node]:
        raise UsageError(
            f"NODE {node} is a group or pattern of {len(chosen)} host(s) "
            f"({', '.join(chosen[:5])}): remove-node takes one host",
            "name one worker of the inventory",
        )
    if node in inv.masters:
        raise UsageError(
            f"{node} is the master: remove-node does not remove the control plane "
            "(the cluster would have none)",
            "name a worker; to take the whole cluster down, reset it",
        )
    if node not in inv.workers:
        raise UsageError(
            f"{node} is not in group workers of {inv.path}: only a worker can be removed",
            f"name one of the workers: {', '.join(inv.workers) or 'none in this inventory'}",
        )
    return node


def run(args: argparse.Namespace) -> int:
    inv = load_inventory(args.inventory)
    node = check_node(inv, args.node)
    hosts.check_limit_names([*inv.masters, node])
    with hosts.one_run_at_a_time(args.inventory):
        return _run(args, inv, node)


def resume_command(args: argparse.Namespace) -> str:
    cmd = f"{hosts.resume_command(args)} {shlex.quote(args.node)}"
    if args.timeout != DEFAULT_TIMEOUT:
        cmd += f" --timeout {args.timeout}"
    return cmd


def _run(args: argparse.Namespace, inv: inventory.Inventory, node: str) -> int:
    master = inv.masters[0]
    others = len(inv.hosts) - 2
    if others > 0 and not args.json:
        err(f"note: the other {others} host(s) of the inventory are not needed: not reached")
    reached = hosts.reach_some(
        args,
        inv,
        [master, node],
        required=[master],
        left_out_because="a node that is down is drained and deleted from the cluster "
        "without its reset",
        resume=resume_command(args),
    )
    if reached is None:
        return EXIT_FAILED
    up = node in reached.usable
    result = hosts.run_playbook(
        args,
        "remove-node.yml",
        check=args.check,
        limit=reached.limit,
        extravars={
            "remove_node_host": node,
            "remove_node_timeout": args.timeout,
            "remove_node_reachable": up,
        },
    )
    resume = resume_command(args)
    if args.json:
        out(hosts.summary_json(result, resume, reached.left_out))
    else:
        out(runner.render_summary(result, resume))
        if reached.left_out:
            out(hosts.render_left_out(reached.left_out))
    if not result.ok:
        return EXIT_FAILED
    if args.json:
        return EXIT_OK
    if args.check:
        out(
            f"check mode: {node} is not removed (the commands that would change it do not "
            "run in check mode)"
        )
        return EXIT_OK
    for line in after_removal(node, str(args.inventory), up):
        out(line)
    return EXIT_OK


def after_removal(node: str, inventory_path: str, reset: bool) -> list[str]:
    """What the operator is told after a removal: the inventory is theirs to edit."""
    lines = [
        f"{node} is out of the cluster. It is still in {inventory_path}: remove it from group "
        "workers there, or the next `dlrs-provision scale` joins it again."
    ]
    if not reset:
        lines.append(
            f"{node} was down and is not reset: if it comes back, run `kubeadm reset -f` and "
            "`systemctl disable --now kubelet` on it before it is used again."
        )
    return lines
