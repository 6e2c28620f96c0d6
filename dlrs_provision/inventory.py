"""Load an Ansible inventory through Ansible itself, keeping where every value comes from.

The inventory is a standard Ansible one, so the same files serve `dlrs-provision` and
`ansible-playbook`: a YAML or INI hosts file, or a folder of hosts files, with group_vars/ and
host_vars/ beside them. Ansible's own pieces read it: its DataLoader (YAML, vault tags, and the
data-tagging `Origin` with file, line and column on every loaded value), its `yaml` and `ini`
inventory plugins (groups, hosts, host ranges, ports) into an InventoryData, and the DataLoader's
`find_vars_files` for group_vars/ and host_vars/ (as the host_group_vars vars plugin does).
Variables keep their layers and are merged in Ansible's order of precedence, lowest first:

    hosts-file group vars (all, then groups by depth)  <  group_vars/all  <  group_vars/<group>
    <  hosts-file host vars  <  host_vars/<host>

What is still done here is only what Ansible does not tell: where a problem is (Ansible stops at
the first structural error of a YAML inventory, or only warns without a line), and the checks of
dlrs_provision.validate.
"""

from __future__ import annotations

import difflib
import errno
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dlrs_provision import catalog, input_files
from dlrs_provision.errors import InputError, Problem
from dlrs_provision.settings import SETTINGS

MASTERS = "masters"
WORKERS = "workers"
GROUP_KEYS = ("hosts", "vars", "children")
_ANSIBLE_ONLY = ("inventory_file", "inventory_dir")  # set by InventoryData, not by the user


class VaultValue(str):
    """An !vault encrypted value: opaque here, and never printed."""

    def __repr__(self) -> str:
        return "<vault-encrypted>"


def is_templated(value: Any) -> bool:
    """A Jinja2 value (`'{{ ssh_port }}'`): legal Ansible, known only on the run."""
    return isinstance(value, str) and ("{{" in value or "{%" in value)


# --------------------------------------------------------------------------- model


@dataclass(frozen=True)
class Origin:
    file: str
    line: int | None

    def __str__(self) -> str:
        return self.file if self.line is None else f"{self.file}:{self.line}"


@dataclass
class Var:
    value: Any
    origin: Origin
    level: str  # "group all", "group workers", "host node1"


@dataclass
class Group:
    name: str
    origin: Origin
    vars: dict[str, Var] = field(default_factory=dict)  # from the hosts file
    file_vars: dict[str, Var] = field(default_factory=dict)  # from group_vars/
    children: set[str] = field(default_factory=set)
    hosts: set[str] = field(default_factory=set)


@dataclass
class Host:
    name: str
    origins: list[Origin] = field(default_factory=list)
    vars: dict[str, Var] = field(default_factory=dict)
    file_vars: dict[str, Var] = field(default_factory=dict)
    groups: list[str] = field(default_factory=list)  # Ansible's merge order, all first


@dataclass
class Inventory:
    path: Path
    sources: list[Path]
    groups: dict[str, Group]
    hosts: dict[str, Host]
    warnings: list[Problem] = field(default_factory=list)
    notes: list[Problem] = field(
        default_factory=list
    )  # legal values not checked (templates, vault)

    # -- groups
    def host_groups(self, host: str) -> list[str]:
        """Every group the host is in, parents included, ordered as Ansible merges them."""
        return list(self.hosts[host].groups)

    def members(self, group: str) -> list[str]:
        """Hosts of a group, its child groups included, in inventory order."""
        return [h for h, host in self.hosts.items() if group in host.groups]

    @property
    def masters(self) -> list[str]:
        return self.members(MASTERS)

    @property
    def workers(self) -> list[str]:
        return self.members(WORKERS)

    # -- variables
    def layers(self, host: str) -> Iterator[dict[str, Var]]:
        groups = [self.groups[g] for g in self.hosts[host].groups if g in self.groups]
        for grp in groups:
            yield grp.vars
        for grp in groups:
            yield grp.file_vars
        yield self.hosts[host].vars
        yield self.hosts[host].file_vars

    def host_vars(self, host: str) -> dict[str, Var]:
        """Effective variables of a host, each with the place it came from."""
        merged: dict[str, Var] = {}
        for layer in self.layers(host):
            merged.update(layer)
        return merged

    def values(self, host: str) -> dict[str, Any]:
        return {k: v.value for k, v in self.host_vars(host).items()}

    def setting(self, host: str, name: str) -> Any:
        var = self.host_vars(host).get(name)
        if var is None or var.value is None:
            return SETTINGS[name].default
        return var.value

    def role(self, host: str) -> str:
        return "master" if host in self.masters else "worker"

    def mode(self) -> str:
        """single: a master alone; multi: a master plus workers (the multi-node tuning rule)."""
        return "multi" if self.workers else "single"

    def image(self, host: str) -> str:
        return (
            self.setting(host, "dlrs_image")
            or catalog.variant(self.setting(host, "dlrs_variant")).image
        )


