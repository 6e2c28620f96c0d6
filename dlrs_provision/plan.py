"""What `dlrs-provision cluster` would do to each host, without touching any host."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from dlrs_provision import paths, tuning
from dlrs_provision.errors import UsageError
from dlrs_provision.facts import cached_facts_file, load_facts
from dlrs_provision.inventory import Inventory


@dataclass
class HostPlan:
    host: str
    role: str
    variant: str
    image: str
    phases: list[str]
    tuning: dict[str, Any] | None = None  # None: needs preflight
    facts_file: str | None = None
    problem: str | None = None  # facts present but unusable

    def to_dict(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "role": self.role,
            "variant": self.variant,
            "image": self.image,
            "phases": self.phases,
            "tuning": self.tuning,
            "tuning_status": "computed" if self.tuning else (self.problem or "needs preflight"),
            "facts_file": self.facts_file,
        }


@dataclass
class Plan:
    inventory: str
    mode: str
    facts_dir: str
    hosts: list[HostPlan] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "inventory": self.inventory,
            "mode": self.mode,
            "facts_dir": self.facts_dir,
            "hosts": [h.to_dict() for h in self.hosts],
        }


def cluster_phases() -> list[str]:
    """The phases of playbooks/cluster.yml, in order: the names of its imported playbooks."""
    book = yaml.safe_load(paths.playbook("cluster.yml").read_text()) or []
    return [
        Path(item["ansible.builtin.import_playbook"]).stem
        for item in book
        if isinstance(item, dict) and "ansible.builtin.import_playbook" in item
    ]


def overrides_of(inv: Inventory, host: str) -> tuple[dict[str, Any], dict[str, str]]:
    """The tuning overrides set for a host, and the file:line each came from."""
    values, sources = {}, {}
    hv = inv.host_vars(host)
    for key in tuning.OVERRIDE_KEYS.values():
        var = hv.get(key)
        if var is not None and var.value is not None:
            values[key] = var.value
            sources[key] = str(var.origin)
    return values, sources


def build(inv: Inventory, facts_dir: Path | None = None) -> Plan:
    fdir = facts_dir or paths.facts_dir(inv.path)
    if facts_dir is not None and not facts_dir.is_dir():
        raise UsageError(
            f"{facts_dir}: no such facts folder",
            "give the folder of Ansible's jsonfile fact cache (one file per host)",
        )
    phases = cluster_phases()
    plan = Plan(inventory=str(inv.path), mode=inv.mode(), facts_dir=str(fdir))
    for host in [*inv.masters, *[w for w in inv.workers if w not in inv.masters]]:
        variant = inv.setting(host, "dlrs_variant")
        hp = HostPlan(
            host=host, role=inv.role(host), variant=variant, image=inv.image(host), phases=phases
        )
        facts_file = cached_facts_file(fdir, host)
        if facts_file is not None:
            hp.facts_file = str(facts_file)
            try:
                values, sources = overrides_of(inv, host)
                hp.tuning = tuning.compute(
                    load_facts(facts_file),
                    mode=inv.mode(),
                    variant=variant,
                    overrides=values,
                    override_sources=sources,
                    image=hp.image,
                ).to_dict()
            except (UsageError, tuning.FactsError) as exc:
                hp.problem = f"facts unusable ({getattr(exc, 'message', exc)}): run preflight"
        plan.hosts.append(hp)
    return plan
