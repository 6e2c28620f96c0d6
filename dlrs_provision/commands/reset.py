"""`dlrs-provision reset INVENTORY`: take nodes out of the cluster and remove its state from them
(playbooks/reset.yml), so that `cluster` builds again from scratch. It asks first."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from dlrs_provision import inventory, paths, preflight, reach, runner
from dlrs_provision.commands import hosts
from dlrs_provision.commands.console import err, load_inventory, out
from dlrs_provision.errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE, UsageError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "reset",
        help="take nodes out of the cluster and remove its state from them (asks first)",
    )
    p.add_argument("inventory")
    p.add_argument(
        "--yes",
        action="store_true",
        help="reset without asking (needed where no terminal can answer)",
    )
    hosts.add_options(p, check=False)
    p.set_defaults(func=run)


@dataclass(frozen=True)
class ResetPlan:
    """Which hosts a reset touches, and what that means for the rest of the cluster."""

    hosts: list[str]
    master: str | None  # the cluster's master
    master_reset: bool  # the master is among the hosts: the cluster ends
    left_behind: list[str]  # workers not reset although their cluster ends

    def lines(self) -> list[str]:
        lines = [f"reset will remove the Kubernetes state from {len(self.hosts)} host(s):"]
        for host in self.hosts:
            if host == self.master:
                lines.append(f"  {host}  master: the control plane and etcd, the whole cluster")
            elif self.master_reset or not self.master:
                lines.append(f"  {host}  worker")
            else:
                lines.append(f"  {host}  worker: its Node is deleted on {self.master} too")
        lines += [
            "  (kubeadm reset, CNI configuration, the KUBE-/FLANNEL-/CNI- iptables chains,",
            "   /var/lib/kubelet, /etc/kubernetes; packages, Docker, the cluster's registry and",
            "   its images stay)",
        ]
        if self.master_reset:
            lines.append("  and on this machine the state folder's admin.conf of that cluster")
        if self.left_behind:
            lines.append(
                f"warning: {', '.join(self.left_behind)} keep(s) the state of the cluster that "
                "ends; `cluster` leaves a joined node alone, so reset them too before building "
                "again (run without --limit)"
            )
        return lines


def plan(inv: inventory.Inventory, limit: str | None) -> ResetPlan:
    selected = hosts.cluster_hosts(inv, limit)
    master = inv.masters[0] if inv.masters else None
    master_reset = master is not None and master in selected
    left = [w for w in inv.workers if w not in selected] if master_reset else []
    return ResetPlan(selected, master, master_reset, left)


def confirm(args: argparse.Namespace, what: ResetPlan) -> bool:
    """--yes, or a person at a terminal who types yes. No terminal and no --yes: UsageError."""
    if args.yes:
        return True
    if not sys.stdin.isatty():
        raise UsageError(
            "reset asks for confirmation and there is no terminal to answer it; nothing was "
            "changed",
            f"after checking the hosts above, run: {resume_command(args)}",
        )
    sys.stderr.write("type yes to reset these hosts: ")
    sys.stderr.flush()
    answer = sys.stdin.readline()
    return answer.strip().lower() == "yes"


def resume_command(args: argparse.Namespace) -> str:
    return hosts.resume_command(args) + " --yes"


def run(args: argparse.Namespace) -> int:
    inv = load_inventory(args.inventory)
    what = plan(inv, args.limit)
    if not what.hosts:
        raise UsageError(
            f"--limit {args.limit} selects no master or worker; nothing to reset",
            "name hosts of the groups masters or workers",
        )
    for line in what.lines():
        err(line)
    if not confirm(args, what):
        err("not reset: the answer was not 'yes'; nothing was changed")
        return EXIT_USAGE
    with hosts.one_run_at_a_time(args.inventory):
        return _run(args, inv, what)


def _reach(
    args: argparse.Namespace, inv: inventory.Inventory, what: ResetPlan
) -> list[reach.ReachResult]:
    """Reach the hosts over SSH before Ansible; the unreachable ones are reported and left out
    (a dead server must not keep the others from being reset). Returns those left out."""
    paths.ensure_state(Path(args.inventory))
    results, unchecked = preflight.check_reach(
        inv, what.hosts, trust_new_host_keys=args.trust_new_host_keys
    )
    bad = [r for r in results if not r.ok]
    if args.json:
        for r in results:
            out(
                json.dumps(
                    {
                        "kind": "reach",
                        "host": r.target.name,
                        "result": r.kind,
                        "reason": r.reason,
                        "seconds": round(r.seconds, 2),
                    }
                )
            )
    elif bad or args.verbose:
        err(reach.render_table(results))
    for host in unchecked:
        err(f"note: {host}: connection settings use templates or vault; Ansible reaches it")
    if bad and not args.json:
        err(
            f"{len(bad)} of {len(results)} host(s) cannot be reached and are not reset: "
            f"{', '.join(r.target.name for r in bad)}"
        )
    return bad


def playbook_limit(limit: str | None, left_out: list[str]) -> str | None:
    """The --limit given, less the hosts that could not be reached."""
    if not left_out:
        return limit
    return ",".join([limit or "masters:workers", *(f"!{h}" for h in left_out)])


def _run(args: argparse.Namespace, inv: inventory.Inventory, what: ResetPlan) -> int:
    bad = _reach(args, inv, what)
    left_out = [r.target.name for r in bad]
    resume = resume_command(args)
    if len(left_out) == len(what.hosts):
        err(f"no host can be reached; nothing was changed.\nfix the cause, then run: {resume}")
        return EXIT_FAILED
    run_args = argparse.Namespace(**{**vars(args), "limit": playbook_limit(args.limit, left_out)})
    result = hosts.run_playbook(run_args, "reset.yml", check=False)
    ok = result.ok and not left_out
    if args.json:
        summary = json.loads(hosts.summary_json(result, resume))
        summary["not_reached"] = {r.target.name: r.reason for r in bad}
        summary["resume"] = None if ok else resume
        out(json.dumps(summary, sort_keys=True))
    else:
        out(runner.render_summary(result, resume))
        for r in bad:
            out(f"{r.target.name}: not reset, it could not be reached: {r.reason}")
        if left_out and result.ok:
            out(f"once they answer, run: {resume}  (hosts already reset are left as they are)")
    return EXIT_OK if ok else EXIT_FAILED
