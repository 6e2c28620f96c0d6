"""Tests of the Kubernetes stand-ins (tests/standins/k8s/) and of the apt repository that the
sandbox's mirror host serves them from (tests/harness/dlrs_harness/sandbox/k8s_repo.py).

The stand-ins run as subprocesses against temporary roots ($K8S_STAND_IN_ROOT), one per "host";
the API endpoint stand-in listens on 127.0.0.1 only. No other traffic, no root, no containers.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "tests" / "standins" / "k8s"
SCRIPTS = {
    name: K8S / f"{name}-stand-in" for name in ("kubeadm", "kubectl", "kubelet", "kube-apiserver")
}
PYTHON = os.environ.get("K8S_STAND_IN_TEST_PYTHON") or sys.executable
sys.path.insert(0, str(K8S))
sys.path.insert(0, str(K8S.parent))
from k8s_stand_in import imagepull  # noqa: E402
from manifest_registry import FakeRegistry  # noqa: E402

CRD_NAME = "kubeflow.org_tfjobs.v1.9.0.yaml"
CRD_PLACES = [
    os.environ.get("DLRS_TFJOB_CRD", ""),
    str(REPO / "tests" / "data" / "kubeflow" / CRD_NAME),
]
CRI = "unix:///var/run/containerd/containerd.sock"
TOKEN = "abcdef.0123456789abcdef"
HASH_RE = r"sha256:[0-9a-f]{64}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def crd_path() -> Path | None:
    return next((Path(p) for p in CRD_PLACES if p and Path(p).is_file()), None)


class Host:
    """One test host: a root directory with a listening CRI socket and 4 online CPUs."""

    def __init__(self, base: Path, name: str) -> None:
        self.name = name
        self.root = base / name
        sock_path = self.root / "var/run/containerd/containerd.sock"
        sock_path.parent.mkdir(parents=True)
        self.cri = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.cri.bind(str(sock_path))
        self.cri.listen(8)
        cpus = self.root / "sys/devices/system/cpu/online"
        cpus.parent.mkdir(parents=True)
        cpus.write_text("0-3\n")

    def run(
        self, tool: str, *args: str, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "K8S_STAND_IN_ROOT": str(self.root), "K8S_STAND_IN_NO_SYSTEMD": "1"}
        env.pop("KUBECONFIG", None)
        return subprocess.run(
            [PYTHON, str(SCRIPTS[tool]), *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )

    def ok(
        self, tool: str, *args: str, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        proc = self.run(tool, *args, stdin=stdin)
        assert proc.returncode == 0, (
            f"{tool} {args}: rc {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
        )
        return proc

    def file(self, path: str) -> Path:
        return self.root / path.lstrip("/")

    def kubelet(self, *extra: str) -> subprocess.CompletedProcess[str]:
        """The kubelet as kubelet.service + 10-kubeadm.conf start it, once (--runonce)."""
        env_file = self.file("/var/lib/kubelet/kubeadm-flags.env").read_text()
        kubeadm_args = re.search(r'KUBELET_KUBEADM_ARGS="(.*)"', env_file).group(1).split()  # type: ignore[union-attr]
        return self.run(
            "kubelet",
            "--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf",
            "--kubeconfig=/etc/kubernetes/kubelet.conf",
            "--config=/var/lib/kubelet/config.yaml",
            *kubeadm_args,
            "--node-ip=127.0.0.1",
            "--runonce",
            *extra,
        )

    def close(self) -> None:
        self.cri.close()


def init_config(port: int, algorithm: str = "RSA-2048", repository: str = "") -> str:
    image_repository = f"imageRepository: {repository}\n" if repository else ""
    return f"""\
apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
bootstrapTokens:
- token: {TOKEN}
  ttl: 1h0m0s
localAPIEndpoint:
  advertiseAddress: 127.0.0.1
  bindPort: {port}
nodeRegistration:
  name: master
  criSocket: {CRI}
---
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
kubernetesVersion: v1.32.3
{image_repository}encryptionAlgorithm: {algorithm}
networking:
  podSubnet: 10.244.0.0/16
  serviceSubnet: 10.96.0.0/12
apiServer:
  extraArgs:
  - name: bind-address
    value: 127.0.0.1
