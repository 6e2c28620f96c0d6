"""Ansible filter over dlrs_provision.kubeadm_api, so the roles and inventory validation use
one rule for the kubeadm configuration API:

    apiVersion: {{ kubeadm_version_output | dlrs_kubeadm_api_version }}

`kubeadm version -o short` prints v1.30.11; the filter gives kubeadm.k8s.io/v1beta3 for it and
kubeadm.k8s.io/v1beta4 for v1.31 and later. When Ansible runs from a Python that lacks the
dlrs_provision package, the repository root is put on sys.path (as dlrs_tuning.py does).
"""

from __future__ import annotations

import sys
from pathlib import Path

try:
    from dlrs_provision import kubeadm_api
except ImportError:  # pragma: no cover - depends on how Ansible was installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
    from dlrs_provision import kubeadm_api

from ansible.errors import AnsibleFilterError


def dlrs_kubeadm_api_version(version):
    """`kubeadm version -o short` (or any Kubernetes version) -> the config apiVersion."""
    try:
        return kubeadm_api.api_version(str(version).strip())
    except ValueError as exc:
        raise AnsibleFilterError(f"dlrs_kubeadm_api_version: {exc}") from exc


class FilterModule:
    def filters(self):
        return {"dlrs_kubeadm_api_version": dlrs_kubeadm_api_version}
