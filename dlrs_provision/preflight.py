"""Preflight from the controller's side: reach every host before Ansible, then report per host
what the preflight role found (hardware, OS, tuning) and its verdict."""

from __future__ import annotations

import dataclasses
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dlrs_provision import reach
from dlrs_provision.facts import cached_facts_file, load_facts
from dlrs_provision.inventory import Inventory, VaultValue
from dlrs_provision.report import table
from dlrs_provision.runner import RunResult

_CONNECTION_VARS = (
    "ansible_connection",
    "ansible_host",
    "ansible_ssh_host",
    "ansible_port",
    "ansible_ssh_port",
    "ansible_user",
    "ansible_ssh_user",
    "ansible_private_key_file",
    "ansible_ssh_private_key_file",
    "ansible_password",
    "ansible_ssh_pass",
    "ansible_ssh_password",
    "ansible_become",
    "ansible_become_method",
    "ansible_become_password",
    "ansible_become_pass",
    "ansible_ssh_common_args",
    "ansible_ssh_extra_args",
)
_KNOWN_HOSTS = re.compile(r"UserKnownHostsFile=(\S+)")


def _opaque(value: Any) -> bool:
    """A value only Ansible can resolve: a template or a vault-encrypted string."""
    return isinstance(value, VaultValue) or (isinstance(value, str) and "{{" in value)


def target_for(inv: Inventory, host: str) -> reach.SshTarget | None:
    """The SSH target of a host, or None when its connection settings need Ansible to resolve
    (templates, vault): then Ansible itself is the first to reach it."""
    values = inv.values(host)
    conn = {k: values[k] for k in _CONNECTION_VARS if k in values}
    if any(_opaque(v) for v in conn.values()):
        return None
    target = reach.targets_from_hostvars(host, conn)
    for key in ("ansible_ssh_common_args", "ansible_ssh_extra_args"):
        args = conn.get(key)
        if isinstance(args, str):
            for token in shlex.split(args):
                m = _KNOWN_HOSTS.search(token)
                if m:
                    target = dataclasses.replace(target, known_hosts=m.group(1))
    return target


def check_reach(
    inv: Inventory, hosts: list[str], *, trust_new_host_keys: bool, timeout: float = 8.0
) -> tuple[list[reach.ReachResult], list[str]]:
    """Reach the hosts in parallel. Returns the results and the hosts left to Ansible."""
    targets, unchecked = [], []
    for host in hosts:
        target = target_for(inv, host)
        if target is None:
            unchecked.append(host)
        else:
            targets.append(target)
    results = reach.check_hosts(targets, timeout=timeout, trust_new_host_keys=trust_new_host_keys)
    return results, unchecked


# --------------------------------------------------------------------------- report


@dataclass
class HostReport:
    host: str
    role: str
    hardware: str
    os: str
    tuning: str
    verdict: str
    warnings: list[str] = field(default_factory=list)  # what the calculator could not settle

    def row(self) -> list[str]:
        return [self.host, self.role, self.hardware, self.os, self.tuning, self.verdict]


def host_reports(inv: Inventory, facts_dir: Path, result: RunResult | None) -> list[HostReport]:
    reports = []
    for host in [*inv.masters, *[w for w in inv.workers if w not in inv.masters]]:
        hardware = os_name = tuning = "-"
        warnings: list[str] = []
        path = cached_facts_file(facts_dir, host)
        facts: dict[str, Any] = load_facts(path) if path else {}
        if facts.get("ansible_processor_count"):
            numa = facts.get("preflight_numa_nodes", "?")
            features = ",".join(
                f
                for f in facts.get("preflight_cpu_features", [])
                if f.startswith(("avx512f", "amx"))
            )
            hardware = f"{_shape(facts)}, {numa} NUMA, {facts.get('ansible_memtotal_mb')} MiB" + (
                f", {features}" if features else ""
            )
            os_name = (
                f"{facts.get('ansible_distribution')} {facts.get('ansible_distribution_version')}"
            )
        t = facts.get("preflight_tuning")
        if isinstance(t, dict):
            tuning = (
                f"inter {t['num_inter_threads']}, intra {t['num_intra_threads']}, "
                f"{t['data_format']}"
            )
            if t.get("reserved_cpuset"):
                tuning += f", reserved cpuset {t['reserved_cpuset']}"
            warnings = [str(w) for w in t.get("warnings") or []]
        verdict = "not run"
        if result is not None and host in result.hosts:
            summary = result.hosts[host]
            verdict = (
                summary.state
                if summary.state in ("ok", "changed")
                else (
                    f"{summary.state}: {summary.failure.message if summary.failure else ''}".strip()
                )
            )
            if verdict == "changed":
                verdict = "ok"
        reports.append(
            HostReport(host, inv.role(host), hardware, os_name, tuning, verdict, warnings)
        )
    return reports


def _shape(facts: dict[str, Any]) -> str:
    """Sockets x cores x threads as the calculator read them (cross-checked, per socket), else
    as Ansible reported them."""
    t = facts.get("preflight_tuning")
    topo = t.get("topology") if isinstance(t, dict) else None
    if isinstance(topo, dict) and {"sockets", "cores_per_socket", "threads_per_core"} <= set(topo):
        cores = topo.get("cores_by_socket") or [topo["cores_per_socket"]]
        per_socket = f"{cores[0]}" if len(set(cores)) == 1 else f"({'+'.join(map(str, cores))})"
        return f"{topo['sockets']}s x {per_socket}c x {topo['threads_per_core']}t"
    return (
        f"{facts['ansible_processor_count']}s x {facts.get('ansible_processor_cores')}c x "
        f"{facts.get('ansible_processor_threads_per_core')}t"
    )


