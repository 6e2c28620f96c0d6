"""Ansible filters over dlrs_provision.tuning, so playbooks get the CLI's exact values.

    {{ ansible_facts | dlrs_tuning(mode='multi', variant='mkl', overrides={...}) }}
    {{ lscpu_result.stdout | dlrs_parse_lscpu }}

ansible.cfg points filter_plugins here. When Ansible runs from a Python that lacks the
dlrs_provision package (ops teams with their own Ansible), the repository root is put on
sys.path so that the one calculator in dlrs_provision/tuning.py is still what runs.
"""

from __future__ import annotations

import sys
from pathlib import Path

try:
    from dlrs_provision import tuning
except ImportError:  # pragma: no cover - depends on how Ansible was installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
    from dlrs_provision import tuning

from ansible.errors import AnsibleFilterError


def dlrs_tuning(facts, mode="single", variant="mkl", overrides=None, image=None):
    """Return the tuning of one host as a plain dict (see tuning.Tuning.to_dict).

    image: the image the host runs (None or empty: the variant's); with the host's
    preflight_cpu_features in facts it decides whether NCHW holds (oneDNN kernels)."""
    facts = dict(facts or {})
    # Facts given as `ansible_facts` carry names without the ansible_ prefix; hostvars with it.
    try:
        result = tuning.compute(
            facts,
            mode=str(mode),
            variant=str(variant),
            overrides=dict(overrides or {}),
            image=str(image) if image else None,
        )
    except (tuning.FactsError, ValueError) as exc:
        raise AnsibleFilterError(f"dlrs_tuning: {exc}") from exc
    return result.to_dict()


def dlrs_parse_lscpu(text):
    """`lscpu -p=CPU,CORE,SOCKET,NODE` output -> [{cpu, core, socket, node}, ...].

    Blank columns (a kernel without CPU topology prints `0,,,0`) give None, not an error:
    dlrs_tuning then uses the processor facts and warns."""
    try:
        return tuning.parse_lscpu(str(text))
    except tuning.FactsError as exc:
        raise AnsibleFilterError(f"dlrs_parse_lscpu: {exc}") from exc


class FilterModule:
    def filters(self):
        return {"dlrs_tuning": dlrs_tuning, "dlrs_parse_lscpu": dlrs_parse_lscpu}