# --------------------------------------------------------------------------- Ansible's values


def _tag_origin(value: Any) -> Origin | None:
    from ansible._internal._datatag._tags import Origin as AnsibleOrigin

    tag = value if isinstance(value, AnsibleOrigin) else AnsibleOrigin.get_tag(value)
    if tag is None or not tag.path:
        return None
    return Origin(tag.path, tag.line_num or None)


def _plain(value: Any) -> Any:
    """Ansible's tagged value as plain Python; a vault-encrypted one stays opaque."""
    from ansible.parsing.vault import EncryptedString

    if isinstance(value, EncryptedString):
        return VaultValue("<vault>")
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, str):
        return str.__str__(value) if type(value) is str else "".join((value,))
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, Mapping):
        return {_plain(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    from ansible.module_utils._internal._datatag import AnsibleTagHelper

    return AnsibleTagHelper.untag(value)


def _exc_origin(exc: BaseException) -> Origin | None:
    """The file and line an AnsibleError (or one it wraps) points at."""
    seen: set[int] = set()
    first: Origin | None = None
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        obj = getattr(current, "obj", None)
        if obj is not None and (found := _tag_origin(obj)) is not None:
            if found.line is not None:
                return found
            first = first or found
        current = current.__cause__ or current.__context__
    return first


def _exc_message(exc: BaseException) -> str:
    from ansible.errors import AnsibleError

    text = exc.message if isinstance(exc, AnsibleError) else str(exc)
    cause = exc.__cause__
    if isinstance(exc, AnsibleError) and cause is not None and text.endswith(str(cause)):
        text = str(cause)  # "Failed to parse inventory: X": keep X
    return str(text)


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, str):
        return f"the string {_plain(value)!r}"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"the number {_plain(value)}"
    return type(_plain(value)).__name__


# --------------------------------------------------------------------------- Ansible's plugins


class _Where:
    """What the plugins below record while Ansible's own parse runs: problems with their place,
    and the line of every host and group (InventoryData keeps names, not places)."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []
        self.hosts: dict[str, list[Origin]] = {}
        self.groups: dict[str, Origin] = {}
        self.file = ""

    def problem(self, origin: Origin | None, message: str, fix: str = "", **kw: str) -> None:
        origin = origin or Origin(self.file, None)
        self.problems.append(Problem(origin.file, message, fix, origin.line, **kw))


_RANGE_FIX = (
    "write a range as [START:END] or [START:END:STEP] with whole numbers of the same width "
    "(w[01:10]) or single letters (w[a:f]), the step above zero"
)
_BRACKET = re.compile(r"\[([^\[\]]*)\]")


def _range_problem(hostpattern: str) -> str | None:
    """What is wrong with the ranges of a host pattern, before Ansible expands it: a zero step,
    letters mixed with numbers, a reversed range (Ansible silently names no host), or more
    hosts than input_files.MAX_HOSTS (Ansible would build them all)."""
    from ansible.parsing.utils.addresses import parse_address

    try:
        pattern, _port = parse_address(hostpattern, allow_ranges=True)
    except Exception:  # Ansible goes on with the pattern as it is
        pattern = hostpattern
    total = 1
    for m in _BRACKET.finditer(pattern):
        parts = m.group(1).split(":")
        if len(parts) not in (2, 3) or not parts[1]:
            continue  # not a range (an IPv6 address); Ansible says what it makes of it
        beg, end = parts[0] or "0", parts[1]
        step_text = parts[2] if len(parts) == 3 and parts[2] else "1"
        if not step_text.isdigit():
            return f"the step {step_text!r} is not a whole number"
        step = int(step_text)
        if step == 0:
            return "the step is zero"
        if beg.isdigit() and end.isdigit():
            low, high = int(beg), int(end)
        elif len(beg) == 1 and len(end) == 1 and beg.isalpha() and end.isalpha():
            low, high = ord(beg), ord(end)
        elif (beg.isdigit() and end.isalpha()) or (beg.isalpha() and end.isdigit()):
            return f"it mixes a number and a letter ({beg} and {end})"
        else:
            return f"{beg!r} to {end!r} is neither a range of numbers nor of single letters"
        if low > high:
            return (
                f"it is reversed: it starts at {beg}, after its end {end}, so it names no "
                f"host (write [{end}:{beg}])"
            )
        total *= len(range(low, high + 1, step))
        if total > input_files.MAX_HOSTS:
            return (
                f"it names {total:,} hosts or more: refused above "
                f"{input_files.MAX_HOSTS:,} hosts per range"
            )
    return None


def _plugins(where: _Where) -> tuple[Any, Any]:
    """Ansible's yaml and ini inventory plugins, taught to record places and to go on past a
    bad part so that every problem is reported at once."""
    from ansible.errors import AnsibleError
    from ansible.plugins.inventory import ini, yaml
    from ansible.plugins.loader import inventory_loader

    class Recording:
        def _expand_hostpattern(self, hostpattern: Any) -> tuple[list[str], int | None]:
            origin = _tag_origin(hostpattern) or self._line_origin()
            if isinstance(hostpattern, str) and (wrong := _range_problem(hostpattern)):
                where.problem(
                    origin,
                    f"host range {_plain(hostpattern)!r} does not expand: {wrong}",
                    fix=_RANGE_FIX,
                )
                return [], None
            try:
                names, port = super()._expand_hostpattern(hostpattern)  # type: ignore[misc]
            except TypeError:  # a YAML number as the host name
                where.problem(
                    origin,
                    f"host name {hostpattern!r} is not a string",
                    fix="put the host name in quotes",
                )
                return [], None
            except (AnsibleError, ValueError) as exc:
                where.problem(
                    origin,
                    f"host range {_plain(hostpattern)!r} does not expand: {_exc_message(exc)}",
                    fix=_RANGE_FIX,
                )
                return [], None
            for name in names:
                where.hosts.setdefault(str(name), []).append(origin)
            return names, port

        def _line_origin(self) -> Origin:
            return _tag_origin(getattr(self, "_origin", None)) or Origin(where.file, None)

    # Ansible derives the plugin type from the class name: both keep the name InventoryModule
    class YamlInventoryModule(Recording, yaml.InventoryModule):  # type: ignore[misc]
        def _parse_group(self, group: Any, group_data: Any) -> Any:
            origin = _tag_origin(group) or Origin(where.file, None)
            name = _plain(group)
            where.groups.setdefault(name, origin)
            label = f"group {name}"
            if not isinstance(group_data, (Mapping, type(None))):
                where.problem(
                    origin,
                    f"a group must be a mapping, got {_kind(group_data)}",
                    fix=f"write `{name}:` with `hosts:`, `vars:` or `children:` under it",
                    where=label,
                )
                group_data = None
            elif group_data is not None:
                group_data = dict(group_data)
                for key in list(group_data):
                    key_origin = _tag_origin(key) or origin
                    if key not in GROUP_KEYS:  # Ansible warns without saying where
                        near = difflib.get_close_matches(str(key), GROUP_KEYS, n=1)
                        hint = f"did you mean {near[0]!r}? " if near else ""
                        where.problem(
                            key_origin,
                            f"unknown key {_plain(key)!r} in a group",
                            fix=f"{hint}a group holds only hosts, vars and children",
                            where=label,
                            field=str(key),
                        )
                        del group_data[key]
                        continue
                    body = group_data[key]
                    if key in ("hosts", "children") and isinstance(body, Mapping):
                        body = group_data[key] = _string_keys(body, key_origin, label, key)
                    if isinstance(body, (Mapping, type(None))) or (
                        key != "vars" and isinstance(body, str)
                    ):
                        continue
                    # Ansible stops the whole file here, without a line: say where, go on
                    what, fix = {
                        "hosts": (
                            "host names",
                            "write each host as `NAME:` (or `NAME: {ansible_host: ADDR}`) "
                            "on its own line under `hosts:`",
                        ),
                        "children": ("groups", "write each child group as `NAME:` on its own line"),
                        "vars": ("", "write them as `name: value` lines"),
                    }[key]
                    message = (
                        f"`{key}` must be a mapping of {what}, got {_kind(body)}"
                        if what
                        else f"variables must be a mapping, got {_kind(body)}"
                    )
                    where.problem(key_origin, message, fix=fix, where=label, field=key)
                    del group_data[key]
            return super()._parse_group(group, group_data)

    def _string_keys(entries: Mapping, origin: Origin, label: str, key: str) -> dict:
        """The hosts (or child groups) whose names are strings, and host variables that are a
        mapping; anything else is a problem at its line (Ansible fails on it without one)."""
        what = "host" if key == "hosts" else "group"
        kept = {}
        for name, body in entries.items():
            at = _tag_origin(name) or _tag_origin(body) or origin
            if not isinstance(name, str):
                fix = (
                    f"give the {what} a name (an empty key, `~` or `null` is YAML's null)"
                    if name is None
                    else f"a {what} name is a plain name; put it in quotes if it is a number"
                )
                where.problem(
                    at, f"a {what} name must be a string, got {_kind(name)}", fix=fix, where=label
                )
                continue
            if key == "hosts" and not isinstance(body, (Mapping, type(None))):
                where.problem(
                    at,
                    f"the variables of host {name} must be a mapping, got {_kind(body)}",
                    fix=f"write `{name}:` alone, or `{name}: {{name: value}}`",
                    where=label,
                )
                body = None
            kept[name] = body
        return kept

    class IniInventoryModule(Recording, ini.InventoryModule):  # type: ignore[misc]
        def _raise_error(self, message: str) -> None:
            # Ansible's parse() forgets the line before its error leaves: keep it on the error
            raise AnsibleError(message, obj=self._origin)

        def _populate_host_vars(self, hosts: Any, variables: Any, group: Any, port: Any) -> None:
            if group:
                where.groups.setdefault(str(group), self._line_origin())
            super()._populate_host_vars(hosts, variables, group, port)

    def make(cls: type, name: str) -> Any:
        cls.__name__ = "InventoryModule"
        plugin = cls()
        for attr in ("_load_name", "_original_path", "_redirected_names"):
            setattr(plugin, attr, getattr(inventory_loader.get(name), attr, None))
        return plugin

    return make(YamlInventoryModule, "yaml"), make(IniInventoryModule, "ini")


# INI errors of Ansible's ini plugin, in the words of the rest of our messages
_INI_MESSAGES = (
    (
        re.compile(r"Expected key=value host variable assignment, got: (.*)"),
        "expected key=value after the host name, got {0!r}",
        "write host variables as name=value",
    ),
    (
        re.compile(r"Expected key=value, got: (.*)"),
        "expected key=value, got {0!r}",
        "one `name=value` per line in a :vars section",
    ),
    (
        re.compile(r"Section \[(.*)\] has unknown type: (.*)"),
        "unknown section kind {1!r}",
        "use [group], [group:vars] or [group:children]",
    ),
    (
        re.compile(r"Error parsing host definition '.*': (.*)"),
        "cannot split the host line: {0}",
        "check the quotes on this line",
    ),
)


_CYCLE = re.compile(r"Adding group '(.+)' as child to '(.+)' creates a recursive dependency loop\.")


def _cycle_problem(where: _Where, exc: BaseException, data: Any) -> bool:
    """Ansible's "recursive dependency loop", with the groups of the loop named."""
    m = _CYCLE.fullmatch(_exc_message(exc))
    if not m:
        return False
    child, parent = m.groups()
    path = _group_path(data, child, parent) or [child, parent]
    loop = " -> ".join([parent, *path])
    where.problem(
        _exc_origin(exc) or where.groups.get(parent) or Origin(where.file, None),
        f"the groups form a cycle: {loop} (each contains the next, so a group contains itself)",
        fix=f"remove `{child}` from the children of `{parent}`",
        where=f"group {parent}",
    )
    return True


def _group_path(data: Any, start: str, goal: str) -> list[str] | None:
    """Group names from start down to goal through child groups (already in the data)."""
    todo, seen = [[start]], {start}
    while todo:
        path = todo.pop(0)
        if path[-1] == goal:
            return path
        grp = data.groups.get(path[-1])
        for c in grp.child_groups if grp is not None else []:
            if c.name not in seen:
                seen.add(c.name)
                todo.append([*path, str(c.name)])
    return None


def _ini_problem(where: _Where, exc: BaseException) -> None:
    text = _exc_message(exc)
    origin = _exc_origin(exc)
    for pattern, message, fix in _INI_MESSAGES:
        if m := pattern.fullmatch(text):
            where.problem(origin, message.format(*m.groups()), fix=fix)
            return
    where.problem(origin, text, fix="see Ansible's INI inventory format for this line")


def _named_type(text: str) -> str:
    """'... got: <class '..._AnsibleTaggedList'>' in our words ("a list")."""
    for word, kind in (("List", "a list"), ("Str", "a string"), ("Int", "a number")):
        if f"{word}'>" in text or f"'{word.lower()}'>" in text:
            return kind
    return "something else"


def _yaml_problem(where: _Where, exc: BaseException) -> None:
    text = _exc_message(exc)
    origin = _exc_origin(exc) or Origin(where.file, None)
    if text == "Parsed empty YAML file":
        where.problem(
            origin,
            "the inventory file is empty",
            fix="describe at least `all: {children: {masters: {hosts: {NAME: {}}}}}`",
        )
    elif text.startswith("YAML inventory has invalid structure"):
        where.problem(
            Origin(origin.file, origin.line or 1),
            f"the top level must be a mapping of groups, got {_named_type(text)}",
            fix="start the file with `all:` and put groups under `children:`",
        )
    elif text.startswith("YAML parsing failed") and "unhashable key" in text:
        where.problem(
            origin,
            "a key (a host or group name) is a list or a mapping",
            fix="write each host or group as a plain `name:` on its own line",
        )
    elif text.startswith("YAML parsing failed"):
        what = text.removeprefix("YAML parsing failed").lstrip(": ")
        where.problem(
            origin,
            f"YAML does not parse: {what}",
            fix="check indentation and quoting at that line (tabs are not allowed in YAML)",
        )
    else:
        where.problem(origin, text, fix="see Ansible's YAML inventory format")


_DUPLICATE = re.compile(r"Found duplicate mapping key (.*)\.")
_SOURCE = re.compile(r"Origin: (.+?):(\d+)(?::\d+)?\s*$", re.MULTILINE)


def _duplicates(where: _Where, ctx: Any, file: str, label: str) -> None:
    """Ansible's DataLoader only warns (keeping the last value) on a key given twice; the
    warning's source context names the line: make it a problem."""
    for warning in ctx.get_warnings():
        m = _DUPLICATE.fullmatch(warning.event.msg)
        if not m:
            continue
        key = m.group(1).strip("'\"")
        at = _SOURCE.search(warning.event.formatted_source_context or "")
        origin = Origin(at.group(1), int(at.group(2))) if at else Origin(file, None)
        where.problem(
            origin,
            f"key {m.group(1)} appears twice in the same mapping; YAML keeps only the last one",
            fix="merge the two entries",
            where=label,
            field=key,
        )


def _warnings_captured() -> Any:
    from ansible._internal._display_utils import DeferredWarningContext

    return DeferredWarningContext(variables={})


# --------------------------------------------------------------------------- loading


def _hosts_files(path: Path, w: _Where) -> list[Path]:
    """The files Ansible reads as inventory sources from a folder (its IGNORED rule). A folder
    that cannot be listed is a problem; what is no regular file is refused when it is read."""
    from ansible.inventory.manager import IGNORED

    if not path.is_dir():
        return [path]
    try:
        names = sorted(os.listdir(path))
    except OSError as exc:
        w.problem(
            Origin(str(path), None),
            f"the folder cannot be read ({exc.strerror or exc.__class__.__name__})",
            fix="make it readable (chmod u+rx) by the user running dlrs-provision",
        )
        return []
    found: list[Path] = []
    for name in names:
        if IGNORED.search(os.fsencode(name)):
            continue
        entry = path / name
        found += _hosts_files(entry, w) if entry.is_dir() else [entry]
    return found


def _read_text(w: _Where, path: Path, *, yaml_text: bool, what: str = "inventory") -> str | None:
    """A user's file as text, or None after recording why not: no regular file (a FIFO is
    never opened), too large, not UTF-8, or YAML built to expand without end."""
    try:
        text = input_files.decode(
            input_files.read_bytes(path, input_files.MAX_INVENTORY_BYTES, what)
        )
        if yaml_text:
            input_files.yaml_bombs(text)
    except input_files.Unreadable as exc:
        w.problem(Origin(str(path), exc.line), f"the file {exc.message}", fix=exc.fix)
        return None
    return text


def _looks_like_yaml(text: str) -> bool:
    """A hosts file without extension whose lines are YAML (`all:`, `hosts:`), not INI."""
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        return False
    if lines[0].strip() == "---" or re.match(r"^[\w.-]+:\s*(\{.*)?$", lines[0]):
        return True
    return any(re.match(r"^\s+(hosts|children|vars):\s*$", ln) for ln in lines)


def _yaml_inventory(src: Path, loader: Any) -> BaseException | None:
    """A hosts file without extension: Ansible tries its yaml plugin first, then ini. None when
    it is a YAML inventory, else the yaml plugin's error."""
    from ansible.errors import AnsibleError
    from ansible.inventory.data import InventoryData

    scratch = _Where()
    try:
        with _warnings_captured():
            _plugins(scratch)[0].parse(InventoryData(), loader, str(src), cache=False)
    except AnsibleError as exc:
        return exc
    return None


def _parse_source(src: Path, plugins: tuple[Any, Any], data: Any, loader: Any, w: _Where) -> bool:
    """One hosts file through Ansible's plugin for it; False when it gave no inventory."""
    from ansible.errors import AnsibleError

    yaml_plugin, ini_plugin = plugins
    w.file = str(src)
    data.current_source = str(src)
    yaml_named = src.suffix in yaml_plugin.get_option("yaml_extensions")
    text = _read_text(w, src, yaml_text=yaml_named or not src.suffix)
    if text is None:
        return False
    yaml_error = None if yaml_named or src.suffix else _yaml_inventory(src, loader)
    if yaml_named or (not src.suffix and yaml_error is None):
        with _warnings_captured() as ctx:
            try:
                yaml_plugin.parse(data, loader, str(src), cache=False)
                parsed = True
            except AnsibleError as exc:
                if not _cycle_problem(w, exc, data):
                    _yaml_problem(w, exc)
                parsed = False
        _duplicates(w, ctx, str(src), "")
        return parsed
    if yaml_error is not None and _looks_like_yaml(text):
        # Ansible would go on to read it as INI and report INI errors on YAML lines
        scratch = _Where()
        scratch.file = str(src)
        _yaml_problem(scratch, yaml_error)
        first = scratch.problems[0] if scratch.problems else None
        why = f" ({first.message})" if first else ""
        w.problem(
            Origin(str(src), first.line if first else None),
            f"this file has no extension and looks like YAML, but it does not load as a YAML "
            f"inventory{why}, so Ansible would read it as INI",
            fix=f"name it {src.name}.yml so that it is read as YAML, and fix the YAML"
            + (f": {first.fix}" if first and first.fix else ""),
        )
        return False
    if not any(ln.strip() and not ln.strip().startswith(("#", ";")) for ln in text.splitlines()):
        # Ansible's ini plugin reads it as an inventory of nothing, silently
        w.problem(None, "the inventory file is empty", fix="add a [masters] section with one host")
        return False
    try:
        ini_plugin.parse(data, loader, str(src), cache=False)
    except AnsibleError as exc:
        if not _cycle_problem(w, exc, data):
            _ini_problem(w, exc)
    return True


def _var(key: Any, value: Any, file: str, level: str) -> tuple[str, Var]:
    origin = _tag_origin(key) or _tag_origin(value) or Origin(file, None)
    return _plain(key), Var(_plain(value), origin, level)


def _vars_of(mapping: Mapping, file: str, level: str) -> dict[str, Var]:
    return dict(_var(k, v, file, level) for k, v in mapping.items() if k not in _ANSIBLE_ONLY)


def _var_files(b: _Where, loader: Any, base: Path, kind: str, name: str, level: str) -> dict:
    """group_vars/NAME or host_vars/NAME (a file, or a folder of files) as Ansible finds them;
    a folder or file this user may not read is a problem at its path, whichever step meets it."""
    try:
        return _read_var_files(b, loader, base, kind, name, level)
    except OSError as exc:
        b.problem(
            Origin(exc.filename or str(base / kind), None),
            f"cannot be read ({exc.strerror or exc.__class__.__name__})",
            fix="make it readable (chmod u+rx) by the user running dlrs-provision",
            where=level,
        )
        return {}


def _read_var_files(b: _Where, loader: Any, base: Path, kind: str, name: str, level: str) -> dict:
    from ansible.errors import AnsibleError
    from ansible.parsing.vault import is_encrypted_file

    out: dict[str, Var] = {}
    folder = base / kind
    if not folder.is_dir():
        return out
    if not os.access(
        folder, os.R_OK | os.X_OK, effective_ids=True
    ):  # name the folder, not a file inside it
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(folder))
    for ext in (".yml", ".yaml", ".json"):
        if (folder / (name + ext)).is_dir():
            b.problem(
                Origin(str(folder / (name + ext)), None),
                f"is a folder, but a name ending in {ext} must be a file of variables",
                fix=f"make it a file, or name the folder {kind}/{name}/ (a folder of files)",
                where=level,
            )
            return out
    try:
        odd = sorted((folder / name).rglob("*")) if (folder / name).is_dir() else []
        found_files = loader.find_vars_files(str(folder), name)
    except OSError as exc:
        b.problem(
            Origin(exc.filename or str(folder), None),
            f"cannot be read ({exc.strerror or exc.__class__.__name__})",
            fix="make it readable (chmod u+rx) by the user running dlrs-provision",
            where=level,
        )
        return out
    if odd:
        for entry in odd:
            if entry.is_dir() or entry.name.startswith("."):
                continue
            if (what := input_files.kind_problem(entry)) is not None:
                b.problem(
                    Origin(str(entry), None),
                    f"is {what}, not a file of variables (Ansible would skip it unsaid)",
                    fix=f"remove it from {folder / name}/",
                    where=level,
                )
    for found in found_files:
        file = str(found)
        text = _read_text(b, Path(found), yaml_text=True, what="variables")
        if text is None:
            continue
        with open(found, "rb") as handle:
            if is_encrypted_file(handle):
                b.warnings.append(
                    Problem(
                        file,
                        "vault-encrypted file: its dlrs_ settings are not checked before the run",
                        where=level,
                    )
                )
                continue
        b.file = file
        with _warnings_captured() as ctx:
            try:
                data = loader.load_from_file(file, cache="none", unsafe=True)
            except AnsibleError as exc:
                _yaml_problem(b, exc)
                continue
        _duplicates(b, ctx, file, level)
        if data is None:
            continue
        if not isinstance(data, Mapping):
            b.problem(
                _tag_origin(data) or Origin(file, None),
                f"variables must be a mapping, got {_kind(data)}",
                fix="write them as `name: value` lines",
                where=level,
            )
            continue
        out.update(_vars_of(data, file, level))
    return out


