"""The `dlrs-provision` command: builds the parser from the commands (dlrs_provision/commands/,
one module each, plus any an installed package adds) and turns errors into exit codes."""

from __future__ import annotations

import argparse
import sys

from dlrs_provision import __version__, commands
from dlrs_provision.commands.console import err
from dlrs_provision.errors import EXIT_USAGE, DlrsError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dlrs-provision",
        description="Provision Intel's Deep Learning Reference Stack on Xeon servers.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.register_all(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return args.func(args)
    except DlrsError as error:
        err(error.render())
        return error.exit_code
    except KeyboardInterrupt:
        err(
            "interrupted: hosts may be mid-phase; run the same command again to resume "
            "(every phase is idempotent)"
        )
        return 130


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
