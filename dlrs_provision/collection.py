"""The roles as the Ansible collection dlrs.provision, assembled from the one source the
package uses: roles/ and playbooks/ of the checkout (or of the wheel), the filter plugins of
dlrs_provision/ansible_plugins/filter/, and the modules of this package those plugins import.

    python -m dlrs_provision.collection DIR     # then: ansible-galaxy collection build DIR

The package's modules go to plugins/module_utils/ with their `dlrs_provision` imports rewritten
to the collection's (`ansible_collections.dlrs.provision.plugins.module_utils.<x>`), and so do
the filter plugins: a collection runs its own copy of the calculator, never an installed
package of another version. In the roles' files, a filter of these plugins is called by its
full name (`| dlrs_tuning(` becomes `| dlrs.provision.dlrs_tuning(`): Ansible resolves a bare
filter name against ansible.builtin and the configured plugin folders only, not against the
collection a role belongs to. Which modules go is read from the imports (the closure of what the
plugins import); a module that would pull in a package Ansible does not carry is refused, so the
collection needs nothing beyond ansible-core.

The roles' own plugins (roles/*/library, module_utils, filter_plugins) become the collection's
plugins/modules, plugins/module_utils and plugins/filter, since ansible-core loads none of them
from a role inside a collection (assemble() says where that is read in ansible-core): their
filters are called by full name as the package's are, a role's wrapper of the package's filters
is left out, and a filter name or file name taken twice stops the assembly.
"""

from __future__ import annotations

import ast
import inspect
import re
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from dlrs_provision import __version__, paths
from dlrs_provision.errors import EXIT_OK, EXIT_USAGE, UsageError

NAMESPACE = "dlrs"
NAME = "provision"
PACKAGE = "dlrs_provision"
MODULE_UTILS = f"ansible_collections.{NAMESPACE}.{NAME}.plugins.module_utils"
# what a module of the collection may import besides the standard library and itself
ALLOWED_THIRD_PARTY = frozenset({"yaml", "ansible"})
LEFT_BEHIND = shutil.ignore_patterns("molecule", "__pycache__", "*.pyc")
# a role's plugin folders: ansible-core loads none of them in a collection (see assemble)
ROLE_PLUGIN_FOLDERS = ("library", "module_utils", "filter_plugins")
# files of the package a filter hands out by path (benchmark_shipped), copied with the module
# beside them: they run on the nodes, so they are not imported here nor checked for imports
SHIPPED = ("benchmark/synthetic.py",)
_VERSION_IMPORT = re.compile(rf"^(\s*)from {PACKAGE} import __version__$", re.MULTILINE)
_IMPORT = re.compile(rf"^(\s*)(from|import) {PACKAGE}(\.|\b)", re.MULTILINE)


def galaxy_metadata() -> dict[str, object]:
    return {
        "namespace": NAMESPACE,
        "name": NAME,
        "version": __version__,
        "readme": "README.md",
        "authors": ["dlrs-provision maintainers"],
        "description": "Roles that provision Intel's Deep Learning Reference Stack on bare-metal "
        "Xeon servers: OS, container runtime, Kubernetes (kubeadm), images, benchmark.",
        "license": ["Apache-2.0"],
        "tags": ["kubernetes", "tensorflow", "provisioning", "clearlinux"],
        "dependencies": {},
        "build_ignore": ["**/molecule", "**/__pycache__", "**/*.pyc"],
    }