def render_reports(reports: list[HostReport]) -> str:
    text = table(
        [r.row() for r in reports], ["host", "role", "hardware", "os", "tuning", "verdict"]
    )
    for r in reports:
        for w in r.warnings:
            text += f"\nwarning: {r.host}: {w}"
    return text


# --------------------------------------------------------------------------- refusals
# What the inventory and a host's preflight facts decide, refused in the preflight phase before
# any host is changed (the role's "Preflight verdict" lists them; the filter dlrs_preflight_refusals
# calls host_refusals). Each refusal says what, why and the fix.


def clearlinux_target(installed: int, pin: int | None, minimum: int, force_pin: bool) -> int:
    """The Clear Linux version a node runs after the OS phase (roles/clearlinux): the pin when
    the node is below it (or force_pin moves it back), else the node's own version, never
    below the minimum."""
    if pin is not None:
        return pin if installed < pin or force_pin else installed
    return max(installed, minimum)


def host_refusals(
    facts: dict[str, Any], settings: dict[str, Any], is_master: bool, probe: dict[str, Any]
) -> list[str]:
    """Why this host cannot take the cluster, from its facts (os_family, distribution,
    distribution_version) and its settings (dlrs_* as the inventory resolves them, defaults
    applied by the caller or here); probe: what the node read from its swupd update server
    (url, status, content, msg), empty when nothing was read."""
    from dlrs_provision import clearlinux_kubernetes as ck

    out: list[str] = []
    family = str(facts.get("os_family", ""))
    label = f"{facts.get('distribution', family)} {facts.get('distribution_version', '')}".strip()
    runtime = settings.get("dlrs_container_runtime") or "containerd"
    if runtime == "crio" and family != "ClearLinux":
        out.append(
            f"dlrs_container_runtime is crio, which only Clear Linux ships (cloud-native-basic); "
            f"this host runs {label}: set dlrs_container_runtime: containerd for it"
        )
    if runtime not in ("containerd", "crio"):
        out.append(f"dlrs_container_runtime {runtime!r}: no role installs it (containerd, crio)")
    cache = settings.get("dlrs_registry_cache")
    if is_master and cache is not False and family == "RedHat":
        out.append(
            f"the cluster's registry (dlrs_registry_cache) runs on the master, and no package or "
            f"role runs it on {label} (roles/registry_cache/tasks/setup-RedHat.yml): use a "
            "Debian, Ubuntu or Clear Linux master, or set dlrs_registry_cache: false"
        )
    if family != "ClearLinux":
        return out
    try:
        installed = int(str(facts.get("distribution_version", "")).strip())
    except ValueError:
        return out  # the OS check of the role reports an unreadable version
    pin = settings.get("dlrs_clearlinux_version")
    pin = int(pin) if pin not in (None, "") else None
    minimum = int(settings.get("dlrs_clearlinux_min_version") or 26240)
    target = clearlinux_target(
        installed, pin, minimum, bool(settings.get("dlrs_clearlinux_force_pin"))
    )
    reason = ck.clearlinux_kubernetes_problem(
        target,
        str(settings.get("dlrs_kubernetes_version") or ck.DEFAULT_KUBERNETES_VERSION),
        settings.get("dlrs_kubernetes_clearlinux_source") or ck.DEFAULT_SOURCE,
        settings.get("dlrs_kubernetes_binary_checksums") or {},
    )
    if reason:
        out.append(reason)
    if installed < target:
        out += _update_server_refusals(installed, target, probe)
    return out


def _update_server_refusals(installed: int, target: int, probe: dict[str, Any]) -> list[str]:
    """A node below its target must reach <versionurl>/version/latest_version (what swupd
    check-update reads, swupd-client src/swupd_lib/version.c) and find the target there."""
    url = str(probe.get("url") or "")
    if not url:
        return [
            f"Clear Linux {installed} must be updated to {target}, and no update server is known "
            "(no dlrs_clearlinux_mirror, no /etc/swupd/mirror_versionurl, no "
            "/usr/share/defaults/swupd/versionurl): set dlrs_clearlinux_mirror to the site's mirror"
        ]
    status = probe.get("status")
    content = str(probe.get("content") or "").strip()
    if status != 200 or not content:
        why = probe.get("msg") or f"HTTP {status}"
        return [
            f"Clear Linux {installed} must be updated to {target}, and its update server does not "
            f"answer: {url} -> {why}: publish version/latest_version there (the mirror's "
            "tree), or set dlrs_clearlinux_mirror to a mirror that has it"
        ]
    if not content.isdigit():
        return [f"{url} answers {content[:40]!r}, not a Clear Linux version number"]
    if int(content) < target:
        return [
            f"Clear Linux {installed} must be updated to {target}, but its update server's "
            f"latest version is {content} ({url}): publish {target} on the mirror, or pin "
            f"dlrs_clearlinux_version to a published version"
        ]
    return []
