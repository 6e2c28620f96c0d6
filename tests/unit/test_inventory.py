"""Inventory loading and validation: good shapes load, each bad one gets its own message."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from conftest import inventory_problems

from dlrs_provision import inventory

REPO = Path(__file__).resolve().parents[2]

GOOD = """\
all:
  vars:
    dlrs_variant: mkl
  children:
    masters:
      hosts:
        m1: {ansible_host: 10.0.0.1}
    workers:
      hosts:
        w1: {ansible_host: 10.0.0.2}
        w2: {ansible_host: 10.0.0.3}
"""


def write(tmp_path: Path, text: str, name: str = "hosts.yml") -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def only(path: Path):
    found = inventory_problems(path)
    assert len(found) == 1, [p.render() for p in found]
    return found[0]


# --------------------------------------------------------------------------- good inventories


def test_good_yaml_inventory(tmp_path):
    inv = inventory.load(write(tmp_path, GOOD))
    assert inv.masters == ["m1"]
    assert inv.workers == ["w1", "w2"]
    assert inv.mode() == "multi"
    assert inv.setting("w1", "dlrs_variant") == "mkl"
    assert inv.image("w1") == "clearlinux/stacks-dlaas-mkl:latest"


def test_no_workers_is_a_single_node_cluster(tmp_path):
    inv = inventory.load(
        write(tmp_path, "all:\n  children:\n    masters:\n      hosts:\n        m1:\n")
    )
    assert inv.workers == [] and inv.mode() == "single"


def test_sample_inventory_validates_with_its_folder():
    inv = inventory.load(REPO / "inventory/sample/hosts.yml")
    assert len(inv.workers) == 4
    var = inv.host_vars("xeon-w04")["dlrs_num_intra_threads"]
    assert var.value == 30 and var.origin.file.endswith("hosts.yml") and var.origin.line


def test_ini_inventory_with_vars_and_children(tmp_path):
    path = write(
        tmp_path,
        """\
        [masters]
        m1 ansible_host=10.0.0.1

        [workers]
        w[1:3] dlrs_num_intra_threads=12

        [cluster:children]
        masters
        workers

        [cluster:vars]
        dlrs_variant=eigen
        """,
        name="hosts",
    )
    inv = inventory.load(path)
    assert inv.workers == ["w1", "w2", "w3"]
    assert inv.setting("w2", "dlrs_num_intra_threads") == 12
    assert inv.setting("m1", "dlrs_variant") == "eigen"
    assert inv.image("m1") == "clearlinux/stacks-dlaas-oss:latest"


def test_precedence_host_vars_beat_group_vars_beat_hosts_file(tmp_path):
    write(tmp_path, GOOD)
    write(tmp_path, "dlrs_variant: eigen\ndlrs_kmp_blocktime: 0\n", "group_vars/workers.yml")
    write(tmp_path, "dlrs_variant: mkl\n", "host_vars/w2.yml")
    inv = inventory.load(tmp_path)
    assert inv.setting("m1", "dlrs_variant") == "mkl"
    assert inv.setting("w1", "dlrs_variant") == "eigen"
    assert inv.host_vars("w1")["dlrs_variant"].origin.file.endswith("group_vars/workers.yml")
    assert inv.setting("w2", "dlrs_variant") == "mkl"
    assert inv.host_vars("w2")["dlrs_variant"].origin.line == 1


def test_group_vars_as_folder_of_files(tmp_path):
    write(tmp_path, GOOD)
    write(tmp_path, "dlrs_kmp_blocktime: 0\n", "group_vars/all/tuning.yml")
    inv = inventory.load(tmp_path / "hosts.yml")
    assert inv.setting("w1", "dlrs_kmp_blocktime") == 0


def test_effective_vars_agree_with_ansible_inventory(tmp_path):
    """Our merge order is Ansible's: compare with `ansible-inventory --list` itself."""
    write(
        tmp_path,
        GOOD.replace(
            "    dlrs_variant: mkl\n", "    dlrs_variant: mkl\n    dlrs_kmp_blocktime: 5\n"
        ),
    )
    write(tmp_path, "dlrs_variant: eigen\n", "group_vars/workers.yml")
    write(tmp_path, "dlrs_kmp_blocktime: 7\n", "group_vars/all.yml")
    write(tmp_path, "dlrs_variant: mkl\n", "host_vars/w2.yml")
    out = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-inventory"), "-i", str(tmp_path), "--list"],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    ).stdout
    hostvars = json.loads(out)["_meta"]["hostvars"]
    inv = inventory.load(tmp_path)
    for host in ("m1", "w1", "w2"):
        ours = {k: v for k, v in inv.values(host).items() if k.startswith("dlrs_")}
        theirs = {k: v for k, v in hostvars[host].items() if k.startswith("dlrs_")}
        assert ours == theirs, host


