"""`sandbox up` on a running sandbox (issue 15, item 7): with no shape given it adopts the running
sandbox's shape (its network's label) and the Kubernetes version of its last `up`, and writes the
inventory again with the SSH ports the containers have now (a container started again is
published on another port); an explicit other shape is still refused. Docker is never started:
every function of cluster.py that talks to it is replaced by a fake world."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from dlrs_harness.sandbox import cli as sandbox_cli
from dlrs_harness.sandbox import cluster
from dlrs_provision import cli
from dlrs_provision.errors import UsageError

REPO = Path(__file__).resolve().parents[2]
MIXED = "nodes=3,os=mixed,clear-version=26240"


class Stop(Exception):
    """Raised where the fake world ends, after the shape was decided."""


class World:
    """A sandbox as Docker would show it: the network's labels, the containers, their ports."""

    def __init__(self, monkeypatch, tmp_path: Path, shape: str | None, nodes_os: list[str]):
        self.network = None if shape is None else {cluster.LABEL: "1", cluster.LABEL_SHAPE: shape}
        self.containers: dict[str, cluster._Container] = {}
        if shape is not None:
            self._add(cluster.MIRROR_CONTAINER, "mirror", "debian", shape, running=True)
            for index, os_name in enumerate(nodes_os, start=1):
                role = "master" if index == 1 else "worker"
                self._add(f"{cluster.NODE_PREFIX}{index}", role, os_name, shape, running=True)
        self.ports = {name: 40000 + i for i, name in enumerate(sorted(self.containers))}
        self.docker: list[list[str]] = []
        self.refused_with: list[str] = []
        self.sbx = tmp_path / "sandbox"
        m = monkeypatch
        m.setattr(cluster, "sandbox_dir", lambda root: self.sbx)
        m.setattr(cluster, "ensure_docker", lambda say: None)
        m.setattr(
            cluster,
            "_sandbox_containers",
            lambda: sorted(self.containers.values(), key=lambda c: c.name),
        )
        m.setattr(cluster, "_network_labels", lambda: self.network)
        m.setattr(cluster, "_ensure_network", self._ensure_network)
        m.setattr(cluster, "run_docker", self._run_docker)
        m.setattr(cluster, "ImageBuilder", _FakeBuilder)
        for name in ("_wait_for_systemd", "_install_authorized_key", "_wait_for_sshd"):
            m.setattr(cluster, name, lambda *a, **k: None)
        m.setattr(cluster, "_wait_for_mirror", lambda *a, **k: None)
        m.setattr(cluster, "_published_port", lambda c, p: self.ports[c] + p)
        m.setattr(cluster, "_host_keys", lambda c: [f"ssh-ed25519 AAAAC3Nza{c[-1]}"])
        m.setattr(cluster, "_push_stack_images", lambda *a: [])
        m.setattr(cluster, "_push_control_plane_images", lambda *a: [])
        m.setattr(cluster, "_push_registry_image", lambda *a: (False, "sha256:" + "a" * 64))
        m.setattr(cluster, "_warn_outdated_images", lambda *a: None)
        real_refuse = cluster._refuse_other_shape

        def refuse(shape, plan, existing):
            self.refused_with.append(shape)
            real_refuse(shape, plan, existing)

        m.setattr(cluster, "_refuse_other_shape", refuse)

    def _add(self, name, role, os_name, shape, *, running):
        self.containers[name] = cluster._Container(
            name=name,
            id=f"id-{name}",
            running=running,
            state="running" if running else "exited",
            labels={
                cluster.LABEL: "1",
                cluster.LABEL_SHAPE: shape,
                cluster.LABEL_ROLE: role,
                cluster.LABEL_OS: os_name,
            },
            image=f"{os_name}:test",
            ip="172.30.0.2",
        )

    def stop(self, name: str) -> None:
        c = self.containers[name]
        self.containers[name] = cluster._Container(
            c.name, c.id, False, "exited", c.labels, c.image, c.ip
        )

    def _ensure_network(self, shape):
        if self.network is None:
            self.network = {cluster.LABEL: "1", cluster.LABEL_SHAPE: shape}
            return True
        return False

    def _run_docker(self, argv, check=True):
        self.docker.append(list(argv))
        if argv[0] == "start":
            # a container started again is published on another port
            c = self.containers[argv[1]]
            self.containers[argv[1]] = cluster._Container(
                c.name, c.id, True, "running", c.labels, c.image, c.ip
            )
            self.ports[argv[1]] += 1000
        elif argv[0] == "run":
            raise Stop("a container would be created")
        return subprocess.CompletedProcess(argv, 0, "", "")

    def hosts(self) -> dict:
        return yaml.safe_load((self.sbx / "hosts.yml").read_text())


