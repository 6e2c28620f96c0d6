"""Real hardware the calculator must take (issue #11): kernels without CPU topology, processor
facts that contradict each other (Xen PV guests), and uneven sockets.

Derived facts come from Ansible's own fact code: LinuxHardware.get_cpu_facts fed a
/proc/cpuinfo fixture (data/cpuinfo/), so they are what `setup` reports on such a host.
"""

from __future__ import annotations

import json
import os

import pytest
from ansible.module_utils.facts.hardware import linux
from conftest import DATA, facts_for, lscpu_text

from dlrs_provision import inventory, preflight, report, tuning

LSCPU = DATA / "lscpu"
CPUINFO = DATA / "cpuinfo"


def ansible_cpu_facts(monkeypatch, cpuinfo: str, *, xen: bool, nproc: int) -> dict:
    """The ansible_processor_* facts Ansible's setup module gathers from `cpuinfo`."""
    real_exists, real_lines = os.path.exists, linux.get_file_lines

    def exists(path):
        if path == "/proc/xen":
            return xen
        return real_exists(path)

    def lines(path, *args, **kwargs):
        if path == "/proc/cpuinfo":
            return cpuinfo.splitlines()
        if path == "/sys/hypervisor/type":
            return ["xen"] if xen else []
        return real_lines(path, *args, **kwargs)

    monkeypatch.setattr(linux.os.path, "exists", exists)
    monkeypatch.setattr(linux, "get_file_lines", lines)
    monkeypatch.setattr(linux.os, "access", lambda path, mode, **kw: True)
    monkeypatch.setattr(linux.os, "sched_getaffinity", lambda pid: set(range(nproc)))
    got = linux.LinuxHardware(module=None).get_cpu_facts()
    return {f"ansible_{k}": v for k, v in got.items() if k.startswith("processor_")}


def cpuinfo_of(cores_by_socket: list[int], threads: int) -> str:
    """/proc/cpuinfo of a bare-metal Xeon, as Linux writes it (one block per online CPU)."""
    blocks = []
    cpu = 0
    for _thread in range(threads):
        for socket, cores in enumerate(cores_by_socket):
            for core in range(cores):
                blocks.append(
                    f"processor\t: {cpu}\nvendor_id\t: GenuineIntel\n"
                    f"model name\t: Intel(R) Xeon(R) Gold 6252 CPU @ 2.10GHz\n"
                    f"physical id\t: {socket}\nsiblings\t: {cores * threads}\n"
                    f"core id\t\t: {core}\ncpu cores\t: {cores}\n"
                    "flags\t\t: fpu vme de pse tsc msr pae mce cx8 apic sep ht lm avx512f\n"
                )
                cpu += 1
    return "\n".join(blocks)


# --------------------------------------------------------------------------- no topology


def test_lscpu_with_blank_core_and_socket_columns_means_no_topology():
    """util-linux lscpu prints an empty cell for a core or socket the kernel does not expose."""
    cpus = tuning.parse_lscpu((LSCPU / "no-topology-2s-numa.txt").read_text())
    assert len(cpus) == 16
    assert cpus[0] == {"cpu": 0, "core": None, "socket": None, "node": 0}
    assert {c["node"] for c in cpus} == {0, 1}


def test_no_topology_falls_back_to_the_facts_with_a_warning():
    cpus = tuning.parse_lscpu((LSCPU / "no-topology-2s-numa.txt").read_text())
    facts = facts_for(2, 4, 2) | {"preflight_cpu_topology": cpus}
    t = tuning.compute(facts, mode="multi")
    assert (t.num_inter_threads, t.num_intra_threads, t.reserved_cores) == (2, 4, 4)
    assert t.topology.source.startswith("ansible facts (lscpu shows no core/socket topology")
    assert t.reserved_cpuset is None  # which CPUs are siblings is unknown without topology
    assert any("no core/socket topology" in w for w in t.warnings)


def test_a_garbled_lscpu_line_is_still_refused():
    with pytest.raises(tuning.FactsError, match="not numbers"):
        tuning.parse_lscpu("0,x,0,0\n")


# --------------------------------------------------------------------------- contradicting facts


