"""The images phase on the 3-node sandbox: the stack image pulled once per cluster.

node1 (the master) runs the registry cache (role registry_cache: Debian's docker-registry in proxy
mode, TLS from the toolkit's CA) in front of the mirror host's registry, which plays the
upstream (docker.io's part: `dlrs_upstream_registry: mirror:5000`). Every node's Docker and
containerd get the stack's test image through the cache (role stack_images). What the upstream
served is read from the upstream registry's own log (the mirror's journal: one "response
completed" line per request, with the client's address and the bytes written).

The first pull is the one of the session's `dlrs-provision cluster` run (conftest's `cluster`):
the runtime phase installed Docker and containerd (on the Clear-Linux-like node2 through the
swupd stand-in's containers-basic bundle, whose content is Debian's docker.io). The tests here
then run the images phase alone (playbooks/images.yml) to break things on purpose; they put back
what they break (the cache stopped, a blob made unreadable) before they end, also when they fail.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
from e2e_support import NODES, Request, on, upstream_cursor, upstream_requests

from dlrs_harness import sandbox as sandbox_api
from dlrs_provision import cluster_registry, paths, runner
from dlrs_provision.facts import cached_facts_file, load_facts
from dlrs_provision.registry import RegistryClient

pytestmark = pytest.mark.e2e

IMAGE = "clearlinux/stacks-dlaas-mkl:latest"
IMAGE_FULL = "docker.io/clearlinux/stacks-dlaas-mkl:latest"
REPOSITORY = "clearlinux/stacks-dlaas-mkl"
CACHE = "node1:5443"
CACHE_STORAGE = "/var/lib/docker-registry"
SHOWN = "Show what this node pulled"

# --------------------------------------------------------------------------- helpers


def blob_gets(requests: list[Request]) -> Counter[str]:
    """Full downloads of the image's blobs served, per digest (other tests' traffic to the
    mirror, for other repositories, is not counted)."""
    return Counter(
        r.uri.rsplit("/", 1)[-1]
        for r in requests
        if r.method == "GET"
        and f"/{REPOSITORY}/blobs/" in r.uri
        and r.status == 200
        and r.written > 0
    )


@dataclass
class Phase:
    inventory: Path
    state: Path
    playbook: Path
    sandbox: sandbox_api.SandboxState

    def run(
        self, limit: str | None = None, playbook: Path | None = None, **extravars
    ) -> tuple[runner.RunResult, list]:
        notes: list[runner.Progress] = []
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv(paths.STATE_ENV, str(self.state))
            result = runner.run_playbook(
                runner.RunOptions(
                    inventory=self.inventory,
                    playbook=playbook or self.playbook,
                    limit=limit,
                    extravars=extravars,
                    timeout=1200,
                ),
                notes.append,
            )
        return result, notes

    def facts(self, node: str) -> dict:
        return load_facts(cached_facts_file(self.state / "facts", node))

    def node_ip(self, node: str) -> str:
        return self.sandbox.node(node).ip

    def upstream_client(self) -> RegistryClient:
        return RegistryClient(f"http://127.0.0.1:{self.sandbox.mirror.ports['registry']}")


def docker_image_id(node: str, ref: str = IMAGE) -> str | None:
    out = on(node, f"docker image inspect --format '{{{{.Id}}}}' {ref} 2>/dev/null", check=False)
    return out.strip() or None


def containerd_names(node: str) -> dict[str, str]:
    """name -> target digest of every image in containerd's k8s.io namespace."""
    out = on(node, "ctr -n k8s.io images ls")
    names = {}
    for line in out.splitlines()[1:]:
        parts = line.split()
        if len(parts) >= 3:
            names[parts[0]] = parts[2]
    return names


def containerd_config_digest(node: str, manifest_digest: str) -> str:
    return json.loads(on(node, f"ctr -n k8s.io content get {manifest_digest}"))["config"]["digest"]


def forget_image(phase: Phase, node: str) -> None:
    """The node without the stack image: neither in Docker nor in containerd (every name that
    points at the image's manifest, the image ID the CRI plugin adds included), and its content
    gone from both, so that a later pull fetches every blob again."""
    digest = phase.upstream_client().resolve(IMAGE).ref.digest
    on(
        node,
        f"docker image rm -f {IMAGE} >/dev/null 2>&1; "
        "docker images --format '{{.Repository}}@{{.Digest}}' | grep stacks-dlaas-mkl "
        "| xargs -r docker image rm -f >/dev/null 2>&1; "
        f'ctr -n k8s.io images ls | awk \'$3 == "{digest}" || $1 ~ /stacks-dlaas-mkl/ '
        "{print $1}' | xargs -r ctr -n k8s.io images rm --sync >/dev/null; true",
    )


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def phase(sandbox, cluster) -> Phase:
    playbook = paths.repo_root() / "playbooks" / "images.yml"
    return Phase(Path(sandbox.inventory), cluster.state, playbook, sandbox)


