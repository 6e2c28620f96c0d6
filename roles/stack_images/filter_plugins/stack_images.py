"""Filters of the stack_images role, over the toolkit's own image references.

    {{ 'clearlinux/stacks-dlaas-mkl:latest' | stack_images_ref }}
        -> {registry, repository, tag, digest, name, familiar, api_host}
    {{ 'x86_64' | stack_images_platform }}    -> linux/amd64

The same parser as dlrs_provision/registry.py, so that the role and `dlrs-provision images`
agree on what a name means. When Ansible runs from a Python without the dlrs_provision package,
the repository root is put on sys.path (as the tuning filter does).
"""

from __future__ import annotations

import sys
from pathlib import Path

try:
    from dlrs_provision import registry
except ImportError:  # pragma: no cover - depends on how Ansible was installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
    from dlrs_provision import registry

from ansible.errors import AnsibleFilterError


def stack_images_ref(text):
    try:
        ref = registry.Reference.parse(str(text))
    except Exception as exc:
        raise AnsibleFilterError(f"stack_images_ref: {exc}") from exc
    return {
        "registry": ref.registry,
        "repository": ref.repository,
        "tag": ref.tag or "",
        "digest": ref.digest or "",
        "name": ref.name,
        "familiar": ref.familiar,
        "api_host": registry.api_host(ref.registry),
    }


def stack_images_platform(architecture):
    return registry.platform_of(str(architecture))


class FilterModule:
    def filters(self):
        return {
            "stack_images_ref": stack_images_ref,
            "stack_images_platform": stack_images_platform,
        }