---
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: systemd
cpuManagerPolicy: static
reservedSystemCPUs: "0"
topologyManagerPolicy: single-numa-node
topologyManagerScope: pod
"""


class Cluster:
    def __init__(self, base: Path, algorithm: str = "RSA-2048") -> None:
        self.base = base
        self.port = free_port()
        self.master = Host(base, "master")
        self.hosts = [self.master]
        # the control-plane images, in a registry on 127.0.0.1 (kubeadm's ImagePull check)
        self.registry = FakeRegistry()
        for image in imagepull.required_images(
            {"imageRepository": "r", "etcd": {"local": {}}}, "v1.32.3"
        ):
            self.registry.add(image)
        self.registry.trust_from(self.master.root)
        self.master.file("/kubeadm.yaml").write_text(
            init_config(self.port, algorithm, self.registry.host)
        )
        self.init = self.master.run("kubeadm", "init", "--config", "/kubeadm.yaml")
        assert self.init.returncode == 0, self.init.stdout + self.init.stderr
        self.admin = str(self.master.file("/etc/kubernetes/admin.conf"))
        self.worker: Host = self.master
        self.join: subprocess.CompletedProcess[str] | None = None

    def host(self, name: str) -> Host:
        h = Host(self.base, name)
        self.hosts.append(h)
        return h

    def kubectl(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return self.master.run("kubectl", "--kubeconfig", self.admin, *args, stdin=stdin)

    def join_command(self) -> list[str]:
        proc = self.master.ok("kubeadm", "token", "create", "--print-join-command")
        return proc.stdout.split()[1:]

    def ca(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(
            self.master.file("/etc/kubernetes/pki/ca.crt").read_bytes()
        )

    def close(self) -> None:
        pid_file = self.master.file("/run/kube-apiserver-stand-in.pid")
        if pid_file.is_file():
            self.master.run("kubeadm", "reset", "-f")
        if pid_file.is_file():  # reset failed: stop the API endpoint stand-in ourselves
            with contextlib.suppress(OSError, ValueError):
                os.kill(int(pid_file.read_text()), signal.SIGTERM)
        for h in self.hosts:
            h.close()
        self.registry.close()


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    """A master and one worker joined with the join command `kubeadm init` printed."""
    base = Path(tempfile.mkdtemp(prefix="k8s-", dir="/tmp"))  # short: unix socket paths
    c = Cluster(base)
    try:
        printed = c.init.stdout.rsplit("kubeadm join ", 1)[1].replace("\\\n", " ")
        c.worker = c.host("worker")
        c.join = c.worker.run("kubeadm", "join", *printed.split(), "--node-name", "worker")
        yield c
    finally:
        c.close()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def scratch() -> Iterator[Path]:
    base = Path(tempfile.mkdtemp(prefix="k8s-", dir="/tmp"))
    yield base
    shutil.rmtree(base, ignore_errors=True)


def spki_pin(cert: x509.Certificate) -> str:
    der = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return "sha256:" + hashlib.sha256(der).hexdigest()


def kubeconfig_client_cert(path: Path) -> x509.Certificate:
    conf = yaml.safe_load(path.read_text())
    user = conf["users"][0]["user"]
    return x509.load_pem_x509_certificate(base64.b64decode(user["client-certificate-data"]))


def join_config(host: Host, port: int, token: str, pin: str, timeout: str = "1s") -> str:
    host.file("/join.yaml").write_text(
        f"""\
apiVersion: kubeadm.k8s.io/v1beta4
kind: JoinConfiguration
discovery:
  bootstrapToken:
    apiServerEndpoint: 127.0.0.1:{port}
    token: {token}
    caCertHashes: ["{pin}"]
nodeRegistration:
  name: {host.name}
  criSocket: {CRI}
timeouts:
  discovery: {timeout}
