#!/usr/bin/env python3
"""Bytes the upstream registry serves for N nodes: direct pulls versus pulls through the cache.

    .venv/bin/python tests/bench/registry_cache_bytes.py [--nodes 1,3,6] [--image REF]

Needs the sandbox (`dlrs-provision sandbox up`): its mirror host's registry is the upstream.
For every N, side by side in one run:

  direct        N clients pull the image from the upstream at once
  cache         the toolkit's order: one client pulls through a fresh, empty cache first (the
                master, in playbooks/images.yml), then the other N-1 at once
  cache, cold   all N at once through a fresh, empty cache (what the order above avoids)

A "client" is one pull of the image (manifest, config, every layer) by the project's registry
client, dlrs_provision/registry.py, over real HTTP: the upstream's served bytes depend on what
the cache asks the upstream for, which depends on which blobs clients ask the cache for and
when, not on how a client is written. Docker and containerd ask for the same blobs; a node that
pulls into both (as stack_images does) is two clients in the direct case, one miss or none
through the cache.

The cache is Debian's docker-registry (the same program and proxy settings as role
registry_cache writes, without TLS, which changes no byte counts): a throwaway container from
the sandbox's mirror image, on the sandbox network, published on 127.0.0.1 only, removed at the
end. The upstream's bytes are read from the upstream registry's own log: every request it answers
ends with a "response completed" line carrying the client's address, user agent and
`http.response.written`. Direct pulls are told apart by a user agent unique to the run, cache
pulls by the fresh cache container's address, so other traffic to the mirror does not count.
Sizes only, no timing claims: this machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from dlrs_harness.sandbox.paths import sandbox_dir  # noqa: E402
from dlrs_provision.registry import RegistryClient, ResolvedImage  # noqa: E402

MIRROR = "dlrs-sandbox-mirror"
NETWORK = "dlrs-sandbox"
UPSTREAM_URL = "http://mirror:5000"  # as the cache (a container on the sandbox network) sees it
CACHE_LABEL = "dlrs-provision.bench=registry-cache"
_FIELD = re.compile(r'(http\.[\w.]+)=("(?:[^"\\]|\\.)*"|\S+)')

# The settings role registry_cache writes for proxy mode (templates/config.yml.j2), minus TLS.
CACHE_CONFIG = f"""\
version: 0.1
log:
  level: info
  fields:
    service: registry
storage:
  cache:
    blobdescriptor: inmemory
  filesystem:
    rootdirectory: /var/lib/docker-registry
  delete:
    enabled: true
http:
  addr: ":5000"
proxy:
  remoteurl: "{UPSTREAM_URL}"
