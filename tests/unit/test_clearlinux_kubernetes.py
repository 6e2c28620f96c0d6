"""Kubernetes on Clear Linux: the bundle's version per OS release, the release-binary
checksums, and every combination refused before any host is changed (issue #12, point 4)."""

from __future__ import annotations

import pytest
from conftest import inventory_problems
from conftest import settings_inventory as write

from dlrs_provision import clearlinux_kubernetes as ck
from dlrs_provision import inventory

DIGEST = "sha256:" + "ab" * 32
GOOD = {"1.33.1": {"kubeadm": DIGEST, "kubelet": DIGEST, "kubectl": DIGEST}}

# --------------------------------------------------------------------------- tables


@pytest.mark.parametrize(
    ("os_version", "carried"),
    [
        (23000, None),  # before the first kubernetes package in the table
        (23450, "1.11.0"),
        (26240, "1.11.0"),  # the DLRS floor
        (26500, "1.12.2"),
        (36979, "1.24.4"),
        (37960, "1.26.0"),
        (43760, "1.26.0"),  # the last release
    ],
)
def test_bundle_kubernetes_per_os_release(os_version, carried):
    assert ck.bundle_kubernetes(os_version) == carried


def test_release_checksums_come_from_the_role_vars_file():
    table = ck.release_checksums()
    # kubespray's checksums.yml, kubeadm_checksums.amd64["1.32.3"]
    assert table["1.32.3"]["kubeadm"] == (
        "sha256:be42caa726b85b7723605ca8fea22e4a26e0d439b789a3d9d6e636a7078b3db4"
    )
    for version in ("1.30.11", "1.31.7", "1.32.2", "1.32.3"):
        assert set(table[version]) == set(ck.BINARIES)
        assert ck.checksums_problem({version: table[version]}) is None
    assert len({d for names in table.values() for d in names.values()}) == 3 * len(table)


def test_a_minor_resolves_to_its_newest_patch_with_checksums():
    assert ck.resolve_version("1.30") == "1.30.13"
    assert ck.resolve_version("v1.31.7") == "1.31.7"
    assert ck.resolve_version("1.33", GOOD) == "1.33.1"
    assert ck.resolve_version("1.33") is None


# --------------------------------------------------------------------------- refusals


def test_bundle_at_the_floor_is_refused_for_a_1_32_cluster():
    text = ck.clearlinux_kubernetes_problem(26240, "1.32", "bundle")
    assert text is not None
    assert "Clear Linux 26240's cloud-native-basic carries Kubernetes 1.11" in text
    assert "the cluster pins 1.32" in text and "kubeadm.k8s.io/v1beta4" in text
    assert "dlrs_kubernetes_clearlinux_source: upstream" in text


def test_bundle_with_a_serving_api_but_another_minor_is_refused():
    text = ck.clearlinux_kubernetes_problem(40000, "1.30.11", "bundle")
    assert text is not None and "carries Kubernetes 1.26" in text
    assert "would set up a 1.26 cluster" in text


def test_bundle_before_any_kubernetes_package_is_refused():
    text = ck.clearlinux_kubernetes_problem(20000, "1.32", "bundle")
    assert text is not None and "carries no kubernetes package" in text


def test_bundle_of_the_cluster_minor_is_accepted():
    assert ck.clearlinux_kubernetes_problem(40000, "1.26.0", "bundle") is None
    assert ck.clearlinux_kubernetes_problem(None, "1.32", "bundle") is None  # OS not known yet


def test_upstream_with_a_listed_version_is_accepted():
    assert ck.clearlinux_kubernetes_problem(26240, "1.32", "upstream") is None
    assert ck.clearlinux_kubernetes_problem(26240, "1.32.3", None) is None


def test_upstream_without_checksums_is_refused_with_the_setting_to_give():
    text = ck.clearlinux_kubernetes_problem(26240, "1.33.1", "upstream")
    assert text is not None and "Kubernetes 1.33.1 has no sha256" in text
    assert 'dlrs_kubernetes_binary_checksums: {"1.33.1": {kubeadm:' in text
    assert ck.clearlinux_kubernetes_problem(26240, "1.33.1", "upstream", GOOD) is None