"""
    )
    return "/join.yaml"


def joined(cluster: Cluster, name: str) -> Host:
    host = cluster.host(name)
    host.ok("kubeadm", *cluster.join_command(), "--node-name", name)
    return host


# --------------------------------------------------------------------------------------------
# kubeadm init


def test_init_writes_real_pki_and_kubeconfigs(cluster: Cluster) -> None:
    m = cluster.master
    ca = cluster.ca()
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    api = x509.load_pem_x509_certificate(m.file("/etc/kubernetes/pki/apiserver.crt").read_bytes())
    sans = api.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "kubernetes.default.svc.cluster.local" in sans.get_values_for_type(x509.DNSName)
    assert {str(i) for i in sans.get_values_for_type(x509.IPAddress)} >= {"10.96.0.1", "127.0.0.1"}
    assert api.issuer == ca.subject
    for name in (
        "ca.key",
        "apiserver.key",
        "sa.key",
        "sa.pub",
        "front-proxy-ca.crt",
        "etcd/ca.crt",
    ):
        assert m.file(f"/etc/kubernetes/pki/{name}").is_file(), name
    conf = yaml.safe_load(m.file("/etc/kubernetes/admin.conf").read_text())
    cluster_entry = conf["clusters"][0]["cluster"]
    assert cluster_entry["server"] == f"https://127.0.0.1:{cluster.port}"
    assert (
        base64.b64decode(cluster_entry["certificate-authority-data"])
        == m.file("/etc/kubernetes/pki/ca.crt").read_bytes()
    )
    admin = kubeconfig_client_cert(m.file("/etc/kubernetes/admin.conf"))
    assert admin.issuer == ca.subject
    assert admin.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == (
        "kubeadm:cluster-admins"
    )
    eku = admin.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.CLIENT_AUTH in eku
    for name in ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd"):
        assert m.file(f"/etc/kubernetes/manifests/{name}.yaml").is_file()


def test_init_writes_the_kubelet_configuration_and_flags(cluster: Cluster) -> None:
    config = yaml.safe_load(cluster.master.file("/var/lib/kubelet/config.yaml").read_text())
    assert config["kind"] == "KubeletConfiguration"
    assert config["cpuManagerPolicy"] == "static"
    assert config["reservedSystemCPUs"] == "0"
    assert config["cgroupDriver"] == "systemd"
    assert config["clusterDNS"] == ["10.96.0.10"]
    assert config["staticPodPath"] == "/etc/kubernetes/manifests"
    flags = cluster.master.file("/var/lib/kubelet/kubeadm-flags.env").read_text()
    assert flags.startswith('KUBELET_KUBEADM_ARGS="')
    assert f"--container-runtime-endpoint={CRI}" in flags


def test_init_prints_the_join_command_in_kubeadms_format(cluster: Cluster) -> None:
    out = cluster.init.stdout
    expected = (
        f"kubeadm join 127.0.0.1:{cluster.port} --token {TOKEN} \\\n"
        f"\t--discovery-token-ca-cert-hash {spki_pin(cluster.ca())} \n"
    )
    assert out.endswith(expected)
    assert "Your Kubernetes control-plane has initialized successfully!" in out
    assert "stand-in" in cluster.init.stderr


def test_api_endpoint_serves_tls_with_the_cluster_ca_and_marks_responses(cluster: Cluster) -> None:
    ctx = ssl.create_default_context(cafile=str(cluster.master.file("/etc/kubernetes/pki/ca.crt")))
    conn = http.client.HTTPSConnection("127.0.0.1", cluster.port, context=ctx, timeout=10)
    try:
        conn.request("GET", "/api/v1/namespaces/kube-public/configmaps/cluster-info")
        resp = conn.getresponse()
        body = json.loads(resp.read())
        assert resp.status == 200  # anonymous, like the real cluster-info
        assert resp.getheader("X-Stand-In") == "dlrs-provision"
        assert f"jws-kubeconfig-{TOKEN.split('.')[0]}" in body["data"]
        conn.request("GET", "/api/v1/nodes")
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 403  # anonymous may not list nodes
    finally:
        conn.close()


def test_init_refuses_a_second_time_in_kubeadms_words(cluster: Cluster) -> None:
    proc = cluster.master.run("kubeadm", "init", "--config", "/kubeadm.yaml")
    assert proc.returncode == 1
    assert "error execution phase preflight: [preflight] Some fatal errors occurred:" in proc.stderr
    assert (
        "[ERROR FileAvailable--etc-kubernetes-manifests-kube-apiserver.yaml]: "
        "/etc/kubernetes/manifests/kube-apiserver.yaml already exists"
    ) in proc.stderr
    assert f"[ERROR Port-{cluster.port}]: Port {cluster.port} is in use" in proc.stderr
    assert "--ignore-preflight-errors=..." in proc.stderr


@pytest.mark.parametrize(
    ("config", "rc", "message"),
    [
        (
            "apiVersion: kubeadm.k8s.io/v1beta2\nkind: ClusterConfiguration\n",
            1,
            'your configuration file uses an old API spec: "kubeadm.k8s.io/v1beta2"',
        ),
        (
            "apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfig\n",
            1,
            "no InitConfiguration or ClusterConfiguration kind was found in the configuration file",
        ),
        (
            "kind: ClusterConfiguration\n",
            1,
            "kind and apiVersion is mandatory information that must be specified",
        ),
        (
            "apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\n"
            "networking:\n  podSubnet: 10.244.0.0/33\n",
            3,
            'networking.podSubnet: Invalid value: "10.244.0.0/33": couldn\'t parse subnet',
        ),
        (
            "apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\n"
            "nodeRegistration:\n  criSocket: tcp://127.0.0.1:1234\n",
            3,
            'nodeRegistration.criSocket: Invalid value: "tcp://127.0.0.1:1234": URL scheme "tcp" '
            "is not supported",
        ),
        (
            "apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\n"
            "localAPIEndpoint:\n  bindPort: '6443'\n",
            1,
            "cannot unmarshal string into Go struct field "
            "InitConfiguration.localAPIEndpoint.bindPort",
        ),
    ],
)
def test_init_rejects_bad_configuration_as_kubeadm(
    scratch: Path, config: str, rc: int, message: str
) -> None:
    host = Host(scratch, "bad")
    try:
        host.file("/kubeadm.yaml").write_text(config)
        proc = host.run("kubeadm", "init", "--config", "/kubeadm.yaml")
        assert proc.returncode == rc, proc.stderr
        assert message in proc.stderr
        assert "To see the stack trace of this error execute with --v=5 or higher" in proc.stderr
        assert not host.file("/etc/kubernetes/pki/ca.crt").exists()
    finally:
        host.close()


def test_init_warns_about_unknown_kinds_and_fields_as_kubeadm(scratch: Path) -> None:
    host = Host(scratch, "warn")
    try:
        host.file("/kubeadm.yaml").write_text(
            "apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\nnetworkng: {}\n"
            "networking:\n  serviceSubnet: bad\n---\n"
            "apiVersion: example.com/v1\nkind: Something\n"
        )
        proc = host.run("kubeadm", "init", "--config", "/kubeadm.yaml")
        assert proc.returncode == 3
        assert 'strict decoding error: unknown field "networkng"' in proc.stderr
        assert (
            "Ignored configuration document with GroupVersionKind example.com/v1, Kind=Something"
            in (proc.stderr)
        )
    finally:
        host.close()


# --------------------------------------------------------------------------------------------
# tokens and joins


def test_token_create_prints_a_one_line_join_command(cluster: Cluster) -> None:
    proc = cluster.master.ok("kubeadm", "token", "create", "--print-join-command")
    pin = spki_pin(cluster.ca())
    assert re.fullmatch(
        rf"kubeadm join 127\.0\.0\.1:{cluster.port} --token [a-z0-9]{{6}}\.[a-z0-9]{{16}} "
        rf"--discovery-token-ca-cert-hash {pin} \n",
        proc.stdout,
    ), proc.stdout
    listed = cluster.master.ok("kubeadm", "token", "list").stdout
    assert proc.stdout.split()[4] in listed


def test_join_with_the_printed_command_registers_the_node(cluster: Cluster) -> None:
    worker = cluster.worker
    assert cluster.join is not None
    assert cluster.join.returncode == 0, cluster.join.stderr
    assert "This node has joined the cluster:" in cluster.join.stdout
    ca = cluster.ca()
    assert (
        worker.file("/etc/kubernetes/pki/ca.crt").read_bytes()
        == cluster.master.file("/etc/kubernetes/pki/ca.crt").read_bytes()
    )
    assert not worker.file("/etc/kubernetes/bootstrap-kubelet.conf").exists()
    conf = yaml.safe_load(worker.file("/etc/kubernetes/kubelet.conf").read_text())
    assert conf["clusters"][0]["cluster"]["server"] == f"https://127.0.0.1:{cluster.port}"
    pem = worker.file("/var/lib/kubelet/pki/kubelet-client-current.pem").read_bytes()
    cert = x509.load_pem_x509_certificate(pem)
    assert cert.issuer == ca.subject
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "system:node:worker"
    # the cluster's KubeletConfiguration (kube-system/kubelet-config) reached the worker
    config = yaml.safe_load(worker.file("/var/lib/kubelet/config.yaml").read_text())
    assert config["cpuManagerPolicy"] == "static"
    nodes = json.loads(cluster.kubectl("get", "nodes", "-o", "json").stdout)
    assert {n["metadata"]["name"] for n in nodes["items"]} >= {"master", "worker"}


def test_join_refuses_a_node_that_joined_already(cluster: Cluster) -> None:
    again = cluster.worker.run("kubeadm", *cluster.join_command(), "--node-name", "worker")
    assert again.returncode == 1
    assert (
        "[ERROR FileAvailable--etc-kubernetes-kubelet.conf]: /etc/kubernetes/kubelet.conf "
        "already exists" in again.stderr
    )


def test_join_with_a_wrong_hash_fails_on_the_public_key_pin(cluster: Cluster) -> None:
    host = cluster.host("intruder")
    args = cluster.join_command()
    wrong = "sha256:" + "0" * 64
    args[args.index("--discovery-token-ca-cert-hash") + 1] = wrong
    proc = host.run("kubeadm", *args, "--node-name", "intruder")
    assert proc.returncode == 1
    assert (
        "error execution phase preflight: couldn't validate the identity of the API Server: "
        "cluster CA found in cluster-info ConfigMap is invalid: none of the public keys "
        f'"{spki_pin(cluster.ca())}" are pinned'
    ) in proc.stderr
    assert not host.file("/etc/kubernetes/kubelet.conf").exists()


def test_join_with_an_unknown_token_fails(cluster: Cluster) -> None:
    host = cluster.host("stranger")
    path = join_config(host, cluster.port, "zzzzzz.0123456789abcdef", spki_pin(cluster.ca()))
    proc = host.run("kubeadm", "join", "--config", path)
    assert proc.returncode == 1
    assert (
        'could not find a JWS signature in the cluster-info ConfigMap for token ID "zzzzzz"'
        in proc.stderr
    )
    assert not host.file("/etc/kubernetes/kubelet.conf").exists()


def test_join_with_an_expired_token_fails(cluster: Cluster) -> None:
    token = cluster.master.ok("kubeadm", "token", "create", "--ttl", "1s").stdout.strip()
    time.sleep(1.2)
    host = cluster.host("late")
    path = join_config(host, cluster.port, token, spki_pin(cluster.ca()))
    proc = host.run("kubeadm", "join", "--config", path)
    assert proc.returncode == 1
    assert f'for token ID "{token.split(".")[0]}"' in proc.stderr
    assert token.split(".")[0] not in cluster.master.ok("kubeadm", "token", "list").stdout


def test_join_without_a_ca_pin_is_refused_as_unsafe(cluster: Cluster) -> None:
    host = cluster.host("unpinned")
    proc = host.run("kubeadm", "join", f"127.0.0.1:{cluster.port}", "--token", TOKEN)
    assert proc.returncode == 3
    assert "using token-based discovery without caCertHashes can be unsafe" in proc.stderr


# --------------------------------------------------------------------------------------------
# kubelet and nodes


def test_nodes_turn_ready_when_their_kubelets_report(cluster: Cluster) -> None:
    worker = joined(cluster, "ready")
    table = cluster.kubectl("get", "nodes").stdout
    assert re.search(r"^ready\s+NotReady\s", table, re.M), table
    for host in (cluster.master, worker):
        proc = host.kubelet()
        assert proc.returncode == 0, proc.stderr
    table = cluster.kubectl("get", "nodes").stdout
    assert table.splitlines()[0].split() == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    assert re.search(r"^master\s+Ready\s+control-plane\s+\S+\s+v1\.32\.3$", table, re.M), table
    assert re.search(r"^ready\s+Ready\s+<none>\s+\S+\s+v1\.32\.3$", table, re.M), table
    nodes = json.loads(cluster.kubectl("get", "nodes", "-o", "json").stdout)
    assert nodes["kind"] == "List"
    by_name = {n["metadata"]["name"]: n for n in nodes["items"]}
    node = by_name["ready"]
    assert node["kind"] == "Node"
    ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "True"
    notes = node["metadata"]["annotations"]
    prefix = "kubelet.stand-in.dlrs-provision.io/"
    assert notes[prefix + "cpu-manager-policy"] == "static"
    assert notes[prefix + "reserved-system-cpus"] == "0"
    assert notes[prefix + "topology-manager-policy"] == "single-numa-node"
    assert notes[prefix + "topology-manager-scope"] == "pod"
    assert notes[prefix + "cgroup-driver"] == "systemd"
    assert node["status"]["capacity"]["cpu"] == "4"
    assert node["status"]["allocatable"]["cpu"] == "3"
    assert node["spec"]["podCIDR"].startswith("10.244.")
    assert by_name["master"]["spec"]["taints"] == [
        {"effect": "NoSchedule", "key": "node-role.kubernetes.io/control-plane"}
    ]
    status = json.loads(worker.file("/var/lib/kubelet/stand-in-status.json").read_text())
    assert status["enforced"]["exclusiveCPUs"] == "1-3"
    state = json.loads(worker.file("/var/lib/kubelet/cpu_manager_state").read_text())
    assert state["policyName"] == "static"
    waited = cluster.kubectl("wait", "--for=condition=Ready", "node/ready", "--timeout=5s")
    assert waited.returncode == 0
    assert waited.stdout == "node/ready condition met\n"


def test_kubelet_refuses_a_cpu_manager_checkpoint_of_another_policy(cluster: Cluster) -> None:
    worker = cluster.worker
    state = worker.file("/var/lib/kubelet/cpu_manager_state")
    state.write_text('{"policyName":"none","defaultCpuSet":"","checksum":1}')
    proc = worker.kubelet()
    assert proc.returncode != 0
    assert (
        'configured policy \\"static\\" differs from state checkpoint policy \\"none\\", please '
        "drain this node and delete the CPU manager checkpoint file" in proc.stderr
    )
    status = json.loads(worker.file("/var/lib/kubelet/stand-in-status.json").read_text())
    assert status["state"] == "failed"
    state.unlink()  # what a role must do when it changes the policy
    proc = worker.kubelet()
    assert proc.returncode == 0, proc.stderr
    assert json.loads(state.read_text())["policyName"] == "static"


def test_kubelet_needs_a_reservation_for_the_static_policy(cluster: Cluster) -> None:
    worker = cluster.worker
    config = yaml.safe_load(worker.file("/var/lib/kubelet/config.yaml").read_text())
    config.pop("reservedSystemCPUs")
    worker.file("/var/lib/kubelet/unreserved.yaml").write_text(yaml.safe_dump(config))
    proc = worker.kubelet("--config=/var/lib/kubelet/unreserved.yaml")
    assert proc.returncode != 0
    assert "unable to determine reserved CPU resources for static policy" in proc.stderr


def test_label_node_follows_kubectl(cluster: Cluster) -> None:
    first = cluster.kubectl("label", "node", "worker", "dlrs.example/role=benchmark")
    assert first.returncode == 0
    assert first.stdout == "node/worker labeled\n"
    clash = cluster.kubectl("label", "node", "worker", "dlrs.example/role=other")
    assert clash.returncode == 1
    assert "'dlrs.example/role' already has a value (benchmark), and --overwrite is false" in (
        clash.stderr
    )
    moved = cluster.kubectl("label", "node/worker", "dlrs.example/role=other", "--overwrite")
    assert moved.stdout == "node/worker labeled\n"
    node = json.loads(cluster.kubectl("get", "node", "worker", "-o", "json").stdout)
    assert node["metadata"]["labels"]["dlrs.example/role"] == "other"
    gone = cluster.kubectl("get", "node", "nosuchnode")
    assert gone.returncode == 1
    assert gone.stderr.strip() == 'Error from server (NotFound): nodes "nosuchnode" not found'


# --------------------------------------------------------------------------------------------
# kubectl apply and validation


def test_apply_validates_tfjobs_against_the_crd(cluster: Cluster) -> None:
    crd = crd_path()
    if crd is None:
        pytest.skip(f"the reference {CRD_NAME} is not available")
    shutil.copyfile(crd, cluster.master.file("/crd.yaml"))
    created = cluster.kubectl("apply", "-f", "/crd.yaml")
    assert (
        created.stdout
        == "customresourcedefinition.apiextensions.k8s.io/tfjobs.kubeflow.org created\n"
    )
    applied = cluster.kubectl("apply", "--server-side", "-f", "/crd.yaml")
    assert applied.stdout == (
        "customresourcedefinition.apiextensions.k8s.io/tfjobs.kubeflow.org serverside-applied\n"
    )
    waited = cluster.kubectl("wait", "--for=condition=Established", "crd/tfjobs.kubeflow.org")
    assert (
        waited.stdout
        == "customresourcedefinition.apiextensions.k8s.io/tfjobs.kubeflow.org condition met\n"
    )

    tfjob = {
        "apiVersion": "kubeflow.org/v1",
        "kind": "TFJob",
        "metadata": {"name": "resnet50", "namespace": "default"},
        "spec": {
            "tfReplicaSpecs": {
                "PS": {
                    "replicas": 1,
                    "template": {"spec": {"containers": [{"name": "tensorflow", "image": "i"}]}},
                },
                "Worker": {
                    "replicas": 2,
                    "template": {
                        "spec": {
                            "containers": [
                                {
                                    "name": "tensorflow",
                                    "image": "i",
                                    "resources": {"limits": {"cpu": "4"}},
                                }
                            ]
                        }
                    },
                },
            }
        },
    }
    good = cluster.kubectl("apply", "-f", "-", stdin=yaml.safe_dump(tfjob))
    assert good.returncode == 0, good.stderr
    assert good.stdout == "tfjob.kubeflow.org/resnet50 created\n"
    again = cluster.kubectl("apply", "-f", "-", stdin=yaml.safe_dump(tfjob))
    assert again.stdout == "tfjob.kubeflow.org/resnet50 unchanged\n"

    bad = json.loads(json.dumps(tfjob))
    bad["metadata"]["name"] = "bad"
    bad["spec"]["tfReplicaSpecs"]["Worker"]["replicas"] = "two"
    rejected = cluster.kubectl("apply", "-f", "-", stdin=yaml.safe_dump(bad))
    assert rejected.returncode == 1
    assert (
        'Error from server (Invalid): error when creating "STDIN": TFJob.kubeflow.org "bad" '
        "is invalid: "
        'spec.tfReplicaSpecs.Worker.replicas: Invalid value: "string": '
        "spec.tfReplicaSpecs.Worker.replicas "
        'in body must be of type integer: "string"'
    ) in rejected.stderr

    unknown = json.loads(json.dumps(tfjob))
    unknown["metadata"]["name"] = "typo"
    unknown["spec"]["tfReplicaSpec"] = {}
    refused = cluster.kubectl("apply", "-f", "-", stdin=yaml.safe_dump(unknown))
    assert refused.returncode == 1
    assert 'strict decoding error: unknown field "spec.tfReplicaSpec"' in refused.stderr

    listed = cluster.kubectl("get", "tfjobs", "-o", "name")
    assert listed.stdout == "tfjob.kubeflow.org/resnet50\n"
    fetched = json.loads(cluster.kubectl("get", "tfjob", "resnet50", "-o", "json").stdout)
    assert fetched["spec"]["tfReplicaSpecs"]["Worker"]["replicas"] == 2


def test_apply_validates_core_kinds_with_kubernetes_validate_schemas(cluster: Cluster) -> None:
    pytest.importorskip("kubernetes_validate", reason="kubernetes-validate (a dev dependency)")
    manifest = """\
