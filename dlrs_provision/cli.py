"""The `dlrs-provision` command: builds the parser from the commands (dlrs_provision/commands/,
one module each, plus any an installed package adds) and turns errors into exit codes."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys

from dlrs_provision import __version__, commands
from dlrs_provision.commands.console import err
from dlrs_provision.errors import (
    EXIT_BROKEN_PIPE,
    EXIT_ENVIRONMENT,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    DlrsError,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dlrs-provision",
        description="Provision Intel's Deep Learning Reference Stack on Xeon servers.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.register_all(sub)
    return parser


def _quiet_stdout() -> None:
    """After a broken pipe (`dlrs-provision ... | head`): point stdout at /dev/null, so that
    Python's own flush at exit does not fail again and print a traceback."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except BrokenPipeError:
        # the reader went away (a pager quit, `| head`): nothing more to say to it
        _quiet_stdout()
        return EXIT_BROKEN_PIPE
    except KeyboardInterrupt:
        with contextlib.suppress(BrokenPipeError, OSError):
            err(
                "interrupted: hosts may be mid-phase; run the same command again to resume "
                "(every phase is idempotent)"
            )
        return EXIT_INTERRUPTED


def _main(argv: list[str] | None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # bad options (2, message printed), --help and --version (0)
        return stop.code if isinstance(stop.code, int) else EXIT_USAGE
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return args.func(args)
    except DlrsError as error:
        err(error.render())
        return error.exit_code
    except (BrokenPipeError, KeyboardInterrupt):
        raise
    except OSError as error:
        # a file the operator named cannot be read or written (full disk, permissions, a
        # folder vanished): the reason and the file, not a traceback
        where = f": {error.filename}" if error.filename else ""
        err(f"error: {error.strerror or error}{where}")
        err("  fix: check that path (it exists, has the right type and permissions)")
        return EXIT_ENVIRONMENT


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
