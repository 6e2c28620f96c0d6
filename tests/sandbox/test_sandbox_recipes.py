"""Fast checks of the sandbox's pure parts (no Docker): node plans, the cache key, the inventory
it writes, the key pair, the Clear Linux os-release as Ansible parses it, the command line."""

from __future__ import annotations

import argparse
import hashlib
import io
import shutil
import stat
import sys
import tarfile
from pathlib import Path

import pytest
import yaml

from dlrs_harness import sandbox
from dlrs_harness.sandbox import cluster, files, images
from dlrs_harness.sandbox.images import SPECS, ImageBuilder
from dlrs_provision import inventory
from dlrs_provision.errors import UsageError

REPO = Path(__file__).resolve().parents[2]


def test_mixed_plan_alternates_debian_and_clear_linux_with_node1_as_master():
    plan = sandbox.plan_nodes(4, "mixed")
    assert [(p.name, p.os, p.role) for p in plan] == [
        ("node1", "debian", "master"),
        ("node2", "clearlinux", "worker"),
        ("node3", "debian", "worker"),
        ("node4", "clearlinux", "worker"),
    ]
    assert [p.container for p in plan][:2] == ["dlrs-sandbox-node1", "dlrs-sandbox-node2"]


@pytest.mark.parametrize(
    ("nodes", "os_name", "version"),
    [(0, "debian", 26240), (10, "debian", 26240), (3, "ubuntu", 26240), (3, "mixed", 0)],
)
def test_up_refuses_bad_shapes_before_touching_anything(nodes, os_name, version):
    with pytest.raises(UsageError):
        sandbox.up(nodes=nodes, os=os_name, clear_version=version, root=Path("/nonexistent"))


def test_up_refuses_a_kubernetes_version_the_mirror_lacks_before_touching_anything():
    with pytest.raises(UsageError) as info:
        sandbox.up(nodes=3, os="debian", kubernetes_version="1.29", root=REPO)
    assert "--kubernetes-version" in info.value.message and "1.30.11" in str(info.value.hint)


def test_sandbox_offers_both_kubeadm_config_branches():
    versions = cluster.kubernetes_versions(REPO)
    assert cluster.DEFAULT_KUBERNETES_VERSION == "1.32" and "1.32.3" in versions
    assert "1.30.11" in versions and "1.30" in versions


def test_hosts_yml_carries_the_chosen_kubernetes_version(tmp_path):
    state = _state(tmp_path)
    state.kubernetes_version = "1.30.11"
    text = files.render_hosts_yml(tmp_path, state)
    assert yaml.safe_load(text)["all"]["vars"]["dlrs_kubernetes_version"] == "1.30.11"


def test_repo_root_is_this_checkout():
    assert sandbox.repo_root() == REPO


def _copy_checkout(tmp_path: Path) -> Path:
    root = tmp_path / "checkout"
    shutil.copytree(REPO / "tests" / "sandbox", root / "tests" / "sandbox")
    shutil.copytree(REPO / "tests" / "standins", root / "tests" / "standins")
    return root


def test_cache_key_is_stable_and_follows_the_recipe(tmp_path):
    root = _copy_checkout(tmp_path)
    before = {name: ImageBuilder(root).tag(name) for name in SPECS}
    assert before == {name: ImageBuilder(root).tag(name) for name in SPECS}
    assert before["base"].startswith("dlrs-sandbox/base:") and len(before["base"]) == 30

    dockerfile = root / "tests" / "sandbox" / "host-debian" / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text() + "# changed\n")
    after = {name: ImageBuilder(root).tag(name) for name in SPECS}
    # host-debian changed, and host-clearlinux is built on it; the others are not
    assert {n for n in SPECS if before[n] != after[n]} == {"host-debian", "host-clearlinux"}


