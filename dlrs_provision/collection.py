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
"""

from __future__ import annotations

import ast
import re
import shutil
import sys
from pathlib import Path

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


def _package_imports(source: str) -> set[str]:
    """The dlrs_provision modules a file imports (anywhere in it, functions included)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == PACKAGE:
                found.update(alias.name for alias in node.names)
            elif node.module.startswith(PACKAGE + "."):
                found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith(PACKAGE + "."):
                    found.add(alias.name.split(".")[1])
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
    """The package modules the plugins need, directly or through each other."""
    wanted: set[str] = set()
    todo = [p.read_text() for p in plugin_files]
    while todo:
        for name in _package_imports(todo.pop()) - wanted:
            path = paths.PACKAGE_DIR / f"{name}.py"
            if not path.is_file():
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


def rewrite(source: str) -> str:
    """`from dlrs_provision(.x) import` -> the collection's module_utils."""
    return _IMPORT.sub(lambda m: f"{m.group(1)}{m.group(2)} {MODULE_UTILS}{m.group(3)}", source)


def filter_names(plugin_files: list[Path]) -> list[str]:
    """The filter names the package's plugins define (their FilterModule().filters())."""
    import importlib.util

    names: set[str] = set()
    for path in plugin_files:
        spec = importlib.util.spec_from_file_location(f"_dlrs_filter_{path.stem}", path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        names.update(module.FilterModule().filters())
    return sorted(names)


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
    """Write the collection's tree into dest (emptied first); returns dest."""
    root = paths.repo_root()
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    plugins = sorted(paths.FILTER_PLUGINS.glob("*.py"))
    names = filter_names(plugins)
    for name in ("roles", "playbooks"):
        shutil.copytree(root / name, dest / name, ignore=LEFT_BEHIND)
        _qualify_tree(dest / name, names)
    _name_playbooks_as_python(dest / "playbooks")
    (dest / "plugins" / "filter").mkdir(parents=True)
    for plugin in plugins:
        (dest / "plugins" / "filter" / plugin.name).write_text(rewrite(plugin.read_text()))
    utils = dest / "plugins" / "module_utils"
    utils.mkdir()
    for name in module_closure(plugins):
        (utils / f"{name}.py").write_text(rewrite((paths.PACKAGE_DIR / f"{name}.py").read_text()))
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