def test_unknown_group_vars_file_is_a_warning_with_a_suggestion(tmp_path):
    write(tmp_path, GOOD)
    write(tmp_path, "dlrs_variant: eigen\n", "group_vars/workerz.yml")
    inv = inventory.load(tmp_path)
    assert len(inv.warnings) == 1
    assert "did you mean 'workers'" in inv.warnings[0].render()


# --------------------------------------------------------------------------- bad inventories


def test_yaml_that_does_not_parse_names_the_line(tmp_path):
    p = only(write(tmp_path, "all:\n  children:\n    masters:\n     hosts: [\n"))
    assert "YAML does not parse" in p.message and p.line is not None


def test_tab_indentation_names_the_line(tmp_path):
    p = only(write(tmp_path, "all:\n  children:\n\tmasters:\n"))
    assert p.line == 3 and "YAML" in p.message


def test_empty_file(tmp_path):
    p = only(write(tmp_path, "# nothing here\n"))
    assert p.message == "the inventory file is empty" and "masters" in p.fix


def test_empty_ini_file(tmp_path):
    p = only(write(tmp_path, "; comment only\n", name="hosts"))
    assert p.message == "the inventory file is empty"


def test_top_level_not_a_mapping(tmp_path):
    p = only(write(tmp_path, "- m1\n- w1\n"))
    assert p.message == "the top level must be a mapping of groups, got a list" and "all:" in p.fix


def test_no_masters_group(tmp_path):
    p = only(write(tmp_path, "all:\n  children:\n    workers:\n      hosts:\n        w1:\n"))
    assert p.message == "no `masters` group" and p.field == "masters"


def test_masters_group_without_host(tmp_path):
    p = only(write(tmp_path, "all:\n  children:\n    masters:\n      hosts: {}\n"))
    assert "has no host" in p.message and p.where == "group masters"


def test_two_masters_are_listed_with_their_lines(tmp_path):
    p = only(
        write(
            tmp_path,
            GOOD.replace(
                "        m1: {ansible_host: 10.0.0.1}\n",
                "        m1: {ansible_host: 10.0.0.1}\n        m2: {ansible_host: 10.0.0.9}\n",
            ),
        )
    )
    assert "2 hosts in `masters`" in p.message
    assert "m1" in p.message and "m2" in p.message and "hosts.yml:8" in p.message
    assert "exactly one" in p.fix


def test_host_in_both_groups(tmp_path):
    p = only(
        write(tmp_path, GOOD.replace("        w2: {ansible_host: 10.0.0.3}\n", "        m1:\n"))
    )
    assert p.message == "host is in both `masters` and `workers`" and p.where == "host m1"


def test_host_name_that_kubernetes_refuses_as_a_node_name(tmp_path):
    p = only(write(tmp_path, GOOD.replace("w2: {", "gpu_02: {")))
    assert "cannot be a Kubernetes node name" in p.message and p.where == "host gpu_02"
    assert p.line == 11 and "'gpu-02'" in p.fix and "ansible_host" in p.fix


def test_upper_case_and_dotted_host_names_are_fine_as_node_names(tmp_path):
    # kubeadm lower-cases the host name, and a DNS name with dots is a valid node name
    text = GOOD.replace("w1: {", "Rack1-W1: {").replace("w2: {", "w2.dc1.example.com: {")
    assert inventory.load(write(tmp_path, text)).workers == ["Rack1-W1", "w2.dc1.example.com"]


