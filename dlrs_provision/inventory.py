"""Load and validate an Ansible inventory before any host is touched.

The inventory is a standard Ansible one, so the same files serve `dlrs-provision` and
`ansible-playbook`: a YAML or INI hosts file, or a folder holding hosts files, with group_vars/
and host_vars/ beside them. This module reads those files itself (rather than through
Ansible's InventoryManager) because every error must name the file and the line it comes from.
Variables are merged in Ansible's order of precedence, lowest first:

    hosts-file group vars (all, then groups by depth)  <  group_vars/all  <  group_vars/<group>
    <  hosts-file host vars  <  host_vars/<host>
"""

from __future__ import annotations

import ast
import difflib
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from dlrs_provision import catalog, clearlinux_kubernetes
from dlrs_provision.clearlinux_kubernetes import DEFAULT_KUBERNETES_VERSION
from dlrs_provision.errors import InputError, Problem
from dlrs_provision.settings import SETTINGS

MASTERS = "masters"
WORKERS = "workers"
YAML_EXTS = (".yml", ".yaml", ".json")
# Ansible's INVENTORY_IGNORE_EXTS defaults, for the files of an inventory folder
IGNORED_EXTS = (
    ".pyc",
    ".pyo",
    ".swp",
    ".bak",
    "~",
    ".rpm",
    ".md",
    ".txt",
    ".rst",
    ".orig",
    ".cfg",
    ".retry",
)
GROUP_KEYS = ("hosts", "vars", "children")


# --------------------------------------------------------------------------- YAML with lines


class LineMap(dict):
    """A mapping from YAML that remembers the line of each key (1-based)."""

    line: int | None = None

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.key_lines: dict[Any, int] = {}
        self.duplicates: list[tuple[Any, int]] = []

    def line_of(self, key: Any) -> int | None:
        return self.key_lines.get(key, self.line)


class VaultValue(str):
    """An !vault encrypted value: opaque here, and never printed."""

    def __repr__(self) -> str:
        return "<vault-encrypted>"


class _Loader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> LineMap:
    loader.flatten_mapping(node)
    result = LineMap()
    result.line = node.start_mark.line + 1
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if key in result:
            result.duplicates.append((key, line))
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = line
    return result


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_constructor("!vault", lambda loader, node: VaultValue("<vault>"))
_Loader.add_constructor("!unsafe", lambda loader, node: loader.construct_scalar(node))


