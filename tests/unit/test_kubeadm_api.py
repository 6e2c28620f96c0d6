"""The kubeadm configuration API rule: one place (dlrs_provision/kubeadm_api.py) serves the
inventory validation and the roles' filter, and both refuse what no branch supports."""

from __future__ import annotations

import pytest
from test_filter_plugin import run_filter
from test_inventory import GOOD, only, write

from dlrs_provision import inventory, kubeadm_api


@pytest.mark.parametrize(
    ("version", "api"),
    [
        ("1.22", "kubeadm.k8s.io/v1beta3"),
        ("v1.29.4", "kubeadm.k8s.io/v1beta3"),
        ("v1.30.11", "kubeadm.k8s.io/v1beta3"),
        ("1.30.11-1.1", "kubeadm.k8s.io/v1beta3"),
        ("1.31", "kubeadm.k8s.io/v1beta4"),
        ("v1.32.3", "kubeadm.k8s.io/v1beta4"),
        ("1.40.0", "kubeadm.k8s.io/v1beta4"),
    ],
)
def test_v1beta3_up_to_1_30_and_v1beta4_from_1_31(version, api):
    assert kubeadm_api.api_version(version) == api


@pytest.mark.parametrize("version", ["1.21.14", "v1.11", "2.0", "1.x", "", "latest"])
def test_versions_no_branch_serves_are_refused(version):
    assert kubeadm_api.unsupported(version)
    with pytest.raises(ValueError):
        kubeadm_api.api_version(version)


def test_filter_gives_the_rules_answer_through_ansible(tmp_path):
    got = run_filter(
        tmp_path,
        {},
        "['v1.30.11', 'v1.31.7', 'v1.32.3'] | map('dlrs_kubeadm_api_version') | list",
    )
    assert got == ["kubeadm.k8s.io/v1beta3", "kubeadm.k8s.io/v1beta4", "kubeadm.k8s.io/v1beta4"]


def test_inventory_refuses_a_kubernetes_version_before_1_22(tmp_path):
    p = only(write(tmp_path, GOOD.replace("dlrs_variant: mkl", 'dlrs_kubernetes_version: "1.21"')))
    assert p.field == "dlrs_kubernetes_version" and p.line == 3
    assert "older than 1.22" in p.message and "v1beta3" in p.message
    assert "from 1.22 on" in p.fix


def test_inventory_refuses_a_malformed_kubernetes_version(tmp_path):
    p = only(write(tmp_path, GOOD.replace("dlrs_variant: mkl", 'dlrs_kubernetes_version: "1.3x"')))
    assert p.field == "dlrs_kubernetes_version"
    assert "not a Kubernetes version" in p.message


@pytest.mark.parametrize("version", ["1.22", "1.30.11", "1.32"])
def test_inventory_accepts_versions_a_branch_serves(tmp_path, version):
    text = GOOD.replace("dlrs_variant: mkl", f'dlrs_kubernetes_version: "{version}"')
    inv = inventory.load(write(tmp_path, text))
    assert inv.setting("w1", "dlrs_kubernetes_version") == version
