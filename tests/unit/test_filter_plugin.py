"""The Ansible filter gives exactly the Python calculator's values, through real Ansible."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import DATA, FACTS, facts_for, lscpu_text

from dlrs_provision import runner, tuning

ANSIBLE = str(Path(sys.executable).parent / "ansible")


def ansible_adhoc(tmp_path: Path, facts: dict, module: str, args: str):
    """Run one ad-hoc task on localhost with `facts` as a variable, the project's settings on."""
    (tmp_path / "vars.json").write_text(json.dumps({"facts": facts}))
    env = os.environ | runner.ansible_env(tmp_path / "hosts")
    return subprocess.run(
        [ANSIBLE, "localhost", "-c", "local", "-i", "localhost,",
         "-e", f"@{tmp_path / 'vars.json'}",
         "-e", f"ansible_python_interpreter={sys.executable}",
         "-m", module, "-a", args],
        capture_output=True, text=True, env=env, cwd=tmp_path,
    )  # fmt: skip


def run_filter(tmp_path: Path, facts: dict, expr: str) -> dict:
    """Evaluate `expr` in Ansible with `facts` as a variable; return the JSON result."""
    out = tmp_path / "out.json"
    proc = ansible_adhoc(
        tmp_path, facts, "ansible.builtin.copy", f"content={{{{ {expr} | to_json }}}} dest={out}"
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(out.read_text())


@pytest.mark.parametrize(
    ("mode", "variant"), [("single", "mkl"), ("multi", "mkl"), ("multi", "eigen")]
)
def test_filter_equals_python_api_for_the_seed_example(tmp_path, gold6140, mode, variant):
    got = run_filter(tmp_path, gold6140, f"facts | dlrs_tuning(mode='{mode}', variant='{variant}')")
    assert got == tuning.compute(gold6140, mode=mode, variant=variant).to_dict()
    assert got["num_inter_threads"] == 2
    assert got["num_intra_threads"] == (36 if mode == "single" else 32)


def test_filter_with_topology_and_overrides(tmp_path):
    facts = {"preflight_cpu_topology": tuning.parse_lscpu(lscpu_text(2, 18, 2))}
    overrides = {"dlrs_num_inter_threads": 1, "dlrs_num_intra_threads": None}
    expr = (
        "facts | dlrs_tuning(mode='multi', overrides={'dlrs_num_inter_threads': 1, "
        "'dlrs_num_intra_threads': None})"
    )
    got = run_filter(tmp_path, facts, expr)
    want = tuning.compute(facts, mode="multi", overrides=overrides).to_dict()
    assert got == want
    assert got["reserved_cpuset"] == "0-1,18-19,36-37,54-55" and got["num_inter_threads"] == 1


@pytest.mark.parametrize(
    ("features", "layout"), [(["avx2", "fma"], "NHWC"), (["avx_vnni"], "NCHW")]
)
def test_filter_takes_the_image_and_the_cpu_flags_preflight_recorded(tmp_path, features, layout):
    """As the benchmark role calls it: an image not in the catalog is a stock TensorFlow,
    which runs oneDNN (and so NCHW) only on CPUs with VNNI, BF16 or AMX."""
    facts = {
        "preflight_cpu_topology": tuning.parse_lscpu(lscpu_text(1, 4, 1)),
        "preflight_cpu_features": features,
    }
    got = run_filter(tmp_path, facts, "facts | dlrs_tuning(variant='mkl', image='site/tf:2.21')")
    assert got["data_format"] == layout
    assert got == tuning.compute(facts, variant="mkl", image="site/tf:2.21").to_dict()


def test_lscpu_filter_matches_parser(tmp_path):
    text = lscpu_text(1, 4, 2)
    got = run_filter(tmp_path, {"text": text}, "facts.text | dlrs_parse_lscpu")
    assert got == tuning.parse_lscpu(text)


def test_filter_reports_a_missing_fact(tmp_path):
    proc = ansible_adhoc(
        tmp_path,
        {"ansible_processor_count": 2},
        "ansible.builtin.debug",
        "msg={{ facts | dlrs_tuning }}",
    )
    assert proc.returncode != 0
    assert "missing fact ansible_processor_cores" in proc.stdout + proc.stderr


def test_real_facts_file_through_ansible(tmp_path):
    facts = json.loads((FACTS / "this-machine-setup.json").read_text())["ansible_facts"]
    got = run_filter(tmp_path, facts, "facts | dlrs_tuning")
    assert got == tuning.compute(facts).to_dict()


def test_blank_lscpu_topology_through_ansible_falls_back_to_the_facts(tmp_path):
    """The preflight role's two filters on a kernel without CPU topology: no failure, a warning."""
    text = (DATA / "lscpu" / "no-topology-2s-numa.txt").read_text()
    facts = facts_for(2, 4, 2) | {"text": text}
    got = run_filter(
        tmp_path,
        facts,
        "facts | combine({'preflight_cpu_topology': facts.text | dlrs_parse_lscpu}) | dlrs_tuning",
    )
    assert (got["num_inter_threads"], got["num_intra_threads"]) == (2, 8)
    assert got["topology"]["source"].startswith("ansible facts (lscpu shows no core/socket")
    assert any("no core/socket topology" in w for w in got["warnings"])
