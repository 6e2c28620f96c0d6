"""Ansible filters over dlrs_provision.upgrade_skew, so playbooks/upgrade.yml and the command
line use one rule for which upgrades are allowed:

    {{ dlrs_upgrade_to | dlrs_upgrade_skew_problem(cluster_git_version, {node: kubeletVersion}) }}

gives '' when the upgrade is allowed, else the reasons, one per line;
`{{ version | dlrs_upgrade_at_target(dlrs_upgrade_to) }}` whether a reported version is the
target; `{{ dlrs_kubernetes_version | dlrs_upgrade_pin_problem(cluster_git_version) }}` the
refusal of the preflight role when the running cluster is newer than the pin. When Ansible
runs from a Python that lacks the dlrs_provision package, the repository root is put on
sys.path (as dlrs_kubeadm.py does).
"""

from __future__ import annotations

import sys
from pathlib import Path

try:
    from dlrs_provision import upgrade_skew
except ImportError:  # pragma: no cover - depends on how Ansible was installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
    from dlrs_provision import upgrade_skew


def dlrs_upgrade_skew_problem(target, cluster, kubelets=None):
    """'' when the cluster at `cluster` with these kubelets may be upgraded to `target`."""
    return "\n".join(upgrade_skew.skew_problems(str(target), str(cluster), dict(kubelets or {})))


def dlrs_upgrade_at_target(version, target):
    return upgrade_skew.at_target(str(target), str(version))


def dlrs_upgrade_pin_problem(pin, cluster):
    """'' unless the running cluster (`cluster`, its gitVersion) is newer than the pin."""
    return upgrade_skew.pin_problem(str(pin), str(cluster))


class FilterModule:
    def filters(self):
        return {
            "dlrs_upgrade_skew_problem": dlrs_upgrade_skew_problem,
            "dlrs_upgrade_at_target": dlrs_upgrade_at_target,
            "dlrs_upgrade_pin_problem": dlrs_upgrade_pin_problem,
        }