def test_cache_key_covers_the_swupd_stand_in_and_the_mirror_generator(tmp_path):
    root = _copy_checkout(tmp_path)
    before = {name: ImageBuilder(root).tag(name) for name in SPECS}
    standins = root / "tests" / "standins"
    with open(standins / "swupd-stand-in", "a") as out:
        out.write("\n# changed\n")
    with open(standins / "make_swupd_mirror.py", "a") as out:
        out.write("\n# changed\n")
    after = {name: ImageBuilder(root).tag(name) for name in SPECS}
    assert {n for n in SPECS if before[n] != after[n]} == {"host-clearlinux", "mirror"}


def test_cache_key_covers_the_clrtrust_stand_in(tmp_path):
    root = _copy_checkout(tmp_path)
    before = {name: ImageBuilder(root).tag(name) for name in SPECS}
    with open(root / "tests" / "standins" / "clrtrust-stand-in", "a") as out:
        out.write("\n# changed\n")
    after = {name: ImageBuilder(root).tag(name) for name in SPECS}
    assert {n for n in SPECS if before[n] != after[n]} == {"host-clearlinux"}


def test_clear_linux_host_installs_both_stand_ins_where_the_roles_call_them():
    spec = SPECS["host-clearlinux"]
    assert dict(spec.copies) == {
        "swupd-stand-in": "tests/standins/swupd-stand-in",
        "clrtrust-stand-in": "tests/standins/clrtrust-stand-in",
    }
    dockerfile = (REPO / "tests" / "sandbox" / "host-clearlinux" / "Dockerfile").read_text()
    assert "COPY swupd-stand-in /usr/bin/swupd\n" in dockerfile
    assert "COPY clrtrust-stand-in /usr/bin/clrtrust\n" in dockerfile
    assert "chmod 0755 /usr/bin/swupd /usr/bin/clrtrust" in dockerfile
    # roles/registry_cache no longer adds its CA to the system store (issue 14: trusted only in
    # Docker's and containerd's folders of the registry), so it calls no clrtrust command
    trust = yaml.safe_load((REPO / "roles/registry_cache/vars/ClearLinux.yml").read_text())
    assert trust["_registry_cache_trust_update"] == []


def test_mirror_payloads_name_packages_that_the_mirror_serves(tmp_path):
    """The swupd mirror's cloud-native-basic payload carries the Kubernetes of its OS version
    (1.11.0 at 26240, which pkgs.k8s.io never had): the stand-in release binaries the mirror
    serves under dl/release, pinned by their sha256, plus containerd through the apt proxy."""
    from dlrs_harness.sandbox import images, k8s_repo

    target = tmp_path / "update"
    sums = k8s_repo.checksums_of(k8s_repo.release_binaries(REPO))
    ImageBuilder(REPO)._write_swupd_tree(target, sums)
    manifest = yaml.safe_load((target / "26240" / "Manifest.cloud-native-basic").read_text())
    apt = manifest["apt"]
    assert (
        apt["proxy"] == images.SWUPD_PAYLOAD_APT_PROXY == files.mirror_urls("mirror")["apt_proxy"]
    )
    assert apt["packages"] == ["containerd"]
    version = images.bundle_kubernetes_version(26240)
    base = f"{files.mirror_urls('mirror')['kubernetes_binaries']}/v{version}/bin/linux/amd64/"
    assert {f["path"]: (f["url"], "sha256:" + f["sha256"]) for f in manifest["files"]} == {
        f"/usr/bin/{n}": (base + n, sums[version][n]) for n in ("kubeadm", "kubelet", "kubectl")
    }
    docker = yaml.safe_load((target / "26240" / "Manifest.containers-basic").read_text())
    assert docker["apt"]["packages"] == ["docker.io"]
    assert yaml.safe_load((target / "26240" / "Manifest.os-core").read_text())["apt"] is None


def test_base_rebuild_changes_every_tag(tmp_path):
    root = _copy_checkout(tmp_path)
    before = {name: ImageBuilder(root).tag(name) for name in SPECS}
    script = root / "tests" / "sandbox" / "base" / "build-base.sh"
    script.write_text(script.read_text() + "# changed\n")
    after = {name: ImageBuilder(root).tag(name) for name in SPECS}
    assert all(before[n] != after[n] for n in SPECS)


