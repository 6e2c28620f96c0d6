"""The images a kubeadm cluster pulls, for a pinned Kubernetes version: the one place that knows.

What `kubeadm config images list` prints, worked out the way kubeadm works it out (read in
kubernetes/kubernetes, cmd/kubeadm/app/images/images.go and cmd/kubeadm/app/constants/
constants.go of each release branch):

- kube-apiserver, kube-controller-manager, kube-scheduler and kube-proxy are
  `<imageRepository>/<name>:v<version>` (the tag is the exact version, "+" turned into "_");
- pause is `<imageRepository>/pause:<PauseVersion of that release>`;
- etcd is `<imageRepository>/etcd:<SupportedEtcdVersion[minor]>`;
- CoreDNS is `<imageRepository>/coredns:<CoreDNSVersion>`, except on the default repository
  registry.k8s.io, where the image is `registry.k8s.io/coredns/coredns` (kubeadm's GetDNSImage
  adds the `/coredns` only there).

So an air-gapped registry holds every image at `<repository>/<name>`, CoreDNS included at
`<repository>/coredns` (not coredns/coredns): `images load` pushes them so (load_path()).

The pod network's images come from the pinned manifest of each network (the manifests named in
roles/kubeadm_master/vars/main.yml), read from the release's kube-flannel.yml.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dlrs_provision.errors import UsageError

DEFAULT_REPOSITORY = "registry.k8s.io"
CONTROL_PLANE = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kube-proxy")


@dataclass(frozen=True)
class Release:
    """What one Kubernetes minor's kubeadm pins (constants.go of its release branch, .0)."""

    pause: str
    etcd: str
    coredns: str


# Per minor, as constants.go of the release branch has them at the minor's first release.
# Later patch releases have moved etcd on (1.31.14 ships 3.5.24-0, for example): a pin to such
# a patch needs its own entry here, or kubeadm asks for an etcd tag the archive lacks.
RELEASES: dict[str, Release] = {
    "1.30": Release(pause="3.9", etcd="3.5.12-0", coredns="v1.11.1"),
    "1.31": Release(pause="3.10", etcd="3.5.15-0", coredns="v1.11.3"),
    "1.32": Release(pause="3.10", etcd="3.5.16-0", coredns="v1.11.3"),
}

# The pod networks' images, from the manifest each pinned release ships (role kubeadm_master).
POD_NETWORK_IMAGES: dict[str, tuple[str, ...]] = {
    # flannel v0.26.4, Documentation/kube-flannel.yml (kube-flannel-ds: init containers
    # install-cni-plugin and install-cni, container kube-flannel)
    "flannel": (
        "ghcr.io/flannel-io/flannel-cni-plugin:v1.6.2-flannel1",
        "ghcr.io/flannel-io/flannel:v0.26.4",
    ),
    "none": (),
}

_EXACT = re.compile(r"^v?(1)\.(\d{1,2})\.(\d{1,3})$")
_MINOR = re.compile(r"^v?(1)\.(\d{1,2})$")


def release(version: str) -> tuple[str, Release]:
    """(minor, its pins) for a version such as 1.32.3 or 1.32; UsageError for an unknown one."""
    text = str(version).strip()
    m = _EXACT.match(text) or _MINOR.match(text)
    if not m:
        raise UsageError(
            f"{version!r} is not a Kubernetes version",
            "give a version such as 1.32.3 (dlrs_kubernetes_version)",
        )
    minor = f"{m.group(1)}.{m.group(2)}"
    if minor not in RELEASES:
        raise UsageError(
            f"Kubernetes {minor}: the control-plane images of this minor are not known",
            "use one of " + ", ".join(sorted(RELEASES)) + " (dlrs_kubernetes_version)",
        )
    return minor, RELEASES[minor]


def exact_version(version: str) -> str:
    """'1.32.3' / 'v1.32.3' -> 'v1.32.3'; a minor alone is refused (the images carry the patch)."""
    m = _EXACT.match(str(version).strip())
    if not m:
        raise UsageError(
            f"dlrs_kubernetes_version {version!r} names no patch release: the control-plane "
            "images are tagged with the exact version (kube-apiserver:v1.32.3)",
            "pin dlrs_kubernetes_version to an exact release such as 1.32.3",
        )
    return "v" + ".".join(m.groups())


def pause_image(version: str, repository: str = DEFAULT_REPOSITORY) -> str:
    """The pod sandbox image kubeadm expects for that version (GetPauseImage)."""
    _, pins = release(version)
    return f"{repository}/pause:{pins.pause}"


def control_plane_images(version: str, repository: str = DEFAULT_REPOSITORY) -> list[str]:
    """`kubeadm config images list --kubernetes-version <version> --image-repository <repo>`,
    in kubeadm's order."""
    tag = exact_version(version).replace("+", "_")
    _, pins = release(version)
    dns_repo = f"{repository}/coredns" if repository == DEFAULT_REPOSITORY else repository
    return [
        *(f"{repository}/{name}:{tag}" for name in CONTROL_PLANE),
        f"{dns_repo}/coredns:{pins.coredns}",
        f"{repository}/pause:{pins.pause}",
        f"{repository}/etcd:{pins.etcd}",
    ]


def pod_network_images(network: str) -> list[str]:
    """The images the pinned manifest of that pod network runs (calico: not listed yet)."""
    if network not in POD_NETWORK_IMAGES:
        raise UsageError(
            f"the images of the pod network {network!r} are not listed",
            "for an air-gapped site use dlrs_pod_network: flannel, or none and your own network",
        )
    return list(POD_NETWORK_IMAGES[network])


def load_path(repository: str, kubernetes_path: str = "") -> str:
    """Where `images load` puts an image of registry.k8s.io in the cluster registry, so that
    kubeadm with imageRepository <cluster registry>[/<kubernetes_path>] finds it:
    coredns/coredns becomes coredns, every other path stays as it is."""
    path = "coredns" if repository == "coredns/coredns" else repository
    return f"{kubernetes_path.strip('/')}/{path}" if kubernetes_path.strip("/") else path