@pytest.fixture(scope="module")
def first_pull(cluster) -> dict:
    """The cluster's first run (a cold cluster: empty cache, no image on any node), and what
    the upstream served from then until the end of the second run."""
    return {"run": cluster.first, "requests": upstream_requests(cluster.cursor)}


# --------------------------------------------------------------------------- tests


def test_every_node_gets_the_image_with_the_registry_s_digests(phase, first_pull):
    assert first_pull["run"].rc == 0, first_pull["run"].explain()
    upstream = phase.upstream_client().resolve(IMAGE)
    for node in NODES:
        assert docker_image_id(node) == upstream.config_digest, node
        names = containerd_names(node)
        assert names[IMAGE_FULL] == upstream.ref.digest, node
        assert names[f"docker.io/{REPOSITORY}@{upstream.ref.digest}"] == upstream.ref.digest
        assert containerd_config_digest(node, names[IMAGE_FULL]) == upstream.config_digest
        # the cache's own name of the image was dropped again, in both runtimes
        assert not [n for n in names if n.startswith(CACHE)], names
        assert CACHE not in on(node, "docker images --format '{{.Repository}}'")


def test_upstream_serves_each_blob_to_the_cache_only(phase, first_pull):
    upstream = phase.upstream_client().resolve(IMAGE)
    blobs = {d.digest for d in upstream.image.blobs}
    requests = first_pull["requests"]
    served = blob_gets(requests)
    # no node but the cache's host asked the upstream for a blob of the image
    clients = {r.client for r in requests if f"/{REPOSITORY}/blobs/" in r.uri}
    assert clients == {phase.node_ip("node1")}, clients
    # every blob of the image came through the cache, at most twice: Debian's docker-registry
    # 2.8 fetches a blob it misses twice (one copy for its storage, one streamed to the client),
    # however many nodes pull; the master pulls first, so the workers' pulls (Docker and
    # containerd on each of them) find every blob in the cache.
    assert set(served) == blobs
    assert all(1 <= n <= 2 for n in served.values()), served
    total = sum(r.written for r in requests if f"/{REPOSITORY}/blobs/" in r.uri)
    direct = 2 * len(NODES) * upstream.image.download_size  # every node x (Docker + containerd)
    assert total <= 2 * upstream.image.download_size < direct


def test_each_node_reports_what_it_pulled_its_size_and_time(phase, first_pull, cluster):
    upstream = phase.upstream_client().resolve(IMAGE)
    for node in NODES:
        result = phase.facts(node)["stack_images_result"]  # written by the second run
        assert result["image"] == IMAGE
        assert result["digest"] == upstream.ref.digest
        assert result["image_id"] == upstream.config_digest
        assert int(result["size_bytes"]) == upstream.image.download_size
        assert result["pulled_through"] == f"{CACHE}/{REPOSITORY}"
        for runtime in ("docker", "containerd"):
            assert str(result[runtime]["pulled"]).lower() == "false", (node, result)

    lines = {x["host"]: x["message"] for x in first_pull["run"].results(SHOWN)}
    assert set(lines) == set(NODES)
    for line in lines.values():
        assert line.startswith(f"{IMAGE} (image ID {upstream.config_digest[:19]}"), line
        assert "MiB to download) from the registry cache https://node1:5443" in line, line
        assert re.search(r"Docker pulled it in [0-9.]+ s; containerd pulled it in [0-9.]+ s", line)


def test_second_run_pulls_nothing(cluster):
    assert not blob_gets(upstream_requests(cluster.cursor_between))
    lines = [x["message"] for x in cluster.second.results(SHOWN)]
    assert len(lines) == len(NODES), lines
    assert all("already present, nothing pulled" in m for m in lines), lines


def test_check_mode_on_a_node_without_the_image_reports_the_pulls_and_pulls_nothing(
    phase, first_pull
):
    forget_image(phase, "node3")
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv(paths.STATE_ENV, str(phase.state))
            notes: list[runner.Progress] = []
            result = runner.run_playbook(
                runner.RunOptions(phase.inventory, phase.playbook, limit="node3", check=True),
                notes.append,
            )
        assert result.ok, result.artifact_dir
        would = [
            n
            for n in notes
            if n.kind == "result"
            and n.status == "changed"
            and n.task == "Report the pull check mode would make"
        ]
        assert len(would) == 2, would  # Docker and containerd
        assert docker_image_id("node3") is None
        assert IMAGE_FULL not in containerd_names("node3")
    finally:
        assert phase.run(limit="node3")[0].ok


