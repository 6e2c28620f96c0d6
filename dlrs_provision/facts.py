"""Reading host facts: Ansible setup output and the jsonfile fact cache."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from dlrs_provision import input_files
from dlrs_provision.errors import UsageError

# `ansible HOST -m setup` prints "HOST | SUCCESS => {...}" before the JSON
_ADHOC_PREFIX = re.compile(r"^\S+ \| [A-Z]+ => ", re.MULTILINE)


def parse_facts(text: str, origin: str) -> dict[str, Any]:
    """Return flat facts from setup-module JSON ({"ansible_facts": {...}}) or a cache file."""
    body = _ADHOC_PREFIX.sub("", text.strip(), count=1)
    if not body:
        raise UsageError(f"{origin}: the facts file is empty", _FACTS_HINT)
    data = _json(body, origin)
    if not isinstance(data, dict):
        raise UsageError(
            f"{origin}: expected a JSON object, got {type(data).__name__}", _FACTS_HINT
        )
    if isinstance(data.get("__payload__"), str):
        # ansible-core 2.19+ wraps each cache entry: {"__payload__": "<the facts as JSON>"}
        try:
            data = _json(data["__payload__"], origin)
        except UsageError:
            raise UsageError(f"{origin}: the fact-cache payload is not JSON", _FACTS_HINT) from None
        if not isinstance(data, dict):
            raise UsageError(f"{origin}: the fact-cache payload is not an object", _FACTS_HINT)
    if isinstance(data.get("ansible_facts"), dict):
        data = data["ansible_facts"]
    return _untag(data)


def _json(body: str, origin: str) -> Any:
    """JSON text as Python, refusing what nests deeper than facts ever do (a RecursionError
    would otherwise escape from the decoder or from any walk over the data later)."""
    try:
        data = json.loads(body)
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"{origin}:{exc.lineno}: not JSON ({exc.msg}, column {exc.colno})", _FACTS_HINT
        ) from None
    except RecursionError:
        data = None
        deep = True
    else:
        deep = input_files.depth_problem(data)
    if deep:
        raise UsageError(
            f"{origin}: the JSON is nested more than {input_files.MAX_DEPTH} levels deep; "
            "no host's facts are",
            _FACTS_HINT,
        )
    return data


def _untag(value: Any) -> Any:
    """Drop ansible-core's data tags from cached values: {"value": V, "__ansible_type": ...}."""
    if isinstance(value, dict):
        if "__ansible_type" in value and "value" in value:
            return _untag(value["value"])
        return {k: _untag(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_untag(v) for v in value]
    return value


_SCHEMA_PREFIX = re.compile(r"^s(\d+)_(.+)$")


def cached_facts_file(folder: Path, host: str) -> Path | None:
    """The fact-cache file of a host: `s<schema>_HOST` (ansible-core 2.19+) or plain `HOST`."""
    if not folder.is_dir():
        return None
    best: tuple[int, Path] | None = None
    for entry in folder.iterdir():
        m = _SCHEMA_PREFIX.match(entry.name)
        if m and m.group(2) == host and entry.is_file():
            schema = int(m.group(1))
            if best is None or schema > best[0]:
                best = (schema, entry)
    if best:
        return best[1]
    plain = folder / host
    return plain if plain.is_file() else None


def load_facts(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    if not p.exists():
        raise UsageError(f"{p}: no such facts file", _FACTS_HINT)
    try:
        text = input_files.decode(input_files.read_bytes(p, input_files.MAX_FACTS_BYTES, "facts"))
    except input_files.Unreadable as exc:
        where = f"{p}:{exc.line}" if exc.line else str(p)
        raise UsageError(f"{where}: the facts file {exc.message}", exc.fix) from None
    return parse_facts(text, str(p))


_FACTS_HINT = (
    'give the JSON of `ansible HOST -m setup` ({"ansible_facts": {...}}) or a file of '
    "Ansible's jsonfile fact cache"
)