def _load_yaml(path: Path, problems: list[Problem]) -> Any:
    """Parse one YAML file; a parse error becomes a Problem (with its line) and None."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(Problem(str(path), f"cannot read the file ({exc.__class__.__name__})"))
        return None
    if text.startswith("$ANSIBLE_VAULT;"):
        return VaultValue("<vault>")
    try:
        return yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        what = getattr(exc, "problem", None) or str(exc)
        context = getattr(exc, "context", None)
        msg = f"YAML does not parse: {what}" + (f" ({context})" if context else "")
        problems.append(
            Problem(
                str(path),
                msg,
                fix="check indentation and quoting at that line (tabs are not allowed in YAML)",
                line=mark.line + 1 if mark else None,
            )
        )
        return None


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


@dataclass
class Inventory:
    path: Path
    sources: list[Path]
    groups: dict[str, Group]
    hosts: dict[str, Host]
    warnings: list[Problem] = field(default_factory=list)

    # -- groups
    def host_groups(self, host: str) -> list[str]:
        """Every group the host is in, parents included, ordered as Ansible merges them."""
        direct = {g for g, grp in self.groups.items() if host in grp.hosts}
        found = set(direct)
        stack = list(direct)
        while stack:
            child = stack.pop()
            for name, grp in self.groups.items():
                if child in grp.children and name not in found:
                    found.add(name)
                    stack.append(name)
        found.add("all")
        depth = self._depths()
        return sorted(found, key=lambda g: (depth.get(g, 0), g))

    def _depths(self) -> dict[str, int]:
        depth = {"all": 0}
        changed = True
        while changed:  # longest path from all; inventories are small
            changed = False
            for name, grp in self.groups.items():
                for child in grp.children:
                    d = depth.get(name, 1) + 1
                    if depth.get(child, -1) < d and d < 64:
                        depth[child] = d
                        changed = True
        return depth

    def members(self, group: str) -> list[str]:
        """Hosts of a group, its child groups included, in inventory order."""
        return [h for h in self.hosts if group in self.host_groups(h)]

    @property
    def masters(self) -> list[str]:
        return self.members(MASTERS)

    @property
    def workers(self) -> list[str]:
        return self.members(WORKERS)

    # -- variables
    def layers(self, host: str) -> Iterator[dict[str, Var]]:
        groups = self.host_groups(host)
        for g in groups:
            if g in self.groups:
                yield self.groups[g].vars
        for g in groups:
            if g in self.groups:
                yield self.groups[g].file_vars
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


# --------------------------------------------------------------------------- loading


class _Builder:
    def __init__(self) -> None:
        self.groups: dict[str, Group] = {}
        self.hosts: dict[str, Host] = {}
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []
        self.unreadable = False  # a hosts file did not parse: later checks would only mislead

    def group(self, name: str, origin: Origin) -> Group:
        if name not in self.groups:
            self.groups[name] = Group(name, origin)
        return self.groups[name]

    def host(self, name: str, origin: Origin) -> Host:
        if name not in self.hosts:
            self.hosts[name] = Host(name)
        self.hosts[name].origins.append(origin)
        return self.hosts[name]

    def problem(
        self, origin: Origin, message: str, fix: str = "", where: str = "", field: str = ""
    ) -> None:
        self.problems.append(Problem(origin.file, message, fix, origin.line, where, field))


def _expand_host(pattern: str) -> list[str]:
    from ansible.plugins.inventory import detect_range, expand_hostname_range

    if detect_range(pattern):
        return list(expand_hostname_range(pattern))
    return [pattern]


def _vars_from_mapping(b: _Builder, data: Any, file: str, level: str, where: str) -> dict[str, Var]:
    out: dict[str, Var] = {}
    if data is None:
        return out
    if isinstance(data, VaultValue):
        b.warnings.append(
            Problem(
                file,
                "vault-encrypted file: its dlrs_ settings are not checked before the run",
                where=where,
            )
        )
        return out
    if not isinstance(data, dict):
        line = getattr(data, "line", None)
        b.problem(
            Origin(file, line),
            f"variables must be a mapping, got {_kind(data)}",
            fix="write them as `name: value` lines",
            where=where,
        )
        return out
    for key, value in data.items():
        line = data.line_of(key) if isinstance(data, LineMap) else None
        out[str(key)] = Var(value, Origin(file, line), level)
    _report_duplicates(b, data, file, where)
    return out


def _report_duplicates(b: _Builder, data: Any, file: str, where: str) -> None:
    for key, line in getattr(data, "duplicates", []):
        b.problem(
            Origin(file, line),
            f"key {key!r} appears twice in the same mapping; YAML keeps only the last one",
            fix="merge the two entries",
            where=where,
            field=str(key),
        )


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, str):
        return f"the string {value!r}"
    return type(value).__name__


def _load_yaml_hosts(b: _Builder, path: Path) -> None:
    file = str(path)
    before = len(b.problems)
    data = _load_yaml(path, b.problems)
    if data is None:
        b.unreadable = True
        if len(b.problems) == before:
            b.problem(
                Origin(file, None),
                "the inventory file is empty",
                fix="describe at least `all: {children: {masters: {hosts: {NAME: {}}}}}`",
            )
        return
    if not isinstance(data, dict):
        b.unreadable = True
        b.problem(
            Origin(file, getattr(data, "line", 1)),
            f"the top level must be a mapping of groups, got {_kind(data)}",
            fix="start the file with `all:` and put groups under `children:`",
        )
        return
    _report_duplicates(b, data, file, "top level")
    for name, body in data.items():
        _yaml_group(b, str(name), body, file, data.line_of(name), depth=0)


def _yaml_group(b: _Builder, name: str, body: Any, file: str, line: int | None, depth: int) -> None:
    where = f"group {name}"
    grp = b.group(name, Origin(file, line))
    if body is None:
        return
    if not isinstance(body, dict):
        b.problem(
            Origin(file, line),
            f"a group must be a mapping, got {_kind(body)}",
            fix=f"write `{name}:` with `hosts:`, `vars:` or `children:` under it",
            where=where,
        )
        return
    _report_duplicates(b, body, file, where)
    for key in body:
        if key not in GROUP_KEYS:
            near = difflib.get_close_matches(str(key), GROUP_KEYS, n=1)
            hint = f"did you mean {near[0]!r}? " if near else ""
            b.problem(
                Origin(file, body.line_of(key)),
                f"unknown key {key!r} in a group",
                fix=f"{hint}a group holds only hosts, vars and children",
                where=where,
                field=str(key),
            )
    hosts = body.get("hosts")
    if hosts is not None:
        if not isinstance(hosts, dict):
            b.problem(
                Origin(file, body.line_of("hosts")),
                f"`hosts` must be a mapping of host names, got {_kind(hosts)}",
                fix="write each host as `NAME:` (or `NAME: {ansible_host: ADDR}`) "
                "on its own line under `hosts:`",
                where=where,
                field="hosts",
            )
        else:
            _report_duplicates(b, hosts, file, where)
            for hname, hvars in hosts.items():
                hline = hosts.line_of(hname)
                for expanded in _expand_host(str(hname)):
                    host = b.host(expanded, Origin(file, hline))
                    grp.hosts.add(expanded)
                    host.vars.update(
                        _vars_from_mapping(b, hvars, file, f"host {expanded}", f"host {expanded}")
                    )
    if "vars" in body:
        grp.vars.update(_vars_from_mapping(b, body["vars"], file, where, where))
    children = body.get("children")
    if children is not None:
        if not isinstance(children, dict):
            b.problem(
                Origin(file, body.line_of("children")),
                f"`children` must be a mapping of groups, got {_kind(children)}",
                fix="write each child group as `NAME:` on its own line",
                where=where,
                field="children",
            )
        elif depth < 32:
            _report_duplicates(b, children, file, where)
            for cname, cbody in children.items():
                grp.children.add(str(cname))
                _yaml_group(b, str(cname), cbody, file, children.line_of(cname), depth + 1)


def _ini_value(text: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return text


def _load_ini_hosts(b: _Builder, path: Path) -> None:
    file = str(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        b.problem(Origin(file, None), f"cannot read the file ({exc.__class__.__name__})")
        return
    if not any(ln.strip() and not ln.strip().startswith(("#", ";")) for ln in lines):
        b.unreadable = True
        b.problem(
            Origin(file, None),
            "the inventory file is empty",
            fix="add a [masters] section with one host",
        )
        return
    section, kind = "ungrouped", "hosts"
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        origin = Origin(file, number)
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            if not line.endswith("]"):
                b.problem(
                    origin,
                    f"section header {line!r} is not closed",
                    fix="write it as [group], [group:vars] or [group:children]",
                )
                continue
            name = line[1:-1].strip()
            section, _, kind = name.partition(":")
            kind = kind or "hosts"
            if kind not in ("hosts", "vars", "children"):
                b.problem(
                    origin,
                    f"unknown section kind {kind!r}",
                    fix="use [group], [group:vars] or [group:children]",
                    where=f"group {section}",
                )
                kind = "skip"
            b.group(section, origin)
            continue
        where = f"group {section}"
        if kind == "vars":
            key, sep, value = line.partition("=")
            if not sep:
                b.problem(
                    origin,
                    f"expected key=value, got {line!r}",
                    where=where,
                    fix="one `name=value` per line in a :vars section",
                )
                continue
            b.groups[section].vars[key.strip()] = Var(_ini_value(value.strip()), origin, where)
        elif kind == "children":
            b.group(section, origin).children.add(line.split()[0])
            b.group(line.split()[0], origin)
        elif kind == "hosts":
            try:
                tokens = shlex.split(line, comments=True)
            except ValueError as exc:
                b.problem(
                    origin,
                    f"cannot split the host line: {exc}",
                    where=where,
                    fix="check the quotes on this line",
                )
                continue
            pattern, hvars = tokens[0], {}
            for token in tokens[1:]:
                key, sep, value = token.partition("=")
                if not sep:
                    b.problem(
                        origin,
                        f"expected key=value after the host name, got {token!r}",
                        where=where,
                        fix="write host variables as name=value",
                    )
                    continue
                hvars[key] = _ini_value(value)
            port = None
            if pattern.count(":") == 1 and pattern.rsplit(":", 1)[1].isdigit():
                pattern, port_text = pattern.rsplit(":", 1)
                port = int(port_text)
            grp = b.group(section, origin)
            for name in _expand_host(pattern):
                host = b.host(name, origin)
                grp.hosts.add(name)
                level = f"host {name}"
                for key, value in hvars.items():
                    host.vars[key] = Var(value, origin, level)
                if port is not None:
                    host.vars["ansible_port"] = Var(port, origin, level)


def _var_files(base: Path, name: str) -> list[Path]:
    """group_vars/NAME(.yml|.yaml|.json|) or the files of group_vars/NAME/ (sorted)."""
    found = [base / f"{name}{ext}" for ext in ("", *YAML_EXTS)]
    files = [p for p in found if p.is_file()]
    folder = base / name
    if folder.is_dir():
        files += sorted(
            p
            for p in folder.rglob("*")
            if p.is_file()
            and (p.suffix in YAML_EXTS or not p.suffix)
            and not p.name.startswith(".")
        )
    return files


def _load_var_dirs(b: _Builder, base: Path) -> None:
    for kind, known, store in (
        ("group_vars", {*b.groups, "all"}, "group"),
        ("host_vars", set(b.hosts), "host"),
    ):
        folder = base / kind
        if not folder.is_dir():
            continue
        for entry in sorted(folder.iterdir()):
            if entry.name.startswith("."):
                continue
            stem = (
                entry.name
                if entry.is_dir()
                else entry.name.rsplit(".", 1)[0]
                if entry.suffix in YAML_EXTS
                else entry.name
            )
            if stem not in known:
                near = difflib.get_close_matches(stem, sorted(known), n=1)
                hint = f"did you mean {near[0]!r}? " if near else ""
                b.warnings.append(
                    Problem(
                        str(entry),
                        f"matches no {store} of the inventory, so it applies to nothing",
                        fix=f"{hint}rename it after a {store} or remove it",
                    )
                )
        for name in sorted(known):
            for path in _var_files(folder, name):
                data = _load_yaml(path, b.problems)
                where = f"{store} {name}"
                target = (
                    b.group(name, Origin(str(path), None)).file_vars
                    if store == "group"
                    else b.hosts[name].file_vars
                )
                target.update(_vars_from_mapping(b, data, str(path), where, where))


def _hosts_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    return sorted(
        p
        for p in path.iterdir()
        if p.is_file()
        and not p.name.startswith(".")
        and not any(p.name.endswith(ext) for ext in IGNORED_EXTS)
    )


def load(path: str | Path) -> Inventory:
    """Read an inventory (file or folder) and validate it.

    Raises InputError listing every problem found, not just the first.
    """
    root = Path(path)
    b = _Builder()
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
    b.group("all", Origin(str(root), None))
    b.group("ungrouped", Origin(str(root), None))
    sources = _hosts_files(root)
    if not sources:
        b.unreadable = True
        b.problem(
            Origin(str(root), None),
            "the folder holds no hosts file",
            fix="add hosts.yml (YAML) or hosts (INI) to it",
        )
    for src in sources:
        if src.suffix in YAML_EXTS:
            _load_yaml_hosts(b, src)
        else:
            _load_ini_hosts(b, src)
    _load_var_dirs(b, root if root.is_dir() else root.parent)
    inv = Inventory(root, sources, b.groups, b.hosts, b.warnings)
    if not b.unreadable:
        b.problems += _check(inv)
    if b.problems:
        raise InputError(b.problems, what=f"inventory {root}")
    return inv


# --------------------------------------------------------------------------- checks


def _check(inv: Inventory) -> list[Problem]:
    problems: list[Problem] = []
    root = str(inv.sources[0] if inv.sources else inv.path)
    add_group = "add `masters:` with one host under `all: children:` (INI: a [masters] section)"
    if MASTERS not in inv.groups:
        problems.append(Problem(root, "no `masters` group", fix=add_group, field=MASTERS))
    else:
        masters = inv.masters
        grp = inv.groups[MASTERS]
        if not masters:
            problems.append(
                Problem(
                    grp.origin.file,
                    "the `masters` group has no host",
                    fix="put exactly one host in masters",
                    line=grp.origin.line,
                    where=f"group {MASTERS}",
                )
            )
        elif len(masters) > 1:
            places = ", ".join(f"{h} ({inv.hosts[h].origins[0]})" for h in masters)
            problems.append(
                Problem(
                    grp.origin.file,
                    f"{len(masters)} hosts in `masters`: {places}",
                    fix="keep exactly one master (this toolkit builds one control-plane node); "
                    "move the others to `workers`",
                    line=grp.origin.line,
                    where=f"group {MASTERS}",
                )
            )
    workers = set(inv.workers)
    for name in inv.masters:
        if name in workers:
            origin = inv.hosts[name].origins[-1]
            problems.append(
                Problem(
                    origin.file,
                    "host is in both `masters` and `workers`",
                    fix="remove it from one of the two groups",
                    line=origin.line,
                    where=f"host {name}",
                )
            )

    # kubeadm names the node after the host (lower-cased) and refuses what is not a DNS-1123
    # subdomain, on the host, halfway through the Kubernetes phase: say it here instead.
    for name in [*inv.masters, *inv.workers]:
        hv = inv.host_vars(name)
        if any(k in hv for k in ("kubeadm_master_node_name", "kubeadm_worker_node_name")):
            continue
        if not _NODE_NAME.match(name.lower()) or len(name) > 253:
            origin = inv.hosts[name].origins[0]
            problems.append(
                Problem(
                    origin.file,
                    f"host name {name!r} cannot be a Kubernetes node name (lowercase letters, "
                    "digits, '-' and '.', starting and ending with a letter or digit)",
                    fix=f"rename the host, e.g. {_node_name_hint(name)!r} (keep its address in "
                    "ansible_host)",
                    line=origin.line,
                    where=f"host {name}",
                )
            )

    seen: dict[tuple[str, int], str] = {}
    for name in inv.hosts:
        hv = inv.host_vars(name)
        addr = hv["ansible_host"].value if "ansible_host" in hv else name
        port_var = hv.get("ansible_port")
        port = port_var.value if port_var else 22
        if port_var and (
            isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535
        ):
            problems.append(
                Problem(
                    port_var.origin.file,
                    f"port {port!r} is not a TCP port",
                    fix="give a whole number from 1 to 65535",
                    line=port_var.origin.line,
                    where=f"host {name}",
                    field="ansible_port",
                )
            )
            continue
        conn = hv.get("ansible_connection")
        if conn is not None and conn.value == "local":
            continue  # no address: the controller itself
        key = (str(addr), port)
        if key in seen:
            origin = inv.hosts[name].origins[0]
            problems.append(
                Problem(
                    origin.file,
                    f"same address and port as host {seen[key]} ({addr}:{port})",
                    fix="give each host its own ansible_host (or ansible_port)",
                    line=origin.line,
                    where=f"host {name}",
                    field="ansible_host",
                )
            )
        seen.setdefault(key, name)

    # every dlrs_ value, wherever it is set
    for where, var_map in _all_var_maps(inv):
        for key, var in var_map.items():
            if not key.startswith("dlrs_"):
                continue
            problems += _check_setting(key, var, where)
    problems += _check_registry(inv)
    problems += _check_kubeflow(inv)
    problems += _check_clearlinux_kubernetes(inv)

    # cross-field: the pin must not be below the minimum
    for name in inv.hosts:
        pin = inv.setting(name, "dlrs_clearlinux_version")
        low = inv.setting(name, "dlrs_clearlinux_min_version")
        if (
            isinstance(pin, int)
            and isinstance(low, int)
            and not isinstance(pin, bool)
            and pin < low
        ):
            var = inv.host_vars(name)["dlrs_clearlinux_version"]
            problems.append(
                Problem(
                    var.origin.file,
                    f"pinned version {pin} is below dlrs_clearlinux_min_version {low}",
                    fix=f"pin {low} or newer, or lower the minimum (not below 26240)",
                    line=var.origin.line,
                    where=var.level,
                    field="dlrs_clearlinux_version",
                )
            )
        image = inv.setting(name, "dlrs_image")
        chosen = inv.setting(name, "dlrs_variant")
        built = catalog.image_variant(image) if isinstance(image, str) else None
        if built and chosen in catalog.VARIANTS and built != chosen:
            var = inv.host_vars(name)["dlrs_image"]
            problems.append(
                Problem(
                    var.origin.file,
                    f"image {image} is the {built} build, but dlrs_variant is "
                    f"{chosen}: the tuning would not fit the image",
                    fix=f"set dlrs_variant: {built} where this image is used",
                    line=var.origin.line,
                    where=var.level,
                    field="dlrs_image",
                )
            )
        mirror = inv.setting(name, "dlrs_clearlinux_mirror")
        if (
            isinstance(mirror, str)
            and mirror.startswith("http://")
            and inv.setting(name, "dlrs_clearlinux_allow_insecure_http") is not True
        ):
            var = inv.host_vars(name)["dlrs_clearlinux_mirror"]
            problems.append(
                Problem(
                    var.origin.file,
                    f"the swupd mirror {mirror} is plain HTTP, which swupd refuses",
                    fix="serve the mirror over https://, or set "
                    "dlrs_clearlinux_allow_insecure_http: true",
                    line=var.origin.line,
                    where=var.level,
                    field="dlrs_clearlinux_mirror",
                )
            )
        problems += _check_pod_network(inv, name)
    return _dedupe(problems)


def _check_pod_network(inv: Inventory, name: str) -> list[Problem]:
    """A pod network chosen in the inventory is applied only with the sha256 of its manifest."""
    hv = inv.host_vars(name)
    key = "dlrs_pod_network_manifest_url"
    if key not in hv:
        key = "dlrs_pod_network"
    chosen = hv.get(key)
    network = inv.setting(name, "dlrs_pod_network")
    if (
        chosen is None
        or network not in ("flannel", "calico")
        or inv.setting(name, "dlrs_pod_network_manifest_checksum")
    ):
        return []
    return [
        Problem(
            chosen.origin.file,
            f"the {network} manifest has no dlrs_pod_network_manifest_checksum: an unverified "
            "manifest is never applied",
            fix="add dlrs_pod_network_manifest_checksum: the output of `sha256sum` of the "
            "manifest your site vetted (or set dlrs_pod_network: none)",
            line=chosen.origin.line,
            where=chosen.level,
            field=key,
        )
    ]


# One registry serves the cluster: every node must agree with the master on where it is.
_CLUSTER_REGISTRY_KEYS = (
    "dlrs_registry_cache",
    "dlrs_registry_cache_host",
    "dlrs_registry_cache_port",
    "dlrs_registry_mode",  # local: the control plane's images come from that registry
    "dlrs_kubernetes_image_repository",  # kubeadm's and every node's pause image
)
_REGISTRY_LOGIN = ("dlrs_upstream_registry_username", "dlrs_upstream_registry_password")


def _check_registry(inv: Inventory) -> list[Problem]:
    """The cluster registry's place is the same on every node; the upstream's user name and
    password come together. No message ever shows the password."""
    problems: list[Problem] = []
    masters = inv.masters
    for name in inv.hosts:
        hv = inv.host_vars(name)
        given = [k for k in _REGISTRY_LOGIN if hv.get(k) is not None and hv[k].value is not None]
        if len(given) == 1:
            var = hv[given[0]]
            missing = next(k for k in _REGISTRY_LOGIN if k not in given)
            problems.append(
                Problem(
                    var.origin.file,
                    f"{given[0]} is set without {missing}",
                    fix=f"set both at the same level (the password with Ansible Vault), "
                    f"or remove {given[0]}",
                    line=var.origin.line,
                    where=var.level,
                    field=given[0],
                )
            )
        if len(masters) != 1 or name == masters[0]:
            continue
        for key in _CLUSTER_REGISTRY_KEYS:
            mine, master = inv.setting(name, key), inv.setting(masters[0], key)
            if mine == master or SETTINGS[key].check(mine) or SETTINGS[key].check(master):
                continue  # the same, or already reported as a wrong value
            var = hv.get(key) or inv.host_vars(masters[0]).get(key)
            if var is None:  # pragma: no cover - a difference needs a value somewhere
                continue
            problems.append(
                Problem(
                    var.origin.file,
                    f"{key} is {mine!r} on {name} but {master!r} on the master {masters[0]}: "
                    "the nodes would look for the cluster's registry where it is not",
                    fix=f"set {key} once, for group all (or to the same value on every host)",
                    line=var.origin.line,
                    where=var.level,
                    field=key,
                )
            )
    return problems


def _check_registry_mode(inv: Inventory, name: str) -> list[Problem]:
    """dlrs_registry_mode: local means the cluster's own registry, filled by `images load`;
    with dlrs_registry_cache: false there is no such registry."""
    if inv.setting(name, "dlrs_registry_mode") != "local":
        return []
    if inv.setting(name, "dlrs_registry_cache") is not False:
        return []
    hv = inv.host_vars(name)
    var = hv.get("dlrs_registry_cache") or hv.get("dlrs_registry_mode")
    if var is None:  # pragma: no cover - both differ from their defaults, so both are set
        return []
    return [
        Problem(
            var.origin.file,
            "dlrs_registry_mode is local but dlrs_registry_cache is false: local means the "
            "cluster's own registry (filled by `images load`), and false means there is none",
            fix="set dlrs_registry_cache: true for an air-gapped site, or dlrs_registry_mode: "
            "proxy with the cache off (every node pulls from the upstream)",
            line=var.origin.line,
            where=var.level,
            field="dlrs_registry_cache",
        )
    ]


def _check_clearlinux_kubernetes(inv: Inventory) -> list[Problem]:
    """Where the inventory pins a Clear Linux version (dlrs_clearlinux_version), the Kubernetes
    a node gets there is known before any host is reached: refuse what cannot work. Without a
    pin the preflight phase checks the same from the node's facts."""
    problems: list[Problem] = []
    refused: dict[tuple[str, str], list[str]] = {}  # (setting, reason) -> hosts
    where: dict[str, Var] = {}
    for name in inv.hosts:
        problems += _check_registry_mode(inv, name)
        pin = inv.setting(name, "dlrs_clearlinux_version")
        if not isinstance(pin, int) or isinstance(pin, bool):
            continue
        keys = (
            "dlrs_kubernetes_clearlinux_source",
            "dlrs_kubernetes_binary_checksums",
            "dlrs_kubernetes_version",
        )
        if any(SETTINGS[k].check(inv.setting(name, k)) for k in keys):
            continue  # reported as a wrong value already
        version = inv.setting(name, "dlrs_kubernetes_version") or DEFAULT_KUBERNETES_VERSION
        source = inv.setting(name, "dlrs_kubernetes_clearlinux_source")
        reason = clearlinux_kubernetes.clearlinux_kubernetes_problem(
            pin, str(version), source, inv.setting(name, "dlrs_kubernetes_binary_checksums")
        )
        if reason is None:
            continue
        hv = inv.host_vars(name)
        named = ("dlrs_kubernetes_clearlinux_source", "dlrs_kubernetes_version")
        key = next((k for k in named if k in hv), "dlrs_clearlinux_version")
        var = hv[key]
        ident = f"{key}@{var.origin.file}:{var.origin.line}"
        where[ident] = var
        refused.setdefault((ident, reason), []).append(name)
    for (ident, reason), hosts in refused.items():
        var = where[ident]
        problems.append(
            Problem(
                var.origin.file,
                f"Clear Linux nodes pinned to dlrs_clearlinux_version ({', '.join(hosts)}): "
                f"{reason}",
                fix="change the setting named above: no host has been changed",
                line=var.origin.line,
                where=var.level,
                field=ident.split("@", 1)[0],
            )
        )
    return problems