def _state(tmp_path: Path, nodes: int = 3) -> cluster.SandboxState:
    plan = sandbox.plan_nodes(nodes, "mixed")
    return cluster.SandboxState(
        network="dlrs-sandbox",
        os="mixed",
        clear_version=26240,
        nodes=[
            cluster.NodeState(p.name, p.container, "id", p.role, p.os, 40000 + i, "", "img")
            for i, p in enumerate(plan)
        ],
        mirror=cluster.MirrorState(
            "dlrs-sandbox-mirror", "id", "mirror", "", "img", {}, files.mirror_urls("mirror")
        ),
        inventory=str(tmp_path / "hosts.yml"),
        known_hosts=str(tmp_path / "known_hosts"),
        private_key=str(tmp_path / "id_ed25519"),
        stack_images=[],
        # what `up` reads from the mirror image's Release.key
        k8s_repo_key_fingerprints=["0123456789ABCDEF0123456789ABCDEF01234567"],
    )


def test_hosts_yml_has_the_agreed_form(tmp_path):
    data = yaml.safe_load(files.render_hosts_yml(tmp_path, _state(tmp_path)))
    top = data["all"]["vars"]
    assert top["ansible_user"] == "dlrs"
    assert top["ansible_become"] is True
    assert top["ansible_ssh_private_key_file"] == str(tmp_path / "id_ed25519")
    assert top["ansible_ssh_common_args"] == f"-o UserKnownHostsFile={tmp_path}/known_hosts"
    assert top["ansible_python_interpreter"] == "/usr/bin/python3"
    assert {k: v for k, v in top.items() if k.startswith("dlrs_")} == {
        "dlrs_apt_proxy": "http://mirror:3142",
        "dlrs_clearlinux_mirror": "http://mirror:8080/clearlinux/update",
        "dlrs_clearlinux_allow_insecure_http": True,
        "dlrs_upstream_registry": "mirror:5000",
        "dlrs_insecure_registries": ["mirror:5000"],
        "dlrs_kubernetes_repo_url": "http://mirror:8080/k8s",
        # the mirror's key, pinned by the fingerprint `up` read from it (over plain HTTP)
        "dlrs_kubernetes_repo_key_fingerprints": ["0123456789ABCDEF0123456789ABCDEF01234567"],
        "dlrs_repo_keys_allow_http": True,
        "dlrs_kubernetes_version": "1.32",
        "dlrs_kubernetes_image_repository": "mirror:5000/registry.k8s.io",
    }
    children = data["all"]["children"]
    assert children["masters"]["hosts"] == {
        "node1": {"ansible_host": "127.0.0.1", "ansible_port": 40000}
    }
    assert list(children["workers"]["hosts"]) == ["node2", "node3"]


def test_stand_in_manifests_are_pinned_by_their_sha256_in_the_inventory(tmp_path):
    manifests = files.write_manifests(tmp_path, REPO)
    top = yaml.safe_load(files.render_hosts_yml(tmp_path, _state(tmp_path), manifests))["all"][
        "vars"
    ]
    network = Path(top["dlrs_pod_network_manifest_url"].removeprefix("file://"))
    assert network.parent == tmp_path / "manifests" and "STAND-IN" in network.read_text()
    assert (
        top["dlrs_pod_network_manifest_checksum"]
        == hashlib.sha256(network.read_bytes()).hexdigest()
    )
    if manifests["training_operator"] is None:  # no reference CRD beside this checkout
        assert top["dlrs_kubeflow"] is False
    else:
        assert top["dlrs_kubeflow"] is True
        operator = Path(top["dlrs_training_operator_manifest_url"].removeprefix("file://"))
        assert "kind: CustomResourceDefinition" in operator.read_text()
        assert (
            top["dlrs_training_operator_manifest_checksum"]
            == hashlib.sha256(operator.read_bytes()).hexdigest()
        )
    # the inventory checker accepts it (it refuses a pod network without its checksum)
    (tmp_path / "hosts.yml").write_text(
        files.render_hosts_yml(tmp_path, _state(tmp_path), manifests)
    )
    assert inventory.load(tmp_path / "hosts.yml").masters == ["node1"]


