"""`dlrs-provision images save` and `images load` as an operator meets them: the options, and
every refusal with its exit code, a message naming what is wrong, and no traceback.

The round trip between two real registries is in test_registry_client.py (it runs them).
"""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from dlrs_provision import catalog, images, k8s_images
from dlrs_provision.cli import build_parser
from dlrs_provision.commands import images as images_command
from dlrs_provision.errors import UsageError
from dlrs_provision.registry import DOCKER_MANIFEST, sha256_digest

REPO = Path(__file__).resolve().parents[2]
CLI = [str(Path(sys.executable).parent / "dlrs-provision")]
SECRET = "pw-Reg-7c1e-never-shown"


def cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k != "DLRS_PROVISION_STATE"}
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, cwd=REPO, env={**base, **(env or {})}
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def make_archive(path: Path, name: str = "docker.io/org/stack:v1") -> Path:
    """A one-image OCI layout archive of the form `images save` writes."""
    layer = b"layer bytes of a test image"
    config = json.dumps({"architecture": "amd64", "os": "linux"}).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": DOCKER_MANIFEST,
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "digest": sha256_digest(config),
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "digest": sha256_digest(layer),
                    "size": len(layer),
                }
            ],
        }
    ).encode()
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": DOCKER_MANIFEST,
                "digest": sha256_digest(manifest),
                "size": len(manifest),
                "annotations": {images.NAME_ANNOTATION: name, images.REF_ANNOTATION: "v1"},
            }
        ],
    }
    with tarfile.open(path, "w") as tar:
        _add(tar, "oci-layout", json.dumps(images.LAYOUT_VERSION).encode())
        for blob in (config, layer, manifest):
            _add(tar, "blobs/sha256/" + sha256_digest(blob).split(":")[1], blob)
        _add(tar, "index.json", json.dumps(index).encode())
    return path


def inventory(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "inv" / "hosts.yml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(
        "all:\n  vars:\n    dlrs_registry_mode: local\n"
        + "".join(f"    {line}\n" for line in extra.splitlines())
        + "  children:\n    masters:\n      hosts:\n        m1: {ansible_host: 10.0.0.1}\n"
    )
    return path


# --------------------------------------------------------------------------- parsing


def test_save_takes_repeated_images_an_inventory_and_the_archive_path():
    args = build_parser().parse_args(
        ["images", "save", "--image", "a/b:1", "--image", "c/d:2", "--inventory", "inv",
         "--insecure-registry", "mirror:5000", "-o", "out.tar"]
    )  # fmt: skip
    assert args.image == ["a/b:1", "c/d:2"] and args.inventory == "inv"
    assert args.out == "out.tar" and args.insecure_registry == ["mirror:5000"]
    assert args.platform == "linux/amd64" and args.func is images_command.run_save


def test_save_without_an_archive_path_is_a_usage_error():
    proc = cli("images", "save", "--image", "a/b:1")
    assert proc.returncode == 2 and "-o/--out" in proc.stderr


def test_save_has_no_option_for_a_password():
    """Credentials come from the environment only: argv is readable by every user."""
    with pytest.raises(SystemExit):
        build_parser().parse_args(["images", "save", "-o", "x", "--password", SECRET])


def test_load_takes_the_archive_the_inventory_and_an_address():
    args = build_parser().parse_args(
        ["images", "load", "a.tar", "hosts.yml", "--registry", "10.0.0.1:5443"]
    )
    assert (args.archive, args.inventory, args.registry) == ("a.tar", "hosts.yml", "10.0.0.1:5443")
    assert args.func is images_command.run_load


# --------------------------------------------------------------------------- what save takes


def test_save_takes_the_images_of_the_inventory_s_hosts(tmp_path):
    inv = inventory(
        tmp_path,
        "dlrs_variant: eigen\ndlrs_upstream_registry: mirror:5000\n"
        'dlrs_insecure_registries: ["mirror:5000"]\ndlrs_kubernetes_version: "1.32.3"\n'
        "dlrs_pod_network: none",
    )
    text = inv.read_text().replace(
        "        m1: {ansible_host: 10.0.0.1}\n",
        "        m1: {ansible_host: 10.0.0.1}\n    workers:\n      hosts:\n"
        "        w1: {ansible_host: 10.0.0.2, dlrs_variant: onednn}\n",
    )
    inv.write_text(text)
    source = images.source_from_inventory(inv)
    assert source.images == sorted(
        [catalog.VARIANTS["eigen"].image, catalog.VARIANTS["onednn"].image]
    ) + k8s_images.control_plane_images("1.32.3")
    assert source.registry == "mirror:5000" and source.insecure_registries == ["mirror:5000"]