def test_upstream_minor_without_any_patch_is_refused():
    text = ck.clearlinux_kubernetes_problem(26240, "1.29", "upstream")
    assert text is not None and "1.29.Z" in text


def test_unknown_source_is_refused():
    text = ck.clearlinux_kubernetes_problem(26240, "1.32", "swupd")
    assert text is not None and "'swupd'" in text and "upstream, bundle" in text


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ([], "not a mapping"),
        ({"1.33": GOOD["1.33.1"]}, "exact version"),
        ({"1.33.1": "sha256:x"}, "not a mapping of kubeadm"),
        ({"1.33.1": {"kubeadm": DIGEST, "kubelet": DIGEST}}, "lacks kubectl"),
        ({"1.33.1": {**GOOD["1.33.1"], "crictl": DIGEST}}, "has crictl"),
        ({"1.33.1": {**GOOD["1.33.1"], "kubelet": "ab" * 32}}, "not sha256:"),
    ],
)
def test_checksums_shape(value, words):
    text = ck.checksums_problem(value)
    assert text is not None and words in text


# --------------------------------------------------------------------------- validation


def test_defaults_validate(tmp_path):
    inv = inventory.load(write(tmp_path, "dlrs_variant: mkl"))
    assert inv.setting("m1", "dlrs_kubernetes_clearlinux_source") == "upstream"
    assert inv.setting("m1", "dlrs_kubernetes_binary_url") == "https://dl.k8s.io/release"


def test_validation_refuses_a_bad_checksums_value(tmp_path):
    path = write(tmp_path, 'dlrs_kubernetes_binary_checksums: {"1.33.1": {kubeadm: "x"}}')
    (p,) = inventory_problems(path)
    assert p.field == "dlrs_kubernetes_binary_checksums" and "lacks kubelet" in p.render()


def test_validation_refuses_a_bad_binary_url(tmp_path):
    (p,) = inventory_problems(write(tmp_path, "dlrs_kubernetes_binary_url: ftp://mirror/k8s"))
    assert p.field == "dlrs_kubernetes_binary_url"


def test_validation_refuses_bundle_on_a_pinned_clear_version(tmp_path):
    path = write(
        tmp_path,
        """
        dlrs_clearlinux_version: 26240
        dlrs_kubernetes_version: "1.32.3"
        dlrs_kubernetes_clearlinux_source: bundle
        """,
    )
    problems = inventory_problems(path)
    assert {p.field for p in problems} == {"dlrs_kubernetes_clearlinux_source"}
    text = problems[0].render()
    assert "carries Kubernetes 1.11" in text and str(path) in text


def test_validation_refuses_upstream_without_checksums_on_a_pinned_clear_version(tmp_path):
    path = write(tmp_path, 'dlrs_clearlinux_version: 26240\ndlrs_kubernetes_version: "1.33.1"')
    (p,) = inventory_problems(path)
    assert p.field == "dlrs_kubernetes_version" and "has no sha256" in p.render()


def test_validation_accepts_upstream_with_the_user_checksums(tmp_path):
    path = write(
        tmp_path,
        f"""
        dlrs_clearlinux_version: 26240
        dlrs_kubernetes_version: "1.33.1"
        dlrs_kubernetes_binary_checksums:
          "1.33.1": {{kubeadm: "{DIGEST}", kubelet: "{DIGEST}", kubectl: "{DIGEST}"}}
        """,
    )
    inventory.load(path)


def test_validation_refuses_local_registry_mode_without_the_registry(tmp_path):
    path = write(tmp_path, "dlrs_registry_mode: local\ndlrs_registry_cache: false")
    (p,) = inventory_problems(path)
    assert p.field == "dlrs_registry_cache" and p.line == 4
    assert "images load" in p.render() and "dlrs_registry_cache: true" in p.render()
    inventory.load(write(tmp_path, "dlrs_registry_mode: proxy\ndlrs_registry_cache: false"))