def test_ansible_reports_a_xen_pv_guest_with_contradicting_facts(monkeypatch):
    """The fixture as Ansible reads it: count and cores both the vCPU count, 8 x 8 x 1 = 64."""
    facts = ansible_cpu_facts(
        monkeypatch, (CPUINFO / "xen-pv-8vcpu.txt").read_text(), xen=True, nproc=8
    )
    assert facts == {
        "ansible_processor_count": 8,
        "ansible_processor_cores": 8,
        "ansible_processor_threads_per_core": 1,
        "ansible_processor_vcpus": 8,
        "ansible_processor_nproc": 8,
    }


def test_xen_pv_guest_is_planned_on_its_8_vcpus(monkeypatch):
    facts = ansible_cpu_facts(
        monkeypatch, (CPUINFO / "xen-pv-8vcpu.txt").read_text(), xen=True, nproc=8
    )
    single = tuning.compute(facts, mode="single")
    assert (single.num_inter_threads, single.num_intra_threads) == (1, 8)
    assert single.topology.logical_cpus == 8
    note = single.warnings[0]
    assert "contradict" in note and "Xen PV" in note
    assert "Trusted ansible_processor_vcpus 8" in note and "nproc 8 agrees" in note
    assert "ignored ansible_processor_count 8" in note
    multi = tuning.compute(facts, mode="multi")
    assert (multi.num_inter_threads, multi.num_intra_threads) == (1, 6)


def test_xen_guest_without_topology_uses_the_cross_checked_facts(monkeypatch):
    facts = ansible_cpu_facts(
        monkeypatch, (CPUINFO / "xen-pv-8vcpu.txt").read_text(), xen=True, nproc=8
    )
    facts["preflight_cpu_topology"] = tuning.parse_lscpu(
        (LSCPU / "no-topology-xen-guest.txt").read_text()
    )
    t = tuning.compute(facts)
    assert (t.num_inter_threads, t.num_intra_threads) == (1, 8)
    assert len(t.warnings) == 2  # why the facts, and which of them were trusted


def test_nproc_breaks_the_tie_when_vcpus_is_the_odd_one():
    facts = facts_for(2, 18, 2) | {"ansible_processor_vcpus": 36, "ansible_processor_nproc": 72}
    t = tuning.compute(facts)
    assert t.num_intra_threads == 36 and t.topology.logical_cpus == 72
    assert "ansible_processor_vcpus 36 is ignored" in t.warnings[0]


def test_consistent_facts_give_no_warning(gold6140):
    assert tuning.compute(gold6140).warnings == []


def test_nproc_below_the_facts_warns_but_keeps_them():
    """A host whose services are pinned (systemd CPUAffinity) runs Ansible on fewer CPUs."""
    t = tuning.compute(facts_for(2, 18, 2) | {"ansible_processor_nproc": 4})
    assert t.num_intra_threads == 36
    assert "ansible_processor_nproc is 4" in t.warnings[0]


# --------------------------------------------------------------------------- uneven sockets


def lscpu_without(text: str, cpus: set[int]) -> str:
    """lscpu -p output with some CPUs offline (lscpu -p lists online CPUs only)."""
    keep = [
        ln for ln in text.splitlines() if ln.startswith("#") or int(ln.split(",")[0]) not in cpus
    ]
    return "\n".join(keep) + "\n"


def uneven_2x24() -> dict:
    """2 x 24 cores with hyper-threads; socket 1's last core (cpus 47 and 95) offline."""
    return {
        "preflight_cpu_topology": tuning.parse_lscpu(lscpu_without(lscpu_text(2, 24, 2), {47, 95}))
    }


def test_uneven_sockets_are_computed_per_socket():
    facts = uneven_2x24()
    single = tuning.compute(facts, mode="single")
    assert (single.num_inter_threads, single.num_intra_threads) == (2, 47)
    assert single.topology.cores_by_socket == (24, 23)
    multi = tuning.compute(facts, mode="multi")
    assert (multi.num_inter_threads, multi.num_intra_threads, multi.reserved_cores) == (2, 43, 4)
    assert multi.reserved_cpuset == "0-1,24-25,48-49,72-73"
    assert multi.warnings == []


