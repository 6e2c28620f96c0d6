"""The Kubeflow phase: the training operator's settings, its stand-in manifest, the kubectl and
API stand-in behaviour the role relies on, and the role itself run by playbooks/kubeflow.yml
against a stand-in cluster on this machine (connection local, API on 127.0.0.1).

Everything that runs here rests on the Kubernetes stand-ins (tests/standins/k8s/): they store
the Deployment and never run it, so the role's rollout wait is switched off in these runs
(kubeflow_training_operator_rollout_timeout: 0) and the Deployment's existence is checked instead.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from conftest import inventory_problems
from test_k8s_stand_ins import PYTHON, SCRIPTS, Cluster

from dlrs_provision import inventory, runner

REPO = Path(__file__).resolve().parents[2]
ROLE = REPO / "roles" / "kubeflow_training_operator"
sys.path.insert(0, str(REPO / "tests" / "standins" / "k8s"))
import training_operator_manifest as stand_in_manifest  # noqa: E402

CRD = stand_in_manifest.find_tfjob_crd()
needs_crd = pytest.mark.skipif(CRD is None, reason=f"the reference {stand_in_manifest.CRD_NAME}")


def _digest_filter():
    path = ROLE / "filter_plugins" / "kubeflow_training_operator.py"
    spec = importlib.util.spec_from_file_location("kubeflow_training_operator_filter", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module.digest


digest = _digest_filter()


# --------------------------------------------------------------------------- inventory checks

HOSTS = """\
all:
  children:
    masters:
      hosts:
        m1: {{ansible_host: 10.0.0.1}}
      vars:
{vars}
    workers:
      hosts:
        w1: {{ansible_host: 10.0.0.2}}
