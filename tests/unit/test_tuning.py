"""The tuning rules, starting from the seed's worked example (2 x Xeon Gold 6140)."""

from __future__ import annotations

import pytest
from conftest import FACTS, facts_for, lscpu_text

from dlrs_provision import tuning
from dlrs_provision.facts import load_facts


def test_seed_example_single_node(gold6140):
    t = tuning.compute(gold6140, mode="single", variant="mkl")
    assert (t.num_inter_threads, t.num_intra_threads) == (2, 36)
    assert t.reserved_cores == 0


def test_seed_example_multi_node_reserves_two_cores_per_socket(gold6140):
    t = tuning.compute(gold6140, mode="multi", variant="mkl")
    assert (t.num_inter_threads, t.num_intra_threads) == (2, 32)
    assert t.reserved_cores == 4
    assert t.warnings == []


def test_data_format_follows_the_variant(gold6140):
    assert tuning.compute(gold6140, variant="mkl").data_format == "NCHW"
    assert tuning.compute(gold6140, variant="eigen").data_format == "NHWC"


def test_openmp_environment_only_for_mkl(gold6140):
    mkl = tuning.compute(gold6140, mode="multi", variant="mkl")
    assert mkl.env == {
        "OMP_NUM_THREADS": "32",
        "KMP_AFFINITY": "granularity=fine,compact,1,0",
        "KMP_BLOCKTIME": "1",
    }
    assert tuning.compute(gold6140, mode="multi", variant="eigen").env == {}


def test_hyper_threads_never_count_as_cores():
    ht_on = tuning.compute(facts_for(2, 18, 2))
    ht_off = tuning.compute(facts_for(2, 18, 1))
    assert ht_on.num_intra_threads == ht_off.num_intra_threads == 36


@pytest.mark.parametrize(
    ("sockets", "cores", "threads", "mode", "inter", "intra", "reserved"),
    [
        (1, 28, 2, "single", 1, 28, 0),
        (1, 28, 2, "multi", 1, 26, 2),
        (4, 24, 2, "single", 4, 96, 0),
        (4, 24, 2, "multi", 4, 88, 8),
        (2, 20, 1, "multi", 2, 36, 4),  # HT off
        (1, 4, 1, "multi", 1, 2, 2),  # a small VM still keeps 2 for IO
    ],
)
def test_shapes(sockets, cores, threads, mode, inter, intra, reserved):
    t = tuning.compute(facts_for(sockets, cores, threads), mode=mode)
    assert (t.num_inter_threads, t.num_intra_threads, t.reserved_cores) == (inter, intra, reserved)


@pytest.mark.parametrize(("cores", "reserved", "intra"), [(2, 1, 1), (1, 0, 1)])
def test_host_too_small_for_the_reservation_warns_and_keeps_one_core(cores, reserved, intra):
    t = tuning.compute(facts_for(1, cores, 1), mode="multi")
    assert t.num_intra_threads == intra >= 1
    assert t.reserved_cores == reserved
    assert t.warnings and "reserving" in t.warnings[0]


def test_reserved_cpuset_includes_hyper_thread_siblings():
    facts = {"preflight_cpu_topology": tuning.parse_lscpu(lscpu_text(2, 18, 2))}
    t = tuning.compute(facts, mode="multi")
    # cores 0,1 of socket 0 are cpus 0,1 (+ siblings 36,37); socket 1 starts at core 18
    assert t.reserved_cpuset == "0-1,18-19,36-37,54-55"
    assert t.reserved_cores == 4
    assert t.topology.source == "lscpu topology"


def test_reserved_cpuset_unknown_without_topology(gold6140):
    assert tuning.compute(gold6140, mode="multi").reserved_cpuset is None


def test_topology_wins_over_processor_facts():
    facts = facts_for(1, 2, 1) | {"preflight_cpu_topology": tuning.parse_lscpu(lscpu_text(2, 8, 2))}
    t = tuning.compute(facts, mode="single")
    assert (t.num_inter_threads, t.num_intra_threads) == (2, 16)


