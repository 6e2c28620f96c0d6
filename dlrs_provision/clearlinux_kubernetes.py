"""Kubernetes on Clear Linux nodes: where kubeadm/kubelet/kubectl come from, and which
combinations of OS version, cluster version and source cannot work (refused before any host is
touched: inventory validation and the preflight verdict both call clearlinux_kubernetes_problem).

Two sources (setting dlrs_kubernetes_clearlinux_source):

- ``upstream`` (the default): the release binaries
  ``<dlrs_kubernetes_binary_url>/v<X.Y.Z>/bin/linux/amd64/<name>``, installed only when their
  sha256 matches. The checksums are in roles/kubernetes_packages/vars/release_binaries.yml (read
  here too: one table) or in the inventory's dlrs_kubernetes_binary_checksums.
- ``bundle``: the cloud-native-basic bundle's own ``kubernetes`` package, whose version is fixed
  by the OS release the node runs.

Which Kubernetes the bundle carries per OS release (BUNDLE_KUBERNETES): the ``Version`` of
kubernetes.spec in clearlinux-pkgs/kubernetes at each commit that changed the minor, placed at
the first OS release that clearlinux/clr-bundles tagged after that commit (the tags are the OS
release numbers, dated). A package commit ships in one of the next releases, so a version within
a release or two of a boundary may still carry the older minor: the table is coarse, and the
check compares minors only. The commits used (clearlinux-pkgs/kubernetes, date, Version):

    82ae9b2574 2018-06-29 1.11.0   -> OS 23450 (2018-07-03)
    f971549af2 2018-11-23 1.12.2   -> OS 26500 (2018-11-26)
    291ef60ca0 2019-01-02 1.13.1   -> OS 27020
    ce66e05412 2019-04-03 1.14.0   -> OS 28650
    753513eee2 2019-06-28 1.15.0   -> OS 30140
    3da229d358 2019-10-14 1.16.1   -> OS 31310
    c26f2df60c 2019-12-12 1.17.0   -> OS 31930
    02b6b7fbad 2020-12-15 1.19.4   -> OS 34100
    d66291ebd0 2021-11-08 1.20.11  -> OS 35280
    17ebd2d3c3 2022-02-10 1.21.9   -> OS 35900
    8e4bbb2e62 2022-08-09 1.22.12  -> OS 36790
    eeb47b5333 2022-08-24 1.23.10  -> OS 36910
    0c6b275f9a 2022-08-25 1.24.4   -> OS 36940
    d161d8c3d8 2022-08-30 1.25.0   -> OS 36980
    4384698292 2022-12-29 1.26.0   -> OS 37960, unchanged to the last release (43760, 2025-07)

So the DLRS floor, OS 26240, carries Kubernetes 1.11; no Clear Linux release carries 1.27 or
later, and no supported cluster version (1.30-1.32) is reachable with ``bundle``.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import yaml

from dlrs_provision import k8s_images, kubeadm_api, paths

SOURCES = ("upstream", "bundle")
DEFAULT_SOURCE = "upstream"
DEFAULT_BINARY_URL = "https://dl.k8s.io/release"
# what roles/kubernetes_packages/defaults/main.yml installs when dlrs_kubernetes_version is unset
DEFAULT_KUBERNETES_VERSION = "1.32"
BINARIES = ("kubeadm", "kubelet", "kubectl")
CHECKSUMS_FILE = ("roles", "kubernetes_packages", "vars", "release_binaries.yml")
CHECKSUMS_KEY = "_kubernetes_packages_release_checksums"

# (first OS release, the Kubernetes version the cloud-native-basic bundle carries from it)
BUNDLE_KUBERNETES: tuple[tuple[int, str], ...] = (
    (23450, "1.11.0"),
    (26500, "1.12.2"),
    (27020, "1.13.1"),
    (28650, "1.14.0"),
    (30140, "1.15.0"),
    (31310, "1.16.1"),
    (31930, "1.17.0"),
    (34100, "1.19.4"),
    (35280, "1.20.11"),
    (35900, "1.21.9"),
    (36790, "1.22.12"),
    (36910, "1.23.10"),
    (36940, "1.24.4"),
    (36980, "1.25.0"),
    (37960, "1.26.0"),
)

_EXACT = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)$")
_MINOR = re.compile(r"^v?(\d+)\.(\d+)$")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


def bundle_kubernetes(os_version: int) -> str | None:
    """The Kubernetes version cloud-native-basic carries at Clear Linux `os_version`, or None
    when the release predates the first kubernetes package in the table."""
    found = None
    for first, version in BUNDLE_KUBERNETES:
        if os_version >= first:
            found = version
    return found


def _minor(version: str) -> str:
    major, minor = kubeadm_api.parse(version)
    return f"{major}.{minor}"


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split("."))


@lru_cache(maxsize=1)
def release_checksums() -> dict[str, dict[str, str]]:
    """roles/kubernetes_packages/vars/release_binaries.yml: "X.Y.Z" -> binary -> digest."""
    path = paths.repo_root().joinpath(*CHECKSUMS_FILE)
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    table = data.get(CHECKSUMS_KEY) or {}
    return {str(v): {str(k): str(d) for k, d in names.items()} for v, names in table.items()}


def checksums_problem(value: Any) -> str | None:
    """What is wrong with a dlrs_kubernetes_binary_checksums value, or None."""
    if value is None:
        return None
    if not isinstance(value, dict):
        return 'is not a mapping "X.Y.Z": {kubeadm: sha256:..., kubelet: ..., kubectl: ...}'
    for version, names in value.items():
        if not isinstance(version, str) or not _EXACT.match(version):
            return f'has the key {version!r}: give an exact version as a quoted string, "1.32.3"'
        if not isinstance(names, dict):
            return f"[{version!r}] is not a mapping of kubeadm, kubelet, kubectl to their sha256"
        missing = [n for n in BINARIES if n not in names]
        extra = sorted(str(n) for n in names if n not in BINARIES)
        if missing:
            return f"[{version!r}] lacks {', '.join(missing)}"
        if extra:
            return f"[{version!r}] has {', '.join(extra)}: only kubeadm, kubelet, kubectl"
        for name in BINARIES:
            digest = names[name]
            if not isinstance(digest, str) or not _DIGEST.match(digest):
                return f"[{version!r}].{name} is {digest!r}, not sha256: and 64 lowercase hex"
    return None


def resolve_version(k8s_version: str, user_checksums: dict | None = None) -> str | None:
    """The exact release an upstream install fetches: the version itself when it has a patch,
    else the newest patch of that minor with checksums (table or inventory); None when none."""
    text = str(k8s_version).strip().lstrip("v")
    if _EXACT.match(text):
        return text
    m = _MINOR.match(text)
    if not m:
        return None
    known = set(release_checksums()) | set((user_checksums or {}).keys())
    patches = [v for v in known if _EXACT.match(v) and _minor(v) == text]
    return max(patches, key=_key) if patches else None


def clearlinux_kubernetes_problem(
    os_version: int | None,
    k8s_version: str,
    source: str | None = DEFAULT_SOURCE,
    user_checksums: dict | None = None,
) -> str | None:
    """Why a Clear Linux node at `os_version` (None: not known yet) cannot run the cluster's
    Kubernetes `k8s_version` from `source`: what, why, and the fix; None when it can."""
    source = DEFAULT_SOURCE if source is None else source
    if source not in SOURCES:
        return (
            f"dlrs_kubernetes_clearlinux_source is {source!r}; it must be one of "
            f"{', '.join(SOURCES)} (upstream: the release binaries checked by sha256; bundle: "
            "cloud-native-basic's own kubernetes)"
        )
    try:
        cluster_minor = _minor(k8s_version)
    except ValueError as exc:
        return f"{exc} (dlrs_kubernetes_version)"
    if source == "bundle":
        if os_version is None:
            return None
        carried = bundle_kubernetes(os_version)
        if carried is None:
            return (
                f"Clear Linux {os_version}'s cloud-native-basic carries no kubernetes package; "
                f"the cluster pins {k8s_version}: set dlrs_kubernetes_clearlinux_source: upstream"
            )
        carried_minor = _minor(carried)
        if carried_minor == cluster_minor:
            return None
        api = kubeadm_api.api_version(k8s_version)
        reason = kubeadm_api.unsupported(carried)
        if reason is None and kubeadm_api.api_version(carried) == api:
            why = f"kubeadm {carried_minor} would set up a {carried_minor} cluster"
        else:
            why = f"kubeadm {carried_minor} does not read the rendered {api} configuration"
        fix = "set dlrs_kubernetes_clearlinux_source: upstream (release binaries checked by sha256)"
        if carried_minor in k8s_images.RELEASES:
            fix += f", or pin dlrs_kubernetes_version to {carried_minor}"
        return (
            f"Clear Linux {os_version}'s cloud-native-basic carries Kubernetes {carried_minor}; "
            f"the cluster pins {k8s_version} ({why}): {fix}"
        )
    user = user_checksums or {}
    exact = resolve_version(k8s_version, user)
    if exact is None:
        return (
            f"no release binaries with known sha256 for Kubernetes {k8s_version}: set "
            f'dlrs_kubernetes_binary_checksums: {{"{cluster_minor}.Z": {{kubeadm: "sha256:...", '
            f'kubelet: "sha256:...", kubectl: "sha256:..."}}}} or pin a listed version'
        )
    if exact not in user and exact not in release_checksums():
        return (
            f"Kubernetes {exact} has no sha256 for its release binaries in "
            f"{'/'.join(CHECKSUMS_FILE)}: set dlrs_kubernetes_binary_checksums: "
            f'{{"{exact}": {{kubeadm: "sha256:...", kubelet: "sha256:...", '
            'kubectl: "sha256:..."}}'
            " (the sha256 published beside each binary on dl.k8s.io)"
        )
    return None