def test_explicit_node_name_lets_any_host_name_through(tmp_path):
    text = GOOD.replace(
        "w2: {ansible_host: 10.0.0.3}",
        "gpu_02: {ansible_host: 10.0.0.3, kubeadm_worker_node_name: gpu-02}",
    )
    assert inventory.load(write(tmp_path, text)).workers == ["w1", "gpu_02"]


def test_same_address_and_port_twice(tmp_path):
    p = only(write(tmp_path, GOOD.replace("10.0.0.3", "10.0.0.2")))
    assert "same address and port as host w1 (10.0.0.2:22)" in p.message
    assert p.where == "host w2" and p.line == 11


def test_same_address_on_other_ports_is_fine(tmp_path):
    text = GOOD.replace(
        "w2: {ansible_host: 10.0.0.3}", "w2: {ansible_host: 10.0.0.2, ansible_port: 2222}"
    )
    assert inventory.load(write(tmp_path, text)).workers == ["w1", "w2"]


def test_ini_host_port_collision(tmp_path):
    path = write(tmp_path, "[masters]\n127.0.0.1:2201\n[workers]\n127.0.0.1:2201\n", name="hosts")
    # the same name twice is one host in Ansible: it lands in both groups
    p = only(path)
    assert "both" in p.message


def test_unknown_setting_with_did_you_mean(tmp_path):
    p = only(write(tmp_path, GOOD.replace("dlrs_variant: mkl", "dlrs_varient: mkl")))
    assert p.message == "unknown setting" and p.field == "dlrs_varient"
    assert p.fix == "did you mean dlrs_variant?" and p.line == 3 and p.where == "group all"


def test_unknown_setting_without_close_match_lists_known(tmp_path):
    p = only(write(tmp_path, GOOD.replace("dlrs_variant: mkl", "dlrs_colour: blue")))
    assert "known settings" in p.fix and "dlrs_variant" in p.fix


def test_variant_outside_choices_suggests(tmp_path):
    p = only(write(tmp_path, GOOD.replace("dlrs_variant: mkl", "dlrs_variant: mk1")))
    assert "not one of the accepted values" in p.message
    assert "one of mkl, eigen" in p.fix and "did you mean 'mkl'" in p.fix


def test_threads_below_one(tmp_path):
    p = only(
        write(
            tmp_path,
            GOOD.replace(
                "w1: {ansible_host: 10.0.0.2}",
                "w1: {ansible_host: 10.0.0.2, dlrs_num_intra_threads: 0}",
            ),
        )
    )
    assert p.message == "is 0, below the minimum 1" and p.where == "host w1" and p.line == 10


def test_threads_given_as_quoted_string(tmp_path):
    p = only(write(tmp_path, GOOD.replace("dlrs_variant: mkl", 'dlrs_num_inter_threads: "2"')))
    assert "not a whole number" in p.message and "remove the quotes" in p.fix


def test_boolean_where_a_number_belongs(tmp_path):
    p = only(write(tmp_path, GOOD.replace("dlrs_variant: mkl", "dlrs_num_inter_threads: yes")))
    assert p.message == "is the boolean true, not a whole number"


def test_clearlinux_version_below_26240(tmp_path):
    p = only(
        write(tmp_path, GOOD.replace("dlrs_variant: mkl", "dlrs_clearlinux_min_version: 25000"))
    )
    assert "below the minimum 26240" in p.message and p.field == "dlrs_clearlinux_min_version"


def test_pin_below_the_minimum(tmp_path):
    text = GOOD.replace(
        "dlrs_variant: mkl",
        "dlrs_clearlinux_min_version: 30000\n    dlrs_clearlinux_version: 28000",
    )
    p = only(write(tmp_path, text))
    assert "pinned version 28000 is below" in p.message
    assert p.where == "group all" and p.line == 4


def test_data_format_lowercase(tmp_path):
    p = only(write(tmp_path, GOOD.replace("dlrs_variant: mkl", "dlrs_data_format: nchw")))
    assert "one of NCHW, NHWC" in p.fix and "did you mean 'NCHW'" in p.fix