def _unmatched_var_files(base: Path, groups: set[str], hosts: set[str]) -> list[Problem]:
    """group_vars/ and host_vars/ entries named after nothing: Ansible ignores them silently."""
    found: list[Problem] = []
    for kind, known, store in (("group_vars", groups, "group"), ("host_vars", hosts, "host")):
        folder = base / kind
        if not folder.is_dir():
            continue
        try:
            entries = sorted(folder.iterdir())
        except OSError:
            continue  # reported where its variables are read
        for entry in entries:
            if entry.name.startswith("."):
                continue
            stem = entry.name
            if entry.suffix in (".yml", ".yaml", ".json"):
                stem = entry.stem
            if stem in known:
                continue
            near = difflib.get_close_matches(stem, sorted(known), n=1)
            hint = f"did you mean {near[0]!r}? " if near else ""
            found.append(
                Problem(
                    str(entry),
                    f"matches no {store} of the inventory, so it applies to nothing",
                    fix=f"{hint}rename it after a {store} or remove it",
                )
            )
    return found


_PLUGINS_READY = False


def _data_loader() -> Any:
    from ansible.parsing.dataloader import DataLoader

    class Loader(DataLoader):
        """Ansible's DataLoader, without the deep copy of what it does not cache: the yaml
        plugin reads a hosts file with cache='none', and copying a 1000-host file took longer
        than parsing it. Nothing else holds that data, so there is nothing to protect."""

        def load_from_file(self, file_name: str, cache: str = "all", **kw: Any) -> Any:
            if cache == "none":
                kw["unsafe"] = True
            return super().load_from_file(file_name, cache, **kw)

    return Loader()


