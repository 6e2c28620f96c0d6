"""The shared filters (dlrs_provision/ansible_plugins/filter/dlrs_settings.py) for a role run alone.

Every role that reads dlrs_ names depends on dlrs_defaults, and Ansible loads a role's
filter_plugins/ for the play, so the roles find dlrs_cluster_registry, dlrs_variant and the
others without the checkout's ansible.cfg. The filters themselves live in the package only.
"""

from __future__ import annotations

import sys
from pathlib import Path

try:
    from dlrs_provision.ansible_plugins.filter.dlrs_settings import FilterModule
except ImportError:  # pragma: no cover - depends on how Ansible was installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
    from dlrs_provision.ansible_plugins.filter.dlrs_settings import FilterModule

__all__ = ["FilterModule"]