def test_mirror_url_without_scheme(tmp_path):
    p = only(
        write(
            tmp_path,
            GOOD.replace("dlrs_variant: mkl", "dlrs_clearlinux_mirror: mirror.local/update"),
        )
    )
    assert "not an http(s) URL" in p.message


def test_invalid_image_reference(tmp_path):
    p = only(write(tmp_path, GOOD.replace("dlrs_variant: mkl", "dlrs_image: Not An Image")))
    assert "not a valid image reference" in p.message


def test_list_setting_given_a_string(tmp_path):
    p = only(write(tmp_path, GOOD.replace("dlrs_variant: mkl", "dlrs_clearlinux_bundles: editors")))
    assert "not a list of strings" in p.message


def test_hosts_given_as_a_list(tmp_path):
    found = inventory_problems(
        write(
            tmp_path,
            GOOD.replace("      hosts:\n        m1: {ansible_host: 10.0.0.1}", "      hosts: [m1]"),
        )
    )
    assert "`hosts` must be a mapping" in found[0].message and found[0].field == "hosts"
    assert found[0].line == 6
    # and what follows from it: Ansible would see no master
    assert [p.message for p in found[1:]] == ["the `masters` group has no host"]


def test_misspelt_group_key(tmp_path):
    found = inventory_problems(
        write(tmp_path, GOOD.replace("    workers:\n      hosts:", "    workers:\n      host:"))
    )
    messages = [p.render() for p in found]
    assert any(
        "unknown key 'host' in a group" in m and "did you mean 'hosts'" in m for m in messages
    )


def test_duplicate_key_in_a_mapping(tmp_path):
    text = GOOD.replace(
        "  vars:\n    dlrs_variant: mkl\n",
        "  vars:\n    dlrs_variant: mkl\n    dlrs_variant: eigen\n",
    )
    p = only(write(tmp_path, text))
    assert "appears twice" in p.message and p.line == 4


def test_port_out_of_range(tmp_path):
    p = only(
        write(
            tmp_path,
            GOOD.replace(
                "{ansible_host: 10.0.0.3}", "{ansible_host: 10.0.0.3, ansible_port: 70000}"
            ),
        )
    )
    assert "not a TCP port" in p.message and p.field == "ansible_port"


def test_ini_vars_line_without_equals(tmp_path):
    p = only(write(tmp_path, "[masters]\nm1\n[masters:vars]\ndlrs_variant mkl\n", name="hosts"))
    assert "expected key=value" in p.message and p.line == 4


def test_ini_unknown_section_kind(tmp_path):
    p = only(write(tmp_path, "[masters]\nm1\n[masters:var]\nx=1\n", name="hosts"))
    assert "unknown section kind 'var'" in p.message and p.line == 3


def test_bad_value_in_group_vars_file_names_that_file(tmp_path):
    write(tmp_path, GOOD)
    write(tmp_path, "---\n# tuning\ndlrs_num_intra_threads: -4\n", "group_vars/workers.yml")
    p = only(tmp_path)
    assert p.file.endswith("group_vars/workers.yml") and p.line == 3
    assert p.where == "group workers"


def test_folder_without_hosts_file(tmp_path):
    (tmp_path / "group_vars").mkdir()
    p = only(tmp_path)
    assert "no hosts file" in p.message


def test_missing_path():
    p = only(Path("/nonexistent/inventory.yml"))
    assert p.message == "no such file or folder"


def test_every_error_is_reported_not_just_the_first(tmp_path):
    text = GOOD.replace(
        "dlrs_variant: mkl", "dlrs_variant: mk1\n    dlrs_num_inter_threads: 0\n    dlrs_bogus: 1"
    )
    found = inventory_problems(write(tmp_path, text))
    assert {p.field for p in found} == {"dlrs_variant", "dlrs_num_inter_threads", "dlrs_bogus"}


def test_rendered_problem_carries_file_line_where_field_and_fix(tmp_path):
    p = only(write(tmp_path, GOOD.replace("dlrs_variant: mkl", "dlrs_variant: cuda")))
    text = p.render()
    assert text.startswith(f"{tmp_path / 'hosts.yml'}:3: group all: dlrs_variant: ")
    assert "fix: give one of mkl, eigen" in text


