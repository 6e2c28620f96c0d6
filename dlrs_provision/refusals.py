"""What the inventory and a host's preflight facts decide, refused in the preflight phase before
any host is changed. A module of its own (no SSH, no runner, no inventory loader), so the filter
plugin dlrs_preflight_refusals, and the Ansible collection with it, carry it without the rest of
the package."""

from __future__ import annotations

from typing import Any

# The role's "Preflight verdict" lists the refusals; the filter dlrs_preflight_refusals calls
# host_refusals. Each refusal says what, why and the fix.


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
