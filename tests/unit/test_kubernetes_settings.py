"""The Kubernetes settings: repository URLs and the pod network, checked before any host."""

from __future__ import annotations

import pytest
from conftest import inventory_problems
from conftest import settings_inventory as write

from dlrs_provision import inventory
from dlrs_provision.settings import SETTINGS

DIGEST = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"


def test_no_pod_network_setting_loads(tmp_path):
    inv = inventory.load(write(tmp_path, "dlrs_variant: mkl"))
    assert inv.setting("m1", "dlrs_pod_network") == "flannel"
    assert inv.setting("m1", "dlrs_kubernetes_repo_url") == "https://pkgs.k8s.io"


def test_chosen_pod_network_without_checksum_is_refused_with_the_fix(tmp_path):
    path = write(tmp_path, "dlrs_variant: mkl\ndlrs_pod_network: calico")
    (p,) = inventory_problems(path)
    text = p.render()
    assert p.field == "dlrs_pod_network" and p.line == 4
    assert str(path) in text
    assert "sha256sum" in text and "dlrs_pod_network_manifest_checksum" in text


def test_manifest_url_without_checksum_names_the_url_line(tmp_path):
    path = write(tmp_path, "dlrs_pod_network_manifest_url: https://mirror.example.com/flannel.yml")
    (p,) = inventory_problems(path)
    assert p.field == "dlrs_pod_network_manifest_url" and p.line == 3
    assert "flannel manifest" in p.render()


@pytest.mark.parametrize("digest", [DIGEST, "sha256:" + DIGEST])
def test_pod_network_with_checksum_loads(tmp_path, digest):
    inv = inventory.load(
        write(
            tmp_path,
            f"dlrs_pod_network: flannel\n"
            f"dlrs_pod_network_manifest_url: file:///srv/vetted/kube-flannel.yml\n"
            f"dlrs_pod_network_manifest_checksum: '{digest}'",
        )
    )
    assert inv.setting("m1", "dlrs_pod_network_manifest_checksum") == digest


def test_pod_network_none_needs_no_checksum(tmp_path):
    inv = inventory.load(write(tmp_path, "dlrs_pod_network: none"))
    assert inv.setting("w1", "dlrs_pod_network") == "none"


@pytest.mark.parametrize(
    ("name", "value", "wrong"),
    [
        ("dlrs_pod_network_manifest_checksum", "'1234'", "not a sha256 digest"),
        ("dlrs_pod_network_manifest_checksum", "'md5:" + "0" * 64 + "'", "not a sha256 digest"),
        ("dlrs_pod_network_manifest_url", "ftp://mirror/x.yml", "not an http(s) or file:// URL"),
        ("dlrs_kubernetes_repo_url", "file://relative/path", "not an http(s) or file:// URL"),
        ("dlrs_pod_network", "weave", "not one of the accepted values"),
    ],
)
def test_bad_kubernetes_values_are_refused(tmp_path, name, value, wrong):
    extra = "\ndlrs_pod_network: none" if name != "dlrs_pod_network" else ""
    found = inventory_problems(write(tmp_path, f"{name}: {value}{extra}"))
    assert [p.field for p in found] == [name], [p.render() for p in found]
    assert wrong in found[0].render()


def test_repository_accepts_a_site_mirror_over_http_or_file():
    url = SETTINGS["dlrs_kubernetes_repo_url"]
    assert url.check("http://mirror:8080/k8s") is None
    assert url.check("file:///srv/k8s-repo") is None
    assert url.check("file:/srv") is None
    assert url.check("mirror:8080/k8s") is not None
