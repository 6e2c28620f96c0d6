"""The images phase on the 3-node sandbox: the stack image pulled once per cluster.

node1 (the master) runs the registry cache (role registry_cache: Debian's docker-registry in proxy
mode, TLS from the toolkit's CA) in front of the mirror host's registry, which plays the
upstream (docker.io's part: `dlrs_upstream_registry: mirror:5000`). Every node's Docker and
containerd get the stack's test image through the cache (role stack_images). What the upstream
served is read from the upstream registry's own log (the mirror's journal: one "response
completed" line per request, with the client's address and the bytes written).

Test setup that other roles will take over: Docker Engine and containerd are installed on the
nodes here (Debian's docker.io, through the sandbox's apt proxy) because the container runtime
roles do not install them on the sandbox's Clear-Linux-like host (swupd there is a stand-in);
`clrtrust` on that host is a stand-in installed here (CLRTRUST_STAND_IN below: the host is Debian
underneath and has no Clear Linux trust store).

The tests share one sandbox with other test modules: they leave the nodes with the image pulled
and the cache running, never touch the mirror's registry, and put back what they break (the
cache stopped, a blob made unreadable) before they end, also when they fail.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from dlrs_provision import paths, runner
from dlrs_provision import sandbox as sandbox_api
from dlrs_provision.facts import cached_facts_file, load_facts
from dlrs_provision.registry import RegistryClient

# Not in `make test` yet: 13 minutes on the sandbox (Docker installed on every node, pulls
# through the cache); run with `make test-heavy` until the images phase joins cluster.yml.
pytestmark = [pytest.mark.e2e, pytest.mark.heavy]

IMAGE = "clearlinux/stacks-dlaas-mkl:latest"
IMAGE_FULL = "docker.io/clearlinux/stacks-dlaas-mkl:latest"
REPOSITORY = "clearlinux/stacks-dlaas-mkl"
CACHE = "node1:5443"
CACHE_STORAGE = "/var/lib/docker-registry"
NODES = ("node1", "node2", "node3")
UPSTREAM = "mirror:5000"

# The images phase as the lead wires it (playbooks/images.yml); used when that file is absent.
IMAGES_PLAYBOOK = """\
---
# Phase images: the registry cache on the master and its CA on every node, then the stack's
# image on every node. The master pulls first: its pull fills the cache, so the workers'
# concurrent pulls find every blob there (concurrent misses would each reach the upstream).
- name: Registry cache
  hosts: masters:workers
  gather_facts: false
  roles:
    - role: registry_cache
      when: dlrs_registry_cache | default(true) | bool

- name: Stack images on the master (fills the cache)
  hosts: masters
  gather_facts: false
  roles:
    - role: stack_images

- name: Stack images on the workers (from the cache)
  hosts: workers
  gather_facts: false
  roles:
    - role: stack_images
"""

CLRTRUST_STAND_IN = '''\
#!/usr/bin/python3
"""clrtrust stand-in (dlrs-provision tests): NOT Clear Linux's clrtrust.