def test_save_for_an_air_gapped_site_takes_the_control_plane_and_flannel_images(tmp_path):
    inv = inventory(tmp_path, 'dlrs_kubernetes_version: "1.30.14"')
    wanted = images.source_from_inventory(inv).images
    for image in (
        "registry.k8s.io/kube-apiserver:v1.30.14",
        "registry.k8s.io/kube-proxy:v1.30.14",
        "registry.k8s.io/coredns/coredns:v1.11.1",
        "registry.k8s.io/etcd:3.5.12-0",
        "registry.k8s.io/pause:3.9",
        "ghcr.io/flannel-io/flannel:v0.26.4",
        "ghcr.io/flannel-io/flannel-cni-plugin:v1.6.2-flannel1",
    ):
        assert image in wanted


def test_save_for_a_proxy_site_takes_only_the_stack_images(tmp_path):
    inv = inventory(tmp_path, 'dlrs_kubernetes_version: "1.32.3"')
    inv.write_text(inv.read_text().replace("    dlrs_registry_mode: local\n", "", 1))
    assert not any("registry.k8s.io" in i for i in images.source_from_inventory(inv).images)


def test_save_for_an_air_gapped_site_needs_an_exact_kubernetes_version(tmp_path):
    inv = inventory(tmp_path, 'dlrs_kubernetes_version: "1.32"')
    proc = cli("images", "save", "--inventory", str(inv), "-o", str(tmp_path / "a.tar"))
    assert proc.returncode == 2, proc.stderr
    assert str(inv) in proc.stderr and "names no patch release" in proc.stderr
    assert "pin dlrs_kubernetes_version to an exact release such as 1.32.3" in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "a.tar").exists()


@pytest.mark.parametrize(
    ("name", "path", "repository"),
    [
        ("registry.k8s.io/coredns/coredns:v1.11.3", "", "coredns"),
        ("registry.k8s.io/kube-apiserver:v1.32.3", "", "kube-apiserver"),
        ("registry.k8s.io/coredns/coredns:v1.11.3", "k8s", "k8s/coredns"),
        ("ghcr.io/flannel-io/flannel:v0.26.4", "k8s", "flannel-io/flannel"),
        ("docker.io/clearlinux/stacks-dlaas-mkl:latest", "k8s", "clearlinux/stacks-dlaas-mkl"),
    ],
)
def test_load_puts_control_plane_images_where_kubeadm_looks(name, path, repository):
    assert images.target_repository(name, path)[0] == repository


def test_load_takes_the_path_of_an_image_repository_on_the_cluster_registry(tmp_path):
    inv = inventory(
        tmp_path,
        'dlrs_kubernetes_image_repository: m1:5443/k8s\ndlrs_insecure_registries: ["m1:5443"]',
    )
    assert images.target_from_inventory(inv).kubernetes_path == "k8s"
    other = inventory(tmp_path, 'dlrs_insecure_registries: ["m1:5443"]')
    assert images.target_from_inventory(other).kubernetes_path == ""


def test_save_without_images_or_inventory_takes_every_variant_s_image():
    assert images.default_images() == sorted({v.image for v in catalog.VARIANTS.values()})


def test_credentials_come_from_the_environment():
    env = {images.USERNAME_ENV: "puller", images.PASSWORD_ENV: SECRET}
    assert images.credentials_from_env(env) == ("puller", SECRET)
    assert images.credentials_from_env({}) == (None, None)
    with pytest.raises(UsageError) as info:
        images.credentials_from_env({images.PASSWORD_ENV: SECRET})
    assert images.USERNAME_ENV in info.value.render() and SECRET not in info.value.render()


# --------------------------------------------------------------------------- refusals


def test_save_from_a_registry_that_does_not_answer_names_it_and_the_image(tmp_path):
    host = f"127.0.0.1:{free_port()}"
    out = tmp_path / "x.tar"
    login = {images.USERNAME_ENV: "u", images.PASSWORD_ENV: SECRET}
    proc = cli("images", "save", "--image", f"{host}/org/gone:v1", "--insecure-registry", host,
               "-o", str(out), env=login)  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    assert f"http://{host}" in proc.stderr and "org/gone" in proc.stderr
    assert "Traceback" not in proc.stderr and SECRET not in proc.stderr + proc.stdout
    assert list(tmp_path.iterdir()) == []  # no archive, no .part


