"""`dlrs-provision cluster` on the bare mixed sandbox (a Debian master, a Clear-Linux-like worker
and a Debian worker): every phase runs, the OS and runtime phases leave what they promise, and a
second run changes nothing. (The images, Kubernetes and Kubeflow results are checked in their
own modules, on the same cluster.)"""

from __future__ import annotations

import pytest
from e2e_support import MIRROR, NODES, on

pytestmark = pytest.mark.e2e

PHASES = ["Preflight", "OS", "Container runtime", "Images", "Kubernetes", "Kubeflow"]


def test_cluster_runs_every_phase_in_order(cluster):
    assert cluster.first.rc == 0, cluster.first.explain()
    names = cluster.first.phases
    # one entry per play; the phases are the plays' names, in cluster.yml's order
    seen = []
    for name in names:
        phase = next((p for p in PHASES if name.lower().startswith(p.lower())), None)
        assert phase, f"play {name!r} belongs to no known phase"
        if not seen or seen[-1] != phase:
            seen.append(phase)
    assert seen == PHASES, names


def test_second_run_changes_nothing_on_any_node(cluster):
    assert cluster.second.rc == 0, cluster.second.explain()
    assert cluster.second.changed() == dict.fromkeys(NODES, 0), cluster.second.explain()


def test_clear_linux_node_is_at_the_minimum_version_with_the_stack_bundles(cluster):
    info = on("node2", "swupd info --allow-insecure-http")
    assert int(info.split("Installed version:")[1].split()[0]) >= 26240
    bundles = set(on("node2", "ls /usr/share/clear/bundles").split())
    assert {"containers-basic", "cloud-native-basic"} <= bundles


def test_every_node_knows_every_other_by_name(cluster, sandbox):
    for node in NODES:
        hosts = on(node, "cat /etc/hosts")
        for other in NODES:
            ip = sandbox.node(other).ip
            assert f"{ip} {other}" in hosts or f"{ip}\t{other}" in hosts, (node, other, hosts)


@pytest.mark.parametrize("node", NODES)
def test_docker_and_containerd_run_on_every_node(cluster, node):
    # Docker answers with the daemon.json the role wrote (systemd cgroups, log rotation)
    info = on(node, "docker info --format '{{.CgroupDriver}} {{.LoggingDriver}}'").split()
    assert info == ["systemd", "json-file"], info
    # containerd is the CRI runtime: its CRI plugin is on (Docker's packaging turns it off)
    assert on(node, "systemctl is-active containerd").strip() == "active"
    plugins = on(node, "ctr plugins ls")
    assert any("io.containerd.grpc.v1" in line and "cri" in line and " ok" in line
               for line in plugins.splitlines()), plugins  # fmt: skip


def test_debian_nodes_fetch_their_packages_through_the_apt_proxy(cluster, sandbox):
    # dlrs_apt_proxy (the mirror's apt-cacher-ng) reaches apt through node_prep's apt.conf.d
    # file, and apt-cacher-ng logs each download with the client's address: every Debian node
    # appears there (the Clear-Linux-like node's bundle-add uses the proxy on its own, so only
    # the Debian nodes tell whether the setting took effect).
    log = on(MIRROR, "cat /var/log/apt-cacher-ng/apt-cacher.log")
    clients = {line.split("|")[3] for line in log.splitlines() if line.count("|") >= 4}
    debian = [n.name for n in sandbox.nodes if n.os == "debian"]
    assert debian
    for node in debian:
        conf = on(node, "apt-config dump Acquire::http::Proxy")
        assert 'Acquire::http::Proxy "http://mirror:3142' in conf, conf
        assert sandbox.node(node).ip in clients, (node, sorted(clients))
