"""The kubeadm stand-in's ImagePull preflight check (k8s_stand_in/imagepull.py): the images of
`kubeadm config images list` must be in the configured imageRepository, as the real kubeadm
pulls them through the CRI before `init` writes anything (checks.go ImagePullCheck)."""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_k8s_stand_ins import K8S, Host, free_port, init_config

from dlrs_provision import k8s_images

sys.path.insert(0, str(K8S))
sys.path.insert(0, str(K8S.parent))
from k8s_stand_in import imagepull
from k8s_stand_in.kubeadm import PhaseError, Preflight
from k8s_stand_in.util import Root
from manifest_registry import FakeRegistry

CLUSTER = {"etcd": {"local": {"dataDir": "/var/lib/etcd"}}, "dns": {}, "proxy": {}}


@pytest.fixture
def registry() -> Iterator[FakeRegistry]:
    reg = FakeRegistry()
    yield reg
    reg.close()


@pytest.fixture
def root(tmp_path: Path) -> Root:
    return Root(str(tmp_path))


def _cluster(repository: str) -> dict:
    return {**CLUSTER, "imageRepository": repository}


def _run(root: Root, images: list[str], policy: str = "IfNotPresent", ignored=()) -> Preflight:
    pf = Preflight(list(ignored))
    imagepull.check(root, images, images[-2] if len(images) > 1 else "", policy, pf.check)
    return pf


# --- the image list is kubeadm's, and the product's -------------------------------------------


@pytest.mark.parametrize("version", ["v1.30.14", "v1.31.7", "v1.32.3"])
def test_stand_in_list_equals_the_products_list(version):
    for repository in ("registry.k8s.io", "registry.site:5443"):
        assert imagepull.required_images(
            _cluster(repository), version
        ) == k8s_images.control_plane_images(version, repository)


def test_stand_in_honours_the_dns_and_etcd_overrides_and_disabled_addons():
    cluster = {
        "imageRepository": "reg:5000",
        "dns": {"imageRepository": "other:5000/dns", "imageTag": "v9"},
        "etcd": {"local": {"imageRepository": "etcd-reg:5000", "imageTag": "3.6.0-0"}},
        "proxy": {"disabled": True},
    }
    images = imagepull.required_images(cluster, "v1.32.3")
    assert "other:5000/dns/coredns:v9" in images and "etcd-reg:5000/etcd:3.6.0-0" in images
    assert not any("kube-proxy" in i for i in images)


# --- refusing and accepting, in kubeadm's words -----------------------------------------------


def test_a_missing_image_fails_the_check_with_kubeadms_error(root, registry):
    registry.trust_from(root.base)
    images = imagepull.required_images(_cluster(registry.host), "v1.32.3")
    for image in images:
        if "coredns" not in image:
            registry.add(image)
    pf = _run(root, images)
    with pytest.raises(PhaseError) as info:
        pf.finish()
    wanted = f"{registry.host}/coredns:v1.11.3"
    text = info.value.message
    assert (
        f"\t[ERROR ImagePull]: failed to pull image {wanted}: failed to pull image "
        f'"{wanted}": rpc error: code = NotFound desc = failed to pull and unpack image '
        f'"{wanted}": failed to resolve reference "{wanted}": {wanted}: not found\n'
    ) in text
    assert text.count("[ERROR ImagePull]") == 1
    # kubeadm's CoreDNS path on a repository other than registry.k8s.io: <repo>/coredns
    assert ("HEAD", "/v2/coredns/manifests/v1.11.3") in registry.requests


def test_every_image_present_passes(root, registry):
    registry.trust_from(root.base)
    images = imagepull.required_images(_cluster(registry.host), "v1.32.3")
    for image in images:
        registry.add(image)
    pf = _run(root, images)
    pf.finish()
    assert pf.errors == []
    assert len([r for r in registry.requests if r[0] == "HEAD"]) == len(images)


def test_ignore_preflight_errors_image_pull_turns_them_into_warnings(root, registry, capsys):
    registry.trust_from(root.base)
    images = [f"{registry.host}/kube-apiserver:v1.32.3", f"{registry.host}/pause:3.10"]
    pf = _run(root, images, ignored=["ImagePull"])
    pf.finish()
    err = capsys.readouterr().err
    assert f"\t[WARNING ImagePull]: failed to pull image {images[0]}:" in err
    assert f"\t[WARNING ImagePull]: failed to pull image {images[1]}:" in err


def test_policy_never_pulls_nothing(root, registry):
    registry.trust_from(root.base)
    pf = _run(root, [f"{registry.host}/kube-apiserver:v1.32.3"], policy="Never")
    pf.finish()
    assert registry.requests == []