"""


def docker(*args: str, check: bool = True) -> str:
    proc = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=300)
    if check and proc.returncode != 0:
        raise SystemExit(f"docker {' '.join(args[:4])} failed: {proc.stderr.strip()}")
    return proc.stdout


# --------------------------------------------------------------------------- the upstream's log


@dataclass
class Served:
    requests: int = 0
    blob_gets: int = 0
    bytes: int = 0
    per_blob: dict[str, int] = field(default_factory=dict)


def journal_cursor() -> str:
    out = docker(
        "exec", MIRROR, "journalctl", "-u", "docker-registry", "-n", "0", "--show-cursor",
        "-o", "cat",
    )  # fmt: skip
    return out.strip().rsplit("-- cursor: ", 1)[-1].strip()


def served_since(cursor: str, *, client_ip: str | None = None, agent: str | None = None) -> Served:
    """What the upstream served after the cursor, to one client address or user agent."""
    last = None
    for _ in range(15):  # the journal trails the last response by a moment: wait till stable
        lines = docker(
            "exec", MIRROR, "journalctl", "-u", "docker-registry", "-o", "cat",
            f"--after-cursor={cursor}",
        ).splitlines()  # fmt: skip
        served = Served()
        for line in lines:
            if 'msg="response completed"' not in line:
                continue
            f = {k: v.strip('"') for k, v in _FIELD.findall(line)}
            if client_ip and f.get("http.request.remoteaddr", "").rsplit(":", 1)[0] != client_ip:
                continue
            if agent and f.get("http.request.useragent") != agent:
                continue
            written = int(f.get("http.response.written", "0"))
            served.requests += 1
            served.bytes += written
            uri = f.get("http.request.uri", "")
            if "/blobs/" in uri and f.get("http.request.method") == "GET" and written:
                served.blob_gets += 1
                digest = uri.rsplit("/", 1)[-1]
                served.per_blob[digest] = served.per_blob.get(digest, 0) + 1
        if last is not None and served.requests == last.requests and served.bytes == last.bytes:
            return served
        last = served
        time.sleep(1.0)
    return last or Served()


# --------------------------------------------------------------------------- clients and caches


def pull(url: str, image: str, agent: str, received: list[int]) -> None:
    client = RegistryClient(url, user_agent=agent, timeout=300)
    resolved = client.resolve(image)
    total = len(resolved.top.raw) + (
        len(resolved.image.raw) if resolved.image is not resolved.top else 0
    )
    for desc in resolved.image.blobs:
        total += client.fetch_blob(resolved.ref.repository, desc)
    received.append(total)


def pull_many(url: str, image: str, agent: str, count: int) -> list[int]:
    received: list[int] = []
    errors: list[BaseException] = []

    def one() -> None:
        try:
            pull(url, image, agent, received)
        except BaseException as exc:  # reported below, after every thread has ended
            errors.append(exc)

    threads = [threading.Thread(target=one) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise SystemExit(f"a pull failed: {errors[0]}")
    return received


class Cache:
    """A fresh, empty pull-through cache in a throwaway container."""

    def __init__(self, image: str, config: Path):
        self.name = f"dlrs-bench-cache-{uuid.uuid4().hex[:8]}"
        docker(
            "run", "-d", "--rm", "--name", self.name, "--label", CACHE_LABEL,
            "--network", NETWORK, "-p", "127.0.0.1::5000",
            "-v", f"{config}:/etc/docker/registry/config.yml:ro",
            image, "/usr/bin/docker-registry", "serve", "/etc/docker/registry/config.yml",
        )  # fmt: skip
        address = f"{{{{(index .NetworkSettings.Networks {json.dumps(NETWORK)}).IPAddress}}}}"
        self.ip = docker("inspect", "-f", address, self.name).strip()
        port = docker("port", self.name, "5000/tcp").split(":")[-1].strip()
        self.url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                RegistryClient(self.url, retries=0, timeout=2).ping()
                break
            except Exception:
                if time.monotonic() > deadline:
                    self.close()
                    raise SystemExit(
                        f"the cache {self.name} does not answer on {self.url}"
                    ) from None
                time.sleep(0.3)

    def close(self) -> None:
        docker("rm", "-f", self.name, check=False)


# --------------------------------------------------------------------------- the run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", default="1,3,6", help="node counts (default 1,3,6)")
    parser.add_argument("--image", default="clearlinux/stacks-dlaas-mkl:latest")
    args = parser.parse_args(argv)
    counts = [int(n) for n in args.nodes.split(",")]

    state_file = sandbox_dir(ROOT) / "sandbox.json"
    if not state_file.is_file():
        raise SystemExit("no sandbox: run `dlrs-provision sandbox up` first")
    state = json.loads(state_file.read_text())
    upstream = f"http://127.0.0.1:{state['mirror']['ports']['registry']}"
    mirror_image = state["mirror"]["image"]
    resolved: ResolvedImage = RegistryClient(upstream).resolve(args.image)
    size = resolved.image.download_size
    print(
        f"image {args.image}: {len(resolved.image.blobs)} blobs, {size:,} bytes to download "
        f"(upstream: the sandbox mirror's registry, {upstream})"
    )
    run_id = uuid.uuid4().hex[:8]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "config.yml"
        config.write_text(CACHE_CONFIG)
        config.chmod(0o644)
        for n in counts:
            # direct
            agent = f"dlrs-provision-bench/{run_id}-direct-{n}"
            cursor = journal_cursor()
            received = pull_many(upstream, args.image, agent, n)
            direct = served_since(cursor, agent=agent)
            if direct.bytes != sum(received):
                print(
                    f"  note: N={n} direct: the upstream logged {direct.bytes:,} bytes, the "
                    f"clients received {sum(received):,}"
                )
            # through a fresh cache, one first (the master), then the rest at once
            cache = Cache(mirror_image, config)
            try:
                cursor = journal_cursor()
                pull_many(cache.url, args.image, f"dlrs-provision-bench/{run_id}-first", 1)
                if n > 1:
                    pull_many(cache.url, args.image, f"dlrs-provision-bench/{run_id}-rest", n - 1)
                ordered = served_since(cursor, client_ip=cache.ip)
            finally:
                cache.close()
            # through a fresh cache, all at once, cold
            cache = Cache(mirror_image, config)
            try:
                cursor = journal_cursor()
                pull_many(cache.url, args.image, f"dlrs-provision-bench/{run_id}-cold", n)
                cold = served_since(cursor, client_ip=cache.ip)
            finally:
                cache.close()
            rows.append((n, direct, ordered, cold))
            print(
                f"  N={n}: direct {direct.bytes:,}  cache {ordered.bytes:,}  "
                f"cache, cold {cold.bytes:,}",
                flush=True,
            )

    print()
    head = (
        f"{'nodes':>5} | {'direct: upstream bytes':>24} | {'cache (one first)':>20} | "
        f"{'cache, all at once cold':>24} | {'direct / cache':>14} | blob fetches d/c/cold"
    )
    print(head)
    print("-" * len(head))
    for n, direct, ordered, cold in rows:
        ratio = direct.bytes / ordered.bytes if ordered.bytes else float("inf")
        print(
            f"{n:>5} | {direct.bytes:>24,} | {ordered.bytes:>20,} | {cold.bytes:>24,} | "
            f"{ratio:>13.2f}x | {direct.blob_gets}/{ordered.blob_gets}/{cold.blob_gets}"
        )
    print()
    print(
        f"image download size {size:,} bytes. Upstream bytes through the cache do not grow with "
        "N when one node pulls first; Debian's docker-registry 2.8 fetches each blob it misses "
        "twice (once for its storage, once streamed to the asking client), and once more for "
        "every request that arrives while a fetch is in flight (the cold column)."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