def test_save_into_a_missing_folder_is_a_usage_error(tmp_path):
    proc = cli("images", "save", "--image", "a/b:1", "-o", str(tmp_path / "no" / "x.tar"))
    assert proc.returncode == 2 and f"the folder {tmp_path / 'no'} does not exist" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_load_of_a_missing_archive(tmp_path):
    proc = cli("images", "load", str(tmp_path / "none.tar"), str(inventory(tmp_path)))
    assert proc.returncode == 2
    assert f"{tmp_path / 'none.tar'}: no such archive file" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda p: p.write_bytes(b"\x00garbage" * 300), "not a readable tar file"),
        (lambda p: p.write_bytes(p.read_bytes()[:2600]), "cut short"),
        (
            lambda p: p.write_bytes(p.read_bytes().replace(b'"manifests"', b'"manifestz"')),
            "index.json does not list the images",
        ),
    ],
    ids=["not-a-tar", "cut-short", "no-index"],
)
def test_load_of_a_damaged_archive_is_refused_before_any_registry(tmp_path, damage, message):
    archive = make_archive(tmp_path / "a.tar")
    damage(archive)
    proc = cli("images", "load", str(archive), str(inventory(tmp_path)))
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr and "Traceback" not in proc.stderr


def test_load_into_a_registry_that_does_not_answer_names_it_and_the_images(tmp_path):
    port = free_port()
    archive = make_archive(tmp_path / "a.tar")
    inv = inventory(
        tmp_path, f'dlrs_registry_cache_port: {port}\ndlrs_insecure_registries: ["m1:{port}"]'
    )
    secret = inv.parent / ".dlrs-provision" / "pki" / "registry.password"
    secret.parent.mkdir(parents=True)
    secret.write_text("Abc123\n")  # the images phase made the registry's account
    proc = cli("images", "load", str(archive), str(inv), "--registry", f"127.0.0.1:{port}")
    assert proc.returncode == 1, proc.stderr
    assert f"http://127.0.0.1:{port}" in proc.stderr
    assert "docker.io/org/stack:v1" in proc.stderr and "nothing was pushed" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_load_without_the_registry_s_account_is_refused_before_any_push(tmp_path):
    port = free_port()
    archive = make_archive(tmp_path / "a.tar")
    inv = inventory(
        tmp_path, f'dlrs_registry_cache_port: {port}\ndlrs_insecure_registries: ["m1:{port}"]'
    )
    proc = cli("images", "load", str(archive), str(inv), "--registry", f"127.0.0.1:{port}")
    assert proc.returncode == 2, proc.stderr
    secret = inv.parent / ".dlrs-provision" / "pki" / "registry.password"
    assert f"the cluster registry's password is not at {secret}" in proc.stderr
    assert "images phase" in proc.stderr and "Traceback" not in proc.stderr


def test_load_into_a_pull_through_cache_is_refused(tmp_path):
    archive = make_archive(tmp_path / "a.tar")
    inv = inventory(tmp_path, "dlrs_registry_mode: proxy")
    inv.write_text(inv.read_text().replace("    dlrs_registry_mode: local\n", "", 1))
    proc = cli("images", "load", str(archive), str(inv))
    assert proc.returncode == 2
    assert "pull-through cache" in proc.stderr and "dlrs_registry_mode: local" in proc.stderr


def test_load_over_tls_needs_the_cluster_s_ca(tmp_path):
    archive = make_archive(tmp_path / "a.tar")
    inv = inventory(tmp_path)
    proc = cli("images", "load", str(archive), str(inv))
    assert proc.returncode == 2
    assert f"the cluster's CA is not at {inv.parent / '.dlrs-provision' / 'pki' / 'ca.crt'}" in (
        proc.stderr
    )


def test_load_without_a_cluster_registry_is_refused(tmp_path):
    archive = make_archive(tmp_path / "a.tar")
    proc = cli(
        "images", "load", str(archive), str(inventory(tmp_path, "dlrs_registry_cache: false"))
    )
    # the inventory is local mode without the registry: validation refuses it first (#12)
    assert proc.returncode == 2
    assert "dlrs_registry_mode is local but dlrs_registry_cache is false" in proc.stderr


def test_load_refuses_an_address_that_is_not_host_port(tmp_path):
    archive = make_archive(tmp_path / "a.tar")
    proc = cli("images", "load", str(archive), str(inventory(tmp_path)), "--registry", "https://x")
    assert proc.returncode == 2 and "is not host:port" in proc.stderr


def test_load_with_a_bad_inventory_lists_its_problems(tmp_path):
    archive = make_archive(tmp_path / "a.tar")
    proc = cli(
        "images", "load", str(archive), str(inventory(tmp_path, "dlrs_registry_mode: cache"))
    )
    assert proc.returncode == 2
    assert "dlrs_registry_mode" in proc.stderr and "one of proxy, local" in proc.stderr