def test_overrides_win_and_are_reported(gold6140):
    t = tuning.compute(
        gold6140,
        mode="multi",
        overrides={"dlrs_num_intra_threads": 30, "dlrs_data_format": "NHWC"},
        override_sources={"dlrs_num_intra_threads": "host_vars/w1.yml:3"},
    )
    assert t.num_intra_threads == 30
    assert t.env["OMP_NUM_THREADS"] == "30"
    assert t.data_format == "NHWC"
    assert t.overrides == {"num_intra_threads": "host_vars/w1.yml:3", "data_format": "inventory"}
    assert "override" in t.sources["num_intra_threads"]
    assert t.num_inter_threads == 2  # not overridden: computed


def test_none_overrides_mean_computed(gold6140):
    t = tuning.compute(gold6140, overrides={"dlrs_num_intra_threads": None})
    assert t.num_intra_threads == 36 and t.overrides == {}


def test_missing_fact_is_named():
    facts = facts_for(2, 18, 2)
    del facts["ansible_processor_cores"]
    with pytest.raises(tuning.FactsError, match="ansible_processor_cores"):
        tuning.compute(facts)


@pytest.mark.parametrize("bad", ["NA", None, 0, -1, True, 2.5])
def test_garbled_fact_is_refused(bad):
    facts = facts_for(2, 18, 2) | {"ansible_processor_count": bad}
    with pytest.raises(tuning.FactsError, match="ansible_processor_count"):
        tuning.compute(facts)


def test_lscpu_parser_skips_comments_and_reads_empty_node():
    cpus = tuning.parse_lscpu("# CPU,Core,Socket,Node\n0,0,0,\n1,0,0,\n")
    assert cpus == [
        {"cpu": 0, "core": 0, "socket": 0, "node": None},
        {"cpu": 1, "core": 0, "socket": 0, "node": None},
    ]
    assert tuning.compute({"preflight_cpu_topology": cpus}).topology.threads_per_core == 2


@pytest.mark.parametrize(
    ("cpus", "text"),
    [([0, 1, 2, 5, 7, 8], "0-2,5,7-8"), ([3], "3"), ([], ""), ([4, 3, 3], "3-4")],
)
def test_cpuset_format(cpus, text):
    assert tuning.format_cpuset(cpus) == text


def test_real_facts_captured_from_this_kind_of_machine():
    """Captured with `ansible -m setup` on a 1 socket, 2 core VM (see data/facts/README.md)."""
    for name in ("this-machine-setup.txt", "this-machine-setup.json"):
        facts = load_facts(FACTS / name)
        single = tuning.compute(facts, mode="single")
        assert (single.num_inter_threads, single.num_intra_threads) == (1, 2)
        multi = tuning.compute(facts, mode="multi")
        assert multi.num_intra_threads == 1 and multi.warnings


def test_unknown_mode_or_variant_is_refused(gold6140):
    with pytest.raises(ValueError, match="mode"):
        tuning.compute(gold6140, mode="double")
    with pytest.raises(ValueError, match="variant"):
        tuning.compute(gold6140, variant="cuda")


# --------------------------------------------------------------------------- NCHW needs oneDNN

# CPU-flag fixtures (never this machine's CPU): /proc/cpuinfo names, as preflight records them
SKYLAKE_SP = ["avx2", "avx512bw", "avx512cd", "avx512dq", "avx512f", "avx512vl", "fma"]
CASCADE_LAKE = [*SKYLAKE_SP, "avx512_vnni"]
SAPPHIRE_RAPIDS = [*CASCADE_LAKE, "avx512_bf16", "avx_vnni", "amx_bf16", "amx_int8", "amx_tile"]
EPYC_ZEN3 = ["avx", "avx2", "fma"]  # no AVX-512, no AVX-VNNI
ALDER_LAKE = ["avx2", "avx_vnni", "fma"]
STOCK_TF = "registry.local:5000/site/tensorflow-cpu:2.21"  # not in the catalog