def test_uneven_topology_line_multiplies_out():
    t = tuning.compute(uneven_2x24())
    assert t.topology.summary() == "2 sockets (24 + 23 cores) x 2 thread(s) = 94 logical CPUs"
    assert t.topology.logical_cpus == 94


def test_an_offline_sibling_keeps_hyper_threading_and_says_so():
    facts = {
        "preflight_cpu_topology": tuning.parse_lscpu(lscpu_without(lscpu_text(2, 24, 2), {95}))
    }
    t = tuning.compute(facts, mode="multi")
    assert t.topology.threads_per_core == 2
    assert t.topology.summary() == (
        "2 socket(s) x 24 cores x 2 thread(s) = 96 logical CPUs, 95 online (1 sibling offline)"
    )
    assert (t.num_inter_threads, t.num_intra_threads) == (2, 44)
    assert "95 online" in report.tuning_table(t.to_dict()).splitlines()[0]


def test_a_socket_of_one_core_keeps_it_for_tensorflow():
    text = "0,0,0,0\n1,1,0,0\n2,2,0,0\n3,3,0,0\n4,4,1,1\n"
    t = tuning.compute({"preflight_cpu_topology": tuning.parse_lscpu(text)}, mode="multi")
    assert t.topology.cores_by_socket == (4, 1)
    assert (t.num_intra_threads, t.reserved_cores) == (3, 2)  # (4 - 2) + (1 - 0)
    assert t.warnings and "reserving" in t.warnings[0]


def test_uneven_sockets_from_ansible_facts_alone_warn_through_nproc(monkeypatch):
    """Ansible takes the first socket's "cpu cores": a core offline on socket 1 is invisible in
    the facts (2 x 24 x 2 = 96), but nproc counts the 94 online CPUs."""
    facts = ansible_cpu_facts(monkeypatch, cpuinfo_of([24, 23], 2), xen=False, nproc=94)
    assert (facts["ansible_processor_cores"], facts["ansible_processor_vcpus"]) == (24, 96)
    t = tuning.compute(facts)
    assert t.num_intra_threads == 48
    assert "ansible_processor_nproc is 94" in t.warnings[0]


# --------------------------------------------------------------------------- preflight report


def test_preflight_report_shows_the_cross_checked_shape_and_the_warnings(monkeypatch, tmp_path):
    """A Xen PV guest's cached facts: the table shows 1 socket of 8 cores (not Ansible's
    8s x 8c), and the calculator's warning follows it, naming the host."""
    facts = ansible_cpu_facts(
        monkeypatch, (CPUINFO / "xen-pv-8vcpu.txt").read_text(), xen=True, nproc=8
    )
    facts |= {
        "ansible_memtotal_mb": 32000,
        "ansible_distribution": "Debian",
        "ansible_distribution_version": "12",
        "preflight_numa_nodes": 0,
        "preflight_tuning": tuning.compute(facts).to_dict(),
    }
    (tmp_path / "localhost").write_text(json.dumps(facts))
    inv = inventory.load("inventory/localhost/hosts.yml")
    reports = preflight.host_reports(inv, tmp_path, None)
    assert reports[0].hardware.startswith("1s x 8c x 1t, 0 NUMA")
    assert "inter 1, intra 8" in reports[0].tuning
    text = preflight.render_reports(reports)
    assert "warning: localhost: the processor facts contradict each other" in text


def test_xen_guest_without_topology_still_gets_a_reserved_cpuset(monkeypatch):
    """One socket, no hyper-threads: every CPU lscpu lists is a core, so the kubelet's
    reservedSystemCPUs is known even without the kernel's topology."""
    facts = ansible_cpu_facts(
        monkeypatch, (CPUINFO / "xen-pv-8vcpu.txt").read_text(), xen=True, nproc=8
    )
    facts["preflight_cpu_topology"] = tuning.parse_lscpu(
        (LSCPU / "no-topology-xen-guest.txt").read_text()
    )
    t = tuning.compute(facts, mode="multi")
    assert (t.num_intra_threads, t.reserved_cores, t.reserved_cpuset) == (6, 2, "0-1")