def test_single_node_inventory_keeps_an_empty_workers_group(tmp_path):
    data = yaml.safe_load(files.render_hosts_yml(tmp_path, _state(tmp_path, nodes=1)))
    assert data["all"]["children"]["workers"] == {"hosts": {}}


def test_key_pair_is_made_once_and_private(tmp_path):
    key, public = files.ensure_key_pair(tmp_path)
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert public.startswith("ssh-ed25519 ")
    assert key.read_text().startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    assert files.ensure_key_pair(tmp_path) == (key, public)


def test_known_hosts_pins_every_port(tmp_path):
    path = files.write_known_hosts(tmp_path, {2201: ["ssh-ed25519 AAAA1"], 2202: ["ssh-rsa B"]})
    entries = [line for line in path.read_text().splitlines() if not line.startswith("#")]
    assert entries == ["[127.0.0.1]:2201 ssh-ed25519 AAAA1", "[127.0.0.1]:2202 ssh-rsa B"]


def test_ansible_parses_the_clear_linux_os_release_as_clear_linux():
    from ansible.module_utils.facts.system.distribution import DistributionFiles

    text = (REPO / "tests" / "sandbox" / "host-clearlinux" / "os-release").read_text()
    parser = DistributionFiles(module=None)
    ok, facts = parser.parse_distribution_file_ClearLinux("ClearLinux", text, "", {})
    assert ok
    assert facts["distribution"] == "Clear Linux OS"
    assert facts["distribution_version"] == "26240"
    assert facts["distribution_release"] == "clear-linux-os"
    # Ansible tries /etc/os-release as Debian before Clear Linux: that must not match
    assert "Debian" not in text


def test_cli_registers_up_status_down_with_their_options():
    parser = argparse.ArgumentParser(prog="dlrs-provision")
    sandbox.register_cli(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["sandbox", "up", "--nodes", "2", "--os", "clearlinux"])
    # what is not given is left to up (the running sandbox's, else the default)
    assert (args.nodes, args.os, args.clear_version) == (2, "clearlinux", None)
    assert callable(args.func)
    assert parser.parse_args(["sandbox", "down", "--images"]).images is True
    assert callable(parser.parse_args(["sandbox", "status"]).func)
    with pytest.raises(SystemExit):
        parser.parse_args(["sandbox", "up", "--os", "windows"])


def test_mirror_serves_the_control_plane_images_the_kubeadm_stand_in_asks_for():
    sys.path.insert(0, str(REPO / "tests" / "standins" / "k8s"))
    from k8s_stand_in import imagepull

    paths = images.control_plane_image_paths(REPO, files.CONTROL_PLANE_PATH)
    repository = files.mirror_urls("mirror")["registry"] + "/" + files.CONTROL_PLANE_PATH
    cluster = {"imageRepository": repository, "etcd": {"local": {}}, "dns": {}, "proxy": {}}
    repos = yaml.safe_load((REPO / "tests" / "sandbox" / "k8s-repo" / "repos.yaml").read_text())
    for version in repos["versions"]:
        for image in imagepull.required_images(cluster, "v" + version.split("-")[0]):
            assert image.removeprefix("mirror:5000/") in paths
    assert "registry.k8s.io/coredns:v1.11.3" in paths
    assert "registry.k8s.io/pause:3.10" in paths


def test_control_plane_stand_in_is_one_stable_note():
    first = images.control_plane_stand_in_archive()
    assert first == images.control_plane_stand_in_archive()
    with tarfile.open(fileobj=io.BytesIO(first)) as tar:
        (member,) = tar.getmembers()
        note = tar.extractfile(member).read()
    assert member.name == "STAND-IN" and b"not a Kubernetes image" in note