def load(path: str | Path) -> Inventory:
    """Read an inventory (file or folder) through Ansible and validate it.

    Raises InputError listing every problem found, not just the first.
    """
    root = Path(path)
    if not root.exists():
        raise InputError(
            [
                Problem(
                    str(root),
                    "no such file or folder",
                    fix="give the path of a hosts file or an inventory folder",
                )
            ],
            what=f"inventory {root}",
        )
    if not root.is_dir() and (kind := input_files.kind_problem(root)) is not None:
        raise InputError(
            [
                Problem(
                    str(root),
                    f"is {kind}, not an inventory file or folder",
                    fix="give the path of a hosts file (YAML or INI) or an inventory folder",
                )
            ],
            what=f"inventory {root}",
        )
    folder = root if root.is_dir() else root.parent
    if not os.access(folder, os.R_OK | os.X_OK, effective_ids=True):
        raise InputError(
            [
                Problem(
                    str(folder),
                    "cannot be read (Permission denied): its hosts and vars files are out of reach",
                    fix="make it readable (chmod u+rx) by the user running dlrs-provision",
                )
            ],
            what=f"inventory {root}",
        )
    from ansible.inventory.data import InventoryData
    from ansible.inventory.helpers import sort_groups
    from ansible.plugins.loader import init_plugin_loader

    global _PLUGINS_READY
    if not _PLUGINS_READY:
        init_plugin_loader()
        _PLUGINS_READY = True
    loader = _data_loader()
    data = InventoryData()
    w = _Where()
    readable = True
    sources = _hosts_files(root, w)
    if not sources:
        readable = False
    if not sources and not w.problems:
        w.problem(
            Origin(str(root), None),
            "the folder holds no hosts file",
            fix="add hosts.yml (YAML) or hosts (INI) to it",
        )
    plugins = _plugins(w)
    for src in sources:
        readable = _parse_source(src, plugins, data, loader, w) and readable
    data.current_source = None
    data.reconcile_inventory()

    base = root if root.is_dir() else root.parent
    for kind in ("group_vars", "host_vars"):
        if (base / kind).exists() and not (base / kind).is_dir():
            readable = False
            w.problem(
                Origin(str(base / kind), None),
                f"{kind} is a file: Ansible reads {kind}/ only as a folder, so its variables "
                "would apply to nothing",
                fix=f"make {kind}/ a folder with one NAME.yml per "
                + ("group" if kind == "group_vars" else "host"),
            )
    fallback = Origin(str(sources[0] if sources else root), None)
    groups: dict[str, Group] = {}
    for tagged, grp in data.groups.items():
        name = _plain(tagged)
        level = f"group {name}"
        file = w.groups.get(name, fallback).file
        groups[name] = Group(
            name,
            w.groups.get(name, Origin(str(root), None)),
            vars=_vars_of(grp.vars, file, level),
            file_vars=_var_files(w, loader, base, "group_vars", name, level),
            children={_plain(c.name) for c in grp.child_groups},
            hosts={_plain(h.name) for h in grp.hosts},
        )
    hosts: dict[str, Host] = {}
    for tagged, host in data.hosts.items():
        name = _plain(tagged)
        level = f"host {name}"
        origins = w.hosts.get(name) or [fallback]
        hosts[name] = Host(
            name,
            origins=origins,
            vars=_vars_of(host.vars, origins[0].file, level),
            file_vars=_var_files(w, loader, base, "host_vars", name, level),
            groups=[_plain(g.name) for g in sort_groups(host.get_groups())],
        )
    warnings = w.warnings + _unmatched_var_files(base, set(groups), set(hosts))
    inv = Inventory(root, sources, groups, hosts, warnings)
    problems = list(w.problems)
    if readable:
        from dlrs_provision import validate

        problems += validate.check(inv)
    if problems:
        raise InputError(problems, what=f"inventory {root}")
    return inv