_OPERATOR_OVERLAY = "github.com/kubeflow/training-operator.git/manifests/overlays/standalone"


def _check_kubeflow(inv: Inventory) -> list[Problem]:
    """The Kubeflow phase (on the master) applies the training operator's manifest only from a
    URL the site gives and with that file's sha256: there is no default for either."""
    problems: list[Problem] = []
    for name in inv.masters:
        hv = inv.host_vars(name)
        switch = hv.get("dlrs_kubeflow")
        if switch is None or switch.value is not True:
            continue
        version = inv.setting(name, "dlrs_training_operator_version")
        if SETTINGS["dlrs_training_operator_version"].check(version) or not version:
            version = SETTINGS["dlrs_training_operator_version"].default
        render = (
            f'`kubectl kustomize "{_OPERATOR_OVERLAY}?ref={version}" > '
            f"training-operator-{version}.yaml` where GitHub is reachable"
        )
        for key, what, fix in (
            (
                "dlrs_training_operator_manifest_url",
                "the Kubeflow phase is on but the training operator's manifest has no URL",
                f"render the standalone overlay once into a file ({render}), serve it from "
                "your mirror and set dlrs_training_operator_manifest_url to its URL "
                "(or set dlrs_kubeflow: false)",
            ),
            (
                "dlrs_training_operator_manifest_checksum",
                "the Kubeflow phase is on but dlrs_training_operator_manifest_checksum is not "
                "set: an unverified manifest is never applied",
                "set it to the output of `sha256sum` of the rendered file on your mirror "
                f"(rendered with {render}), or set dlrs_kubeflow: false",
            ),
        ):
            if inv.setting(name, key):
                continue
            problems.append(
                Problem(
                    switch.origin.file,
                    what,
                    fix=fix,
                    line=switch.origin.line,
                    where=switch.level,
                    field=key,
                )
            )
    return problems


