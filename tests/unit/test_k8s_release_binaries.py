"""The Kubernetes stand-ins as release binaries (dl.k8s.io's layout on the sandbox mirror), the
stand-in bundle's Kubernetes per OS version, and the swupd stand-in's "files" payloads (issue
#12: Kubernetes on Clear Linux at a version that fits)."""

from __future__ import annotations

import functools
import hashlib
import http.server
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import yaml

from dlrs_harness.sandbox import cluster, files, images, k8s_repo
from dlrs_provision.errors import EnvironmentProblem

REPO = Path(__file__).resolve().parents[2]
STANDINS = REPO / "tests" / "standins"
SWUPD = STANDINS / "swupd-stand-in"
PYTHON = sys.executable


def _load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


make_swupd_mirror = _load("_make_swupd_mirror_rb", STANDINS / "make_swupd_mirror.py")


@pytest.fixture(scope="module")
def release_tree(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("mirror") / "dl" / "release"
    return out, k8s_repo.build_release_tree(REPO, out)


def _env(tmp: Path) -> dict[str, str]:
    return {
        **os.environ,
        "K8S_STAND_IN_UNPACK_DIR": str(tmp / "unpack"),
        "K8S_STAND_IN_ROOT": str(tmp / "root"),
    }


def _installed(tree: Path, version: str, name: str, tmp: Path) -> Path:
    """The binary copied to <tmp>/usr/local/bin/<name>, as the role installs it."""
    target = tmp / "usr" / "local" / "bin" / name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(tree / f"v{version}" / "bin/linux/amd64" / name, target)
    return target


# --------------------------------------------------------------------------------------------
# release binaries


def test_release_tree_has_dl_k8s_io_layout_and_checksums(release_tree) -> None:
    tree, sums = release_tree
    recipe = k8s_repo.load_recipe(REPO)
    wanted = recipe.release_versions()
    assert "1.11.0" in wanted and "1.32.3" in wanted  # the bundle's and a package's version
    assert sorted(sums) == sorted(wanted)
    for version in wanted:
        arch = tree / f"v{version}" / "bin" / "linux" / "amd64"
        for name in ("kubeadm", "kubelet", "kubectl"):
            data = (arch / name).read_bytes()
            assert data.startswith(b"#!/usr/bin/env python3\n")
            assert os.access(arch / name, os.X_OK)
            digest = hashlib.sha256(data).hexdigest()
            assert (arch / f"{name}.sha256").read_text() == digest  # bare hex, as dl.k8s.io
            assert sums[version][name] == f"sha256:{digest}"
    assert json.loads((tree / "SHA256SUMS.json").read_text()) == sums


def test_release_binaries_are_reproducible(release_tree) -> None:
    _, sums = release_tree
    assert k8s_repo.checksums_of(k8s_repo.release_binaries(REPO)) == sums


@pytest.mark.parametrize("version", ["1.11.0", "1.32.3"])
def test_release_binaries_run_from_usr_local_bin_and_report_their_version(
    release_tree, tmp_path: Path, version: str
) -> None:
    tree, _ = release_tree
    env = _env(tmp_path)
    kubeadm = _installed(tree, version, "kubeadm", tmp_path)
    out = subprocess.run(
        [str(kubeadm), "version", "-o", "short"], env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"v{version}"
    kubelet = _installed(tree, version, "kubelet", tmp_path)
    out = subprocess.run([str(kubelet), "--version"], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == f"Kubernetes v{version}"
    kubectl = _installed(tree, version, "kubectl", tmp_path)
    out = subprocess.run(
        [str(kubectl), "version", "--client", "-o", "json"], env=env, capture_output=True
    )
    assert json.loads(out.stdout)["clientVersion"]["gitVersion"] == f"v{version}"
    # unpacked once, next to nothing else (no /usr/bin, no /usr/lib/<package>)
    unpacked = sorted(p.name.rsplit("-", 1)[0] for p in (tmp_path / "unpack").iterdir())
    assert unpacked == [f"kubeadm-{version}", f"kubectl-{version}", f"kubelet-{version}"]
    # the API endpoint stand-in the kubeadm binary starts is in its own unpacked tree
    assert list((tmp_path / "unpack").glob("kubeadm-*/kube-apiserver-stand-in"))


CONFIG = """\
apiVersion: kubeadm.k8s.io/{v}
kind: InitConfiguration
---
apiVersion: kubeadm.k8s.io/{v}
kind: ClusterConfiguration
kubernetesVersion: v1.11.0
"""


@pytest.mark.parametrize("api", ["v1beta4", "v1beta3"])
def test_kubeadm_1_11_refuses_the_config_apis_it_does_not_know_as_kubeadm_does(
    release_tree, tmp_path: Path, api: str
) -> None:
    tree, _ = release_tree
    kubeadm = _installed(tree, "1.11.0", "kubeadm", tmp_path)
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "kubeadm.yaml").write_text(CONFIG.format(v=api))
    out = subprocess.run(
        [str(kubeadm), "init", "--config", "/kubeadm.yaml"],
        env=_env(tmp_path),
        capture_output=True,
        text=True,
    )
    assert out.returncode == 1
    assert (
        f'no kind "ClusterConfiguration" is registered for version "kubeadm.k8s.io/{api}" in '
        'scheme "k8s.io/kubernetes/cmd/kubeadm/app/apis/kubeadm/scheme/scheme.go:31"'
    ) in out.stderr
    assert "stack trace" not in out.stderr  # kubeadm 1.11 printed the error alone
    assert not (tmp_path / "root" / "etc" / "kubernetes").exists()  # nothing written


def test_kubeadm_1_32_decodes_v1beta4_where_1_11_refuses_it(release_tree, tmp_path) -> None:
    tree, _ = release_tree
    kubeadm = _installed(tree, "1.32.3", "kubeadm", tmp_path)
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "kubeadm.yaml").write_text(CONFIG.format(v="v1beta4"))
    out = subprocess.run(
        [str(kubeadm), "init", "--config", "/kubeadm.yaml"],
        env=_env(tmp_path),
        capture_output=True,
        text=True,
    )
    # decoded: it gets as far as the version check of the decoded ClusterConfiguration
    assert "is registered for version" not in out.stderr
    assert "control plane version >= 1.31.0. Current version: v1.11.0" in out.stderr
    assert "To see the stack trace of this error execute with --v=5 or higher" in out.stderr


def test_a_missing_extra_version_is_refused_with_the_file_and_fix(tmp_path: Path) -> None:
    root = tmp_path / "checkout"
    shutil.copytree(REPO / "tests" / "sandbox" / "k8s-repo", root / "tests/sandbox/k8s-repo")
    shutil.copytree(STANDINS / "k8s" / "packaging", root / "tests/standins/k8s/packaging")
    repos = root / "tests/sandbox/k8s-repo/repos.yaml"
    repos.write_text(repos.read_text().replace('- "1.11.0"', '- "v1.11"'))
    with pytest.raises(EnvironmentProblem, match=r"extra_versions holds v1\.11"):
        k8s_repo.load_recipe(root)


# --------------------------------------------------------------------------------------------
# the stand-in bundle's Kubernetes per OS version


def test_bundle_payload_follows_the_os_versions_kubernetes(monkeypatch, release_tree) -> None:
    _, sums = release_tree
    table = {26000: "1.11.0", 26240: "1.32.3", 26300: "1.11.0"}
    monkeypatch.setattr(images, "bundle_kubernetes_version", table.__getitem__)
    debs = list(k8s_repo.load_recipe(REPO).versions)
    got = images.swupd_version_payloads(make_swupd_mirror, sums, debs)
    assert sorted(got) == list(images.SWUPD_VERSIONS)
    # a version pkgs.k8s.io had: the stand-in packages from the mirror's repository
    native = got[26240]["cloud-native-basic"]
    assert "kubeadm=1.32.3-1.1" in native["packages"] and "files" not in native
    # one it never had: the release binaries of that version into /usr/bin, by sha256
    old = got[26000]["cloud-native-basic"]
    assert not [p for p in old["packages"] if p.startswith("kube")]
    assert {f["path"]: f["url"] for f in old["files"]} == {
        f"/usr/bin/{n}": f"http://mirror:8080/dl/release/v1.11.0/bin/linux/amd64/{n}"
        for n in ("kubeadm", "kubelet", "kubectl")
    }
    assert {f["sha256"] for f in old["files"]} == {
        sums["1.11.0"][n].removeprefix("sha256:") for n in ("kubeadm", "kubelet", "kubectl")
    }
    # the sandbox's real table: every mirror version gets the bundle's version of its OS
    monkeypatch.undo()
    real = images.swupd_version_payloads(make_swupd_mirror, sums, debs)
    for os_version, payloads in real.items():
        version = images.bundle_kubernetes_version(os_version)
        urls = [f["url"] for f in payloads["cloud-native-basic"].get("files", [])]
        assert all(f"/v{version}/" in u for u in urls) and urls


def test_bundle_payload_refuses_a_version_that_is_not_built(monkeypatch, release_tree) -> None:
    _, sums = release_tree
    monkeypatch.setattr(images, "bundle_kubernetes_version", lambda v: "1.14.0")
    with pytest.raises(EnvironmentProblem, match=r"1\.14\.0.*neither"):
        images.swupd_version_payloads(make_swupd_mirror, sums, [])


@pytest.mark.parametrize(
    ("item", "needle"),
    [
        ({"path": "/etc/kubeadm"}, "under /usr"),
        ({"path": "/usr/bin/../../etc/x"}, "under /usr"),
        ({"sha256": "ABC"}, "sha256"),
        ({"url": "https://mirror/x"}, "http://"),
        ({"mode": "755"}, "octal"),
        ({"owner": "root"}, "mapping of"),
    ],
)
def test_write_mirror_refuses_bad_files(tmp_path: Path, item: dict, needle: str) -> None:
    good = {"url": "http://mirror:8080/x", "path": "/usr/bin/x", "sha256": "0" * 64}
    payload = {"files": [{**good, **item}]}
    with pytest.raises(ValueError, match=needle):
        make_swupd_mirror.write_mirror(tmp_path, [10], ["b"], payloads={"b": payload})


def test_version_payloads_replace_the_common_payload_in_their_version(tmp_path: Path) -> None:
    common = {"b": {"packages": ["docker.io"]}}
    files_only = {"files": [{"url": "http://m/x", "path": "/usr/bin/x", "sha256": "0" * 64}]}
    make_swupd_mirror.write_mirror(
        tmp_path, [10, 20], ["b"], payloads=common, version_payloads={20: {"b": files_only}}
    )
    ten = json.loads((tmp_path / "10/Manifest.b").read_text())
    twenty = json.loads((tmp_path / "20/Manifest.b").read_text())
    assert ten["apt"] == {"packages": ["docker.io"]} and "files" not in ten
    assert twenty["apt"] is None and twenty["files"] == files_only["files"]
    with pytest.raises(ValueError, match="version 30"):
        make_swupd_mirror.write_mirror(tmp_path, [10], ["b"], version_payloads={30: {}})


# --------------------------------------------------------------------------------------------
# the swupd stand-in installs a "files" payload


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    handler = functools.partial(_Quiet, directory=str(tmp_path / "srv"))
    (tmp_path / "srv").mkdir()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield tmp_path / "srv", f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _node(tmp_path: Path, url: str) -> Path:
    root = tmp_path / "root"
    for rel in ("usr/lib/os-release", "etc/os-release"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text('NAME="Clear Linux OS"\nID=clear-linux-os\nVERSION_ID=26240\n')
    (root / "usr/share/clear/bundles").mkdir(parents=True)
    (root / "usr/share/clear/bundles/os-core").touch()
    (root / "etc/swupd").mkdir(parents=True)
    for name in ("mirror_contenturl", "mirror_versionurl"):
        (root / "etc/swupd" / name).write_text(url)
    (root / "etc/swupd/config").write_text("[GLOBAL]\nallow_insecure_http=true\n")
    return root


def _swupd(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SWUPD_STAND_IN_ROOT": str(root), "PATH": "/nonexistent"}
    return subprocess.run(
        [PYTHON, str(SWUPD), *args], env=env, capture_output=True, text=True, timeout=60
    )


def _files_mirror(srv: Path, url: str, data: bytes, sha256: str) -> str:
    (srv / "bin").mkdir()
    (srv / "bin" / "kubeadm").write_bytes(data)
    update = srv / "update"
    item = {"url": f"{url}/bin/kubeadm", "path": "/usr/bin/kubeadm", "sha256": sha256}
    payload = {"files": [{**item, "mode": "0755"}]}
    make_swupd_mirror.write_mirror(
        update, [26240], ["cloud-native-basic"], payloads={"cloud-native-basic": payload}
    )
    return f"{url}/update"


def test_bundle_add_installs_the_files_of_a_payload_by_sha256(served, tmp_path: Path) -> None:
    srv, url = served
    data = b"#!/bin/sh\necho stand-in\n"
    root = _node(tmp_path, _files_mirror(srv, url, data, hashlib.sha256(data).hexdigest()))
    out = _swupd(root, "bundle-add", "cloud-native-basic")
    assert out.returncode == 0, out.stdout + out.stderr
    target = root / "usr/bin/kubeadm"
    assert target.read_bytes() == data and target.stat().st_mode & 0o777 == 0o755
    assert (root / "usr/share/clear/bundles/cloud-native-basic").exists()
    # no apt-get was needed (PATH has none): a files-only payload runs no apt


def test_bundle_add_refuses_a_file_whose_hash_differs(served, tmp_path: Path) -> None:
    srv, url = served
    root = _node(tmp_path, _files_mirror(srv, url, b"tampered\n", "0" * 64))
    out = _swupd(root, "bundle-add", "cloud-native-basic")
    assert out.returncode == 17
    assert "File content hash mismatch for /usr/bin/kubeadm (bad server data?)" in out.stderr
    assert not (root / "usr/bin/kubeadm").exists()
    assert not (root / "usr/share/clear/bundles/cloud-native-basic").exists()


# --------------------------------------------------------------------------------------------
# the sandbox inventory


def test_inventory_pins_the_mirrors_release_binaries(tmp_path: Path, release_tree) -> None:
    _, sums = release_tree
    state = cluster.SandboxState(
        network="n",
        os="clearlinux",
        clear_version=26240,
        nodes=[cluster.NodeState("node1", "c", "id", "master", "clearlinux", 40000, "", "i")],
        mirror=cluster.MirrorState("m", "id", "mirror", "", "i", {}, files.mirror_urls("mirror")),
        inventory=str(tmp_path / "hosts.yml"),
        known_hosts=str(tmp_path / "known_hosts"),
        private_key=str(tmp_path / "id_ed25519"),
        stack_images=[],
        kubernetes_binary_checksums=sums,
    )
    top = yaml.safe_load(files.render_hosts_yml(tmp_path, state))["all"]["vars"]
    assert top["dlrs_kubernetes_binary_url"] == "http://mirror:8080/dl/release"
    assert top["dlrs_kubernetes_binary_checksums"] == sums
    assert json.loads(state.to_json())["kubernetes_binary_checksums"] == sums
