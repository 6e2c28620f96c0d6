"""What `--limit` selects, the same way in every command and as Ansible reads the pattern:
items separated by ',' or ':', each a host, a group (its members), `all`, or a wildcard
(`node*`); `!item` removes, `&item` keeps only what is also in it. A plain name that is neither
a host nor a group of the inventory is a usage error (Ansible would only warn and run nothing).

    hosts = limits.select(inv, "workers:!node3", candidates)
"""

from __future__ import annotations

import fnmatch
import re

from dlrs_provision.errors import UsageError
from dlrs_provision.inventory import Inventory


def _expand(inv: Inventory, item: str) -> list[str] | None:
    """The hosts an item names, or None when it names nothing of the inventory."""
    if item == "all" or item == "*":
        return list(inv.hosts)
    if item in inv.hosts:
        return [item]
    if item in inv.groups:
        return inv.members(item)
    if any(c in item for c in "*?["):
        names = [h for h in inv.hosts if fnmatch.fnmatchcase(h, item)]
        for group in inv.groups:
            if fnmatch.fnmatchcase(group, item):
                names += inv.members(group)
        return names or None
    return None


def select(inv: Inventory, limit: str | None, candidates: list[str]) -> list[str]:
    """The candidates (in their order) that `limit` selects; all of them without a limit."""
    if not limit:
        return list(candidates)
    chosen: set[str] = set()
    keep: set[str] | None = None
    drop: set[str] = set()
    unknown: list[str] = []
    for raw in re.split(r"[,:]", limit):
        item = raw.strip()
        if not item:
            continue
        kind, name = (item[0], item[1:]) if item[0] in "!&" else ("", item)
        members = _expand(inv, name)
        if members is None:
            unknown.append(name)
            continue
        if kind == "!":
            drop |= set(members)
        elif kind == "&":
            keep = set(members) if keep is None else keep & set(members)
        else:
            chosen |= set(members)
    if unknown:
        raise UsageError(
            f"--limit {limit}: {', '.join(unknown)} is neither a host nor a group of {inv.path}",
            f"name hosts or groups of the inventory: {', '.join(candidates)}",
        )
    if not chosen and (keep is not None or drop):
        chosen = set(inv.hosts)  # "!node3" alone: everything but node3, as Ansible reads it
    if keep is not None:
        chosen &= keep
    chosen -= drop
    selected = [h for h in candidates if h in chosen]
    if not selected:
        raise UsageError(
            f"--limit {limit} leaves no host of the masters and workers groups",
            f"name hosts or groups of the inventory: {', '.join(candidates)}",
        )
    return selected