def _module_file(name: str) -> Path | None:
    """The file of the package module `name` (dotted, below dlrs_provision), if it is one."""
    base = paths.PACKAGE_DIR.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _package_imports(source: str) -> set[str]:
    """The dlrs_provision modules a file imports (anywhere in it, functions included), dotted
    below the package: `from dlrs_provision.benchmark import flags` -> benchmark.flags."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == PACKAGE or node.module.startswith(PACKAGE + "."):
                base = node.module[len(PACKAGE) + 1 :]
                for alias in node.names:
                    if not base and alias.name == "__version__":
                        continue  # written in by rewrite()
                    sub = f"{base}.{alias.name}" if base else alias.name
                    found.add(sub if _module_file(sub) or not base else base)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith(PACKAGE + "."):
                    found.add(alias.name[len(PACKAGE) + 1 :])
    return found


def _third_party(source: str) -> set[str]:
    tops: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            tops.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            tops.update(alias.name.split(".")[0] for alias in node.names)
    return tops - set(sys.stdlib_module_names) - {PACKAGE, "__future__"} - ALLOWED_THIRD_PARTY


def module_closure(plugin_files: list[Path]) -> list[str]:
    """The package modules the plugins need, directly or through each other, dotted below the
    package; a module of a subpackage brings the subpackage's __init__ (`benchmark.flags` and
    `benchmark`)."""
    wanted: set[str] = set()
    todo = [p.read_text() for p in plugin_files]
    while todo:
        imported = _package_imports(todo.pop())
        parents = {".".join(n.split(".")[:i]) for n in imported for i in range(1, n.count(".") + 1)}
        for name in sorted((imported | parents) - wanted):
            path = _module_file(name)
            if path is None:
                raise UsageError(
                    f"a filter plugin imports {PACKAGE}.{name}, which is not a module file",
                    "import plain modules of the package from the filter plugins",
                )
            source = path.read_text()
            extra = _third_party(source)
            if extra:
                raise UsageError(
                    f"{path.name} imports {', '.join(sorted(extra))}, which Ansible does not "
                    "carry; the collection cannot ship it",
                    "keep what the filter plugins use free of those imports (see refusals.py)",
                )
            wanted.add(name)
            todo.append(source)
    return sorted(wanted)


def _utils_path(name: str) -> Path:
    """Where module `name` of the closure lies below plugins/module_utils/."""
    path = _module_file(name)
    assert path is not None
    return path.relative_to(paths.PACKAGE_DIR)


def rewrite(source: str) -> str:
    """`from dlrs_provision(.x) import` -> the collection's module_utils; the package's
    version (registry.py's user agent) is written in, the collection's own (galaxy.yml)."""
    source = _VERSION_IMPORT.sub(lambda m: f"{m.group(1)}__version__ = {__version__!r}", source)
    return _IMPORT.sub(lambda m: f"{m.group(1)}{m.group(2)} {MODULE_UTILS}{m.group(3)}", source)


def _filters_of(path: Path) -> dict[str, Callable[..., Any]]:
    """The filters a plugin file defines (its FilterModule().filters())."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        f"_dlrs_filter_{path.parent.parent.name}_{path.stem}", path
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return dict(module.FilterModule().filters())


def filter_names(plugin_files: list[Path]) -> list[str]:
    """The filter names the plugins define (their FilterModule().filters())."""
    names: set[str] = set()
    for path in plugin_files:
        names.update(_filters_of(path))
    return sorted(names)


def _same_filter(one: Callable[..., Any], other: Callable[..., Any]) -> bool:
    """Two filters are one when their code is: a role's wrapper imports the package's plugin,
    which is another module object than the file loaded here, with the same source."""
    try:
        return inspect.getsource(one) == inspect.getsource(other)
    except (OSError, TypeError):
        return one is other


def role_filter_plugins(top: list[Path], role_plugins: list[Path]) -> list[Path]:
    """The role filter plugins the collection ships beside the package's (plugins/filter/ holds
    one namespace of filter names). A role plugin whose every filter is one of the package's, by
    the same code (roles/dlrs_defaults/filter_plugins/dlrs_settings.py re-exports the package's
    plugin), is left out; a filter name two plugins define differently, a plugin that re-exports
    some filters and adds others, or a file name taken twice is refused."""
    owner: dict[str, tuple[Path, Callable[..., Any]]] = {}
    for path in top:
        owner.update((name, (path, func)) for name, func in _filters_of(path).items())
    files = {path.name: path for path in top}
    kept: list[Path] = []
    for path in role_plugins:
        filters = _filters_of(path)
        shared = {n for n in filters if n in owner}
        differ = sorted(n for n in shared if not _same_filter(filters[n], owner[n][1]))
        if differ:
            raise UsageError(
                f"{path} defines the filter {', '.join(differ)}, which {owner[differ[0]][0]} "
                "defines differently; a collection has one filter by each name",
                "give the role's filter a name of its own (the role's name as prefix)",
            )
        if shared and shared == set(filters):
            continue
        if shared:
            raise UsageError(
                f"{path} re-exports {', '.join(sorted(shared))} and adds filters of its own",
                "keep a role's wrapper of the package's filters apart from its own filters",
            )
        if path.name in files:
            raise UsageError(
                f"{path} and {files[path.name]} would both be plugins/filter/{path.name}",
                "rename one of the two plugin files",
            )
        files[path.name] = path
        owner.update((name, (path, func)) for name, func in filters.items())
        kept.append(path)
    return kept


def _role_files(roles: Path, folder: str) -> dict[str, Path]:
    """roles/*/<folder>/*.py by file name; two roles with one name are refused (they would be
    one file of the collection's plugins/)."""
    found: dict[str, Path] = {}
    for path in sorted(roles.glob(f"*/{folder}/*.py")):
        if path.name in found:
            raise UsageError(
                f"{path} and {found[path.name]} would both be one plugin of the collection",
                "rename one of the two files",
            )
        found[path.name] = path
    return found


def rewrite_module_utils(source: str, names: list[str]) -> str:
    """`from ansible.module_utils.<x> import` -> the collection's module_utils, for each x of
    the roles' module_utils (ansible.module_utils.basic and the rest of ansible stay). Only the
    `from` form: `import ansible.module_utils.x` would bind another name once rewritten."""
    if not names:
        return source
    pattern = re.compile(
        r"^(\s*)from ansible\.module_utils\.(" + "|".join(map(re.escape, names)) + r")\b",
        re.MULTILINE,
    )
    return pattern.sub(lambda m: f"{m.group(1)}from {MODULE_UTILS}.{m.group(2)}", source)


def qualify_filters(text: str, names: list[str]) -> str:
    """`| name` -> `| dlrs.provision.name` for each of the collection's filters."""
    if not names:
        return text
    pattern = re.compile(r"(\|\s*)(" + "|".join(map(re.escape, names)) + r")\b")
    return pattern.sub(lambda m: f"{m.group(1)}{NAMESPACE}.{NAME}.{m.group(2)}", text)


def _qualify_tree(tree: Path, names: list[str]) -> None:
    for path in sorted(tree.rglob("*")):
        if path.is_file() and path.suffix in (".yml", ".yaml", ".j2"):
            text = path.read_text()
            qualified = qualify_filters(text, names)
            if qualified != text:
                path.write_text(qualified)


def _name_playbooks_as_python(tree: Path) -> None:
    """A collection's playbook is run by a name such as dlrs.provision.remove_node, and
    ansible-core takes only word characters there (AnsibleCollectionRef.VALID_FQCR_RE,
    ansible/utils/collection_loader/_collection_finder.py): remove-node.yml becomes
    remove_node.yml (no playbook imports it by name)."""
    for path in sorted(tree.glob("*-*.yml")):
        path.rename(path.with_name(path.name.replace("-", "_")))


def assemble(dest: Path) -> Path:
    """Write the collection's tree into dest (emptied first); returns dest.

    What ansible-core (2.21) does with a role inside a collection, read in its source, and what
    this tree does about it:

    - ansible/playbook/role/__init__.py, Role._load_role_data: only a role outside a collection
      gets add_all_plugin_dirs(role path), that is its library/, module_utils/ and
      filter_plugins/ on the plugin search path; a collection's role never does. So the roles'
      modules go to plugins/modules/, their module_utils to plugins/module_utils/ (the modules'
      `from ansible.module_utils.<x>` rewritten to the collection's) and their filter plugins to
      plugins/filter/, and those folders leave the roles' copies.
    - the same method puts the role's own collection first in the role's `collections`, and a
      task's action is looked up through that list (ansible/playbook/task.py and
      ansible/parsing/mod_args.py: find_plugin_with_context(..., collection_list=...)): a bare
      module name in a role's tasks (`node_prep_probe:`) finds dlrs.provision.node_prep_probe.
    - filters are not: ansible/_internal/_templating/_jinja_plugins.py, JinjaPluginIntercept,
      asks the filter loader for the name as written, with no collection list, so a bare name
      reaches ansible.builtin and the configured folders only. Every filter of the collection,
      the roles' included, is written by its full name in the roles' and playbooks' files
      (qualify_filters).
    """
    root = paths.repo_root()
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    plugins = sorted(paths.FILTER_PLUGINS.glob("*.py"))
    role_modules = _role_files(root / "roles", "library")
    role_utils = _role_files(root / "roles", "module_utils")
    role_filters = role_filter_plugins(
        plugins, list(_role_files(root / "roles", "filter_plugins").values())
    )
    filters = plugins + role_filters
    closure = module_closure(filters)
    taken = {_utils_path(name).parts[0].removesuffix(".py") for name in closure}
    clash = sorted(taken & {Path(name).stem for name in role_utils})
    if clash:
        raise UsageError(
            f"a role's module_utils and the package's code would both be "
            f"plugins/module_utils/{clash[0]}",
            "rename the role's module_utils file",
        )
    names = filter_names(filters)
    for name in ("roles", "playbooks"):
        shutil.copytree(root / name, dest / name, ignore=LEFT_BEHIND)
        _qualify_tree(dest / name, names)
    for folder in ROLE_PLUGIN_FOLDERS:
        for path in sorted((dest / "roles").glob(f"*/{folder}")):
            shutil.rmtree(path)
    _name_playbooks_as_python(dest / "playbooks")
    (dest / "plugins" / "filter").mkdir(parents=True)
    for plugin in filters:
        (dest / "plugins" / "filter" / plugin.name).write_text(rewrite(plugin.read_text()))
    utils = dest / "plugins" / "module_utils"
    utils.mkdir()
    for name in closure:
        target = utils / _utils_path(name)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(rewrite((paths.PACKAGE_DIR / _utils_path(name)).read_text()))
    for shipped in SHIPPED:
        if (utils / shipped).parent.is_dir():
            shutil.copyfile(paths.PACKAGE_DIR / shipped, utils / shipped)
    util_names = sorted(Path(name).stem for name in role_utils)
    for name, path in role_utils.items():
        (utils / name).write_text(rewrite_module_utils(path.read_text(), util_names))
    (dest / "plugins" / "modules").mkdir()
    for name, path in role_modules.items():
        (dest / "plugins" / "modules" / name).write_text(
            rewrite_module_utils(path.read_text(), util_names)
        )
    (dest / "meta").mkdir()
    (dest / "meta" / "runtime.yml").write_text("---\nrequires_ansible: '>=2.16.0'\n")
    (dest / "galaxy.yml").write_text(
        "---\n" + yaml.safe_dump(galaxy_metadata(), sort_keys=False, width=100)
    )
    (dest / "README.md").write_text(
        f"# {NAMESPACE}.{NAME}\n\n"
        "The roles of dlrs-provision as an Ansible collection, assembled from the same roles, "
        "filter plugins and tuning code as the `dlrs-provision` package "
        "(dlrs_provision/collection.py). Use a role by its full name, for example "
        f"`{NAMESPACE}.{NAME}.preflight`; the phases are the playbooks "
        f"`{NAMESPACE}.{NAME}.cluster` and the others under playbooks/ (a hyphen in a "
        f"playbook's name is an underscore here: `{NAMESPACE}.{NAME}.remove_node`).\n"
    )
    return dest


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        sys.stderr.write("usage: python -m dlrs_provision.collection DIR\n")
        return EXIT_USAGE
    try:
        out = assemble(Path(args[0]))
    except UsageError as error:
        sys.stderr.write(error.render() + "\n")
        return error.exit_code
    sys.stdout.write(f"wrote the collection {NAMESPACE}.{NAME} {__version__} to {out}\n")
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
