"""Which kubeadm configuration API a Kubernetes version serves: the one rule, used by
inventory validation (dlrs_provision/settings.py) and by the roles through the
`dlrs_kubeadm_api_version` filter (dlrs_provision/ansible_plugins/filter/dlrs_kubeadm.py).

What kubeadm itself accepts (kubernetes/kubernetes, cmd/kubeadm/app/util/config/common.go,
validateSupportedVersion, by release):

- kubeadm.k8s.io/v1beta3 is served from 1.22 (v1beta2 is read-only from then on);
- kubeadm.k8s.io/v1beta4 is known from 1.28 but refused as experimental up to 1.30, and served
  from 1.31 (where v1beta3 becomes deprecated, still accepted with a warning).

So the roles write v1beta3 for kubeadm 1.22-1.30 and v1beta4 from 1.31; a version before 1.22
has no API the templates can write.
"""

from __future__ import annotations

import re

GROUP = "kubeadm.k8s.io"
MINIMUM = (1, 22)  # the first kubeadm that serves v1beta3
V1BETA4_FROM = (1, 31)  # the first kubeadm that serves v1beta4 (1.28-1.30: experimental)

_VERSION = re.compile(r"^v?(\d+)\.(\d+)(?:\.(\d+))?(?:[-+][0-9A-Za-z.+-]*)?$")


def parse(version: str) -> tuple[int, int]:
    """'1.32', 'v1.30.11', '1.32.3-1.1' -> (major, minor); ValueError when it is no version."""
    m = _VERSION.match(str(version).strip())
    if not m:
        raise ValueError(f"{version!r} is not a Kubernetes version such as 1.32 or v1.32.3")
    return int(m.group(1)), int(m.group(2))


def unsupported(version: str) -> str | None:
    """Why no kubeadm configuration API can be written for `version`, or None when one can."""
    try:
        major, minor = parse(version)
    except ValueError as exc:
        return str(exc)
    if (major, minor) < MINIMUM:
        return (
            f"Kubernetes {major}.{minor} is older than {MINIMUM[0]}.{MINIMUM[1]}, the first "
            f"kubeadm that serves {GROUP}/v1beta3 (the oldest configuration API the roles write)"
        )
    if major != 1:
        return f"Kubernetes {major}.{minor} is not a 1.x release"
    return None


def api_version(version: str) -> str:
    """The kubeadm configuration apiVersion that kubeadm `version` serves:
    kubeadm.k8s.io/v1beta3 for 1.22-1.30, kubeadm.k8s.io/v1beta4 from 1.31."""
    reason = unsupported(version)
    if reason:
        raise ValueError(reason)
    return f"{GROUP}/v1beta4" if parse(version) >= V1BETA4_FROM else f"{GROUP}/v1beta3"