def test_vault_values_are_not_shown_or_checked(tmp_path):
    text = GOOD.replace(
        "dlrs_variant: mkl",
        "dlrs_variant: mkl\n    ansible_become_password: !vault |\n"
        "      $ANSIBLE_VAULT;1.1;AES256\n      6231",
    )
    inv = inventory.load(write(tmp_path, text))
    assert repr(inv.values("m1")["ansible_become_password"]) == "<vault-encrypted>"


def test_plain_http_swupd_mirror_needs_the_explicit_setting(tmp_path):
    text = GOOD.replace("dlrs_variant: mkl", "dlrs_clearlinux_mirror: http://mirror:8080/update")
    p = only(write(tmp_path, text))
    assert "plain HTTP, which swupd refuses" in p.message
    assert "dlrs_clearlinux_allow_insecure_http: true" in p.fix
    allowed = text.replace(
        "  children:", "    dlrs_clearlinux_allow_insecure_http: true\n  children:", 1
    )
    assert inventory.load(write(tmp_path, allowed)).masters == ["m1"]


# --------------------------------------------------------------------------- the cluster's registry


def test_registry_settings_load_with_their_values(tmp_path):
    text = GOOD.replace(
        "dlrs_variant: mkl",
        "dlrs_registry_cache: true\n    dlrs_registry_mode: local\n"
        "    dlrs_registry_cache_host: registry.example.com\n    dlrs_registry_cache_port: 5000\n"
        "    dlrs_upstream_registry_username: puller\n"
        '    dlrs_upstream_registry_password: "{{ vault_registry_password }}"',
    )
    inv = inventory.load(write(tmp_path, text))
    assert inv.setting("w2", "dlrs_registry_mode") == "local"
    assert inv.setting("w2", "dlrs_registry_cache_port") == 5000


def test_registry_defaults_are_a_pull_through_cache_on_5443(tmp_path):
    inv = inventory.load(write(tmp_path, GOOD))
    assert inv.setting("m1", "dlrs_registry_cache") is True
    assert inv.setting("m1", "dlrs_registry_mode") == "proxy"
    assert inv.setting("m1", "dlrs_registry_cache_port") == 5443


def test_registry_mode_outside_choices_suggests(tmp_path):
    p = only(write(tmp_path, GOOD.replace("dlrs_variant: mkl", "dlrs_registry_mode: Local")))
    assert p.field == "dlrs_registry_mode" and p.line == 3
    assert "one of proxy, local" in p.fix and "did you mean 'local'" in p.fix


def test_registry_cache_given_as_a_string(tmp_path):
    p = only(write(tmp_path, GOOD.replace("dlrs_variant: mkl", 'dlrs_registry_cache: "no"')))
    assert p.message == "is the string 'no', not a boolean" and p.field == "dlrs_registry_cache"


def test_registry_port_out_of_range(tmp_path):
    p = only(write(tmp_path, GOOD.replace("dlrs_variant: mkl", "dlrs_registry_cache_port: 70000")))
    assert p.message == "is 70000, above the maximum 65535"


def test_registry_host_with_a_port_is_refused(tmp_path):
    text = GOOD.replace("dlrs_variant: mkl", "dlrs_registry_cache_host: node1:5443")
    p = only(write(tmp_path, text))
    assert p.message == "is 'node1:5443', not a host name or address"
    assert "no port" in p.fix


def test_registry_password_without_user_name_is_refused_without_showing_it(tmp_path):
    secret = "s3cret-Registry-pw"
    text = GOOD.replace("dlrs_variant: mkl", f"dlrs_upstream_registry_password: {secret}")
    p = only(write(tmp_path, text))
    assert p.field == "dlrs_upstream_registry_password" and p.line == 3
    assert "without dlrs_upstream_registry_username" in p.message
    assert secret not in p.render()


