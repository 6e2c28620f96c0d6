"""The cluster's registry (role registry_cache on node1) is closed to strangers, on the sandbox.

After the session's `dlrs-provision cluster` run (conftest's `cluster`): every request to the
registry needs the cluster's account (anonymous reads and pushes answer 401, from a node too),
nothing can be deleted through it, it listens on node1's cluster address alone, the nodes still
pulled the stack image through it, the toolkit's CA is trusted only in Docker's and
containerd's folders of that registry (never in a node's system store), and the account's
password is private on the controller (0600) and in no run artifact. Read-only: nothing here
changes the cluster.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from e2e_support import NODES, on

from dlrs_provision import cluster_registry

pytestmark = pytest.mark.e2e

CACHE = "node1:5443"
REPOSITORY = "clearlinux/stacks-dlaas-mkl"
IMAGE_FULL = "docker.io/clearlinux/stacks-dlaas-mkl:latest"
NODE_CA = "/etc/dlrs-provision/registry-ca.crt"

# Run on a node with its python3: one request to the registry, by its name, with the CA; prints
# {"status": N, "body": "..."}. The account (when given) comes on standard input, never argv.
PROBE = r"""
import base64, json, ssl, sys, urllib.error, urllib.request
method, url = sys.argv[1], sys.argv[2]
account = sys.stdin.read().strip()
headers = {"Accept": "application/vnd.docker.distribution.manifest.v2+json, "
           "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, "
           "application/vnd.docker.distribution.manifest.list.v2+json"}
if account:
    headers["Authorization"] = "Basic " + base64.b64encode(account.encode()).decode()
data = b"" if method in ("POST", "PUT") else None
req = urllib.request.Request(url, data=data, method=method, headers=headers)
opener = urllib.request.build_opener(
    urllib.request.ProxyHandler({}),
    urllib.request.HTTPSHandler(context=ssl.create_default_context(cafile=sys.argv[3])))
try:
    with opener.open(req, timeout=30) as resp:
        out = {"status": resp.status, "body": "",
               "digest": resp.headers.get("Docker-Content-Digest", "")}
except urllib.error.HTTPError as err:
    out = {"status": err.code, "body": err.read().decode(errors="replace")[:300], "digest": ""}
print(json.dumps(out))
"""


def probe(node: str, method: str, path: str, account: str = "") -> dict:
    script = f"cat > /tmp/dlrs-probe.py <<'EOF'\n{PROBE}\nEOF\n"
    out = on(node, script + f"python3 /tmp/dlrs-probe.py {method} https://{CACHE}{path} {NODE_CA}",
             stdin=account)  # fmt: skip
    return json.loads(out.strip().splitlines()[-1])


def cluster_nodes(sandbox) -> list[str]:
    """The sandbox's nodes that the cluster run provisioned (those of its inventory)."""
    text = Path(sandbox.inventory).read_text()
    return [n for n in NODES if n in text]


@pytest.fixture(scope="module")
def account(cluster) -> str:
    secret = cluster_registry.password_path(cluster.state)
    return f"{cluster_registry.REGISTRY_USER}:{secret.read_text().strip()}"


def test_the_password_is_private_on_the_controller_and_in_no_artifact(cluster):
    secret = cluster_registry.password_path(cluster.state)
    assert secret.stat().st_mode & 0o777 == 0o600
    password = secret.read_text().strip()
    assert len(password) >= 32
    leaks = [
        str(path)
        for path in Path(cluster.state).rglob("*")
        if path.is_file() and path != secret and password.encode() in path.read_bytes()
    ]
    assert leaks == [], f"the registry's password is in {leaks}"


def test_strangers_can_neither_read_nor_push(cluster, sandbox):
    for node in ("node1", cluster_nodes(sandbox)[-1]):
        assert probe(node, "GET", "/v2/")["status"] == 401
        assert probe(node, "GET", f"/v2/{REPOSITORY}/manifests/latest")["status"] == 401
        assert probe(node, "POST", f"/v2/{REPOSITORY}/blobs/uploads/")["status"] == 401
        # a wrong password is a stranger too
        wrong = probe(node, "GET", "/v2/", f"{cluster_registry.REGISTRY_USER}:wrong")
        assert wrong["status"] == 401


def test_the_account_reads_and_deletes_are_refused(cluster, account):
    found = probe("node1", "GET", f"/v2/{REPOSITORY}/manifests/latest", account)
    assert found["status"] == 200 and found["digest"].startswith("sha256:"), found
    deleted = probe("node1", "DELETE", f"/v2/{REPOSITORY}/manifests/{found['digest']}", account)
    assert deleted["status"] == 405 and "UNSUPPORTED" in deleted["body"], deleted
    assert probe("node1", "GET", f"/v2/{REPOSITORY}/manifests/latest", account)["status"] == 200


def test_it_listens_on_the_cluster_address_alone(cluster, sandbox):
    address = sandbox.node("node1").ip
    sockets = on("node1", "ss -Htln 'sport = :5443'").split("\n")
    sockets = [line for line in sockets if line.strip()]
    assert len(sockets) == 1 and f" {address}:5443 " in f"{sockets[0]} ", sockets
    refused = on(
        "node1",
        "python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", 5443), 5)' "
        "2>&1 || true",
    )
    assert "ConnectionRefusedError" in refused, refused


def test_the_nodes_pulled_through_it_with_the_account(cluster, sandbox):
    for node in cluster_nodes(sandbox):
        names = on(node, "ctr -n k8s.io images ls -q")
        assert IMAGE_FULL in names.split(), f"{node}: {names}"
        mode = on(node, "stat -c %a /root/.docker/config.json").strip()
        assert mode == "600", f"{node}: /root/.docker/config.json is {mode}"
        auths = json.loads(on(node, "cat /root/.docker/config.json"))["auths"]
        assert CACHE in auths, f"{node}: {sorted(auths)}"


def test_the_toolkit_ca_is_trusted_only_for_the_registry(cluster, sandbox):
    ca = (Path(cluster.state) / "pki" / "ca.crt").read_text()
    body = "".join(line for line in ca.splitlines() if not line.startswith("-----"))
    for node in cluster_nodes(sandbox):
        assert on(node, f"cat /etc/docker/certs.d/{CACHE}/ca.crt").strip() == ca.strip()
        assert on(node, f"cat /etc/containerd/certs.d/{CACHE}/ca.crt").strip() == ca.strip()
        assert on(node, "ls /usr/local/share/ca-certificates/ /etc/pki/ca-trust/source/anchors/ "
                        "2>/dev/null; true").find("dlrs-registry-ca") < 0  # fmt: skip
        bundle = on(node, "cat /etc/ssl/certs/ca-certificates.crt 2>/dev/null; true")
        assert body[:64] not in bundle.replace("\n", ""), f"{node}: the CA is in the system store"
        assert on(node, "ls /etc/ca-certs/trusted 2>/dev/null | wc -l").strip() in ("", "0"), node
