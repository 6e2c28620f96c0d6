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


def host_reports(
    inv: Inventory, facts_dir: Path, result: RunResult | None, hosts: list[str] | None = None
) -> list[HostReport]:
    """One report per host of the run: `hosts` (what --limit selected), else every master and
    worker."""
    reports = []
    everyone = [*inv.masters, *[w for w in inv.workers if w not in inv.masters]]
    for host in everyone if hosts is None else hosts:
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
