"""What the commands that work on hosts share: their options, the SSH reach check before
Ansible, the one way a playbook is run, and the command that resumes a failed run."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import shlex
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from dlrs_provision import inventory, lock, paths, preflight, reach, runner
from dlrs_provision.commands import options
from dlrs_provision.commands.console import err, out
from dlrs_provision.errors import UsageError


def add_options(
    p: argparse.ArgumentParser, *, check: bool = True, json_lines: bool = True, limit: bool = True
) -> None:
    """--trust-new-host-keys, --limit and -v for every command that reaches hosts; --check and
    --json where the command runs a playbook whose progress can be printed as JSON lines;
    limit=False for a command whose hosts are its arguments (remove-node)."""
    p.add_argument(
        "--trust-new-host-keys",
        action="store_true",
        help="accept the SSH host key of a host seen for the first time "
        "(a changed key still fails)",
    )
    if limit:
        p.add_argument(
            "--limit",
            type=options.limit_pattern,
            help="restrict the run to these hosts or groups (comma-separated pattern)",
        )
    else:
        p.set_defaults(limit=None)
    if check:
        p.add_argument("--check", action="store_true", help="dry run: report what would change")
    if json_lines:
        p.add_argument("--json", action="store_true", help="progress and summary as JSON lines")
    else:
        p.set_defaults(json=False)
    p.add_argument("-v", "--verbose", action="store_true", help="show every task and result")


def resume_command(args: argparse.Namespace) -> str:
    """The command line that runs the same thing again, after the cause of a failure is fixed."""
    # quoted, so that a pasted resume command is the same command (a path with spaces, or
    # a pattern with '!', reaches the program as one argument)
    cmd = f"dlrs-provision {args.command} {shlex.quote(str(args.inventory))}"
    if args.trust_new_host_keys:
        cmd += " --trust-new-host-keys"
    if args.limit:
        cmd += f" --limit {shlex.quote(args.limit)}"
    if getattr(args, "skip_unreachable_workers", False):
        cmd += " --skip-unreachable-workers"
    return cmd


def cluster_hosts(inv: inventory.Inventory, limit: str | None) -> list[str]:
    """The masters and workers a command works on: all of them, or those --limit selects. One
    rule for every command (inventory.select): an unknown host or group is exit 2."""
    everyone = [*inv.masters, *[w for w in inv.workers if w not in inv.masters]]
    return inventory.select(inv, limit, among=everyone)


@contextlib.contextmanager
def one_run_at_a_time(inventory_path: str | Path) -> Iterator[None]:
    """Hold the inventory's run lock for the body (every command that changes hosts takes it,
    after its input is validated and before any host is reached): a second such command on the
    same inventory is refused with exit 3, naming the run that holds it."""
    command = shlex.join(["dlrs-provision", *sys.argv[1:]])
    with lock.held(Path(inventory_path), command) as held:
        if held.stale is not None:
            err(
                f"note: an earlier run {held.stale.describe()} ended without clearing its "
                "record (killed?); its lock is gone with it, the record is ignored"
            )
        yield


def reach_all(args: argparse.Namespace, inv: inventory.Inventory) -> bool:
    """Reach the hosts of the run (cluster_hosts) over SSH before Ansible; print the table;
    False if any host fails."""
    # the state folder (facts, artifacts) must be usable before any host is reached: one that
    # is a file, or cannot be made, is exit 3 now, not after the hosts were touched
    paths.ensure_state(Path(args.inventory))
    hosts = cluster_hosts(inv, args.limit)
    results, unchecked = preflight.check_reach(
        inv, hosts, trust_new_host_keys=args.trust_new_host_keys
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
    if bad:
        err(
            f"{len(bad)} of {len(results)} host(s) cannot be used; nothing was changed on any "
            f"host.\nfix the cause above, then run: {resume_command(args)}"
        )
        return False
    if not args.json:
        err(f"all {len(results)} host(s) reachable")
    return True


def run_playbook(
    args: argparse.Namespace,
    playbook: str,
    *,
    check: bool,
    limit: str | None = None,
    extravars: dict[str, object] | None = None,
    watch: Callable[[runner.Progress], None] | None = None,
) -> runner.RunResult:
    """Run one of the toolkit's playbooks on the inventory, progress to the terminal (or JSON
    lines with --json). `limit` replaces --limit (the hosts a reach check left in the run, see
    reach_some), `extravars` reach the play as !unsafe text, `watch` sees every progress item
    as it is shown."""
    show = (
        runner.JsonProgress(out)
        if args.json
        else runner.TerminalProgress(err, verbose=args.verbose)
    )

    def emit(item: runner.Progress) -> None:
        show(item)
        if watch is not None:
            watch(item)

    return runner.run_playbook(
        runner.RunOptions(
            inventory=Path(args.inventory),
            playbook=paths.playbook(playbook),
            trust_new_host_keys=args.trust_new_host_keys,
            limit=limit if limit is not None else args.limit,
            check=check,
            extravars=dict(extravars or {}),
        ),
        emit,
    )


def summary_json(
    result: runner.RunResult, resume: str, left_out: dict[str, str] | None = None
) -> str:
    """The run's summary as one JSON line (--json); `left_out`: the hosts a reach check left
    out of the run, with the reason (only for the commands that go on without them)."""
    extra = {} if left_out is None else {"left_out": dict(sorted(left_out.items()))}
    return json.dumps(
        {
            **extra,
            "kind": "summary",
            "status": result.status,
            "rc": result.rc,
            "artifacts": str(result.artifact_dir),
            "hosts": {
                h: {
                    "state": s.state,
                    "ok": s.ok,
                    "changed": s.changed,
                    "failed": s.failed,
                    "unreachable": s.unreachable,
                    "skipped": s.skipped,
                    # what stopped the host: the phase, task and reason the text summary names
                    "failure": None
                    if s.failure is None or s.state not in ("failed", "unreachable")
                    else {
                        "status": s.failure.status,
                        "phase": s.failure.phase,
                        "task": s.failure.task,
                        "message": s.failure.message,
                    },
                }
                for h, s in result.hosts.items()
            },
            "resume": None if result.ok else resume,
            # SIGINT or SIGTERM when the run (Ansible with it) was stopped by a signal
            "stopped_by": result.stopped_by or None,
        },
        sort_keys=True,
    )


# --------------------------------------------------------------------------- going on past
# unreachable hosts (scale, remove-node, cluster --skip-unreachable-workers)

# what cannot be in a host name that is handed to Ansible's --limit as itself
_PATTERN_CHARS = set(",:!&~*?[]")


@dataclasses.dataclass
class Reached:
    """What a reach check leaves for the run: the hosts it may use (reached, or left to Ansible
    because their connection settings are templates), and the hosts left out, with the reason."""

    usable: list[str]
    left_out: dict[str, str]

    @property
    def limit(self) -> str:
        """The usable hosts as an Ansible --limit, each by its own name (never empty: an
        empty --limit would be no limit at all)."""
        if not self.usable:
            raise ValueError("no usable host: there is no --limit for an empty run")
        return ",".join(self.usable)


def check_limit_names(hosts: list[str]) -> None:
    """Refuse (exit 2, before any host is reached) a host whose name Ansible would read as a
    pattern when the run names it in --limit."""
    odd = [h for h in hosts if _PATTERN_CHARS & set(h) or h.startswith(("@", "-"))]
    if odd:
        raise UsageError(
            f"host name {odd[0]!r} holds a character of Ansible's host patterns "
            f"({' '.join(sorted(_PATTERN_CHARS))}): this command names each host in --limit",
            "give the host a plain name (letters, digits, '.', '_', '-') and put its address "
            "in ansible_host",
        )


def reach_some(
    args: argparse.Namespace,
    inv: inventory.Inventory,
    hosts: list[str],
    *,
    required: list[str],
    left_out_because: str,
    resume: str | None = None,
) -> Reached | None:
    """Reach `hosts` over SSH before Ansible, like reach_all, but go on without the hosts that
    fail and are not `required`: each is named, with `left_out_because` (why the run does not
    need it). None (after the table and the resume command) when a required host fails.
    `resume`: the command's own resume line, when it takes more than resume_command's
    options (remove-node's NODE, upgrade's --to)."""
    paths.ensure_state(Path(args.inventory))
    check_limit_names(hosts)
    results, unchecked = preflight.check_reach(
        inv, hosts, trust_new_host_keys=args.trust_new_host_keys
    )
    bad = {r.target.name: r for r in results if not r.ok}
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
                        "required": r.target.name in required,
                    }
                )
            )
    elif bad or args.verbose:
        err(reach.render_table(results))
    for host in unchecked:
        err(f"note: {host}: connection settings use templates or vault; Ansible reaches it")
    missing = [h for h in required if h in bad]
    if missing:
        err(
            f"{', '.join(missing)} cannot be reached and this run needs it; nothing was changed "
            f"on any host.\nfix the cause above, then run: {resume or resume_command(args)}"
        )
        return None
    left_out = {h: bad[h].reason or bad[h].kind for h in hosts if h in bad}
    for host, why in left_out.items():
        err(f"note: {host} cannot be reached ({why}): left out of this run; {left_out_because}")
    usable = [h for h in hosts if h not in bad]
    if not args.json:
        err(
            f"{len(usable)} of {len(hosts)} host(s) in this run"
            + (f", {len(left_out)} left out" if left_out else "")
        )
    return Reached(usable, left_out)


def render_left_out(left_out: dict[str, str]) -> str:
    """The lines under the summary that name the hosts the run went on without."""
    return "\n".join(f"{h}: left out, unreachable: {why}" for h, why in sorted(left_out.items()))