def test_registry_password_of_a_wrong_type_is_not_echoed(tmp_path):
    text = GOOD.replace(
        "dlrs_variant: mkl",
        "dlrs_upstream_registry_username: puller\n    dlrs_upstream_registry_password: 73105991",
    )
    p = only(write(tmp_path, text))
    assert p.field == "dlrs_upstream_registry_password" and "not a string" in p.message
    assert "73105991" not in p.render()


def test_registry_port_set_on_the_master_only_is_refused_at_that_line(tmp_path):
    text = GOOD.replace(
        "m1: {ansible_host: 10.0.0.1}",
        "m1: {ansible_host: 10.0.0.1, dlrs_registry_cache_port: 5000}",
    )
    found = inventory_problems(write(tmp_path, text))
    assert {p.field for p in found} == {"dlrs_registry_cache_port"}
    assert all(p.line == 7 and p.where == "host m1" for p in found)
    assert "5443 on w1 but 5000 on the master m1" in found[0].message
    assert "group all" in found[0].fix


# ------------------------------------------------------------------------ through Ansible's loader


def test_bad_yaml_host_ranges_are_problems_at_their_line_not_tracebacks(tmp_path):
    text = GOOD.replace("w1: {ansible_host: 10.0.0.2}", "w[1:4:0]: {}").replace(
        "w2: {ansible_host: 10.0.0.3}", "w[a:5]: {}"
    )
    found = inventory_problems(write(tmp_path, text))
    assert [(p.line, p.message.split(" does not expand")[0]) for p in found] == [
        (10, "host range 'w[1:4:0]'"),
        (11, "host range 'w[a:5]'"),
    ]
    assert all(p.file.endswith("hosts.yml") and "[START:END]" in p.fix for p in found)


def test_bad_ini_host_range_names_its_line(tmp_path):
    p = only(write(tmp_path, "[masters]\nm1\n[workers]\nw[01:3]\n", name="hosts"))
    assert p.message.startswith("host range 'w[01:3]' does not expand") and p.line == 4
    assert "equal-length" in p.message


def test_templated_port_is_legal_and_left_to_the_run(tmp_path):
    text = GOOD.replace(
        "w2: {ansible_host: 10.0.0.3}", "w2: {ansible_host: 10.0.0.3, ansible_port: '{{ p }}'}"
    )
    inv = inventory.load(write(tmp_path, text))
    assert inv.values("w2")["ansible_port"] == "{{ p }}"


def test_values_leave_the_module_as_plain_python(tmp_path):
    write(tmp_path, GOOD)
    write(tmp_path, "dlrs_clearlinux_bundles: [editors]\nx: {a: [1, b]}\n", "group_vars/all.yml")
    inv = inventory.load(tmp_path)
    values = inv.values("w1")
    assert type(values["dlrs_clearlinux_bundles"]) is list
    assert type(values["dlrs_clearlinux_bundles"][0]) is str
    assert type(values["x"]) is dict and type(values["x"]["a"][0]) is int
    assert all(type(h) is str for h in inv.hosts) and all(type(g) is str for g in inv.groups)
    assert type(values["dlrs_variant"]) is str


def test_vault_encrypted_group_vars_file_is_a_warning(tmp_path):
    write(tmp_path, GOOD)
    write(tmp_path, "$ANSIBLE_VAULT;1.1;AES256\n6231\n", "group_vars/workers.yml")
    inv = inventory.load(tmp_path)
    assert [w.message for w in inv.warnings] == [
        "vault-encrypted file: its dlrs_ settings are not checked before the run"
    ]


def test_duplicate_key_in_a_group_vars_file_names_that_file(tmp_path):
    write(tmp_path, GOOD)
    write(tmp_path, "dlrs_variant: mkl\ndlrs_variant: eigen\n", "group_vars/workers.yml")
    p = only(tmp_path)
    assert p.file.endswith("group_vars/workers.yml") and p.line == 2
    assert "appears twice" in p.message and p.field == "dlrs_variant"


def test_hosts_file_without_extension_in_yaml_is_read_as_yaml(tmp_path):
    inv = inventory.load(write(tmp_path, GOOD, name="hosts"))
    assert inv.workers == ["w1", "w2"]