apiVersion: v1
kind: Namespace
metadata:
  name: dlrs
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: dlrs
data:
  intra: "32"
"""
    proc = cluster.kubectl("apply", "-f", "-", stdin=manifest)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "namespace/dlrs created\nconfigmap/settings created\n"
    deployment = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: dlrs}
spec:
  replicas: two
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: nginx}]
"""
    bad = cluster.kubectl("apply", "-f", "-", stdin=deployment)
    assert bad.returncode == 1
    assert 'Deployment in version "v1" cannot be handled as a Deployment' in bad.stderr
    assert "spec.replicas" in bad.stderr
    nameless = cluster.kubectl(
        "apply",
        "-f",
        "-",
        stdin=deployment.replace("replicas: two", "replicas: 2").replace(
            "name: web, image", "image"
        ),
    )
    assert nameless.returncode == 1
    assert "spec.template.spec.containers[0].name: Required value" in nameless.stderr
    orphan = cluster.kubectl(
        "apply", "-f", "-", stdin="apiVersion: example.com/v1\nkind: Gadget\nmetadata: {name: g}\n"
    )
    assert orphan.returncode == 1
    assert 'no matches for kind "Gadget" in version "example.com/v1"' in orphan.stderr


# --------------------------------------------------------------------------------------------
# versions and what is not implemented