# --------------------------------------------------------------------------- --limit


def _limit_items(limit: str) -> list[str]:
    """Ansible's pattern split: on ',' and on ':' outside brackets (w[1:3] stays whole)."""
    items, word, depth = [], "", 0
    for ch in limit:
        depth += {"[": 1, "]": -1}.get(ch, 0)
        if ch == "," or (ch == ":" and depth == 0):
            items.append(word.strip())
            word = ""
        else:
            word += ch
    items.append(word.strip())
    return [i for i in items if i]


def _limit_match(inv: Inventory, item: str) -> list[str] | None:
    """The hosts one --limit item names (inventory order), or None when it names nothing."""
    import fnmatch

    order = list(inv.hosts)
    if item in ("all", "*"):
        return order
    if item in inv.hosts:
        return [item]
    if item in inv.groups:
        return inv.members(item)
    m = re.fullmatch(r"(.+)\[(-?\d*)(?::(-?\d*))?\]", item)
    if m and m.group(1) in inv.groups:  # group[0], group[1:3]
        members = inv.members(m.group(1))
        start = int(m.group(2)) if m.group(2) else 0
        if m.group(3) is None and m.group(2):
            return members[start : start + 1 or None] or None
        end = int(m.group(3)) + 1 if m.group(3) else None
        return members[start:end] or None
    if item.startswith("~"):
        try:
            rx = re.compile(item[1:])
        except re.error:
            return None
        names = [h for h in order if rx.search(h)]
        groups = [g for g in inv.groups if rx.search(g)]
    elif any(c in item for c in "*?["):
        names = [h for h in order if fnmatch.fnmatchcase(h, item)]
        groups = [g for g in inv.groups if fnmatch.fnmatchcase(g, item)]
    else:
        return None
    chosen = set(names)
    for g in groups:
        chosen.update(inv.members(g))
    return [h for h in order if h in chosen] or None


