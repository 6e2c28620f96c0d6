"""The command line as an operator meets it: real processes, exit codes, messages."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import FACTS

REPO = Path(__file__).resolve().parents[2]
CLI = [str(Path(sys.executable).parent / "dlrs-provision")]


def cli(*args: str, env: dict | None = None, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, cwd=cwd, env=env)


def test_help_lists_the_commands():
    out = cli("--help").stdout
    for command in ("validate", "tune", "plan", "cluster"):
        assert command in out


def test_validate_sample_is_ok():
    proc = cli("validate", "inventory/sample/hosts.yml")
    assert proc.returncode == 0
    assert proc.stdout.strip() == (
        "OK inventory/sample/hosts.yml: 1 master, 4 worker(s), 5 host(s), mode multi"
    )


def test_validate_lists_every_error_with_exit_2_and_no_traceback(tmp_path):
    bad = tmp_path / "hosts.yml"
    bad.write_text(
        "all:\n  vars:\n    dlrs_variant: mk1\n    dlrs_num_intra_threads: 0\n"
        "  children:\n    masters:\n      hosts:\n        a:\n        b:\n"
    )
    proc = cli("validate", str(bad))
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "3 problems found" in proc.stderr
    assert f"{bad}:3: group all: dlrs_variant:" in proc.stderr
    assert f"{bad}:4: group all: dlrs_num_intra_threads: is 0, below the minimum 1" in proc.stderr
    assert "2 hosts in `masters`" in proc.stderr


def test_yaml_error_exit_2(tmp_path):
    bad = tmp_path / "hosts.yml"
    bad.write_text("all:\n  children: [\n")
    proc = cli("validate", str(bad))
    assert proc.returncode == 2 and "YAML does not parse" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_tune_reproduces_the_seed_example_from_a_facts_file():
    facts = str(FACTS / "xeon-gold-6140-2s-ht.json")
    single = json.loads(cli("tune", "--facts", facts, "--json").stdout)
    multi = json.loads(cli("tune", "--facts", facts, "--mode", "multi", "--json").stdout)
    assert (single["num_inter_threads"], single["num_intra_threads"]) == (2, 36)
    assert (multi["num_inter_threads"], multi["num_intra_threads"]) == (2, 32)
    assert multi["data_format"] == "NCHW" and multi["reserved_cores"] == 4
    assert multi["env"]["OMP_NUM_THREADS"] == "32"
    eigen = json.loads(cli("tune", "--facts", facts, "--variant", "eigen", "--json").stdout)
    assert eigen["data_format"] == "NHWC" and eigen["env"] == {}


def test_tune_table_shows_where_values_come_from():
    out = cli("tune", "--facts", str(FACTS / "xeon-gold-6140-2s-ht.json"), "--mode", "multi").stdout
    assert "num_intra_threads  32" in out
    assert "physical cores 36 - 2 per socket x 2 kept for IO" in out


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            '{"ansible_facts": {"ansible_processor_count": 2}}',
            "missing fact ansible_processor_cores",
        ),
        ("", "the facts file is empty"),
        ("{not json", "not JSON"),
        (
            '{"ansible_facts": {"ansible_processor_count": "NA", "ansible_processor_cores": 4, '
            '"ansible_processor_threads_per_core": 1}}',
            "'NA', not a whole number",
        ),
    ],
)
def test_tune_with_bad_facts_exits_2_naming_the_problem(tmp_path, content, message):
    path = tmp_path / "facts.json"
    path.write_text(content)
    proc = cli("tune", "--facts", str(path))
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr and "Traceback" not in proc.stderr


def test_tune_missing_file(tmp_path):
    proc = cli("tune", "--facts", str(tmp_path / "none.json"))
    assert proc.returncode == 2 and "no such facts file" in proc.stderr


def test_plan_without_facts_says_needs_preflight(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "DLRS_PROVISION_STATE": str(tmp_path)}
    proc = cli("plan", "inventory/sample/hosts.yml", "--json", env=env)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert [h["role"] for h in data["hosts"]] == ["master"] + ["worker"] * 4
    assert {h["tuning_status"] for h in data["hosts"]} == {"needs preflight"}
    assert data["hosts"][0]["phases"][0] == "preflight"


def test_plan_with_facts_dir_computes_tuning_with_overrides(tmp_path):
    facts = json.loads((FACTS / "xeon-gold-6140-2s-ht.json").read_text())["ansible_facts"]
    for host in ("xeon-m01", "xeon-w04"):
        (tmp_path / host).write_text(json.dumps(facts))  # the jsonfile cache's plain form
    proc = cli("plan", "inventory/sample/hosts.yml", "--facts-dir", str(tmp_path), "--json")
    hosts = {h["host"]: h for h in json.loads(proc.stdout)["hosts"]}
    assert hosts["xeon-m01"]["tuning"]["num_intra_threads"] == 32  # multi: workers exist
    w04 = hosts["xeon-w04"]["tuning"]
    assert w04["num_intra_threads"] == 30  # the host's override in hosts.yml
    assert w04["overrides"]["num_intra_threads"].endswith("inventory/sample/hosts.yml:33")
    assert hosts["xeon-w01"]["tuning"] is None


def test_plan_facts_dir_missing(tmp_path):
    proc = cli("plan", "inventory/sample/hosts.yml", "--facts-dir", str(tmp_path / "nope"))
    assert proc.returncode == 2 and "no such facts folder" in proc.stderr


def test_preflight_on_localhost_prints_hardware_os_tuning_and_verdict(tmp_path):
    """This machine through a local connection. (Not `cluster`: its OS phase would change the
    machine the tests run on; the cluster runs end to end on the sandbox, tests/e2e.)"""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "DLRS_PROVISION_STATE": str(tmp_path)}
    proc = cli("preflight", "inventory/localhost/hosts.yml", env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "== Preflight" in proc.stderr
    table = proc.stdout.splitlines()
    assert table[0].split() == ["host", "role", "hardware", "os", "tuning", "verdict"]
    row = table[2]
    assert row.split()[:2] == ["localhost", "master"] and row.rstrip().endswith("ok")
    # the tuning shown is the calculator's for the facts preflight cached
    from dlrs_provision import tuning
    from dlrs_provision.facts import cached_facts_file, load_facts

    t = tuning.compute(load_facts(cached_facts_file(tmp_path / "facts", "localhost")))
    assert f"inter {t.num_inter_threads}, intra {t.num_intra_threads}, NCHW" in row


def test_cluster_refuses_a_bad_inventory_before_running(tmp_path):
    bad = tmp_path / "hosts.yml"
    bad.write_text("all:\n  children:\n    workers:\n      hosts:\n        w1:\n")
    env = {"PATH": "/usr/bin:/bin", "DLRS_PROVISION_STATE": str(tmp_path / "state")}
    proc = cli("cluster", str(bad), env=env)
    assert proc.returncode == 2 and "no `masters` group" in proc.stderr
    assert not (tmp_path / "state" / "runs").exists()  # nothing ran


def test_no_command_prints_help_and_exits_2():
    proc = cli()
    assert proc.returncode == 2 and "validate" in proc.stderr


def test_render_tfjob_from_cached_facts_validates_against_the_crd(tmp_path):
    import jsonschema
    import yaml

    facts = json.loads((FACTS / "xeon-gold-6140-2s-ht.json").read_text())["ansible_facts"]
    facts["ansible_memtotal_mb"] = 192000
    for host in ("xeon-m01", "xeon-w01", "xeon-w02", "xeon-w03", "xeon-w04"):
        (tmp_path / host).write_text(json.dumps(facts))
    proc = cli(
        "render",
        "tfjob",
        "inventory/sample/hosts.yml",
        "--facts-dir",
        str(tmp_path),
        "--workers",
        "xeon-w01,xeon-w02,xeon-w03",
    )
    assert proc.returncode == 0, proc.stderr
    assert "placement: ps-0 -> xeon-w01 (own node, seed layout" in proc.stderr
    assert "warning: sized from the facts alone" in proc.stderr
    docs = list(yaml.safe_load_all(proc.stdout))
    job = next(d for d in docs if d["kind"] == "TFJob")
    crd = yaml.safe_load((REPO / "tests/data/kubeflow/kubeflow.org_tfjobs.v1.9.0.yaml").read_text())
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    jsonschema.validate(job, schema)
    worker = job["spec"]["tfReplicaSpecs"]["Worker"]
    assert worker["replicas"] == 2
    args = worker["template"]["spec"]["containers"][0]["args"]
    assert "--num_inter_threads=2" in args and "--num_intra_threads=32" in args  # multi-node
    assert "--data_format=NCHW" in args and "--mkl=True" in args


def test_render_tfjob_without_facts_points_to_preflight(tmp_path):
    proc = cli("render", "tfjob", "inventory/sample/hosts.yml", "--facts-dir", str(tmp_path))
    assert proc.returncode == 2
    assert "dlrs-provision preflight" in proc.stderr and "Traceback" not in proc.stderr


def test_tune_without_facts_or_sweep_is_a_usage_error():
    proc = cli("tune")
    assert proc.returncode == 2 and "--facts" in proc.stderr