def test_versions_and_unimplemented_commands_say_stand_in(cluster: Cluster) -> None:
    m = cluster.master
    short = m.ok("kubeadm", "version", "-o", "short")
    assert short.stdout == "v1.32.3\n"
    assert "stand-in" in short.stderr
    client = json.loads(m.ok("kubectl", "version", "--client", "-o", "json").stdout)
    assert client["clientVersion"]["gitVersion"] == "v1.32.3"
    assert "stand-in" in client["clientVersion"]["goVersion"]
    assert m.ok("kubelet", "--version").stdout == "Kubernetes v1.32.3\n"
    for tool, args in (
        ("kubectl", ["--kubeconfig", cluster.admin, "exec", "x"]),
        ("kubeadm", ["certs", "renew", "all"]),
        ("kubeadm", ["upgrade", "diff"]),
    ):
        proc = m.run(tool, *args)
        assert proc.returncode == 1
        assert "stand-in does not implement" in proc.stderr


# --------------------------------------------------------------------------------------------
# the apt repository


def _gpg(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["gpg", "--homedir", str(home), "--batch", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_k8s_repo_builds_signed_repositories_of_stand_in_packages(tmp_path: Path) -> None:
    for tool in ("dpkg-deb", "gpg"):
        if not shutil.which(tool):
            pytest.skip(f"{tool} is not installed")
    pytest.importorskip("kubernetes_validate", reason="kubernetes-validate (a dev dependency)")
    from dlrs_harness.sandbox import k8s_repo

    out = tmp_path / "k8s"
    repos = k8s_repo.build_k8s_repo(REPO, out, echo=lambda _: None)  # key cached in .cache/k8s-repo
    assert [r.relative_to(out).as_posix() for r in repos] == [
        "core:/stable:/v1.30/deb",
        "core:/stable:/v1.31/deb",
        "core:/stable:/v1.32/deb",
    ]
    repo = out / "core:/stable:/v1.32/deb"

    # the signatures verify with the exported Release.key, and nothing else is needed
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    assert _gpg(home, "--import", str(repo / "Release.key")).returncode == 0
    assert _gpg(home, "--verify", str(repo / "InRelease")).returncode == 0
    assert _gpg(home, "--verify", str(repo / "Release.gpg"), str(repo / "Release")).returncode == 0
    tampered = tmp_path / "Release"
    tampered.write_text((repo / "Release").read_text().replace("v1.32", "v1.99"))
    assert _gpg(home, "--verify", str(repo / "Release.gpg"), str(tampered)).returncode != 0

    # Release lists Packages and Packages.gz with their real hashes and sizes
    release = (repo / "Release").read_text()
    for name in ("Packages", "Packages.gz"):
        data = (repo / name).read_bytes()
        assert re.search(
            rf"^ {hashlib.sha256(data).hexdigest()} +{len(data)} {name}$", release, re.M
        )
    assert "Date: " in release

    # Packages describes every deb as it is, with the versions a role can pin
    stanzas = [s for s in (repo / "Packages").read_text().split("\n\n") if s.strip()]
    versions = set()
    depends: dict[str, str] = {}
    for stanza in stanzas:
        fields = dict(re.findall(r"^([A-Za-z0-9-]+): (.*)$", stanza, re.M))
        deb = repo / fields["Filename"]
        data = deb.read_bytes()
        assert int(fields["Size"]) == len(data)
        assert fields["SHA256"] == hashlib.sha256(data).hexdigest()
        assert "stand-in" in fields["Description"]
        versions.add((fields["Package"], fields["Version"]))
        info = subprocess.run(
            ["dpkg-deb", "-I", str(deb)], capture_output=True, text=True, check=True
        ).stdout
        assert f"Package: {fields['Package']}" in info
        listing = subprocess.run(
            ["dpkg-deb", "-c", str(deb)], capture_output=True, text=True, check=True
        ).stdout
        if fields["Package"] in ("kubeadm", "kubelet", "kubectl"):
            assert f"./usr/bin/{fields['Package']} -> " in listing
        else:  # the companions install no program
            assert "./usr/bin/" not in listing
        assert f"./usr/share/doc/{fields['Package']}/STAND-IN" in listing
        depends[fields["Package"]] = fields.get("Depends", "")
    assert versions == {
        (p, v) for p in ("kubeadm", "kubelet", "kubectl") for v in ("1.32.2-1.1", "1.32.3-1.1")
    } | {("cri-tools", "1.32.0-1.1"), ("kubernetes-cni", "1.6.0-1.1")}
    # the Depends of the real packages of 1.30-1.32 (kubernetes/release krel templates)
    assert "cri-tools (>= 1.30.0)" in depends["kubeadm"]
    assert "kubelet" not in depends["kubeadm"] and "kubectl" not in depends["kubeadm"]
    for dep in ("iptables (>= 1.4.21)", "kubernetes-cni (>= 1.2.0)", "mount", "util-linux"):
        assert dep in depends["kubelet"]
    assert depends["cri-tools"] == depends["kubernetes-cni"] == ""

    # the packaged programs run and play their package's version
    tree = tmp_path / "installed"
    subprocess.run(
        ["dpkg-deb", "-x", str(repo / "amd64/kubeadm_1.32.2-1.1_amd64.deb"), str(tree)], check=True
    )
    subprocess.run(
        ["dpkg-deb", "-x", str(repo / "amd64/kubelet_1.32.2-1.1_amd64.deb"), str(tree)], check=True
    )
    assert (tree / "usr/lib/systemd/system/kubelet.service").is_file()
    assert (tree / "usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf").is_file()
    assert (tree / "usr/lib/kubeadm/stand-in/k8s_stand_in/schemas/kubernetes-1.32.json").is_file()
    env = {k: v for k, v in os.environ.items() if not k.startswith("K8S_STAND_IN")}
    proc = subprocess.run(
        [PYTHON, str(tree / "usr/bin/kubeadm"), "version", "-o", "short"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert proc.stdout == "v1.32.2\n"
    proc = subprocess.run(
        [PYTHON, str(tree / "usr/bin/kubelet"), "--version"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert proc.stdout == "Kubernetes v1.32.2\n"
    old = out / "core:/stable:/v1.31/deb/Packages"
    assert "Version: 1.31.7-1.1" in old.read_text()
    # the v1beta3 branch: a 1.30 kubeadm, whose packaged program plays 1.30.11
    v130 = out / "core:/stable:/v1.30/deb"
    assert "Version: 1.30.11-1.1" in (v130 / "Packages").read_text()
    assert "Package: cri-tools\nVersion: 1.30.1-1.1" in (v130 / "Packages").read_text()
    subprocess.run(
        [
            "dpkg-deb",
            "-x",
            str(v130 / "amd64/kubeadm_1.30.11-1.1_amd64.deb"),
            str(tmp_path / "v130"),
        ],
        check=True,
    )
    proc = subprocess.run(
        [PYTHON, str(tmp_path / "v130/usr/bin/kubeadm"), "version", "-o", "short"],
        capture_output=True, text=True, env=env, check=True,
    )  # fmt: skip
    assert proc.stdout == "v1.30.11\n"
    if crd_path() is not None:
        assert (out / "kubeflow/training-operator/v1.9.0/kubeflow.org_tfjobs.yaml").is_file()
    if shutil.which("apt-get") and shutil.which("apt-cache"):
        _apt_reads(tmp_path / "apt", repo)
        _apt_needs_the_companions(tmp_path / "apt-deps", repo)


def _apt_update(base: Path, *extra: str) -> tuple[list[str], subprocess.CompletedProcess[str]]:
    """`apt-get update` confined to `base` (its sources.list, lists, cache and dpkg status),
    which must succeed; the options, for the apt commands that follow, and the update."""
    opts = [
        f"-o=Dir::Etc::sourcelist={base / 'etc/sources.list'}",
        "-o=Dir::Etc::sourceparts=-",
        f"-o=Dir::Etc::preferencesparts={base / 'etc/preferences.d'}",
        f"-o=Dir::State::Lists={base / 'lists'}",
        f"-o=Dir::Cache={base / 'cache'}",
        f"-o=Dir::State::status={base / 'status'}",
        *extra,
        "-o=APT::Sandbox::User=root",
        "-o=Debug::NoLocking=1",
    ]
    update = subprocess.run(
        ["apt-get", *opts, "update"], capture_output=True, text=True, check=False
    )
    assert update.returncode == 0, update.stdout + update.stderr
    return opts, update


def _apt_reads(base: Path, repo: Path) -> None:
    """apt itself, confined to its own directories, accepts the signed flat repository."""
    for sub in ("lists/partial", "cache/archives/partial", "etc/preferences.d", "keyrings"):
        (base / sub).mkdir(parents=True)
    keyring = base / "keyrings/kubernetes-apt-keyring.gpg"
    dearmored = subprocess.run(
        ["gpg", "--dearmor"],
        input=(repo / "Release.key").read_bytes(),
        capture_output=True,
        check=True,
    )
    keyring.write_bytes(dearmored.stdout)
    (base / "etc/sources.list").write_text(f"deb [signed-by={keyring}] file:{repo}/ /\n")
    (base / "status").write_text("")
    opts, update = _apt_update(base)
    assert "NO_PUBKEY" not in update.stderr and "not signed" not in update.stderr
    policy = subprocess.run(
        ["apt-cache", *opts, "policy", "kubeadm"], capture_output=True, text=True, check=True
    ).stdout
    assert "Candidate: 1.32.3-1.1" in policy
    assert "1.32.2-1.1" in policy


# What a Debian 12 host has installed from Debian's archive (versions of bookworm), so that apt
# resolves the stand-ins' Depends on those as it does on a host.
DEBIAN_INSTALLED = {
    "python3": "3.11.2-1+b1",
    "python3-yaml": "6.0-3+b2",
    "python3-cryptography": "38.0.4-3",
    "python3-jsonschema": "4.10.3-1",
    "iptables": "1.8.9-2",
    "iproute2": "6.1.0-3",
    "mount": "2.38.1-5+deb12u1",
    "conntrack": "1:1.4.7-1+b2",
    "util-linux": "2.38.1-5+deb12u1",
    "ethtool": "1:6.1-1",
}


def _apt_simulate(base: Path, repo: Path, *packages: str) -> subprocess.CompletedProcess[str]:
    """`apt-get -s install` from `repo` alone (trusted: a test copy may be edited), on a host
    whose dpkg status holds DEBIAN_INSTALLED."""
    for sub in ("lists/partial", "cache/archives/partial", "etc/preferences.d"):
        (base / sub).mkdir(parents=True, exist_ok=True)
    (base / "etc/sources.list").write_text(f"deb [trusted=yes] file:{repo}/ /\n")
    (base / "status").write_text(
        "".join(
            f"Package: {name}\nStatus: install ok installed\nPriority: optional\n"
            f"Architecture: amd64\nVersion: {version}\nDescription: from Debian\n\n"
            for name, version in DEBIAN_INSTALLED.items()
        )
    )
    opts, _ = _apt_update(base, "-o=APT::Architecture=amd64")
    return subprocess.run(
        ["apt-get", *opts, "-s", "install", *packages], capture_output=True, text=True, check=False
    )


def _without(repo: Path, dest: Path, package: str) -> Path:
    """A copy of the flat repository whose Packages lacks `package`."""
    shutil.copytree(repo, dest)
    stanzas = (repo / "Packages").read_text().split("\n\n")
    kept = [st for st in stanzas if st.strip() and not st.startswith(f"Package: {package}\n")]
    assert len(kept) < len([st for st in stanzas if st.strip()])
    (dest / "Packages").write_text("\n\n".join(kept) + "\n")
    for name in ("Packages.gz", "InRelease", "Release", "Release.gpg"):
        (dest / name).unlink()
    return dest


def _apt_needs_the_companions(base: Path, repo: Path) -> None:
    """apt installs cri-tools and kubernetes-cni with the three packages, and a repository
    that lacks one of them fails the install, as a mirror lacking them fails with pkgs.k8s.io."""
    wanted = [f"{p}=1.32.3-1.1" for p in ("kubeadm", "kubelet", "kubectl")]
    full = _apt_simulate(base / "full", repo, *wanted)
    assert full.returncode == 0, full.stdout + full.stderr
    assert "Inst cri-tools (1.32.0-1.1" in full.stdout
    assert "Inst kubernetes-cni (1.6.0-1.1" in full.stdout
    for package, message in (
        ("cri-tools", "kubeadm : Depends: cri-tools (>= 1.30.0) but it is not installable"),
        (
            "kubernetes-cni",
            "kubelet : Depends: kubernetes-cni (>= 1.2.0) but it is not installable",
        ),
    ):
        lacking = _without(repo, base / f"repo-without-{package}", package)
        proc = _apt_simulate(base / f"without-{package}", lacking, *wanted)
        assert proc.returncode != 0
        assert message in proc.stdout + proc.stderr, proc.stdout + proc.stderr


def test_k8s_repo_digest_follows_the_recipe(tmp_path: Path) -> None:
    from dlrs_harness.sandbox import k8s_repo

    files = {
        p.relative_to(REPO).as_posix()
        for p in k8s_repo.recipe_files(REPO)
        if p.is_relative_to(REPO)
    }
    assert "tests/sandbox/k8s-repo/repos.yaml" in files
    assert "tests/standins/k8s/packaging/packages.yaml" in files
    assert "tests/standins/k8s/k8s_stand_in/kubeadm.py" in files
    assert len(k8s_repo.recipe_digest(REPO)) == 64
    assert k8s_repo.recipe_digest(REPO) == k8s_repo.recipe_digest(REPO)


# --------------------------------------------------------------------------------------------
# kubeadm reset (last: it takes the module's cluster down)


def test_reset_removes_what_init_and_join_wrote(cluster: Cluster) -> None:
    worker = cluster.worker
    out = worker.ok("kubeadm", "reset", "-f").stdout
    assert (
        "[reset] Deleting contents of directories: [/etc/kubernetes/manifests /var/lib/kubelet"
        in out
    )
    for path in (
        "/etc/kubernetes/kubelet.conf",
        "/etc/kubernetes/pki/ca.crt",
        "/var/lib/kubelet/config.yaml",
        "/var/lib/kubelet/cpu_manager_state",
    ):
        assert not worker.file(path).exists(), path
    # as the real kubeadm, reset leaves the Node object to `kubectl delete node`
    assert cluster.kubectl("get", "node", "worker").returncode == 0
    assert cluster.kubectl("delete", "node", "worker").stdout == 'node "worker" deleted\n'
    cluster.master.ok("kubeadm", "reset", "-f")
    for path in (
        "/etc/kubernetes/admin.conf",
        "/etc/kubernetes/manifests/kube-apiserver.yaml",
        "/etc/kubernetes/pki/ca.key",
        "/run/kube-apiserver-stand-in.pid",
    ):
        assert not cluster.master.file(path).exists(), path
    assert not any(cluster.master.file("/var/lib/etcd").iterdir())
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", cluster.port), timeout=2):
        pass