def test_a_catalogued_mkl_image_always_runs_onednn_so_nchw_holds_on_any_cpu():
    for flags in (EPYC_ZEN3, SKYLAKE_SP, None):
        t = tuning.compute(facts_for(1, 4, 1), variant="mkl", cpu_flags=flags)
        assert t.data_format == "NCHW" and t.warnings == []
        assert "always uses oneDNN" in t.sources["data_format"]
    mirrored = "mirror:5000/clearlinux/stacks-dlrs-mkl:v0.5"
    t = tuning.compute(facts_for(1, 4, 1), variant="mkl", image=mirrored, cpu_flags=EPYC_ZEN3)
    assert t.data_format == "NCHW"


@pytest.mark.parametrize(
    ("flags", "found"),
    [
        (CASCADE_LAKE, "avx512_vnni"),
        (SAPPHIRE_RAPIDS, "amx_bf16, amx_int8, amx_tile, avx512_bf16, avx512_vnni, avx_vnni"),
        (ALDER_LAKE, "avx_vnni"),
    ],
)
def test_a_stock_tensorflow_image_keeps_nchw_where_the_cpu_turns_onednn_on(flags, found):
    t = tuning.compute(facts_for(1, 4, 1), variant="mkl", image=STOCK_TF, cpu_flags=flags)
    assert t.data_format == "NCHW" and t.warnings == []
    assert f"on by default on this CPU ({found})" in t.sources["data_format"]


@pytest.mark.parametrize("flags", [EPYC_ZEN3, SKYLAKE_SP])
def test_a_stock_tensorflow_image_gets_nhwc_and_a_warning_where_onednn_is_off(flags):
    t = tuning.compute(facts_for(1, 4, 1), variant="mkl", image=STOCK_TF, cpu_flags=flags)
    assert t.data_format == "NHWC"
    (warning,) = t.warnings
    assert warning.startswith("data_format NHWC instead of the mkl variant's NCHW")
    assert "not in the catalog" in warning and "this CPU has none of them" in warning
    assert "avx512_vnni, avx512_bf16, avx_vnni, amx_tile, amx_int8, amx_bf16" in warning
    assert t.env["OMP_NUM_THREADS"] == "4"  # still an OpenMP variant: only the layout changes


def test_unknown_cpu_flags_with_a_stock_image_mean_nhwc_and_say_to_run_preflight():
    t = tuning.compute(facts_for(1, 4, 1), variant="mkl", image=STOCK_TF)
    assert t.data_format == "NHWC"
    assert "CPU flags are not known (run `dlrs-provision preflight`)" in t.warnings[0]


def test_cpu_flags_come_from_the_facts_preflight_recorded(gold6140):
    """The seed's 2 x Gold 6140 is a Skylake-SP: AVX-512 but no VNNI, so a stock TensorFlow
    2.9+ build leaves oneDNN off there."""
    facts = dict(gold6140, preflight_cpu_features=SKYLAKE_SP)
    assert tuning.compute(facts, variant="mkl", image=STOCK_TF).data_format == "NHWC"
    facts["preflight_cpu_features"] = CASCADE_LAKE
    assert tuning.compute(facts, variant="mkl", image=STOCK_TF).data_format == "NCHW"


def test_eigen_is_nhwc_whatever_the_cpu_and_an_explicit_policy_wins():
    assert (
        tuning.compute(facts_for(1, 2, 1), variant="eigen", cpu_flags=SAPPHIRE_RAPIDS).data_format
        == "NHWC"
    )
    t = tuning.compute(facts_for(1, 2, 1), variant="mkl", onednn="never")
    assert t.data_format == "NHWC" and "Eigen build" in t.warnings[0]
    with pytest.raises(ValueError, match="oneDNN policy"):
        tuning.compute(facts_for(1, 2, 1), variant="mkl", onednn="sometimes")


def test_an_nchw_override_where_onednn_is_off_is_kept_with_a_warning():
    t = tuning.compute(
        facts_for(1, 2, 1),
        variant="eigen",
        image=STOCK_TF,
        cpu_flags=EPYC_ZEN3,
        overrides={"dlrs_data_format": "NCHW"},
    )
    assert t.data_format == "NCHW"
    assert any(w.startswith("override data_format=NCHW") for w in t.warnings)
