"""The image catalog and its use by the inventory and the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from dlrs_provision import catalog, inventory
from dlrs_provision.errors import InputError

CLI = str(Path(sys.executable).parent / "dlrs-provision")
REPO = Path(__file__).resolve().parents[2]


def test_seed_images_and_their_variants():
    assert catalog.VARIANTS["mkl"].image == "clearlinux/stacks-dlaas-mkl:latest"
    assert catalog.VARIANTS["eigen"].image == "clearlinux/stacks-dlaas-oss:latest"
    seeds = {i.ref: i.variant for i in catalog.IMAGES if i.status == "seed"}
    assert seeds == {
        "clearlinux/stacks-dlaas-mkl:latest": "mkl",
        "clearlinux/stacks-dlaas-oss:latest": "eigen",
    }


@pytest.mark.parametrize(
    ("ref", "variant"),
    [
        ("clearlinux/stacks-dlaas-oss:latest", "eigen"),
        ("mirror:5000/clearlinux/stacks-dlaas-mkl:latest", "mkl"),
        ("registry.example.com/clearlinux/stacks-dlrs-oss:v0.5", "eigen"),
        ("intel/intel-optimized-tensorflow", "onednn"),
        ("example/unknown:1", None),
    ],
)
def test_image_variant_ignores_registry_and_tag(ref, variant):
    assert catalog.image_variant(ref) == variant


def test_image_of_another_variant_is_refused(tmp_path):
    path = tmp_path / "hosts.yml"
    path.write_text(
        "all:\n  vars:\n    dlrs_variant: mkl\n    dlrs_image: clearlinux/stacks-dlaas-oss:latest\n"
        "  children:\n    masters:\n      hosts:\n        m1:\n"
    )
    with pytest.raises(InputError) as info:
        inventory.load(path)
    (p,) = info.value.problems
    assert "is the eigen build, but dlrs_variant is mkl" in p.message
    assert p.fix == "set dlrs_variant: eigen where this image is used" and p.line == 4


def test_uncatalogued_image_is_taken_as_given(tmp_path):
    path = tmp_path / "hosts.yml"
    path.write_text(
        "all:\n  vars:\n    dlrs_image: registry.local:5000/site/tf:2.15\n"
        "  children:\n    masters:\n      hosts:\n        m1:\n"
    )
    assert inventory.load(path).image("m1") == "registry.local:5000/site/tf:2.15"


def test_images_list_json():
    out = subprocess.run(
        [CLI, "images", "list", "--json"], capture_output=True, text=True, check=True
    ).stdout
    rows = {r["ref"]: r for r in json.loads(out)}
    assert rows["clearlinux/stacks-dlaas-mkl:latest"]["data_format"] == "NCHW"
    assert rows["clearlinux/stacks-dlaas-oss:latest"]["openmp"] is False
    assert rows["intel/intel-optimized-tensorflow:latest"]["status"] == "current"
    assert rows["clearlinux/stacks-dlaas-oss:latest"]["onednn"] == "never"
    table = subprocess.run([CLI, "images", "list"], capture_output=True, text=True, check=True)
    assert "oneDNN" in table.stdout.splitlines()[0]


def test_every_image_says_when_its_tensorflow_runs_onednn():
    policies = {i.ref: i.onednn for i in catalog.IMAGES}
    assert set(policies.values()) <= set(catalog.ONEDNN_POLICIES)
    assert policies["clearlinux/stacks-dlaas-mkl:latest"] == "always"
    assert policies["clearlinux/stacks-dlaas-oss:latest"] == "never"
    assert policies["intel/intel-optimized-tensorflow:latest"] == "always"
    for img in catalog.IMAGES:  # a variant's images agree with the variant
        assert img.onednn == catalog.VARIANTS[img.variant].onednn
    assert catalog.onednn_policy("eigen")[0] == "never"
    assert catalog.onednn_policy("mkl", "example/unknown:1")[0] == "by-cpu"
    # TensorFlow's DefaultOneDnnPolicy on Linux x86 (tensorflow/core/util/port.cc)
    assert set(catalog.ONEDNN_DEFAULT_CPU_FLAGS) == {
        "avx512_vnni", "avx512_bf16", "avx_vnni", "amx_tile", "amx_int8", "amx_bf16"
    }  # fmt: skip


def test_plan_computes_the_layout_for_the_hosts_image_and_cpu(tmp_path):
    from dlrs_provision import plan

    path = tmp_path / "hosts.yml"
    path.write_text(
        "all:\n  vars:\n    dlrs_variant: mkl\n    dlrs_image: registry.local:5000/site/tf:2.21\n"
        "  children:\n    masters:\n      hosts:\n        m1:\n"
    )
    facts = tmp_path / "facts"
    facts.mkdir()
    base = {"ansible_processor_count": 1, "ansible_processor_cores": 4}
    base["ansible_processor_threads_per_core"] = 1
    for features, layout in ((["avx2", "fma"], "NHWC"), (["avx512_vnni"], "NCHW")):
        record = {"ansible_facts": base | {"preflight_cpu_features": features}}
        (facts / "m1").write_text(json.dumps(record))
        (host,) = plan.build(inventory.load(path), facts).hosts
        assert host.tuning["data_format"] == layout, host.tuning["warnings"]


def test_preflight_records_every_cpu_flag_the_onednn_rule_reads():
    """preflight keeps only some of /proc/cpuinfo's flags; the ones TensorFlow's oneDNN default
    depends on must be among them, or the calculator would always see "none of them"."""
    import re

    import yaml

    tasks = yaml.safe_load((REPO / "roles" / "preflight" / "tasks" / "main.yml").read_text())
    (record,) = [t for t in tasks if t["name"] == "Record topology, NUMA nodes and CPU features"]
    expr = record["ansible.builtin.set_fact"]["preflight_cpu_features"]
    pattern = re.search(r"select\('match', '([^']+)'\)", expr).group(1)
    for flag in catalog.ONEDNN_DEFAULT_CPU_FLAGS:
        assert re.match(pattern, flag), flag
    assert not re.match(pattern, "sse4_2")
