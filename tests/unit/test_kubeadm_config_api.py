"""kubeadm's config API by version, end to end without hosts: the kubeadm stand-in accepts only
the APIs its own version serves (with kubeadm's words for the rest), and the kubeadm_master and
kubeadm_worker templates, rendered by real Ansible from the output of `kubeadm version -o short`,
are accepted by a stand-in of that version: a 1.30 control plane from v1beta3 documents, a 1.32
one from v1beta4, each joined by a worker. Every result here rests on the stand-ins
(tests/standins/k8s/)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from test_k8s_stand_ins import FakeRegistry, Host, free_port, imagepull

from dlrs_provision import runner

REPO = Path(__file__).resolve().parents[2]
PLAYBOOK = str(Path(sys.executable).parent / "ansible-playbook")

V1BETA4_INIT = "apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\n"
V1BETA3_INIT = "apiVersion: kubeadm.k8s.io/v1beta3\nkind: InitConfiguration\n"
DEPRECATED = 'your configuration file uses a deprecated API spec: "kubeadm.k8s.io/v1beta3"'


@pytest.fixture
def scratch() -> Iterator[Path]:
    base = Path(tempfile.mkdtemp(prefix="k8s-", dir="/tmp"))  # short: unix socket paths
    yield base
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def at_version(monkeypatch: pytest.MonkeyPatch):
    """Make the stand-ins play a version (as build_info.json of a package would)."""

    def set_version(text: str) -> None:
        monkeypatch.setenv("K8S_STAND_IN_VERSION", text)

    return set_version


@pytest.fixture
def host(scratch: Path) -> Iterator[Host]:
    """One host of its own per test, closed after it."""
    h = Host(scratch, "m")
    yield h
    h.close()


def init(host: Host, text: str) -> subprocess.CompletedProcess[str]:
    host.file("/kubeadm.yaml").write_text(text)
    return host.run("kubeadm", "init", "--config", "/kubeadm.yaml")


# --------------------------------------------------------------------------------------------
# the stand-in's acceptance by version


def test_kubeadm_1_30_refuses_v1beta4_as_experimental(host: Host, at_version) -> None:
    at_version("1.30.11")
    proc = init(host, V1BETA4_INIT)
    assert proc.returncode == 1, proc.stderr
    assert (
        'experimental API spec: "kubeadm.k8s.io/v1beta4" is not allowed. You can use the '
        "--allow-experimental-api flag if the command supports it." in proc.stderr
    )
    assert not host.file("/etc/kubernetes/pki/ca.crt").exists()


def test_kubeadm_before_1_28_does_not_know_v1beta4(host: Host, at_version) -> None:
    at_version("1.27.16")
    proc = init(host, V1BETA4_INIT)
    assert proc.returncode == 1, proc.stderr
    assert (
        'no kind "InitConfiguration" is registered for version "kubeadm.k8s.io/v1beta4" in '
        'scheme "k8s.io/kubernetes/cmd/kubeadm/app/apis/kubeadm/scheme/scheme.go:30"' in proc.stderr
    )


def test_kubeadm_1_30_takes_v1beta3_without_a_deprecation_warning(host: Host, at_version) -> None:
    at_version("1.30.11")
    # a field error after decoding proves the document was taken as v1beta3
    proc = init(host, V1BETA3_INIT + "localAPIEndpoint:\n  bindPort: 70000\n")
    assert proc.returncode == 3, proc.stderr
    assert "localAPIEndpoint.bindPort" in proc.stderr
    assert DEPRECATED not in proc.stderr


def test_kubeadm_1_32_takes_v1beta3_with_the_deprecation_warning(host: Host, at_version) -> None:
    at_version("1.32.3")
    proc = init(host, V1BETA3_INIT + "localAPIEndpoint:\n  bindPort: 70000\n")
    assert proc.returncode == 3, proc.stderr
    assert DEPRECATED in proc.stderr
    assert "experimental" not in proc.stderr


def test_kubeadm_1_30_old_api_message_has_no_kind(host: Host, at_version) -> None:
    """1.31 added the kind to the old-API message; 1.30 names only the group/version."""
    at_version("1.30.11")
    proc = init(host, "apiVersion: kubeadm.k8s.io/v1beta2\nkind: InitConfiguration\n")
    assert proc.returncode == 1
    assert (
        'uses an old API spec: "kubeadm.k8s.io/v1beta2". Please use kubeadm v1.22 instead'
        in proc.stderr
    )


# --------------------------------------------------------------------------------------------
# the roles' templates, rendered by Ansible, taken by the stand-in of the same version


def _template_task_vars(role: str, tasks_file: str, src: str) -> dict:
    """The `vars:` of the role's template task for `src` (the role's own expressions)."""
    for task in yaml.safe_load((REPO / "roles" / role / "tasks" / tasks_file).read_text()):
        if (task.get("ansible.builtin.template") or {}).get("src") == src:
            return dict(task.get("vars") or {})
    raise AssertionError(f"no template task for {src} in roles/{role}/tasks/{tasks_file}")


def render(tmp: Path, role: str, src: str, task_vars: dict, extra: dict) -> str:
    """Render roles/<role>/templates/<src> as the role does: its defaults and vars, the
    template task's vars, and `extra` (what the host would have registered)."""
    role_dir = REPO / "roles" / role
    dest = tmp / f"{role}-{src}.yaml"
    play = [
        {
            "hosts": "localhost",
            "gather_facts": False,
            # the dlrs_ defaults as role defaults (lowest precedence), as in every phase play
            "roles": [str(REPO / "roles/dlrs_defaults")],
            "vars_files": [str(role_dir / "defaults/main.yml"), str(role_dir / "vars/main.yml")],
            "tasks": [
                {
                    "name": "Render",
                    "ansible.builtin.template": {
                        "src": str(role_dir / "templates" / src),
                        "dest": str(dest),
                        "mode": "0600",
                    },
                    "vars": task_vars,
                }
            ],
        }
    ]
    (tmp / "play.yml").write_text(yaml.safe_dump(play))
    (tmp / "extra.json").write_text(json.dumps(extra))
    env = os.environ | runner.ansible_env(tmp / "hosts")
    proc = subprocess.run(
        [PLAYBOOK, "-i", "localhost,", "-c", "local", "-e", f"@{tmp / 'extra.json'}",
         "-e", f"ansible_python_interpreter={sys.executable}", str(tmp / "play.yml")],
        capture_output=True, text=True, env=env, cwd=tmp, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return dest.read_text()


def _bind_to_loopback(text: str, api: str) -> str:
    """The tests' network rule: the API endpoint stand-in listens on 127.0.0.1 only. The
    extra argument takes each API's shape (v1beta3 a map, v1beta4 a list of name/value)."""
    docs = list(yaml.safe_load_all(text))
    for doc in docs:
        if doc.get("kind") == "ClusterConfiguration":
            doc["apiServer"] = {
                "extraArgs": {"bind-address": "127.0.0.1"}
                if api.endswith("v1beta3")
                else [{"name": "bind-address", "value": "127.0.0.1"}]
            }
    return yaml.safe_dump_all(docs)


@pytest.mark.parametrize(
    ("stand_in_version", "api"),
    [("1.30.11", "kubeadm.k8s.io/v1beta3"), ("1.32.3", "kubeadm.k8s.io/v1beta4")],
)
def test_rendered_init_and_join_are_taken_by_kubeadm_of_that_version(
    scratch: Path, tmp_path: Path, at_version, stand_in_version: str, api: str
) -> None:
    at_version(stand_in_version)
    port = free_port()
    master = Host(scratch, "master")
    worker = Host(scratch, "worker")
    for host in (master, worker):  # /var/run is /run on the hosts; the roles name /run
        (host.root / "run").symlink_to("var/run")
    # kubeadm's ImagePull preflight asks the image repository for every control-plane image of
    # this version: a registry on 127.0.0.1 holds them, and the template points at it
    registry = FakeRegistry()
    for image in imagepull.required_images(
        {"imageRepository": registry.host, "etcd": {"local": {}}}, stand_in_version
    ):
        registry.add(image)
    registry.trust_from(master.root)
    try:
        short = master.ok("kubeadm", "version", "-o", "short").stdout
        assert short.strip() == f"v{stand_in_version}"
        text = render(
            tmp_path,
            "kubeadm_master",
            "init.yaml.j2",
            _template_task_vars("kubeadm_master", "config.yml", "init.yaml.j2"),
            {
                "_kubeadm_master_version_out": {"stdout": short},
                "kubeadm_master_advertise_address": "127.0.0.1",
                "kubeadm_master_api_port": port,
                "kubeadm_master_node_name": "master",
                "kubeadm_master_image_repository": registry.host,
                "groups": {"workers": ["worker"]},
            },
        )
        kinds = {d["kind"]: d["apiVersion"] for d in yaml.safe_load_all(text)}
        assert kinds["InitConfiguration"] == api and kinds["ClusterConfiguration"] == api
        assert f"kubernetesVersion: v{stand_in_version}" in text
        proc = init(master, _bind_to_loopback(text, api))
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "experimental" not in proc.stderr
        assert DEPRECATED not in proc.stderr

        join = master.ok(
            "kubeadm", "token", "create", "--print-join-command",
            "--kubeconfig", "/etc/kubernetes/admin.conf",
        ).stdout.split()  # fmt: skip
        token = join[join.index("--token") + 1]
        ca_hash = join[join.index("--discovery-token-ca-cert-hash") + 1]
        wshort = worker.ok("kubeadm", "version", "-o", "short").stdout
        jtext = render(
            tmp_path,
            "kubeadm_worker",
            "join.yaml.j2",
            {},
            {
                "_kubeadm_worker_version_out": {"stdout": wshort},
                "_kubeadm_worker_token": token,
                "_kubeadm_worker_hash": ca_hash,
                "kubeadm_worker_api_endpoint": f"127.0.0.1:{port}",
                "kubeadm_worker_node_name": "worker",
                "kubeadm_worker_master": "master",
            },
        )
        jdoc = next(d for d in yaml.safe_load_all(jtext) if d["kind"] == "JoinConfiguration")
        assert jdoc["apiVersion"] == api
        worker.file("/join.yaml").write_text(jtext)
        proc = worker.run("kubeadm", "join", "--config", "/join.yaml")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "This node has joined the cluster" in proc.stdout
    finally:
        pid_file = master.file("/run/kube-apiserver-stand-in.pid")
        if pid_file.is_file():
            master.run("kubeadm", "reset", "-f")
        master.close()
        registry.close()
        worker.close()
