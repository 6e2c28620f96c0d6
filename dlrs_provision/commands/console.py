"""What every command shares: writing to the terminal and loading the inventory."""

from __future__ import annotations

import sys

from dlrs_provision import inventory


def out(text: str) -> None:
    """A result, on standard output."""
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def err(text: str) -> None:
    """Progress, warnings and errors, on standard error."""
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def load_inventory(path: str) -> inventory.Inventory:
    inv = inventory.load(path)
    for w in inv.warnings:
        err("warning: " + w.render())
    for note in inv.notes:
        err("note: " + note.render())
    return inv
