"""Rules the roles share with the CLI live once, in Python; the roles reach them as filters."""

from __future__ import annotations

import configparser
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from dlrs_provision import catalog, cluster_registry, paths, tfjob
from dlrs_provision.ansible_plugins.filter import dlrs_settings
from dlrs_provision.benchmark import flags
from dlrs_provision.settings import SETTINGS

REPO = Path(__file__).resolve().parents[2]
F = dlrs_settings.FilterModule().filters()


def test_the_registry_port_default_is_the_declared_one():
    assert cluster_registry.DEFAULT_PORT == SETTINGS["dlrs_registry_cache_port"].default == 5443
    assert F["dlrs_cluster_registry"]("", ["m1"])["hostport"] == "m1:5443"


@pytest.mark.parametrize(
    ("host", "masters", "cache", "insecure", "url"),
    [
        (None, ["m1"], True, [], "https://m1:5443"),
        ("reg.example", ["m1"], True, [], "https://reg.example:5443"),
        (None, ["m1"], True, ["m1:5443"], "http://m1:5443"),
        (None, ["m1"], False, [], ""),
        (None, [], True, [], ""),
    ],
)
def test_cluster_registry_url(host, masters, cache, insecure, url):
    assert F["dlrs_cluster_registry"](host, masters, None, cache, insecure)["url"] == url


@pytest.mark.parametrize(
    ("explicit", "mode", "cache", "want"),
    [
        ("mirror:5000/k8s", "local", True, "mirror:5000/k8s"),
        (None, "local", True, "m1:5443"),
        (None, "local", False, "registry.k8s.io"),
        (None, "proxy", True, "registry.k8s.io"),
    ],
)
def test_kubernetes_image_repository(explicit, mode, cache, want):
    reg = F["dlrs_cluster_registry"](None, ["m1"], 5443, cache, [])
    assert F["dlrs_kubernetes_image_repository"](explicit, mode, reg) == want


@pytest.mark.parametrize("variant", sorted(catalog.VARIANTS))
def test_variant_benchmark_has_one_owner(variant):
    v = F["dlrs_variant"](variant)
    assert v["image"] == catalog.VARIANTS[variant].image
    assert v["benchmark"] == tfjob.DEFAULT_BENCHMARK[variant]
    assert v["benchmark"] == ("synthetic" if variant == "onednn" else "tf_cnn_benchmarks")


def test_benchmark_defaults_have_one_owner():
    assert [F["dlrs_benchmark_default"](k) for k in ("model", "batch_size", "num_batches")] == [
        flags.DEFAULT_MODEL,
        flags.DEFAULT_BATCH_SIZE,
        flags.DEFAULT_NUM_BATCHES,
    ]
    lines = (REPO / "roles/benchmark/defaults/main.yml").read_text().splitlines()
    text = "\n".join(line for line in lines if not line.lstrip().startswith("#"))
    for literal in ("resnet50", ": 64", ": 100", "onednn", "cnn_tf_v1.12_compatible"):
        assert literal not in text, literal


def test_state_dir_filter_is_paths_state_dir(tmp_path, monkeypatch):
    monkeypatch.delenv(paths.STATE_ENV, raising=False)
    assert F["dlrs_state_dir"](str(tmp_path)) == str(tmp_path / ".dlrs-provision")
    monkeypatch.setenv(paths.STATE_ENV, str(tmp_path / "elsewhere"))
    assert F["dlrs_state_dir"](str(tmp_path)) == str(tmp_path / "elsewhere")


def test_roles_read_state_paths_and_the_registry_through_the_filters():
    for rel in (
        "roles/kubeadm_master/defaults/main.yml",
        "roles/kubeflow_training_operator/defaults/main.yml",
        "roles/registry_cache/defaults/main.yml",
    ):
        text = (REPO / rel).read_text()
        assert "DLRS_PROVISION_STATE" not in text and "dlrs_state_dir" in text, rel
    for rel in (
        "roles/containerd/vars/main.yml",
        "roles/kubeadm_master/vars/main.yml",
        "roles/stack_images/vars/main.yml",
    ):
        text = (REPO / rel).read_text()
        assert "5443" not in text and "dlrs_cluster_registry" in text, rel


def test_ansible_cfg_uses_the_state_folder_fact_cache():
    cfg = configparser.ConfigParser()
    cfg.read(REPO / "ansible.cfg")
    assert cfg["defaults"]["fact_caching"] == "dlrs_facts"
    assert "fact_caching_connection" not in cfg["defaults"]
    assert (REPO / cfg["defaults"]["cache_plugins"] / "dlrs_facts.py").is_file()


def test_facts_gathered_by_ansible_playbook_are_read_by_plan(tmp_path):
    """ansible-playbook from the checkout (its ansible.cfg) and `plan` share one fact cache."""
    inv = tmp_path / "site" / "hosts.yml"
    inv.parent.mkdir()
    inv.write_text(
        yaml.safe_dump(
            {
                "all": {
                    "children": {
                        "masters": {
                            "hosts": {
                                "node1": {
                                    "ansible_connection": "local",
                                    "ansible_python_interpreter": sys.executable,
                                }
                            }
                        }
                    }
                }
            }
        )
    )
    book = tmp_path / "facts.yml"
    book.write_text("- hosts: all\n  gather_facts: true\n  tasks: []\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "DLRS_"))}
    bindir = Path(sys.executable).parent
    run = subprocess.run(
        [str(bindir / "ansible-playbook"), "-i", str(inv), str(book)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    facts = paths.facts_dir(inv)
    assert facts == inv.parent / ".dlrs-provision" / "facts"
    assert [p.name.endswith("node1") for p in facts.iterdir()] == [True]
    plan = subprocess.run(
        [str(bindir / "dlrs-provision"), "plan", str(inv), "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert f"facts from {facts}" in plan.stdout or str(facts) in json.dumps(json.loads(plan.stdout))
