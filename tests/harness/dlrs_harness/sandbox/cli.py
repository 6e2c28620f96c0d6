"""`dlrs-provision sandbox up|status|down`: parse, call, print (progress to stderr, results to
stdout). Errors are raised as DlrsError and rendered by the top-level command."""

from __future__ import annotations

import argparse
import sys

from dlrs_harness.sandbox import cluster
from dlrs_provision.errors import EXIT_FAILED, EXIT_OK


def register_cli(subparsers: argparse._SubParsersAction) -> None:
    """Add the `sandbox` command and its sub-commands to the top-level parser."""
    parser = subparsers.add_parser(
        "sandbox",
        help="local test hosts (containers with systemd and sshd) plus a mirror host",
        description=(
            "A local cluster of test hosts reached over real SSH on 127.0.0.1, plus a mirror host "
            "(apt proxy :3142, registry :5000, swupd mirror :8080), for end-to-end tests. "
            "Writes inventory/sandbox/hosts.yml."
        ),
    )
    commands = parser.add_subparsers(dest="sandbox_command", metavar="COMMAND", required=True)

    up = commands.add_parser("up", help="build the images if needed and start the sandbox")
    # what is not given is the running sandbox's (its shape, its Kubernetes version): a plain
    # `up` refreshes the inventory of any running sandbox; the defaults apply to a new one
    up.add_argument(
        "--nodes",
        type=int,
        help="number of test hosts (node1 is the master; default: the running sandbox's, else 3)",
    )
    up.add_argument(
        "--os",
        choices=cluster.OS_CHOICES,
        help="OS of the test hosts; mixed: odd nodes Debian, even nodes Clear Linux "
        "(default: the running sandbox's, else debian)",
    )
    up.add_argument(
        "--clear-version",
        type=int,
        metavar="N",
        help=f"Clear Linux version the Clear Linux hosts start at "
        f"(default: the running sandbox's, else {cluster.DEFAULT_CLEAR_VERSION})",
    )
    up.add_argument(
        "--kubernetes-version",
        metavar="V",
        help="Kubernetes (stand-in) version the inventory asks for: a minor of the mirror's "
        "repositories (the newest patch of it) or an exact release such as 1.30.11, the "
        "kubeadm v1beta3 branch (default: the running sandbox's, else "
        f"{cluster.DEFAULT_KUBERNETES_VERSION}, i.e. 1.32.3); it applies to hosts not yet "
        "provisioned",
    )
    up.set_defaults(func=cmd_up)

    status = commands.add_parser("status", help="what runs and whether it answers (exit 1 if not)")
    status.set_defaults(func=cmd_status)

    docker = commands.add_parser(
        "docker", help="make sure Docker Engine answers (install and start it when needed)"
    )
    docker.set_defaults(func=cmd_docker)

    down = commands.add_parser("down", help="remove the sandbox's containers, network, inventory")
    down.add_argument("--images", action="store_true", help="remove the sandbox's images too")
    down.set_defaults(func=cmd_down)


def _progress(message: str) -> None:
    print(f"sandbox: {message}", file=sys.stderr, flush=True)


def cmd_docker(args: argparse.Namespace) -> int:
    from dlrs_harness.docker_engine import ensure_docker

    ensure_docker(echo=_progress)
    print("Docker Engine answers")
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    state = cluster.up(
        nodes=args.nodes,
        os=args.os,
        clear_version=args.clear_version,
        kubernetes_version=args.kubernetes_version,
        echo=_progress,
    )
    if state.changed:
        print(f"sandbox up in {state.elapsed_s:.0f} s")
    else:
        print("sandbox already up (nothing changed)")
    _print_table(
        ["host", "role", "os", "ssh", "ip", "container"],
        [[n.name, n.role, n.os, f"127.0.0.1:{n.ssh_port}", n.ip, n.container] for n in state.nodes]
        + [
            [
                state.mirror.hostname,
                "mirror",
                "debian",
                ", ".join(f"{k} 127.0.0.1:{p}" for k, p in state.mirror.ports.items()),
                state.mirror.ip,
                state.mirror.container,
            ]
        ],
    )
    print(f"inventory: {state.inventory}")
    print(f"try:       ansible -i {state.inventory} all -m ping")
    return EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    report = cluster.status()
    print(report.docker)
    if not report.containers:
        print("sandbox is down (no sandbox containers)")
        return EXIT_FAILED
    _print_table(
        ["container", "role", "os", "state", "ssh port", "sshd", "ip"],
        [
            [
                c.name,
                c.role,
                c.os,
                c.state,
                str(c.ssh_port or "-"),
                "-" if c.sshd is None else ("answers" if c.sshd else "NO ANSWER"),
                c.ip or "-",
            ]
            for c in report.containers
        ],
    )
    print()
    _print_table(
        ["mirror service", "answers", "check"],
        [[name, "yes" if ok else "NO", detail] for name, (ok, detail) in report.services.items()],
    )
    if report.inventory:
        print(f"\ninventory: {report.inventory}")
    print("\nsandbox is up" if report.ok else "\nsandbox is NOT fully up")
    return EXIT_OK if report.ok else EXIT_FAILED


def cmd_down(args: argparse.Namespace) -> int:
    result = cluster.down(images=args.images, echo=_progress)
    if not (result.containers or result.network or result.inventory or result.images):
        print("sandbox was not up: nothing to remove")
        return EXIT_OK
    if result.containers:
        print(f"removed containers: {', '.join(result.containers)}")
    if result.network:
        print(f"removed network: {cluster.NETWORK}")
    if result.inventory:
        print(f"removed: {result.inventory}")
    if result.images:
        print(f"removed images: {', '.join(result.images)}")
    elif not args.images:
        print("images kept (dlrs-sandbox/*; `sandbox down --images` removes them)")
    return EXIT_OK


def _print_table(headers: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(str(x)) for x in column) for column in zip(headers, *rows, strict=False)]
    for row in [headers, *rows]:
        print("  ".join(str(cell).ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