"""
SHA = "a" * 64


def _inventory(tmp_path: Path, **settings: object) -> Path:
    body = "\n".join(f"        {k}: {json.dumps(v)}" for k, v in settings.items()) or "        {}"
    path = tmp_path / "hosts.yml"
    path.write_text(HOSTS.format(vars=body))
    return path


def test_kubeflow_on_without_a_checksum_names_the_line_and_how_to_get_it(tmp_path):
    path = _inventory(
        tmp_path,
        dlrs_kubeflow=True,
        dlrs_training_operator_manifest_url="https://mirror.example.com/to.yaml",
    )
    (problem,) = inventory_problems(path)
    assert problem.field == "dlrs_training_operator_manifest_checksum"
    assert problem.file == str(path)
    assert problem.line == 7  # the dlrs_kubeflow line, where the phase is switched on
    assert "sha256sum" in problem.fix
    assert "overlays/standalone?ref=v1.9.0" in problem.fix


def test_kubeflow_on_without_url_or_checksum_reports_both(tmp_path):
    fields = {p.field for p in inventory_problems(_inventory(tmp_path, dlrs_kubeflow=True))}
    assert fields == {
        "dlrs_training_operator_manifest_url",
        "dlrs_training_operator_manifest_checksum",
    }


def test_kubeflow_hint_follows_the_pinned_release(tmp_path):
    path = _inventory(tmp_path, dlrs_kubeflow=True, dlrs_training_operator_version="v1.9.2")
    assert all("ref=v1.9.2" in p.fix for p in inventory_problems(path))


def test_kubeflow_off_or_complete_loads(tmp_path):
    inventory.load(_inventory(tmp_path, dlrs_kubeflow=False))
    inv = inventory.load(
        _inventory(
            tmp_path,
            dlrs_kubeflow=True,
            dlrs_training_operator_manifest_url="file:///srv/mirror/to.yaml",
            dlrs_training_operator_manifest_checksum="sha256:" + SHA,
        )
    )
    assert inv.setting("m1", "dlrs_kubeflow") is True


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("dlrs_training_operator_manifest_checksum", "abc123"),
        ("dlrs_training_operator_version", "1.9.0"),
        ("dlrs_training_operator_manifest_url", "github.com/kubeflow/training-operator"),
        ("dlrs_kubeflow", "yes"),
    ],
)
def test_kubeflow_settings_refuse_malformed_values(tmp_path, key, value):
    found = [p for p in inventory_problems(_inventory(tmp_path, **{key: value})) if p.field == key]
    assert len(found) == 1, found
    assert repr(value) in found[0].message or "string" in found[0].message


# --------------------------------------------------------------------------- digest filter


def _deployment(replicas: int, rv: str, status: dict | None = None) -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "training-operator", "namespace": "kubeflow", "resourceVersion": rv},
        "spec": {"replicas": replicas},
        "status": status or {},
    }


def test_digest_ignores_what_the_cluster_writes_itself():
    before = {"kind": "List", "items": [_deployment(1, "10")]}
    after = {"kind": "List", "items": [_deployment(1, "11", {"availableReplicas": 1})]}
    assert digest(before) == digest(after)


def test_digest_sees_a_changed_spec_and_a_created_object():
    assert digest(_deployment(1, "10")) != digest(_deployment(2, "10"))
    empty = {"apiVersion": "v1", "kind": "List", "items": []}
    assert digest(empty) == {} != digest({"kind": "List", "items": [_deployment(1, "1")]})
    assert list(digest(_deployment(1, "1"))) == ["Deployment/kubeflow/training-operator"]


# --------------------------------------------------------------------------- stand-in manifest


@needs_crd
def test_stand_in_manifest_holds_the_real_crd_and_says_it_is_a_stand_in(tmp_path):
    out = tmp_path / "to.yaml"
    sha = stand_in_manifest.write(out)
    assert sha == hashlib.sha256(out.read_bytes()).hexdigest()
    assert out.read_text().startswith("# dlrs-provision STAND-IN")
    docs = list(yaml.safe_load_all(out.read_text()))
    assert [d["kind"] for d in docs] == [
        "Namespace",
        "CustomResourceDefinition",
        "ServiceAccount",
        "Deployment",
    ]
    crd = docs[1]
    reference = yaml.safe_load(CRD.read_text())  # type: ignore[union-attr]
    assert crd["spec"] == reference["spec"]
    assert crd["metadata"]["name"] == "tfjobs.kubeflow.org"
    assert all(d["metadata"]["labels"][stand_in_manifest.STAND_IN_LABEL] == "true" for d in docs)
    assert stand_in_manifest.write(tmp_path / "again.yaml") == sha  # the same bytes every time


def test_stand_in_manifest_without_the_reference_crd_says_where_to_put_it(tmp_path, monkeypatch):
    monkeypatch.setattr(stand_in_manifest, "find_tfjob_crd", lambda: None)
    with pytest.raises(FileNotFoundError, match=r"tests/data/kubeflow/"):
        stand_in_manifest.write(tmp_path / "to.yaml")
    assert not (tmp_path / "to.yaml").exists()


# --------------------------------------------------------------------------- stand-in cluster


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    base = Path(tempfile.mkdtemp(prefix="k8s-", dir="/tmp"))  # short: unix socket paths
    c = Cluster(base)
    try:
        yield c
    finally:
        c.close()
        shutil.rmtree(base, ignore_errors=True)


@needs_crd
def test_stand_in_get_f_finds_objects_in_their_own_namespace(cluster, tmp_path):
    stand_in_manifest.write(cluster.master.file("/get-f/to.yaml"))
    cluster.kubectl("apply", "--server-side", "-f", "/get-f/to.yaml")
    got = cluster.kubectl("get", "-f", "/get-f/to.yaml", "-o", "json")
    assert got.returncode == 0, got.stderr
    listed = json.loads(got.stdout)
    assert [(o["kind"], o["metadata"].get("namespace")) for o in listed["items"]] == [
        ("Namespace", None),
        ("CustomResourceDefinition", None),
        ("ServiceAccount", "kubeflow"),
        ("Deployment", "kubeflow"),
    ]


@needs_crd
def test_stand_in_server_side_reapply_of_an_unchanged_crd_keeps_it(cluster):
    stand_in_manifest.write(cluster.master.file("/ssa/to.yaml"))
    args = ("apply", "--server-side", "--force-conflicts", "-f", "/ssa/to.yaml")
    first = cluster.kubectl(*args)
    assert first.returncode == 0, first.stderr
    crd_line = "customresourcedefinition.apiextensions.k8s.io/tfjobs.kubeflow.org"
    assert f"{crd_line} serverside-applied\n" in first.stdout
    before = json.loads(cluster.kubectl("get", "crd", "tfjobs.kubeflow.org", "-o", "json").stdout)
    assert cluster.kubectl(*args).returncode == 0
    after = json.loads(cluster.kubectl("get", "crd", "tfjobs.kubeflow.org", "-o", "json").stdout)
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    assert after["status"]["conditions"] == before["status"]["conditions"]
    waited = cluster.kubectl(
        "wait", "--for=condition=established", "crd/tfjobs.kubeflow.org", "--timeout=10s"
    )
    assert waited.returncode == 0, waited.stderr
    assert waited.stdout.endswith("tfjobs.kubeflow.org condition met\n")


# --------------------------------------------------------------------------- the role, for real


class Mirror:
    """A file server on 127.0.0.1 standing for the site's mirror."""

    def __init__(self, root: Path) -> None:
        handler = functools.partial(_QuietHandler, directory=str(root))
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