def _all_var_maps(inv: Inventory) -> Iterator[tuple[str, dict[str, Var]]]:
    for name, grp in inv.groups.items():
        yield f"group {name}", grp.vars
        yield f"group {name}", grp.file_vars
    for name, host in inv.hosts.items():
        yield f"host {name}", host.vars
        yield f"host {name}", host.file_vars


def _check_setting(key: str, var: Var, where: str) -> list[Problem]:
    setting = SETTINGS.get(key)
    o = var.origin
    if setting is None:
        near = difflib.get_close_matches(key, list(SETTINGS), n=1, cutoff=0.75)
        fix = (
            f"did you mean {near[0]}?"
            if near
            else ("remove it; known settings: " + ", ".join(sorted(SETTINGS)))
        )
        return [Problem(o.file, "unknown setting", fix=fix, line=o.line, where=where, field=key)]
    if isinstance(var.value, VaultValue):
        return []
    wrong = setting.check(var.value)
    if wrong is None:
        return []
    fix = f"give {setting.expected()}"
    if setting.choices and isinstance(var.value, str):
        same_case = [c for c in setting.choices if c.lower() == var.value.lower()]
        near = same_case or difflib.get_close_matches(var.value, setting.choices, n=1, cutoff=0.5)
        if near:
            fix += f" (did you mean {near[0]!r}?)"
    if setting.kind == "int" and isinstance(var.value, str) and var.value.strip().isdigit():
        fix += " (remove the quotes)"
    return [Problem(o.file, wrong, fix=fix, line=o.line, where=where, field=key)]


def _dedupe(problems: list[Problem]) -> list[Problem]:
    out, seen = [], set()
    for p in problems:
        if p not in seen:
            seen.add(p)
            out.append(p)
    return out


_NODE_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def _node_name_hint(name: str) -> str:
    hint = re.sub(r"[^a-z0-9.-]+", "-", name.lower()).strip("-.")
    return hint or "node1"
