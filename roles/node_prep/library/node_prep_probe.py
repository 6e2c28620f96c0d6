#!/usr/bin/python
"""node_prep_probe: read what this host allows, in one module run, changing nothing."""

from __future__ import annotations

import os

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
module: node_prep_probe
short_description: Read what a node allows before node_prep changes it
description:
  - Reads, and never changes, what the node_prep role needs to know about a host, in one run
    instead of a dozen tasks; whether the host is a container (C(systemd-detect-virt
    --container)); the active swap areas (C(/proc/swaps)); whether C(/etc/fstab) exists; the swap
    units systemd knows that are not masked; whether each kernel module shows in the running
    kernel; for each sysctl whether C(/proc/sys/<name>) exists and can be written, and its value;
    whether cpufreq exists; the LoadState of some systemd units.
options:
  modules:
    description: Module name to the path that shows it in the running kernel.
    type: dict
    default: {}
  sysctls:
    description: Sysctl names (dotted).
    type: list
    elements: str
    default: []
  cpufreq:
    description: The cpufreq directory of the first CPU.
    type: path
    default: /sys/devices/system/cpu/cpu0/cpufreq
  units:
    description: systemd units whose LoadState to read (loaded, not-found, masked, ...).
    type: list
    elements: str
    default: []
author: dlrs-provision
"""

RETURN = r"""
container: {description: systemd-detect-virt's answer, empty when not a container, type: str}
swaps: {description: Lines of /proc/swaps after its header, type: list}
fstab: {description: Whether /etc/fstab exists, type: bool}
swap_units: {description: Swap units systemd knows that are not masked, type: list}
modules: {description: Module name to whether the running kernel shows it, type: dict}
sysctls: {description: "Name to {exists, writable, value}", type: dict}
cpufreq: {description: Whether the cpufreq directory exists, type: bool}
units: {description: Unit name to its LoadState, type: dict}
"""


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError:
        return None


def _swap_units(module: AnsibleModule) -> list[str]:
    systemctl = module.get_bin_path("systemctl")
    if not systemctl:
        return []
    found: list[str] = []
    for listing in ("list-unit-files", "list-units"):
        rc, out, _ = module.run_command(
            [systemctl, listing, "--type=swap", "--all", "--no-legend", "--plain", "--no-pager"]
        )
        if rc != 0:
            continue
        for line in out.splitlines():
            fields = line.split()
            if fields and "masked" not in fields[1:3] and fields[0] not in found:
                found.append(fields[0])
    return found


def _load_states(module: AnsibleModule, units: list[str]) -> dict[str, str]:
    systemctl = module.get_bin_path("systemctl")
    states = {}
    for unit in units:
        state = "not-found"
        if systemctl:
            rc, out, _ = module.run_command(
                [systemctl, "show", "--property=LoadState", "--value", unit]
            )
            if rc == 0 and out.strip():
                state = out.strip()
        states[unit] = state
    return states


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "modules": {"type": "dict", "default": {}},
            "sysctls": {"type": "list", "elements": "str", "default": []},
            "cpufreq": {"type": "path", "default": "/sys/devices/system/cpu/cpu0/cpufreq"},
            "units": {"type": "list", "elements": "str", "default": []},
        },
        supports_check_mode=True,
    )
    container = ""
    detect_virt = module.get_bin_path("systemd-detect-virt")
    if detect_virt:
        rc, out, _ = module.run_command([detect_virt, "--container"])
        if rc == 0:
            container = out.strip()

    swaps = (_read("/proc/swaps") or "").splitlines()[1:]

    sysctls = {}
    for name in module.params["sysctls"]:
        path = "/proc/sys/" + name.replace(".", "/")
        exists = os.path.exists(path)
        value = _read(path) if exists else None
        sysctls[name] = {
            "exists": exists,
            "writable": exists and os.access(path, os.W_OK),
            "value": value.strip() if value is not None else None,
        }

    module.exit_json(
        changed=False,
        container=container,
        swaps=[line.strip() for line in swaps if line.strip()],
        fstab=os.path.exists("/etc/fstab"),
        swap_units=_swap_units(module),
        modules={name: os.path.exists(path) for name, path in module.params["modules"].items()},
        sysctls=sysctls,
        cpufreq=os.path.isdir(module.params["cpufreq"]),
        units=_load_states(module, module.params["units"]),
    )


if __name__ == "__main__":
    main()