RECAP = re.compile(r"^\S+\s*: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


class Phase:
    """playbooks/kubeflow.yml on localhost against the stand-in master of `cluster`."""

    def __init__(self, cluster: Cluster, work: Path, mirror: Mirror) -> None:
        self.cluster, self.work, self.mirror = cluster, work, mirror
        self.bin = work / "bin"
        self.bin.mkdir()
        kubectl = self.bin / "kubectl"
        kubectl.write_text(
            "#!/bin/sh\n"
            f"K8S_STAND_IN_ROOT={cluster.master.root} K8S_STAND_IN_NO_SYSTEMD=1 "
            f'exec {PYTHON} {SCRIPTS["kubectl"]} "$@"\n'
        )
        kubectl.chmod(0o755)
        self.hosts = work / "hosts.yml"
        self.hosts.write_text(
            textwrap.dedent(f"""\
                all:
                  children:
                    masters:
                      hosts:
                        master:
                          ansible_connection: local
                          ansible_python_interpreter: {sys.executable}
                          ansible_become: false
            """)
        )
        self.state = work / "state"
        self.dest_dir = cluster.master.file("/etc/kubernetes/kubeflow")

    def run(self, sha: str, *extra: str, **settings: object) -> subprocess.CompletedProcess[str]:
        values = {
            "dlrs_kubeflow": True,
            "dlrs_training_operator_manifest_url": f"{self.mirror.url}/training-operator.yaml",
            "dlrs_training_operator_manifest_checksum": sha,
            "kubeflow_training_operator_manifest_dir": str(self.dest_dir),
            "kubeflow_training_operator_rollout_timeout": 0,  # the stand-in runs no Pods
            "kubeflow_training_operator_crd_timeout": 20,
        } | settings
        (self.work / "vars.json").write_text(json.dumps(values))
        env = os.environ | runner.ansible_env(self.hosts)
        env["PATH"] = f"{self.bin}{os.pathsep}{env['PATH']}"
        env["DLRS_PROVISION_STATE"] = str(self.state)
        return subprocess.run(
            [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(self.hosts),
             "-e", f"@{self.work / 'vars.json'}", *extra,
             str(REPO / "playbooks" / "kubeflow.yml")],
            capture_output=True, text=True, env=env, cwd=REPO, timeout=300, check=False,
        )  # fmt: skip

    @staticmethod
    def recap(proc: subprocess.CompletedProcess[str]) -> dict[str, int]:
        m = RECAP.search(proc.stdout)
        assert m, proc.stdout + proc.stderr
        keys = ("ok", "changed", "unreachable", "failed")
        return dict(zip(keys, map(int, m.groups()), strict=True))


@pytest.fixture(scope="module")
def phase(cluster) -> Iterator[Phase]:
    work = Path(tempfile.mkdtemp(prefix="kfto-", dir="/tmp"))
    (work / "mirror").mkdir()
    mirror = Mirror(work / "mirror")
    try:
        yield Phase(cluster, work, mirror)
    finally:
        mirror.close()
        shutil.rmtree(work, ignore_errors=True)


@needs_crd
def test_phase_applies_the_operator_once_then_changes_nothing(cluster, phase):
    # a fresh namespace of objects: the manifest of the stand-in tests above used the same
    # names, so start from a cluster without them
    cluster.kubectl("delete", "namespace", "kubeflow", "--ignore-not-found")
    cluster.kubectl("delete", "crd", "tfjobs.kubeflow.org", "--ignore-not-found")
    sha = stand_in_manifest.write(phase.work / "mirror" / "training-operator.yaml")

    checked = phase.run(sha, "--check")
    assert phase.recap(checked)["failed"] == 0, checked.stdout
    absent = cluster.kubectl(
        "get", "crd", "tfjobs.kubeflow.org", "--ignore-not-found", "-o", "name"
    )
    assert absent.stdout == "", "check mode applied the manifest"
    assert not any(phase.dest_dir.glob("*.yaml")), "check mode wrote the master's copy"

    first = phase.run(sha)
    assert phase.recap(first)["failed"] == 0, first.stdout
    assert phase.recap(first)["changed"] >= 2  # the master's copy and the applied objects
    told = re.search(r"TASK \[[^\]]*Read the objects back[^\]]*\] \*+\n(\w+): ", first.stdout)
    assert told and told.group(1) == "changed", first.stdout
    deployment = json.loads(
        cluster.kubectl(
            "get", "deployment", "training-operator", "-n", "kubeflow", "-o", "json"
        ).stdout
    )
    assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == "training-operator"
    crd = json.loads(cluster.kubectl("get", "crd", "tfjobs.kubeflow.org", "-o", "json").stdout)
    established = [c for c in crd["status"]["conditions"] if c["type"] == "Established"]
    assert established and established[0]["status"] == "True"
    cached = list((phase.state / "kubeflow").glob("training-operator-v1.9.0-*.yaml"))
    assert len(cached) == 1
    assert hashlib.sha256(cached[0].read_bytes()).hexdigest() == sha
    assert (phase.dest_dir / "training-operator-v1.9.0.yaml").read_bytes() == cached[0].read_bytes()

    again = phase.run(sha)
    assert phase.recap(again) | {"ok": 0} == {"ok": 0, "changed": 0, "unreachable": 0, "failed": 0}

    # the mirror is gone: the controller's verified copy is enough for another run
    (phase.work / "mirror" / "training-operator.yaml").unlink()
    offline = phase.run(sha, "--check")
    assert phase.recap(offline)["failed"] == 0, offline.stdout
    assert phase.recap(offline)["changed"] == 0, offline.stdout


@needs_crd
def test_phase_refuses_a_manifest_that_does_not_match_its_checksum(phase):
    served = phase.work / "mirror" / "training-operator.yaml"
    stand_in_manifest.write(served)
    served.write_text(served.read_text() + "# changed on the mirror\n")
    got = hashlib.sha256(served.read_bytes()).hexdigest()
    want = "0" * 64
    proc = phase.run(want)
    assert phase.recap(proc)["failed"] == 1, proc.stdout
    url = f"{phase.mirror.url}/training-operator.yaml"
    text = " ".join(proc.stdout.split())
    assert f"The training operator's manifest from {url} does not match its pinned checksum" in text
    assert f"expected sha256 {want}, got {got}" in text
    assert not list((phase.state / "kubeflow").glob(f"*-{want[:16]}.yaml"))


def test_phase_is_skipped_when_kubeflow_is_off(phase):
    proc = phase.run("", dlrs_kubeflow=False)
    # ok 1: dlrs_defaults' argument-spec check of the dlrs_ settings, listed first in the play
    assert phase.recap(proc) == {"ok": 1, "changed": 0, "unreachable": 0, "failed": 0}, proc.stdout
    assert "skipping: [master]" in proc.stdout