def _assert_nothing_half_written(node: str) -> None:
    assert docker_image_id(node) is None
    leftovers = on(node, "docker images --digests --format '{{.Repository}}@{{.Digest}}'")
    assert "stacks-dlaas-mkl" not in leftovers, leftovers
    names = containerd_names(node)
    assert not [n for n in names if "stacks-dlaas-mkl" in n], names


def test_cache_down_fails_naming_registry_and_image_and_writes_nothing(phase, first_pull):
    forget_image(phase, "node3")
    on("node1", "systemctl stop docker-registry")
    try:
        result, notes = phase.run(limit="node3")
        assert not result.ok
        message = failures(notes, "node3")
        assert "https://node1:5443" in message and IMAGE in message, message
        assert "Nothing was pulled on node3" in message
        _assert_nothing_half_written("node3")
    finally:
        on("node1", "systemctl start docker-registry")
    assert phase.run(limit="node3")[0].ok


def failures(notes: list[runner.Progress], host: str) -> str:
    """Every failure message of a host in a run (a rescued task fails before the final one)."""
    return "\n".join(
        n.message for n in notes if n.kind == "result" and n.host == host and n.status == "failed"
    )


@pytest.mark.parametrize("runtime", ["docker", "containerd"])
def test_pull_that_fails_midway_leaves_no_tag(phase, first_pull, runtime):
    """The cache serves the manifest, then fails on the image's config blob (made unreadable in
    its storage): the pull breaks after it started, and the image gets no name."""
    upstream = phase.upstream_client().resolve(IMAGE)
    hexdigest = upstream.config_digest.split(":", 1)[1]
    blob = f"{CACHE_STORAGE}/docker/registry/v2/blobs/sha256/{hexdigest[:2]}/{hexdigest}/data"
    forget_image(phase, "node3")
    on("node1", f"chmod 000 {blob}")
    try:
        other = "containerd" if runtime == "docker" else "docker"
        result, notes = phase.run(limit="node3", **{f"stack_images_{other}": False})
        assert not result.ok
        message = failures(notes, "node3").splitlines()[-1]
        assert IMAGE in message and "https://node1:5443" in message, message
        assert "was not set on node3" in message
        _assert_nothing_half_written("node3")
    finally:
        on("node1", f"chmod 0644 {blob}")
    assert phase.run(limit="node3")[0].ok


def test_air_gapped_site_loads_an_archive_into_the_master_s_local_registry(
    phase, first_pull, tmp_path
):
    """images save on a "connected machine" (here: from the mirror's registry), the master's
    registry switched to local mode and emptied, images load into it, a node pulls from it."""
    from dlrs_provision import images

    upstream_port = phase.sandbox.mirror.ports["registry"]
    archive = tmp_path / "dlrs-images.tar"
    mirror = f"127.0.0.1:{upstream_port}"  # plays Docker Hub, as for the cache
    saved = images.save([IMAGE], archive, registry=mirror, insecure_registries=[mirror])
    upstream = phase.upstream_client().resolve(IMAGE)
    assert saved.images[0].ref == IMAGE_FULL
    assert saved.images[0].digest == upstream.ref.digest
    assert saved.images[0].image_id == upstream.config_digest

    # the registry alone first: the images phase would fail on the empty local registry
    registry_only = tmp_path / "registry.yml"
    registry_only.write_text(
        phase.playbook.read_text().split("\n- name: Images - stack image on the master")[0]
    )
    on("node1", f"systemctl stop docker-registry; rm -rf {CACHE_STORAGE}/docker")
    forget_image(phase, "node3")
    try:
        result, _ = phase.run("node1", registry_only, dlrs_registry_mode="local")
        assert result.ok, result.artifact_dir
        assert "proxy:" not in on("node1", "cat /etc/docker/registry/config.yml")
        target = images.Target(
            f"https://{phase.node_ip('node1')}:5443",
            str(phase.state / "pki" / "ca.crt"),
            "local",
            username=cluster_registry.REGISTRY_USER,  # every push needs the cluster's account
            password_file=str(cluster_registry.password_path(phase.state)),
        )
        loaded = images.load(archive, target)
        assert loaded.pushed_blobs == len(upstream.image.blobs)
        assert loaded.tags == [f"{REPOSITORY}:latest"]
        cursor = upstream_cursor()
        result, _ = phase.run(limit="node3", dlrs_registry_mode="local")
        assert result.ok, result.artifact_dir
        assert docker_image_id("node3") == upstream.config_digest
        assert containerd_names("node3")[IMAGE_FULL] == upstream.ref.digest
        # the upstream was not asked for anything: the node's image came from the archive
        assert not [r for r in upstream_requests(cursor) if REPOSITORY in r.uri]
    finally:
        on("node1", f"systemctl stop docker-registry; rm -rf {CACHE_STORAGE}/docker")
        assert phase.run("node1", registry_only)[0].ok  # back to the pull-through cache
        assert "proxy:" in on("node1", "cat /etc/docker/registry/config.yml")