def select(
    inv: Inventory, limit: str | None, among: list[str] | None = None, what: str = "--limit"
) -> list[str]:
    """The hosts a --limit selects, the one rule of every command: Ansible's pattern (names,
    groups, wildcards, ~regex, !exclude, &intersect). A name that is neither a host nor a group
    of the inventory, or a limit that leaves no host of `among`, is a UsageError before any
    host is touched. `what` names the argument in the messages (--limit, NODE)."""
    from dlrs_provision.errors import UsageError

    pool = list(among) if among is not None else list(inv.hosts)
    if not limit:
        return pool
    union: list[str] = []
    keep: set[str] | None = None
    drop: set[str] = set()
    unknown: list[str] = []
    for raw in _limit_items(limit):
        op, item = (raw[0], raw[1:].strip()) if raw[0] in "!&" else ("", raw)
        found = _limit_match(inv, item) if item else None
        if found is None:
            unknown.append(raw)
            continue
        if op == "!":
            drop.update(found)
        elif op == "&":
            keep = set(found) if keep is None else keep & set(found)
        else:
            union += [h for h in found if h not in union]
    if unknown:
        raise UsageError(
            f"{what} {limit}: {', '.join(unknown)} is neither a host nor a group of {inv.path}",
            f"name hosts or groups of the inventory: hosts {', '.join(inv.hosts)}; "
            f"groups {', '.join(g for g in inv.groups if g != 'ungrouped')}",
        )
    if not union and (keep is not None or drop):
        union = list(inv.hosts)  # `!w1` alone means every host but w1, as in Ansible
    chosen = [h for h in pool if h in union and h not in drop and (keep is None or h in keep)]
    if not chosen:
        raise UsageError(
            f"{what} {limit} leaves no host"
            + (" of the masters and workers groups" if among is not None else ""),
            f"choose among: {', '.join(pool)}",
        )
    return chosen