class _FakeBuilder:
    def __init__(self, root, say):
        pass

    def ensure(self, name):
        return f"{name}:test"

    def release_checksums(self):
        return {}

    def k8s_repo_key_fingerprints(self):
        return []


def _ssh_ports(hosts: dict) -> dict[str, int]:
    children = hosts["all"]["children"]
    found = {}
    for group in ("masters", "workers"):
        for name, values in (children[group]["hosts"] or {}).items():
            found[name] = values["ansible_port"]
    return found


# --------------------------------------------------------------------------- the shape label


@pytest.mark.parametrize(
    ("nodes", "os_name", "version"),
    [(3, "mixed", 26240), (4, "clearlinux", 27000), (1, "debian", 26240), (9, "debian", 26240)],
)
def test_every_shape_up_writes_reads_back(nodes, os_name, version):
    label = cluster._shape(nodes, os_name, version)
    assert cluster.parse_shape(label) == (nodes, os_name, version)


@pytest.mark.parametrize(
    "label",
    [
        "",
        "nodes=3",
        "nodes=three,os=mixed,clear-version=26240",
        "nodes=3,os=windows",
        "nodes=0,os=debian",
        "nodes=3,os=mixed,clear-version=26240,extra=1",
        "nodes=3,os=mixed",  # mixed has Clear Linux hosts: _shape always names the version
        "nodes=3,os=debian,clear-version=26240",  # a Debian shape names none
        "nodes=3,nodes=4,os=debian",
    ],
)
def test_a_label_up_did_not_write_is_not_adopted(label):
    assert cluster.parse_shape(label) is None


# --------------------------------------------------------------------------- up


def test_plain_up_adopts_a_running_mixed_sandbox_instead_of_refusing(monkeypatch, tmp_path):
    world = World(monkeypatch, tmp_path, MIXED, ["debian", "clearlinux", "debian"])
    said = []
    state = cluster.up(root=REPO, echo=said.append)
    assert world.refused_with == [MIXED]
    assert state.os == "mixed" and state.clear_version == 26240
    assert [(n.name, n.os) for n in state.nodes] == [
        ("node1", "debian"),
        ("node2", "clearlinux"),
        ("node3", "debian"),
    ]
    assert any(f"made as {MIXED}" in line for line in said)
    assert state.changed is False  # nothing was started or created


def test_plain_up_refreshes_the_ssh_port_of_a_restarted_host(monkeypatch, tmp_path):
    world = World(monkeypatch, tmp_path, MIXED, ["debian", "clearlinux", "debian"])
    first = cluster.up(root=REPO, echo=lambda _: None)
    before = _ssh_ports(world.hosts())
    assert before == {n.name: n.ssh_port for n in first.nodes}
    world.stop("dlrs-sandbox-node2")
    again = cluster.up(root=REPO, echo=lambda _: None)
    after = _ssh_ports(world.hosts())
    assert ["start", "dlrs-sandbox-node2"] in world.docker
    assert after["node2"] == before["node2"] + 1000
    assert after["node1"] == before["node1"] and after["node3"] == before["node3"]
    assert again.actions == ["started the stopped dlrs-sandbox-node2"]
    known = (world.sbx / "known_hosts").read_text()
    assert f"[127.0.0.1]:{after['node2']}" in known
    assert f"[127.0.0.1]:{before['node2']} " not in known
    saved = json.loads((world.sbx / "sandbox.json").read_text())
    assert [n["ssh_port"] for n in saved["nodes"]] == [after[f"node{i}"] for i in (1, 2, 3)]


