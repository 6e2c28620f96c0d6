"""Air-gapped control plane: the images kubeadm pulls for a pinned version, the repository it
pulls them from (the setting and its derivation in the roles), and `images save` taking them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import inventory_problems

from dlrs_provision import inventory, k8s_images
from dlrs_provision.errors import UsageError

ROOT = Path(__file__).resolve().parents[2]
ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"


# --- the image list, per version (kubeadm's images.go and constants.go) -----------------------


def test_control_plane_images_of_1_32_match_kubeadm_config_images_list():
    assert k8s_images.control_plane_images("1.32.3") == [
        "registry.k8s.io/kube-apiserver:v1.32.3",
        "registry.k8s.io/kube-controller-manager:v1.32.3",
        "registry.k8s.io/kube-scheduler:v1.32.3",
        "registry.k8s.io/kube-proxy:v1.32.3",
        "registry.k8s.io/coredns/coredns:v1.11.3",
        "registry.k8s.io/pause:3.10",
        "registry.k8s.io/etcd:3.5.16-0",
    ]


def test_control_plane_images_of_1_30_carry_that_minors_pause_etcd_and_coredns():
    images = k8s_images.control_plane_images("v1.30.14")
    assert "registry.k8s.io/pause:3.9" in images
    assert "registry.k8s.io/etcd:3.5.12-0" in images
    assert "registry.k8s.io/coredns/coredns:v1.11.1" in images
    assert images[0] == "registry.k8s.io/kube-apiserver:v1.30.14"


def test_another_repository_drops_the_coredns_sub_path_as_kubeadm_does():
    images = k8s_images.control_plane_images("1.32.3", "registry.site:5443")
    assert "registry.site:5443/coredns:v1.11.3" in images
    assert all(i.startswith("registry.site:5443/") for i in images)
    assert not any("coredns/coredns" in i for i in images)


def test_a_minor_alone_is_refused_for_the_image_list():
    with pytest.raises(UsageError, match="names no patch release") as info:
        k8s_images.control_plane_images("1.32")
    assert "exact release such as 1.32.3" in (info.value.hint or "")


def test_an_unknown_minor_is_refused_with_the_known_ones():
    with pytest.raises(UsageError) as info:
        k8s_images.control_plane_images("1.29.4")
    assert "1.30, 1.31, 1.32" in (info.value.hint or "")


def test_flannel_images_are_those_of_the_pinned_manifest():
    pinned = yaml.safe_load((ROOT / "roles/kubeadm_master/vars/main.yml").read_text())
    assert "flannel/releases/download/v0.26.4/" in pinned["_kubeadm_master_manifests"]["flannel"]
    assert k8s_images.pod_network_images("flannel") == [
        "ghcr.io/flannel-io/flannel-cni-plugin:v1.6.2-flannel1",
        "ghcr.io/flannel-io/flannel:v0.26.4",
    ]


@pytest.mark.parametrize(
    ("repository", "prefix", "path"),
    [
        ("coredns/coredns", "", "coredns"),
        ("kube-apiserver", "", "kube-apiserver"),
        ("coredns/coredns", "k8s", "k8s/coredns"),
        ("etcd", "/k8s/", "k8s/etcd"),
    ],
)
def test_load_path_puts_registry_k8s_io_images_where_kubeadm_looks(repository, prefix, path):
    assert k8s_images.load_path(repository, prefix) == path


def test_containerd_pause_table_is_kubeadms():
    vars_ = yaml.safe_load((ROOT / "roles/containerd/vars/main.yml").read_text())
    assert vars_["_containerd_pause_versions"] == {
        minor: pins.pause for minor, pins in k8s_images.RELEASES.items()
    }


# --- the setting ------------------------------------------------------------------------------

HOSTS = """\
all:
  vars:
    dlrs_kubernetes_image_repository: {value}
  children:
    masters:
      hosts:
        m1: {{ansible_host: 10.0.0.1}}
