"""Typed errors. The command-line layer turns them into messages and exit codes in one place."""

from __future__ import annotations

from dataclasses import dataclass

EXIT_OK = 0
EXIT_FAILED = 1  # a run happened and something on a host failed
EXIT_USAGE = 2  # bad input: nothing was touched
EXIT_ENVIRONMENT = 3  # the controller lacks something (Docker, Python, a file)
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT, as a shell reports it)
EXIT_BROKEN_PIPE = 141  # the reader of the output went away (128 + SIGPIPE)


class DlrsError(Exception):
    """Base of every error meant for the operator (never shown with a traceback)."""

    exit_code = EXIT_FAILED

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def render(self) -> str:
        text = f"error: {self.message}"
        if self.hint:
            text += f"\n  fix: {self.hint}"
        return text


@dataclass(frozen=True)
class Problem:
    """One finding about the user's input: where it is, what is wrong, how to fix it."""

    file: str
    message: str
    fix: str = ""
    line: int | None = None
    where: str = ""  # "host node1", "group workers"
    field: str = ""

    def render(self) -> str:
        loc = self.file if self.line is None else f"{self.file}:{self.line}"
        parts = [loc]
        if self.where:
            parts.append(self.where)
        if self.field:
            parts.append(self.field)
        text = ": ".join(parts) + f": {self.message}"
        if self.fix:
            text += f"\n    fix: {self.fix}"
        return text


class InputError(DlrsError):
    """The user's input is wrong; nothing was touched. Carries every problem found, not just one."""

    exit_code = EXIT_USAGE

    def __init__(self, problems: list[Problem], what: str = "input"):
        self.problems = list(problems)
        n = len(self.problems)
        super().__init__(f"{what}: {n} problem{'s' if n != 1 else ''} found")

    def render(self) -> str:
        lines = [f"error: {self.message}"]
        lines += ["  " + p.render() for p in self.problems]
        return "\n".join(lines)


class UsageError(DlrsError):
    exit_code = EXIT_USAGE


class EnvironmentProblem(DlrsError):
    exit_code = EXIT_ENVIRONMENT