def test_plain_up_keeps_the_kubernetes_version_of_the_last_up(monkeypatch, tmp_path):
    World(monkeypatch, tmp_path, MIXED, ["debian", "clearlinux", "debian"])
    cluster.up(root=REPO, kubernetes_version="1.30.11", echo=lambda _: None)
    again = cluster.up(root=REPO, echo=lambda _: None)
    assert again.kubernetes_version == "1.30.11"
    assert "1.30.11" in (tmp_path / "sandbox" / "hosts.yml").read_text()


def test_the_shape_given_in_part_takes_the_rest_from_the_running_sandbox(monkeypatch, tmp_path):
    world = World(monkeypatch, tmp_path, MIXED, ["debian", "clearlinux", "debian"])
    state = cluster.up(nodes=3, root=REPO, echo=lambda _: None)
    assert state.os == "mixed"
    assert world.refused_with == [MIXED]


@pytest.mark.parametrize(
    ("asked", "says"),
    [
        ({"os": "debian"}, "this asks for nodes=3,os=debian"),
        ({"nodes": 2, "os": "mixed"}, "this asks for nodes=2,os=mixed"),
        ({"clear_version": 27000}, "clear-version=27000"),
    ],
)
def test_an_explicit_other_shape_is_still_refused(monkeypatch, tmp_path, asked, says):
    world = World(monkeypatch, tmp_path, MIXED, ["debian", "clearlinux", "debian"])
    with pytest.raises(UsageError) as info:
        cluster.up(root=REPO, echo=lambda _: None, **asked)
    assert "a sandbox of another shape is up" in info.value.message
    assert f"it was made as {MIXED}" in info.value.message and says in info.value.message
    assert not (world.sbx / "hosts.yml").exists()
    assert world.docker == []


def test_plain_up_with_no_sandbox_builds_the_default_shape(monkeypatch, tmp_path):
    world = World(monkeypatch, tmp_path, None, [])
    with pytest.raises(Stop):
        cluster.up(root=REPO, echo=lambda _: None)
    assert world.refused_with == ["nodes=3,os=debian"]
    assert world.network[cluster.LABEL_SHAPE] == "nodes=3,os=debian"


def test_an_unreadable_shape_label_falls_back_to_the_defaults_and_is_said(monkeypatch, tmp_path):
    world = World(monkeypatch, tmp_path, "made-by-hand", ["debian", "debian", "debian"])
    said = []
    with pytest.raises(UsageError):
        cluster.up(root=REPO, echo=said.append)
    assert any("'made-by-hand' cannot be read" in line for line in said)
    assert world.refused_with == ["nodes=3,os=debian"]


def test_a_bad_value_is_refused_before_docker(monkeypatch, tmp_path):
    World(monkeypatch, tmp_path, MIXED, ["debian", "clearlinux", "debian"])
    monkeypatch.setattr(cluster, "ensure_docker", _docker_must_not_run)
    with pytest.raises(UsageError):
        cluster.up(nodes=0, root=REPO)
    with pytest.raises(UsageError):
        cluster.up(kubernetes_version="1.29", root=REPO)


def _docker_must_not_run(say):
    raise AssertionError("Docker was reached for a refused input")


# --------------------------------------------------------------------------- the command line


def test_sandbox_up_without_options_leaves_the_shape_to_the_running_sandbox(monkeypatch):
    seen = {}

    def fake_up(**kwargs):
        seen.update(kwargs)
        raise UsageError("stop here")

    monkeypatch.setattr(sandbox_cli.cluster, "up", fake_up)
    assert cli.main(["sandbox", "up"]) == 2
    assert {k: seen[k] for k in ("nodes", "os", "clear_version", "kubernetes_version")} == {
        "nodes": None,
        "os": None,
        "clear_version": None,
        "kubernetes_version": None,
    }
    seen.clear()
    cli.main(["sandbox", "up", "--nodes", "4", "--os", "mixed", "--kubernetes-version", "1.30"])
    assert (seen["nodes"], seen["os"], seen["clear_version"]) == (4, "mixed", None)
    assert seen["kubernetes_version"] == "1.30"
