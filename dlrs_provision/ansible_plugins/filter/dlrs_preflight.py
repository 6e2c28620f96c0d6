"""Ansible filter over dlrs_provision.refusals.host_refusals, so the preflight role refuses
what the inventory and the host's facts decide with the same Python the unit tests check:

    preflight_refusals: "{{ ansible_facts | dlrs_preflight_refusals(settings, is_master, probe) }}"

When Ansible runs from a Python that lacks the dlrs_provision package, the repository root is put
on sys.path (as dlrs_kubeadm.py does).
"""

from __future__ import annotations

import sys
from pathlib import Path

try:
    from dlrs_provision import refusals
except ImportError:  # pragma: no cover - depends on how Ansible was installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
    from dlrs_provision import refusals


def _plain(value):
    """Ansible's lazy and unsafe types -> plain Python values."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, (int, float)):
        return value
    return str(value)


def dlrs_preflight_refusals(facts, settings, is_master=False, probe=None):
    return refusals.host_refusals(
        _plain(facts or {}), _plain(settings or {}), bool(is_master), _plain(probe or {})
    )


def dlrs_clearlinux_target(installed, pin=None, minimum=26240, force_pin=False):
    """The Clear Linux version a node runs after the OS phase (refusals.clearlinux_target)."""
    pin = None if pin in (None, "") else int(pin)
    return refusals.clearlinux_target(int(installed), pin, int(minimum), bool(force_pin))


class FilterModule:
    def filters(self):
        return {
            "dlrs_preflight_refusals": dlrs_preflight_refusals,
            "dlrs_clearlinux_target": dlrs_clearlinux_target,
        }