"""


@pytest.mark.parametrize(
    "value", ["registry.k8s.io", "registry.site:5443", "harbor.example.com/k8s/control-plane"]
)
def test_image_repository_accepts_a_registry_with_a_path(tmp_path, value):
    path = tmp_path / "hosts.yml"
    path.write_text(HOSTS.format(value=value))
    assert inventory.load(path).setting("m1", "dlrs_kubernetes_image_repository") == value


@pytest.mark.parametrize(
    "value",
    [
        "'registry.site:5443/pause:3.10'",  # a tag
        "'registry.site/k8s; rm -rf /'",  # shell words
        "'registry.site/K8s'",  # upper case path
        "'https://registry.site'",  # a URL
        "'registry.site/'",
    ],
)
def test_image_repository_refuses_a_tag_spaces_or_shell_words(tmp_path, value):
    path = tmp_path / "hosts.yml"
    path.write_text(HOSTS.format(value=value))
    (p,) = inventory_problems(path)
    assert p.field == "dlrs_kubernetes_image_repository" and p.line == 3
    assert "registry[:port][/path]" in p.render()


# --- the roles' derivation: kubeadm's imageRepository and containerd's pause agree ------------

PLAYBOOK = """\
- hosts: all
  gather_facts: false
  roles:
    - {root}/roles/dlrs_defaults
  tasks:
    - ansible.builtin.include_vars: {root}/roles/kubeadm_master/vars/main.yml
    - ansible.builtin.include_vars: {root}/roles/containerd/vars/main.yml
    - ansible.builtin.copy:
        dest: "{out}/{{{{ inventory_hostname }}}}.json"
        content: "{{{{ {{'kubeadm': _kubeadm_master_image_repository | trim,
                        'containerd': _containerd_image_repository | trim,
                        'pause': _containerd_kubeadm_pause_image | trim}} | to_json }}}}"
      delegate_to: localhost
"""

CASES = {
    "proxy_site": ({}, "registry.k8s.io", "registry.k8s.io/pause:3.10"),
    "airgap": (
        {"dlrs_registry_mode": "local", "dlrs_kubernetes_version": "1.30.14"},
        "m1:5443",
        "m1:5443/pause:3.9",
    ),
    "airgap_named": (
        {
            "dlrs_registry_mode": "local",
            "dlrs_registry_cache_host": "registry.site",
            "dlrs_registry_cache_port": 6000,
        },
        "registry.site:6000",
        "registry.site:6000/pause:3.10",
    ),
    "airgap_no_cache": (
        {"dlrs_registry_mode": "local", "dlrs_registry_cache": False},
        "registry.k8s.io",
        "registry.k8s.io/pause:3.10",
    ),
    "explicit": (
        {"dlrs_registry_mode": "local", "dlrs_kubernetes_image_repository": "harbor.site/k8s"},
        "harbor.site/k8s",
        "harbor.site/k8s/pause:3.10",
    ),
}


@pytest.fixture(scope="module")
def derived(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("derive")
    hosts = {
        name: {"ansible_connection": "local", **settings}
        for name, (settings, _, _) in CASES.items()
    }
    inventory = {
        "all": {"children": {"masters": {"hosts": {"m1": None}}, "workers": {"hosts": hosts}}}
    }
    (tmp / "hosts.yml").write_text(yaml.safe_dump(inventory))
    (tmp / "play.yml").write_text(PLAYBOOK.format(root=ROOT, out=tmp))
    run = subprocess.run(
        [
            str(ANSIBLE_PLAYBOOK),
            "-i",
            str(tmp / "hosts.yml"),
            "-l",
            "workers",
            str(tmp / "play.yml"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={"ANSIBLE_NOCOLOR": "1", "PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin"},
    )
    assert run.returncode == 0, run.stdout + run.stderr
    return {name: json.loads((tmp / f"{name}.json").read_text()) for name in CASES}


@pytest.mark.parametrize("case", sorted(CASES))
def test_roles_derive_one_repository_for_kubeadm_and_the_pause_image(derived, case):
    _, repository, pause = CASES[case]
    assert derived[case] == {"kubeadm": repository, "containerd": repository, "pause": pause}


def test_init_config_renders_the_image_repository():
    template = (ROOT / "roles/kubeadm_master/templates/init.yaml.j2").read_text()
    cluster = template.split("kind: ClusterConfiguration", 1)[1].split("---", 1)[0]
    assert "imageRepository: {{ kubeadm_master_image_repository | to_json }}" in cluster
    defaults = yaml.safe_load((ROOT / "roles/kubeadm_master/defaults/main.yml").read_text())
    assert "_kubeadm_master_image_repository" in defaults["kubeadm_master_image_repository"]


def test_a_worker_with_another_image_repository_than_the_master_is_refused(tmp_path):
    path = tmp_path / "hosts.yml"
    path.write_text(
        "all:\n  vars:\n    dlrs_registry_mode: local\n  children:\n    masters:\n"
        "      hosts:\n        m1: {ansible_host: 10.0.0.1}\n    workers:\n      hosts:\n"
        "        w1: {ansible_host: 10.0.0.2, dlrs_kubernetes_image_repository: reg.site/k8s}\n"
    )
    (p,) = inventory_problems(path)
    assert p.field == "dlrs_kubernetes_image_repository" and p.line == 10
    assert "'reg.site/k8s' on w1 but None on the master m1" in p.message
