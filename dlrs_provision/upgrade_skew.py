"""Which Kubernetes upgrades `dlrs-provision upgrade` allows: the one rule, used by the command
line (`--to`) and by playbooks/upgrade.yml through the filter dlrs_upgrade_skew_problem
(dlrs_provision/ansible_plugins/filter/dlrs_upgrade.py), so it is tested without hosts.

- The target is an exact release X.Y.Z (kubeadm upgrade apply takes one; a minor alone would be
  whatever a repository holds that day).
- No downgrade: a target below the cluster's version is refused (kubeadm can downgrade one
  minor; this toolkit does not: the packages, configuration and images follow the pin).
- One minor at a time: at most the cluster's minor plus one (kubeadm's own rule,
  cmd/kubeadm/app/phases/upgrade/policy.go, MaximumAllowedMinorVersionUpgradeSkew = 1).
- No kubelet newer than the target (a kubelet must never be newer than its API server), and no
  kubelet more than 3 minors older than the target (the supported kubelet skew since 1.28, as
  kubeadm's detectTooOldKubelets enforces from 1.29).
- The target equal to the cluster's version is allowed: the nodes still behind it are
  upgraded, the others are left alone.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

MAX_MINOR_SKEW = 1  # kubeadm: upgrade one minor at a time
MAX_KUBELET_SKEW = 3  # kubelets may be this many minors older than the API server

_EXACT = re.compile(r"^v?([0-9]+)\.([0-9]+)\.([0-9]+)\Z")
# what a Node or /version reports: v1.31.7, v1.31.7+k3s1, v1.31.7-rc.0
_REPORTED = re.compile(r"^v?([0-9]+)\.([0-9]+)\.([0-9]+)(?:[-+][0-9A-Za-z.+-]*)?\Z")


def exact(text: str) -> tuple[int, int, int]:
    """'1.32.3' or 'v1.32.3' -> (1, 32, 3); ValueError for anything else."""
    m = _EXACT.match(str(text).strip())
    if not m:
        raise ValueError(f"{text!r} is not an exact Kubernetes release such as 1.32.3")
    return int(m.group(1)), int(m.group(2)), int(m.group(3))


def reported(text: str) -> tuple[int, int, int]:
    """A version as the API server or a kubelet reports it ('v1.31.7') -> (1, 31, 7)."""
    m = _REPORTED.match(str(text).strip())
    if not m:
        raise ValueError(f"{text!r} is not a Kubernetes version as a cluster reports it")
    return int(m.group(1)), int(m.group(2)), int(m.group(3))


def _v(version: tuple[int, int, int]) -> str:
    return "v" + ".".join(str(p) for p in version)


def skew_problems(
    target: str, cluster: str, kubelets: Mapping[str, str] | None = None
) -> list[str]:
    """Why the cluster (API server at `cluster`, Node name -> kubelet version `kubelets`) cannot
    be upgraded to `target`: one line each, naming the versions and the fix; [] when it can."""
    try:
        want = exact(target)
    except ValueError as exc:
        return [str(exc)]
    try:
        have = reported(cluster)
    except ValueError as exc:
        return [f"the cluster's version cannot be read: {exc}"]
    problems: list[str] = []
    if want[0] != have[0]:
        return [f"{_v(want)} is not a release of the cluster's major version ({_v(have)})"]
    if want < have:
        problems.append(
            f"{_v(want)} is older than the cluster's {_v(have)}: upgrade does not downgrade; "
            f"give --to {have[0]}.{have[1]}.{have[2]} or later"
        )
    elif want[1] > have[1] + MAX_MINOR_SKEW:
        nxt = f"{have[0]}.{have[1] + 1}"
        problems.append(
            f"{_v(want)} is {want[1] - have[1]} minor versions above the cluster's {_v(have)}: "
            f"Kubernetes is upgraded one minor at a time; upgrade to {nxt}.x first"
        )
    for node, text in sorted((kubelets or {}).items()):
        try:
            kubelet = reported(text)
        except ValueError as exc:
            problems.append(f"Node {node}: its kubelet version cannot be read: {exc}")
            continue
        if kubelet > want:
            problems.append(
                f"Node {node}: its kubelet is {_v(kubelet)}, newer than {_v(want)}: upgrade does "
                "not downgrade a node; give a --to at least as new as every kubelet"
            )
        elif kubelet[0] != want[0] or want[1] - kubelet[1] > MAX_KUBELET_SKEW:
            problems.append(
                f"Node {node}: its kubelet is {_v(kubelet)}, more than {MAX_KUBELET_SKEW} minor "
                f"versions behind {_v(want)}: upgrade that node (or remove it) first"
            )
    return problems


def at_target(target: str, version: str) -> bool:
    """Whether a reported version (kubelet, /version, `kubeadm version -o short`) is `target`."""
    try:
        return reported(version) == exact(target)
    except ValueError:
        return False


_PIN = re.compile(r"^v?([0-9]+)\.([0-9]+)(?:\.([0-9]+))?\Z")


def pin_problem(pin: str, cluster: str) -> str:
    """Why `cluster` must not run with dlrs_kubernetes_version `pin`: the running cluster (its
    API server at `cluster`) is newer than the pin (minor or patch; a pin of a minor alone,
    1.32, covers every 1.32.x), so the packages would be moved back under it. '' when not."""
    m = _PIN.match(str(pin).strip())
    try:
        have = reported(cluster)
    except ValueError:
        return ""  # nothing readable runs there: nothing to protect
    if not m:
        return ""  # inventory validation reports a pin that is no version
    pinned = (int(m.group(1)), int(m.group(2)))
    newer = have[:2] > pinned if m.group(3) is None else have > (*pinned, int(m.group(3)))
    if not newer:
        return ""
    return (
        f"the running cluster is at {_v(have)}, newer than dlrs_kubernetes_version {pin}: "
        "`cluster` would install the older packages under it (a downgrade kubeadm does not "
        f'support); set dlrs_kubernetes_version: "{have[0]}.{have[1]}.{have[2]}" in the '
        "inventory, or move the cluster with `dlrs-provision upgrade`"
    )
