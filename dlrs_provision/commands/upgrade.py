"""`dlrs-provision upgrade INVENTORY --to VERSION`: move a running cluster to Kubernetes VERSION
(playbooks/upgrade.yml): the master first (kubeadm upgrade plan, apply), then the workers in
batches of --batch-size (cordon, drain, packages, kubeadm upgrade node, kubelet restart,
uncordon); the first failing batch stops the roll-out, the later ones are not touched.

Refused before any host is touched (exit 2): a VERSION that is not an exact release from 1.22
(options.kubernetes_release), and one the Clear Linux nodes cannot install (no sha256 for its
release binaries: clearlinux_kubernetes_problem, the check inventory validation makes of
dlrs_kubernetes_version, with VERSION in its place). The skew rules (no downgrade, one minor at
a time: dlrs_provision/upgrade_skew.py) need the cluster's version and are the playbook's first
play, on the master, before any change. Only the master must answer; a worker that is down is
left out and keeps its version until the next upgrade.

The inventory file is never edited: when its dlrs_kubernetes_version is not VERSION, the
command says to set it, because `cluster` installs the pinned version.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from dlrs_provision import clearlinux_kubernetes, facts, inventory, paths, runner
from dlrs_provision.commands import hosts, options
from dlrs_provision.commands.console import err, load_inventory, out
from dlrs_provision.errors import EXIT_FAILED, EXIT_OK, DlrsError, InputError, Problem

DEFAULT_BATCH_SIZE = 1
DEFAULT_DRAIN_TIMEOUT = "5m"
# what the setting is when the inventory does not pin it (roles/dlrs_defaults)
DEFAULT_PIN = clearlinux_kubernetes.DEFAULT_KUBERNETES_VERSION
# where a refusal of --to points: the settings that decide what a Clear Linux node installs
_CHECKSUM_KEYS = ("dlrs_kubernetes_binary_checksums", "dlrs_kubernetes_clearlinux_source")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "upgrade",
        help="upgrade the cluster's Kubernetes: the master, then the workers in batches",
    )
    p.add_argument("inventory")
    p.add_argument(
        "--to",
        required=True,
        type=options.kubernetes_release,
        metavar="VERSION",
        help="the Kubernetes release to upgrade to, X.Y.Z (at most one minor above the cluster)",
    )
    p.add_argument(
        "--batch-size",
        type=options.int_range(1, 1000),
        default=DEFAULT_BATCH_SIZE,
        help=f"workers upgraded at a time (default {DEFAULT_BATCH_SIZE}); the first batch with "
        "a failure stops the roll-out",
    )
    p.add_argument(
        "--drain-timeout",
        type=options.duration(1, 86400),
        default=DEFAULT_DRAIN_TIMEOUT,
        help="how long kubectl drain waits for a node's pods to go, e.g. 5m, 90s "
        f"(default {DEFAULT_DRAIN_TIMEOUT}); a node not drained by then stays cordoned and "
        "stops the roll-out",
    )
    hosts.add_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    inv = load_inventory(args.inventory)
    chosen = run_hosts(inv, args.limit)
    check_installable(inv, args.to, chosen)
    if not args.json:
        workers = len(chosen) - 1
        err(
            f"inventory OK: 1 master, {len(inv.workers)} worker(s), {workers} in this run; "
            f"target Kubernetes {args.to}"
        )
    hosts.check_limit_names(chosen)
    with hosts.one_run_at_a_time(args.inventory):
        return _run(args, inv, chosen)


def run_hosts(inv: inventory.Inventory, limit: str | None) -> list[str]:
    """The master (always: it is read and upgraded first) and the workers --limit selects."""
    chosen = hosts.cluster_hosts(inv, limit)
    master = inv.masters[0]
    return [master, *[w for w in inv.workers if w in chosen and w not in inv.masters]]


def _cached_os_family(inv: inventory.Inventory, host: str) -> str | None:
    """The OS family the fact cache holds for `host` (an earlier run gathered it), or None."""
    path = paths.facts_dir(Path(inv.path)) / host
    try:
        found = facts.parse_facts(path.read_text(encoding="utf-8"), str(path))
    except (OSError, DlrsError):  # no cache, or one this cannot read: unknown
        return None
    family = found.get("os_family") or found.get("ansible_os_family")
    return str(family) if family else None


def check_installable(inv: inventory.Inventory, version: str, run: list[str]) -> None:
    """Refuse (exit 2, before any host is reached) a VERSION the Clear Linux nodes of the run
    cannot install: the check inventory validation makes of dlrs_kubernetes_version. Which
    hosts run Clear Linux is known only from their facts: a host whose cached facts name
    another OS family is not checked, every other one is."""
    refused: dict[tuple[str, int | None, str, str], list[str]] = {}
    for host in run:
        family = _cached_os_family(inv, host)
        if family is not None and family != "ClearLinux":
            continue
        pin = inv.setting(host, "dlrs_clearlinux_version")
        pin = pin if isinstance(pin, int) and not isinstance(pin, bool) else None
        reason = clearlinux_kubernetes.clearlinux_kubernetes_problem(
            pin,
            version,
            inv.setting(host, "dlrs_kubernetes_clearlinux_source"),
            inv.setting(host, "dlrs_kubernetes_binary_checksums"),
        )
        if reason is None:
            continue
        hv = inv.host_vars(host)
        key = next((k for k in _CHECKSUM_KEYS if k in hv), "")
        origin = hv[key].origin if key else inventory.Origin(str(inv.path), None)
        refused.setdefault((origin.file, origin.line, key, reason), []).append(host)
    if not refused:
        return
    problems = [
        Problem(
            file,
            f"--to {version}: the Clear Linux nodes cannot install it ({', '.join(names)} "
            f"{'is' if len(names) == 1 else 'are'} checked, as their OS is not known to be "
            f"another): {reason}",
            fix=f"give --to a release listed in {'/'.join(clearlinux_kubernetes.CHECKSUMS_FILE)}, "
            f"or add its sha256 to dlrs_kubernetes_binary_checksums; no host has been changed",
            line=line,
            field=key or "dlrs_kubernetes_binary_checksums",
        )
        for (file, line, key, reason), names in refused.items()
    ]
    raise InputError(problems, what=f"--to {version}")


def resume_command(args: argparse.Namespace) -> str:
    cmd = f"{hosts.resume_command(args)} --to {args.to}"
    if args.batch_size != DEFAULT_BATCH_SIZE:
        cmd += f" --batch-size {args.batch_size}"
    if args.drain_timeout != DEFAULT_DRAIN_TIMEOUT:
        cmd += f" --drain-timeout {args.drain_timeout}"
    return cmd


def pin_notes(inv: inventory.Inventory, version: str, run: list[str]) -> list[str]:
    """After a successful upgrade: where the inventory pins another dlrs_kubernetes_version (or
    none), the line that says to pin VERSION there, since `cluster` installs the pinned one."""
    where: dict[str, list[str]] = {}
    for host in run:
        var = inv.host_vars(host).get("dlrs_kubernetes_version")
        pinned = DEFAULT_PIN if var is None or var.value in (None, "") else str(var.value)
        if pinned.strip().lstrip("v") == version:
            continue
        spot = str(inv.path) if var is None else str(var.origin)
        where.setdefault(f"{spot}|{pinned}", []).append(host)
    notes = []
    for key, names in where.items():
        spot, pinned = key.rsplit("|", 1)
        notes.append(
            f"the cluster runs Kubernetes {version}, and {spot} pins dlrs_kubernetes_version "
            f'{pinned} ({", ".join(names)}): set `dlrs_kubernetes_version: "{version}"` there, '
            "since `dlrs-provision cluster` installs the pinned version (and refuses a pin "
            "older than the running cluster)"
        )
    return notes


def _run(args: argparse.Namespace, inv: inventory.Inventory, chosen: list[str]) -> int:
    master = chosen[0]
    reached = hosts.reach_some(
        args,
        inv,
        chosen,
        required=[master],
        left_out_because="it keeps its Kubernetes version, and is upgraded at the next "
        f"`dlrs-provision upgrade --to {args.to}`",
        resume=resume_command(args),
    )
    if reached is None:
        return EXIT_FAILED
    resume = resume_command(args)
    result = hosts.run_playbook(
        args,
        "upgrade.yml",
        check=args.check,
        limit=reached.limit,
        extravars={
            "dlrs_upgrade_to": args.to,
            "dlrs_upgrade_batch_size": args.batch_size,
            "dlrs_upgrade_drain_timeout": args.drain_timeout,
            "dlrs_upgrade_resume": resume,
        },
    )
    notes = pin_notes(inv, args.to, reached.usable) if result.ok and not args.check else []
    if args.json:
        line = json.loads(hosts.summary_json(result, resume, reached.left_out))
        line["to"] = args.to
        line["inventory_pin"] = notes
        out(json.dumps(line, sort_keys=True))
    else:
        out(runner.render_summary(result, resume))
        if reached.left_out:
            out(hosts.render_left_out(reached.left_out))
    if not result.ok:
        return EXIT_FAILED
    if not args.json:
        verb = "check mode: would upgrade" if args.check else "upgraded"
        out(f"{verb} to Kubernetes {args.to}: {', '.join(reached.usable)}")
        for note in notes:
            out(f"note: {note}")
    return EXIT_OK
