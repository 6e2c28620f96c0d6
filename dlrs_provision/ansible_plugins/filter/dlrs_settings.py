"""Ansible filters over the rules the roles share with the CLI, so they exist once, in Python.

    {{ dlrs_registry_cache_host | dlrs_cluster_registry(masters, port, cache, insecure) }}
        -> {host, port, hostport, url} of the cluster's registry (cluster_registry.py)
    {{ dlrs_kubernetes_image_repository | dlrs_kubernetes_image_repository(mode, registry) }}
        -> where kubeadm and the pause image come from
    {{ 'mkl' | dlrs_variant }}  -> {image, benchmark, benchmark_ref, benchmark_commit, ...}
                                   (catalog.py)
    {{ 'master' | dlrs_benchmark_commit }}  -> the commit a known tensorflow/benchmarks branch is
                                              pinned to; a full commit id as it is
    {{ url | dlrs_key_url_problem(allow_http, what) }}  -> '' or why a signing key may not be
                                                         fetched from url (openpgp.py)
    {{ content | dlrs_key_fingerprint_problem(pinned, what) }}  -> '' or why the downloaded key
                                                   file is not one of the pinned keys
    {{ 'batch_size' | dlrs_benchmark_default }}  -> 64 (benchmark_defaults.py)
    {{ inventory_dir | dlrs_state_dir }}  -> the inventory's state folder (paths.py; it honours
                                             DLRS_PROVISION_STATE on the controller)
    {{ proxy | dlrs_systemd_env('HTTP_PROXY') }}  -> "HTTP_PROXY=<proxy>" quoted for a systemd
                                                    Environment= line (\\, \" and %% escaped)
    {{ url | dlrs_config_word('dlrs_docker_repo_url') }}  -> the url, for a field that cannot be
                                   quoted (deb822, dnf .repo, apt.conf); fails on a control
                                   character, white space, a quote or a backslash

The last two fail on a control character (a newline above all) whatever the value: a value
written into a configuration file stays on its one line. Validation refuses the same earlier,
with file and line; these are the roles' own guard for a value that did not pass it.

ansible.cfg points filter_plugins here. When Ansible runs from a Python that lacks the
dlrs_provision package, the repository root is put on sys.path (as the tuning filter does).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

try:
    from dlrs_provision import benchmark_defaults, catalog, cluster_registry, openpgp, paths
except ImportError:  # pragma: no cover - depends on how Ansible was installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
    from dlrs_provision import benchmark_defaults, catalog, cluster_registry, openpgp, paths

from ansible.errors import AnsibleFilterError


def dlrs_cluster_registry(host, masters=(), port=None, cache=True, insecure=None):
    try:
        return cluster_registry.cluster_registry(host, list(masters or []), port, cache, insecure)
    except (TypeError, ValueError) as exc:
        raise AnsibleFilterError(f"dlrs_cluster_registry: {exc}") from exc


def dlrs_kubernetes_image_repository(explicit, mode="proxy", registry=None):
    return cluster_registry.kubernetes_image_repository(explicit, mode, dict(registry or {}))


def dlrs_variant(name):
    try:
        v = catalog.variant(str(name))
    except ValueError as exc:
        raise AnsibleFilterError(f"dlrs_variant: {exc}") from exc
    return {
        "name": v.name,
        "image": v.image,
        "benchmark": v.benchmark,
        "benchmark_ref": v.benchmark_ref,
        "benchmark_commit": v.benchmark_commit,
        "data_format": v.data_format,
        "openmp": v.openmp,
    }


def dlrs_benchmark_default(key):
    try:
        return benchmark_defaults.DEFAULTS[str(key)]
    except KeyError:
        raise AnsibleFilterError(
            f"dlrs_benchmark_default: no default {key!r}; "
            f"known: {', '.join(benchmark_defaults.DEFAULTS)}"
        ) from None


def dlrs_benchmark_commit(ref):
    try:
        return benchmark_defaults.benchmark_commit(ref)
    except ValueError as exc:
        raise AnsibleFilterError(f"benchmark_ref: {exc}") from exc


def dlrs_key_url_problem(url, allow_http=False, what="the signing key"):
    problem = openpgp.url_problem(url, bool(allow_http), str(what))
    return f"{problem}: {openpgp.URL_FIX}" if problem else ""


def dlrs_key_fingerprint_problem(content, pinned=(), what="the signing key"):
    if isinstance(pinned, str):
        pinned = [pinned]
    return openpgp.fingerprint_problem(content or "", list(pinned or []), str(what))


def dlrs_state_dir(inventory_dir):
    if not inventory_dir:
        raise AnsibleFilterError("dlrs_state_dir: no inventory folder (inventory_dir is empty)")
    return str(paths.state_dir(Path(str(inventory_dir))))


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_NOT_A_WORD = re.compile(r"[\x00-\x1f\x7f\s\"'`\\]")


def dlrs_systemd_env(value, name):
    """The assignment NAME=value for systemd's Environment=, in double quotes: backslash and
    double quote escaped inside them, % doubled (systemd expands % specifiers there); see
    systemd.exec(5) and systemd.syntax(7)."""
    text = "" if value is None else str(value)
    if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", str(name)):
        raise AnsibleFilterError(f"dlrs_systemd_env: {name!r} is no environment variable name")
    if _CONTROL.search(text):
        raise AnsibleFilterError(
            f"dlrs_systemd_env: the value of {name} holds a control character (a newline?): "
            "it would start a line of its own in the unit's drop-in; fix the setting"
        )
    quoted = text.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%")
    return f'"{name}={quoted}"'


def dlrs_config_word(value, what="a value"):
    text = "" if value is None else str(value)
    bad = _NOT_A_WORD.search(text)
    if bad:
        raise AnsibleFilterError(
            f"dlrs_config_word: {what} holds {bad.group()!r} at character {bad.start() + 1}: it is "
            "written into a file field that cannot be quoted, where a newline starts a field "
            "of its own and white space starts another value; fix the setting"
        )
    return text


class FilterModule:
    def filters(self):
        return {
            "dlrs_cluster_registry": dlrs_cluster_registry,
            "dlrs_kubernetes_image_repository": dlrs_kubernetes_image_repository,
            "dlrs_variant": dlrs_variant,
            "dlrs_benchmark_default": dlrs_benchmark_default,
            "dlrs_benchmark_commit": dlrs_benchmark_commit,
            "dlrs_key_url_problem": dlrs_key_url_problem,
            "dlrs_key_fingerprint_problem": dlrs_key_fingerprint_problem,
            "dlrs_state_dir": dlrs_state_dir,
            "dlrs_systemd_env": dlrs_systemd_env,
            "dlrs_config_word": dlrs_config_word,
        }
