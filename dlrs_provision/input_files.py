"""Reading a user's file safely, before any parser sees it: the kind of file (a FIFO would block,
/dev/zero never ends), its size, its encoding, and for YAML the aliases and nesting that make a
small file expand without end (the "billion laughs"). Each check answers with what is wrong and
how to fix it; the callers turn that into their own error (an inventory Problem, a UsageError).
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# No real inventory comes near these: a 1,000-host inventory with variables is about 100 KB.
MAX_INVENTORY_BYTES = 1024 * 1024
# `ansible -m setup` of a large server is a few hundred KB.
MAX_FACTS_BYTES = 16 * 1024 * 1024
MAX_DEPTH = 64  # nesting of mappings and lists; real inventories and facts stay under 10
MAX_ALIAS_NODES = 10_000  # values that YAML aliases (*name) add when expanded
MAX_HOSTS = 10_000  # hosts one range (w[1:N]) may name


@dataclass
class Unreadable(Exception):
    """What is wrong with a file, how to fix it, and the line where one is known."""

    message: str
    fix: str
    line: int | None = None


_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def kind_problem(path: Path) -> str | None:
    """What the path is when it is not a regular file ('a FIFO (named pipe)'), else None.
    Uses stat only: opening a FIFO would block."""
    mode = os.stat(path).st_mode
    if stat.S_ISREG(mode):
        return None
    for test, name in _KINDS:
        if test(mode):
            return name
    return "not a regular file"  # pragma: no cover - every kind is named above


def read_bytes(path: Path, limit: int, what: str) -> bytes:
    """The content of a regular file of at most `limit` bytes; Unreadable otherwise."""
    try:
        kind = kind_problem(path)
    except OSError as exc:
        raise Unreadable(
            f"cannot be read ({_reason(exc)})", f"check the path of the {what}"
        ) from None
    if kind is not None:
        raise Unreadable(
            f"is {kind}, not a file",
            f"give the path of a regular {what} file",
        )
    try:
        with open(path, "rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise Unreadable(
            f"cannot be read ({_reason(exc)})",
            "make it readable by the user running dlrs-provision (chmod u+r)",
        ) from None
    if len(data) > limit:
        raise Unreadable(
            f"is larger than {limit // 1024} KiB: {what} files above that are refused",
            f"no real {what} file is near that size: check that this is the right file",
        )
    return data


def _reason(exc: OSError) -> str:
    return exc.strerror or exc.__class__.__name__


_BOMS = (
    (b"\xff\xfe\x00\x00", "UTF-32"),
    (b"\x00\x00\xfe\xff", "UTF-32"),
    (b"\xff\xfe", "UTF-16"),
    (b"\xfe\xff", "UTF-16"),
)


def decode(data: bytes) -> str:
    """The text of a file that must be UTF-8; Unreadable naming UTF-16/32 or binary input."""
    for bom, name in _BOMS:
        if data.startswith(bom):
            raise Unreadable(
                f"is {name} text (it starts with a {name} byte-order mark); only UTF-8 is read",
                f"save it as UTF-8, e.g. `iconv -f {name} -t UTF-8 FILE > FILE.new`",
                line=1,
            )
    if b"\x00" in data:
        line = data[: data.index(b"\x00")].count(b"\n") + 1
        raise Unreadable(
            "holds NUL bytes: this is a binary file, not text",
            "give the text file (YAML or INI), not a binary or archive",
            line=line,
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise Unreadable(
            f"is not UTF-8 text (byte 0x{data[exc.start]:02x} cannot be decoded)",
            "save the file as UTF-8",
            line=line,
        ) from None


def yaml_bombs(text: str) -> None:
    """Refuse YAML whose aliases expand to more than MAX_ALIAS_NODES values or whose nesting is
    deeper than MAX_DEPTH, before any loader builds (and Ansible walks) the expanded data.
    A parse error is left to the loader, which says where it is."""
    import yaml

    parser = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    sizes: dict[str, int] = {}  # anchor -> values it stands for
    stack: list[list[Any]] = []  # open collections: [anchor, values so far]
    added = 0
    try:
        events = yaml.parse(text, Loader=parser)
        for ev in events:
            if isinstance(ev, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                stack.append([ev.anchor, 1])
                if len(stack) > MAX_DEPTH:
                    raise Unreadable(
                        f"is nested more than {MAX_DEPTH} levels deep",
                        "flatten the data: no inventory nests this deep",
                        line=ev.start_mark.line + 1,
                    )
            elif isinstance(ev, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                anchor, size = stack.pop()
                if anchor is not None:
                    sizes[anchor] = size
                if stack:
                    stack[-1][1] += size
            elif isinstance(ev, yaml.ScalarEvent):
                if ev.anchor is not None:
                    sizes[ev.anchor] = 1
                if stack:
                    stack[-1][1] += 1
            elif isinstance(ev, yaml.AliasEvent):
                size = sizes.get(ev.anchor, 1)
                added += size
                if stack:
                    stack[-1][1] += size
                if added > MAX_ALIAS_NODES:
                    raise Unreadable(
                        f"has YAML aliases (*{ev.anchor} and others) that expand to more than "
                        f"{MAX_ALIAS_NODES:,} values: refused, as a file built to exhaust memory "
                        "(a 'billion laughs') would be",
                        "write the values out, or use fewer aliases of aliases",
                        line=ev.start_mark.line + 1,
                    )
    except yaml.YAMLError:
        return


def depth_problem(value: Any, limit: int = MAX_DEPTH) -> bool:
    """True when lists/mappings nest deeper than limit (checked without recursion)."""
    todo = [(value, 1)]
    while todo:
        item, depth = todo.pop()
        if isinstance(item, dict):
            children = list(item.values())
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        todo.extend((c, depth + 1) for c in children)
    return False