def test_an_unsupported_policy_is_kubeadms_error(root, registry):
    pf = _run(root, [f"{registry.host}/kube-apiserver:v1.32.3"], policy="Sometimes")
    assert pf.errors == ['\t[ERROR ImagePull]: unsupported pull policy "Sometimes"\n']


def test_a_registry_that_asks_for_a_token_gets_an_anonymous_one(root):
    reg = FakeRegistry(token="anon-pull-token")
    try:
        reg.trust_from(root.base)
        image = f"{reg.host}/etcd:3.5.16-0"
        reg.add(image)
        pf = _run(root, [image])
        assert pf.errors == []
        assert ("GET", "/token?service=fake&scope=repository%3Ax%3Apull") in reg.requests
    finally:
        reg.close()


def test_the_hosts_toml_mirror_is_asked_first_then_the_server(root, registry):
    down = free_port()  # nothing listens there
    folder = root.base / "etc/containerd/certs.d/registry.k8s.io"
    folder.mkdir(parents=True)
    (folder / "hosts.toml").write_text(
        f'server = "http://127.0.0.1:{down}"\n\n'
        f'[host."http://{registry.host}"]\n  capabilities = ["pull", "resolve"]\n'
    )
    eps = imagepull.endpoints(root, "registry.k8s.io")
    assert [e.url for e in eps] == [f"http://{registry.host}/v2", f"http://127.0.0.1:{down}/v2"]
    registry.add("registry.k8s.io/pause:3.10")
    assert imagepull.resolve(root, "registry.k8s.io/pause:3.10") is None
    problem = imagepull.resolve(root, "registry.k8s.io/pause:3.9")
    # the mirror is asked with ?ns=<registry>, and the server (here: nobody) last
    assert ("HEAD", "/v2/pause/manifests/3.9?ns=registry.k8s.io") in registry.requests
    assert problem == (
        f'failed to do request: Head "http://127.0.0.1:{down}/v2/pause/manifests/3.9'
        f'?ns=registry.k8s.io": dial tcp 127.0.0.1:{down}: connection refused'
    )


def test_the_default_namespace_and_port_folders_are_found_as_containerd_finds_them(root):
    default = root.base / "etc/containerd/certs.d/_default"
    default.mkdir(parents=True)
    (default / "hosts.toml").write_text('server = "http://fallback:5000"\nca = "ca.pem"\n')
    (ep,) = imagepull.endpoints(root, "reg.example:5443")
    assert ep.url == "http://fallback:5000/v2" and ep.ca_files == (str(default / "ca.pem"),)
    port_folder = root.base / "etc/containerd/certs.d/reg.example_5443_"
    port_folder.mkdir()
    (port_folder / "ca.crt").write_text("")
    (ep,) = imagepull.endpoints(root, "reg.example:5443")
    assert ep.url == "https://reg.example:5443/v2"
    assert ep.ca_files == (str(port_folder / "ca.crt"),)


def test_a_runtime_sandbox_image_other_than_kubeadms_gets_kubeadms_warning(root, capsys):
    config = root.base / "etc/containerd/config.toml"
    config.parent.mkdir(parents=True)
    config.write_text(
        'version = 2\n[plugins."io.containerd.grpc.v1.cri"]\n'
        '  sandbox_image = "registry.k8s.io/pause:3.8"\n'
    )
    imagepull.check(root, [], "reg:5443/pause:3.10", "IfNotPresent", Preflight([]).check)
    assert (
        'detected that the sandbox image "registry.k8s.io/pause:3.8" of the container runtime '
        "is inconsistent with that used by kubeadm. It is recommended to use "
        '"reg:5443/pause:3.10" as the CRI sandbox image.'
    ) in capsys.readouterr().err


# --- through `kubeadm init` -------------------------------------------------------------------


def test_init_stops_in_preflight_when_the_repository_lacks_an_image(registry):
    base = Path(tempfile.mkdtemp(prefix="k8s-", dir="/tmp"))
    host = Host(base, "airgap")
    try:
        registry.trust_from(host.root)
        for image in imagepull.required_images(_cluster(registry.host), "v1.32.3"):
            if "/etcd:" not in image:
                registry.add(image)
        host.file("/kubeadm.yaml").write_text(init_config(free_port(), repository=registry.host))
        proc = host.run("kubeadm", "init", "--config", "/kubeadm.yaml")
        assert proc.returncode == 1, proc.stdout + proc.stderr
        assert "error execution phase preflight: [preflight] Some fatal errors occurred:" in (
            proc.stderr
        )
        assert f"[ERROR ImagePull]: failed to pull image {registry.host}/etcd:3.5.16-0: " in (
            proc.stderr
        )
        assert "[preflight] Pulling images required for setting up a Kubernetes cluster" in (
            proc.stdout
        )
        assert not host.file("/etc/kubernetes/pki/ca.crt").exists()
    finally:
        host.close()
        shutil.rmtree(base, ignore_errors=True)