Installed by tests/e2e/test_images.py on the sandbox's Clear-Linux-like host (Debian underneath).
It honours the part of clrtrust's contract that the roles use:
  clrtrust add FILE...   each FILE must hold a PEM certificate: copied into /etc/ca-certs/trusted
                         and trusted system-wide (here through Debian's store); exit 0
  clrtrust list          the certificates added
Anything else: usage on stderr, exit 1.
"""
import hashlib, os, shutil, ssl, subprocess, sys

STORE = "/etc/ca-certs/trusted"
DEBIAN = "/usr/local/share/ca-certificates"


def usage():
    sys.stderr.write("usage: clrtrust (stand-in) add FILE... | list\\n")
    return 1


def add(files):
    if not files:
        return usage()
    os.makedirs(STORE, exist_ok=True)
    for path in files:
        try:
            der = ssl.PEM_cert_to_DER_cert(open(path).read())
        except (OSError, ValueError) as exc:
            sys.stderr.write(f"{path}: not a PEM certificate: {exc}\\n")
            return 1
        name = hashlib.sha1(der).hexdigest()
        target = os.path.join(STORE, name + ".pem")
        if os.path.exists(target):
            print(f"{path}: already trusted")
            continue
        shutil.copyfile(path, target)
        shutil.copyfile(path, os.path.join(DEBIAN, f"clrtrust-{name}.crt"))
        print(f"{path}: added")
    subprocess.run(["update-ca-certificates"], check=True, stdout=subprocess.DEVNULL)
    return 0


def main(argv):
    if argv[:1] == ["add"]:
        return add([a for a in argv[1:] if not a.startswith("-")])
    if argv == ["list"]:
        for name in sorted(os.listdir(STORE)) if os.path.isdir(STORE) else []:
            print(f"id: {name[:-4]}\\n  File: {os.path.join(STORE, name)}")
        return 0
    return usage()


sys.exit(main(sys.argv[1:]))
'''


# --------------------------------------------------------------------------- helpers


def docker(*args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["docker", *args], capture_output=True, text=True, check=check, timeout=timeout
    )


def on(node: str, script: str, check: bool = True, stdin: str | None = None) -> str:
    """Run a shell script inside a sandbox container (checks the effect, not the role)."""
    proc = subprocess.run(
        ["docker", "exec", "-i", f"dlrs-sandbox-{node}", "sh", "-c", script],
        capture_output=True,
        text=True,
        input=stdin,
        timeout=600,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"{node}: {script!r} failed ({proc.returncode}): {proc.stderr}")
    return proc.stdout


@dataclass
class Request:
    method: str
    client: str  # the client's address
    uri: str
    status: int
    written: int


_FIELD = re.compile(r'(http\.[\w.]+)=("(?:[^"\\]|\\.)*"|\S+)')


def upstream_cursor() -> str:
    out = docker(
        "exec", "dlrs-sandbox-mirror", "journalctl", "-u", "docker-registry", "-n", "0",
        "--show-cursor", "-o", "cat",
    ).stdout  # fmt: skip
    return out.strip().rsplit("-- cursor: ", 1)[-1].strip()


def upstream_requests(cursor: str) -> list[Request]:
    """Requests the upstream registry answered after the cursor (from its own log)."""
    previous: list[Request] | None = None
    for _ in range(10):  # the journal lags a little behind the last response: wait till stable
        out = docker(
            "exec", "dlrs-sandbox-mirror", "journalctl", "-u", "docker-registry", "-o", "cat",
            f"--after-cursor={cursor}",
        ).stdout  # fmt: skip
        requests = []
        for line in out.splitlines():
            if 'msg="response completed"' not in line:
                continue
            fields = {k: v.strip('"') for k, v in _FIELD.findall(line)}
            requests.append(
                Request(
                    method=fields.get("http.request.method", ""),
                    client=fields.get("http.request.remoteaddr", "").rsplit(":", 1)[0],
                    uri=fields.get("http.request.uri", ""),
                    status=int(fields.get("http.response.status", "0")),
                    written=int(fields.get("http.response.written", "0")),
                )
            )
        if previous is not None and len(previous) == len(requests):
            return requests
        previous = requests
        time.sleep(1.0)
    return previous or []


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


def _install_runtime(node: str) -> None:
    """Debian's docker.io (with containerd) through the sandbox's apt proxy, when missing."""
    proxy = "-o Acquire::http::Proxy=http://mirror:3142"
    on(
        node,
        "command -v dockerd >/dev/null || { "
        f"apt-get {proxy} update -qq && DEBIAN_FRONTEND=noninteractive "
        f"apt-get {proxy} install -y -qq docker.io >/dev/null; }}; "
        "systemctl is-active -q docker || systemctl start docker; docker version >/dev/null",
    )


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def phase(sandbox, tmp_path_factory) -> Iterator[Phase]:
    root = tmp_path_factory.mktemp("images")
    with ThreadPoolExecutor(len(NODES)) as pool:
        list(pool.map(_install_runtime, NODES))
    on("node2", "cat > /usr/local/bin/clrtrust && chmod 0755 /usr/local/bin/clrtrust",
       stdin=CLRTRUST_STAND_IN)  # fmt: skip
    inv = yaml.safe_load(Path(sandbox.inventory).read_text())
    # the mirror's registry is plain HTTP: listed as insecure, as the sandbox README says
    inv["all"]["vars"]["dlrs_insecure_registries"] = [UPSTREAM]
    inventory = root / "hosts.yml"
    inventory.write_text(yaml.safe_dump(inv))
    playbook = paths.repo_root() / "playbooks" / "images.yml"
    if not playbook.is_file():
        playbook = root / "images.yml"
        playbook.write_text(IMAGES_PLAYBOOK)
    yield Phase(inventory, root / "state", playbook, sandbox)


@pytest.fixture(scope="module")
def first_pull(phase) -> dict:
    """A cold cluster: empty cache, no image on any node; then the images phase, in two steps:
    the master alone (its pull fills the cache), then everyone (the workers pull)."""
    on("node1", f"if systemctl cat docker-registry >/dev/null 2>&1; then "
                f"systemctl stop docker-registry; rm -rf {CACHE_STORAGE}/docker; fi")  # fmt: skip
    for node in NODES:
        forget_image(phase, node)
    cursor = upstream_cursor()
    master, master_notes = phase.run(limit="node1")
    after_master = upstream_requests(cursor)
    everyone, notes = phase.run()
    after_all = upstream_requests(cursor)
    return {
        "master": master,
        "master_notes": master_notes,
        "all": everyone,
        "notes": notes,
        "after_master": after_master,
        "after_all": after_all,
    }


# --------------------------------------------------------------------------- tests


def test_every_node_gets_the_image_with_the_registry_s_digests(phase, first_pull):
    assert first_pull["master"].ok, first_pull["master"].artifact_dir
    assert first_pull["all"].ok, first_pull["all"].artifact_dir
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


def test_upstream_serves_each_blob_to_the_cache_only_and_not_again_for_the_workers(
    phase, first_pull
):
    upstream = phase.upstream_client().resolve(IMAGE)
    blobs = {d.digest for d in upstream.image.blobs}
    cache_ip = phase.node_ip("node1")
    after_master = blob_gets(first_pull["after_master"])
    after_all = blob_gets(first_pull["after_all"])
    # no node but the cache's host asked the upstream for a blob of the image
    clients = {r.client for r in first_pull["after_all"] if f"/{REPOSITORY}/blobs/" in r.uri}
    assert clients == {cache_ip}, clients
    # every blob of the image came through the cache ...
    assert set(after_master) == blobs
    # ... the workers' six pulls (Docker and containerd on node2 and node3) cost the upstream no
    # blob at all: what it served, it served for the master's first pull ...
    assert after_all == after_master
    # ... which is at most twice per blob: Debian's docker-registry 2.8 fetches a blob it misses
    # twice (one copy for its storage, one streamed to the client), however many nodes pull.
    assert all(1 <= n <= 2 for n in after_all.values()), after_all
    served = sum(r.written for r in first_pull["after_all"] if f"/{REPOSITORY}/blobs/" in r.uri)
    direct = 2 * len(NODES) * upstream.image.download_size  # 3 nodes x (Docker + containerd)
    assert served <= 2 * upstream.image.download_size < direct


def test_each_node_reports_what_it_pulled_its_size_and_time(phase, first_pull):
    upstream = phase.upstream_client().resolve(IMAGE)
    for node in NODES:
        result = phase.facts(node)["stack_images_result"]
        assert result["image"] == IMAGE
        assert result["digest"] == upstream.ref.digest
        assert result["image_id"] == upstream.config_digest
        assert int(result["size_bytes"]) == upstream.image.download_size
        assert result["pulled_through"] == f"{CACHE}/{REPOSITORY}"
        # the workers pulled in the second run; the master had pulled in the first
        pulled = node != "node1"
        for runtime in ("docker", "containerd"):
            assert str(result[runtime]["pulled"]).lower() == str(pulled).lower(), (node, result)
            assert (float(result[runtime]["seconds"]) > 0) == pulled

    def shown(notes: list[runner.Progress]) -> dict[str, str]:
        return {
            n.host: n.message
            for n in notes
            if n.kind == "result" and n.task == "Show what this node pulled"
        }

    lines = shown(first_pull["master_notes"]) | {
        h: m for h, m in shown(first_pull["notes"]).items() if h != "node1"
    }
    assert set(lines) == set(NODES)
    for line in lines.values():
        assert line.startswith(f"{IMAGE} (image ID {upstream.config_digest[:19]}"), line
        assert "MiB to download) from the registry cache https://node1:5443" in line, line
        assert re.search(r"Docker pulled it in [0-9.]+ s; containerd pulled it in [0-9.]+ s", line)


def test_second_run_pulls_nothing_and_changes_nothing(phase, first_pull):
    cursor = upstream_cursor()
    result, notes = phase.run()
    assert result.ok, result.artifact_dir
    assert {h: s.changed for h, s in result.hosts.items()} == {n: 0 for n in NODES}
    assert not blob_gets(upstream_requests(cursor))
    lines = [
        n.message for n in notes if n.kind == "result" and n.task == "Show what this node pulled"
    ]
    assert len(lines) == 3 and all("already present, nothing pulled" in m for m in lines)


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
    registry_only.write_text(IMAGES_PLAYBOOK.split("\n- name: Stack images on the master")[0])
    on("node1", f"systemctl stop docker-registry; rm -rf {CACHE_STORAGE}/docker")
    forget_image(phase, "node3")
    try:
        result, _ = phase.run("node1", registry_only, dlrs_registry_mode="local")
        assert result.ok, result.artifact_dir
        assert "proxy:" not in on("node1", "cat /etc/docker/registry/config.yml")
        target = images.Target(
            f"https://{phase.node_ip('node1')}:5443", str(phase.state / "pki" / "ca.crt"), "local"
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
