"""Reading host facts: Ansible setup output and the jsonfile fact cache."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from dlrs_provision.errors import UsageError

# `ansible HOST -m setup` prints "HOST | SUCCESS => {...}" before the JSON
_ADHOC_PREFIX = re.compile(r"^\S+ \| [A-Z]+ => ", re.MULTILINE)


def parse_facts(text: str, origin: str) -> dict[str, Any]:
    """Return flat facts from setup-module JSON ({"ansible_facts": {...}}) or a cache file."""
    body = _ADHOC_PREFIX.sub("", text.strip(), count=1)
    if not body:
        raise UsageError(f"{origin}: the facts file is empty", _FACTS_HINT)
    try:
        data = json.loads(body)
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"{origin}:{exc.lineno}: not JSON ({exc.msg}, column {exc.colno})", _FACTS_HINT
        ) from None
    if not isinstance(data, dict):
        raise UsageError(
            f"{origin}: expected a JSON object, got {type(data).__name__}", _FACTS_HINT
        )
    if isinstance(data.get("__payload__"), str):
        # ansible-core 2.19+ wraps each cache entry: {"__payload__": "<the facts as JSON>"}
        try:
            data = json.loads(data["__payload__"])
        except json.JSONDecodeError:
            raise UsageError(f"{origin}: the fact-cache payload is not JSON", _FACTS_HINT) from None
        if not isinstance(data, dict):
            raise UsageError(f"{origin}: the fact-cache payload is not an object", _FACTS_HINT)
    if isinstance(data.get("ansible_facts"), dict):
        data = data["ansible_facts"]
    return _untag(data)


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
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"{p}: no such facts file", _FACTS_HINT) from None
    except (IsADirectoryError, PermissionError, UnicodeDecodeError) as exc:
        raise UsageError(f"{p}: cannot read facts file ({exc.__class__.__name__})") from None
    return parse_facts(text, str(p))


_FACTS_HINT = (
    'give the JSON of `ansible HOST -m setup` ({"ansible_facts": {...}}) or a file of '
    "Ansible's jsonfile fact cache"
)
