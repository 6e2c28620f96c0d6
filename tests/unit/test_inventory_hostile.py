"""Hostile inventories and facts files, through the real command line (issue 14): each ends in
exit 2 with a message that names the culprit, the file and line where there is one, and the
fix; never a traceback, and nothing is reached (no SSH, no Ansible run)."""

from __future__ import annotations

import os
import stat
import textwrap
import time
from pathlib import Path

import pytest

from dlrs_provision import cli, input_files, preflight, runner
from dlrs_provision.commands import hosts as host_commands

MASTER = "all:\n  children:\n    masters:\n      hosts:\n        m1: {ansible_host: 10.0.0.1}\n"


def with_workers(body: str) -> str:
    return MASTER + "    workers:\n      hosts:\n" + textwrap.indent(textwrap.dedent(body), " " * 8)


@pytest.fixture(autouse=True)
def nothing_is_reached(monkeypatch):
    """A refused input must stop before any host: reaching one or running Ansible fails."""

    def touched(*_a, **_k):
        raise AssertionError("a host was reached for a refused input")

    monkeypatch.setattr(preflight, "check_reach", touched)
    monkeypatch.setattr(runner, "run_playbook", touched)


def run_cli(capsys, *argv: str) -> tuple[int, str]:
    code = cli.main([str(a) for a in argv])
    captured = capsys.readouterr()
    text = captured.out + captured.err
    assert "Traceback" not in text
    return code, text


def refused(capsys, *argv: str, says: list[str]) -> str:
    code, text = run_cli(capsys, *argv)
    assert code == 2, text
    for word in says:
        assert word in text, (word, text)
    assert "fix:" in text, text
    return text


def put(root: Path, files: dict[str, str | bytes | None]) -> Path:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if content is None:
            path.mkdir(exist_ok=True)
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    return root


# --------------------------------------------------------------------------- 1. host ranges


@pytest.mark.parametrize(
    ("host", "says"),
    [
        ("w[1:3:0]", ["w[1:3:0]", "step is zero"]),
        ("w[01:10:0]", ["step is zero"]),
        ("w[1:c]", ["w[1:c]", "mixes a number and a letter"]),
        ("w[a:3]", ["mixes a number and a letter"]),
        ("w[ab:cd]", ["neither a range of numbers nor of single letters"]),
        ("w[1:5:x]", ["step 'x' is not a whole number"]),
        ("w[5:1]", ["w[5:1]", "reversed", "[1:5]"]),
        ("w[z:a]", ["reversed"]),
        ("w[0:999999]", ["1,000,000 hosts", "10,000"]),
        ("w[0:200]x[0:200]", ["10,000"]),  # each range small, the product not
    ],
)
def test_bad_host_ranges_are_named_with_file_and_line(tmp_path, capsys, host, says):
    inv = put(tmp_path, {"hosts.yml": with_workers(f"{host}:\n")}) / "hosts.yml"
    started = time.monotonic()
    refused(capsys, "validate", inv, says=[*says, f"{inv}:8"])
    assert time.monotonic() - started < 10


@pytest.mark.parametrize("host", ["w[1:3:0]", "w[9:1]", "w[1:b]"])
def test_bad_ranges_in_ini(tmp_path, capsys, host):
    inv = put(tmp_path, {"hosts": f"[masters]\nm1\n\n[workers]\n{host}\n"}) / "hosts"
    refused(capsys, "validate", inv, says=[f"{inv}:5", host])


def test_good_ranges_still_expand(tmp_path, capsys):
    inv = put(tmp_path, {"hosts.yml": with_workers("w[01:03]:\nx[a:c]:\nv[0:99:2]:\n")})
    code, text = run_cli(capsys, "validate", inv / "hosts.yml")
    assert code == 0, text
    assert "56 worker(s)" in text


@pytest.mark.parametrize(
    ("entry", "says"),
    [
        ("~: {}\n", ["a host name must be a string, got nothing"]),
        ("null:\n", ["a host name must be a string, got nothing"]),
        ("? [a, b]\n: {}\n", ["is a list or a mapping"]),
        ("? {a: 1}\n: {}\n", []),
        ("12: {}\n", ["must be a string"]),
        ("w1: [1, 2]\n", ["variables of host w1 must be a mapping, got a list"]),
        ("w1: just-text\n", ["variables of host w1 must be a mapping"]),
    ],
)
def test_host_names_that_are_no_strings(tmp_path, capsys, entry, says):
    inv = put(tmp_path, {"hosts.yml": with_workers(entry)}) / "hosts.yml"
    refused(capsys, "validate", inv, says=[str(inv), *says])


@pytest.mark.parametrize(
    ("group", "got"), [("~", "got nothing"), ("12", "got the number 12"), ("[a]", "")]
)
def test_group_names_that_are_no_strings(tmp_path, capsys, group, got):
    key = f"? {group}\n    :" if group.startswith("[") else f"{group}:"
    text = MASTER + f"    {key}\n      hosts:\n        w1:\n"
    inv = put(tmp_path, {"hosts.yml": text}) / "hosts.yml"
    refused(capsys, "validate", inv, says=[str(inv), got])


# --------------------------------------------------------------------------- 2. wrong kinds


@pytest.mark.parametrize(
    ("path", "kind"), [("/dev/null", "character device"), ("/dev/zero", "character device")]
)
def test_device_as_inventory(capsys, path, kind):
    if not os.path.exists(path):
        pytest.skip(f"{path} is missing here")
    refused(capsys, "validate", path, says=[path, kind])


def test_fifo_as_inventory_does_not_block(tmp_path, capsys):
    fifo = tmp_path / "hosts.yml"
    os.mkfifo(fifo)
    started = time.monotonic()
    refused(capsys, "validate", fifo, says=[str(fifo), "FIFO"])
    assert time.monotonic() - started < 10


def test_fifo_inside_an_inventory_folder(tmp_path, capsys):
    put(tmp_path, {"hosts.yml": MASTER})
    os.mkfifo(tmp_path / "more")
    refused(capsys, "validate", tmp_path, says=[str(tmp_path / "more"), "FIFO"])


def test_fifo_in_host_vars_folder(tmp_path, capsys):
    put(tmp_path, {"hosts.yml": MASTER, "host_vars/m1/a.yml": "x: 1\n"})
    os.mkfifo(tmp_path / "host_vars/m1/b.yml")
    refused(capsys, "validate", tmp_path, says=["host_vars/m1/b.yml", "FIFO"])


def test_binary_file_in_host_vars_folder(tmp_path, capsys):
    put(tmp_path, {"hosts.yml": MASTER, "host_vars/m1/a.yml": b"x: 1\n\x00\x01"})
    refused(capsys, "validate", tmp_path, says=["host_vars/m1/a.yml:2", "NUL bytes"])


def test_unreadable_inventory_folder(tmp_path, capsys, monkeypatch):
    put(tmp_path, {"inv/hosts.yml": MASTER})
    real = os.listdir

    def denied(path):
        if Path(path) == tmp_path / "inv":
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(os, "listdir", denied)  # tests run as root: chmod 000 would not stop it
    refused(capsys, "validate", tmp_path / "inv", says=["cannot be read", "Permission denied"])


def test_unreadable_group_vars_folder(tmp_path, capsys, monkeypatch):
    put(tmp_path, {"hosts.yml": MASTER, "group_vars/all/a.yml": "x: 1\n"})
    real = os.listdir

    def denied(path):
        if Path(os.fsdecode(path)) == tmp_path / "group_vars" / "all":
            raise PermissionError(13, "Permission denied", os.fsdecode(path))
        return real(path)

    monkeypatch.setattr(os, "listdir", denied)
    refused(capsys, "validate", tmp_path, says=["group_vars/all", "Permission denied"])


def test_unreadable_file(tmp_path, capsys, monkeypatch):
    inv = put(tmp_path, {"hosts.yml": MASTER}) / "hosts.yml"
    real = open

    def denied(file, *a, **k):
        if str(file) == str(inv):
            raise PermissionError(13, "Permission denied", str(file))
        return real(file, *a, **k)

    monkeypatch.setattr("builtins.open", denied)
    refused(capsys, "validate", inv, says=[str(inv), "Permission denied", "chmod"])


def test_group_vars_file_named_yml_is_a_folder(tmp_path, capsys):
    put(tmp_path, {"hosts.yml": MASTER, "group_vars/all.yml/x.yml": "dlrs_variant: mkl\n"})
    refused(capsys, "validate", tmp_path, says=["group_vars/all.yml", "is a folder"])


@pytest.mark.parametrize("kind", ["group_vars", "host_vars"])
def test_vars_folder_that_is_a_file(tmp_path, capsys, kind):
    put(tmp_path, {"hosts.yml": MASTER, kind: "dlrs_variant: mkl\n"})
    refused(capsys, "validate", tmp_path, says=[f"{kind} is a file"])


# --------------------------------------------------------------------------- 3. encodings


@pytest.mark.parametrize("name", ["hosts.yml", "hosts"])
@pytest.mark.parametrize("encoding", ["utf-16", "utf-32"])
def test_utf16_and_utf32_are_named(tmp_path, capsys, name, encoding):
    inv = put(tmp_path, {name: MASTER.encode(encoding)}) / name
    refused(capsys, "validate", inv, says=[str(inv), encoding.upper(), "UTF-8"])


@pytest.mark.parametrize("name", ["hosts.yml", "hosts", "group_vars/all.yml"])
def test_binary_input_is_named(tmp_path, capsys, name):
    files = {"hosts.yml": MASTER} if name.startswith("group_vars") else {}
    put(tmp_path, {**files, name: b"\x7fELF\x02\x01\x00\x00binary"})
    refused(capsys, "validate", tmp_path, says=[name, "binary"])


def test_latin1_is_not_utf8(tmp_path, capsys):
    inv = put(tmp_path, {"hosts.yml": (MASTER + "# caf\xe9\n").encode("latin-1")}) / "hosts.yml"
    refused(capsys, "validate", inv, says=[f"{inv}:6", "not UTF-8", "0xe9"])


def test_yaml_without_extension_read_as_ini(tmp_path, capsys):
    broken = MASTER.replace("{ansible_host: 10.0.0.1}", "{ansible_host: [x")
    inv = put(tmp_path, {"hosts": broken}) / "hosts"
    text = refused(capsys, "validate", inv, says=[str(inv), "looks like YAML", "hosts.yml"])
    assert "key=value" not in text  # no INI complaints about YAML lines


def test_yaml_without_extension_that_loads_is_fine(tmp_path, capsys):
    inv = put(tmp_path, {"hosts": MASTER}) / "hosts"
    assert run_cli(capsys, "validate", inv)[0] == 0


# --------------------------------------------------------------------------- 4. exhaustion


def laughs(levels: int = 9) -> str:
    lines = ["l0: &l0 [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, levels):
        refs = ", ".join([f"*l{i - 1}"] * 9)
        lines.append(f"l{i}: &l{i} [{refs}]")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("where", ["hosts", "group_vars", "host_vars"])
def test_billion_laughs_is_refused_fast(tmp_path, capsys, where):
    bomb = laughs()
    assert len(bomb) < 1200
    if where == "hosts":
        files = {"hosts.yml": MASTER + "  vars:\n" + textwrap.indent(bomb, "    ")}
    else:
        name = "all" if where == "group_vars" else "m1"
        files = {"hosts.yml": MASTER, f"{where}/{name}.yml": bomb}
    put(tmp_path, files)
    started = time.monotonic()
    refused(capsys, "validate", tmp_path, says=["aliases", "expand"])
    assert time.monotonic() - started < 1.0 + _ansible_start()


_START: list[float] = []


def _ansible_start() -> float:
    """The time a valid one-host inventory takes here (Ansible's import on a busy machine)."""
    if not _START:
        import tempfile

        with tempfile.TemporaryDirectory() as d:
            Path(d, "hosts.yml").write_text(MASTER)
            started = time.monotonic()
            cli.main(["validate", str(Path(d, "hosts.yml"))])
            _START.append(time.monotonic() - started)
    return _START[0]


def test_a_few_plain_aliases_are_fine(tmp_path, capsys):
    text = MASTER + "  vars:\n    base: &b {x: 1}\n    copy: *b\n    again: *b\n"
    inv = put(tmp_path, {"hosts.yml": text}) / "hosts.yml"
    code, out = run_cli(capsys, "validate", inv)
    assert code == 0, out


def test_inventory_above_the_size_cap(tmp_path, capsys):
    lines = "".join(
        f"w{i}: {{ansible_host: 10.1.{i // 250}.{i % 250 + 1}}}\n" for i in range(40000)
    )
    inv = put(tmp_path, {"hosts.yml": with_workers(lines)}) / "hosts.yml"
    assert inv.stat().st_size > input_files.MAX_INVENTORY_BYTES
    started = time.monotonic()
    refused(capsys, "validate", inv, says=[str(inv), "1024 KiB"])
    assert time.monotonic() - started < 5 + _ansible_start()


@pytest.mark.parametrize("where", ["hosts.yml", "group_vars/all.yml"])
def test_deep_yaml_nesting(tmp_path, capsys, where):
    deep = "x:\n" + "".join("  " * i + f"k{i}:\n" for i in range(1, 120)) + "  " * 120 + "v: 1\n"
    files = {"hosts.yml": MASTER}
    if where == "hosts.yml":
        files["hosts.yml"] = MASTER + "  vars:\n" + textwrap.indent(deep, "    ")
    else:
        files[where] = deep
    put(tmp_path, files)
    refused(capsys, "validate", tmp_path, says=[where, "nested more than"])


def deep_json(depth: int) -> str:
    return '{"ansible_facts": {"x": ' + "[" * depth + "]" * depth + "}}"


@pytest.mark.parametrize("depth", [100, 100_000])
def test_deep_facts_file_for_tune(tmp_path, capsys, depth):
    facts = tmp_path / "facts.json"
    facts.write_text(deep_json(depth))
    refused(capsys, "tune", "--facts", facts, says=[str(facts), "nested more than"])


@pytest.mark.parametrize("depth", [100, 100_000])
def test_deep_cached_facts_for_plan(tmp_path, capsys, depth):
    put(tmp_path, {"hosts.yml": MASTER, ".dlrs-provision/facts/m1": deep_json(depth)})
    code, text = run_cli(capsys, "plan", tmp_path / "hosts.yml")
    assert code == 0, text  # plan reports the host's facts as unusable, not a crash
    assert "nested more than" in text


@pytest.mark.parametrize("kind", ["fifo", "folder", "utf16", "binary"])
def test_facts_file_of_the_wrong_kind(tmp_path, capsys, kind):
    facts = tmp_path / "facts.json"
    if kind == "fifo":
        os.mkfifo(facts)
    elif kind == "folder":
        facts.mkdir()
    elif kind == "utf16":
        facts.write_bytes('{"ansible_facts": {}}'.encode("utf-16"))
    else:
        facts.write_bytes(b"\x00\x01\x02")
    says = {"fifo": "FIFO", "folder": "folder", "utf16": "UTF-16", "binary": "binary"}[kind]
    refused(capsys, "tune", "--facts", facts, says=[str(facts), says])


# --------------------------------------------------------------------------- 5. cycles


def test_group_cycle_is_named(tmp_path, capsys):
    text = (
        "all:\n  children:\n    masters:\n      hosts:\n        m1:\n      children:\n"
        "        outer:\n    outer:\n      children:\n        inner:\n    inner:\n"
        "      children:\n        masters:\n"
    )
    inv = put(tmp_path, {"hosts.yml": text}) / "hosts.yml"
    refused(capsys, "validate", inv, says=["cycle", "inner -> masters -> outer -> inner"])


def test_group_cycle_in_ini(tmp_path, capsys):
    text = "[masters]\nm1\n\n[a:children]\nmasters\n\n[masters:children]\na\n"
    inv = put(tmp_path, {"hosts": text}) / "hosts"
    refused(capsys, "validate", inv, says=["cycle", "masters", " a "[1:-1]])


# --------------------------------------------------------------------------- 6. host names


@pytest.mark.parametrize("name", ["w;1", "w 1", "../w1", "w/1", "a..b", "w$(id)", "-w1"])
def test_host_names_unsafe_anywhere(tmp_path, capsys, name):
    inv = put(tmp_path, {"hosts.yml": with_workers(f"'{name}':\n")}) / "hosts.yml"
    refused(capsys, "validate", inv, says=[f"{inv}:8", repr(name)])


@pytest.mark.parametrize("name", ["W_1", "w1." * 1 + "x" * 64, "a" * 254, "node-", "Upper_case"])
def test_host_names_that_are_no_node_names(tmp_path, capsys, name):
    inv = put(tmp_path, {"hosts.yml": with_workers(f"'{name}':\n")}) / "hosts.yml"
    refused(capsys, "validate", inv, says=[f"{inv}:8", "node name"])


@pytest.mark.parametrize("key", ["kubeadm_worker_node_name"])
@pytest.mark.parametrize("value", ["'Bad;name'", "'a b'", "'../x'", "[x]", "'x_y'"])
def test_node_name_override_is_checked_not_a_switch(tmp_path, capsys, key, value):
    inv = put(tmp_path, {"hosts.yml": with_workers(f"W_1: {{{key}: {value}}}\n")}) / "hosts.yml"
    refused(capsys, "validate", inv, says=[f"{inv}:8", key])


def test_master_node_name_override(tmp_path, capsys):
    text = MASTER.replace("{ansible_host: 10.0.0.1}", "{kubeadm_master_node_name: 'M;1'}")
    inv = put(tmp_path, {"hosts.yml": text}) / "hosts.yml"
    refused(capsys, "validate", inv, says=["kubeadm_master_node_name", "M;1"])


def test_good_node_name_override(tmp_path, capsys):
    text = with_workers("W_1: {ansible_host: 10.0.0.2, kubeadm_worker_node_name: w-1}\n")
    inv = put(tmp_path, {"hosts.yml": text}) / "hosts.yml"
    code, out = run_cli(capsys, "validate", inv)
    assert code == 0, out


def test_templated_node_name_override_is_noted(tmp_path, capsys):
    text = with_workers("W_1: {ansible_host: 10.0.0.2, kubeadm_worker_node_name: '{{ x }}'}\n")
    inv = put(tmp_path, {"hosts.yml": text}) / "hosts.yml"
    code, out = run_cli(capsys, "validate", inv)
    assert code == 0, out
    assert "note:" in out and "kubeadm_worker_node_name" in out


# --------------------------------------------------------------------------- 7. connection


@pytest.mark.parametrize(
    ("var", "says"),
    [
        ("ansible_host: [10.0.0.2, 10.0.0.3]", ["ansible_host", "a list"]),
        ("ansible_host: {a: 1}", ["ansible_host", "a mapping"]),
        ("ansible_host: '10.0.0.2 10.0.0.3'", ["ansible_host", "no spaces"]),
        ("ansible_host: 'a;b'", ["ansible_host"]),
        ("ansible_host: ''", ["ansible_host"]),
        ("ansible_port: 70000", ["ansible_port", "70000"]),
        ("ansible_port: 0", ["ansible_port"]),
        ("ansible_port: -1", ["ansible_port"]),
        ("ansible_ssh_common_args: '-o \"ProxyCommand=ssh x'", ["ansible_ssh_common_args"]),
        ('ansible_ssh_extra_args: "-o \'Foo"', ["ansible_ssh_extra_args", "quotation"]),
        ("ansible_ssh_common_args: [a]", ["ansible_ssh_common_args", "a list"]),
    ],
)
def test_connection_variables(tmp_path, capsys, var, says):
    inv = put(tmp_path, {"hosts.yml": with_workers(f"w1: {{{var}}}\n")}) / "hosts.yml"
    refused(capsys, "validate", inv, says=[f"{inv}:8", "host w1", *says])


def test_unbalanced_quotes_in_group_vars_name_the_file(tmp_path, capsys):
    put(
        tmp_path,
        {
            "hosts.yml": with_workers("w1: {ansible_host: 10.0.0.2}\n"),
            "group_vars/workers.yml": "ansible_ssh_common_args: '-o \"x'\n",
        },
    )
    refused(
        capsys,
        "validate",
        tmp_path,
        says=["group_vars/workers.yml:1", "group workers", "ansible_ssh_common_args"],
    )


def test_unbalanced_quotes_in_ini(tmp_path, capsys):
    text = "[masters]\nm1 ansible_host=10.0.0.1 ansible_ssh_common_args='-o \"x'\n"
    inv = put(tmp_path, {"hosts": text}) / "hosts"
    refused(capsys, "validate", inv, says=[str(inv), "ansible_ssh_common_args"])


# --------------------------------------------------------------------------- 8. legal Ansible


VAULT = (
    "!vault |\n"
    "            $ANSIBLE_VAULT;1.1;AES256\n"
    "            62313365396662343061393464336163383764373764613633653634306231386433626436623361\n"
)


@pytest.mark.parametrize(
    ("var", "noted"),
    [
        ("ansible_port: '{{ ssh_port }}'", "ansible_port"),
        ("ansible_host: '{{ addr }}'", "ansible_host"),
        ("ansible_ssh_common_args: '{{ jump }}'", "ansible_ssh_common_args"),
        ("ansible_password: " + VAULT, "ansible_password"),
        ("ansible_host: " + VAULT, "ansible_host"),
    ],
)
def test_templates_and_vault_are_legal_and_noted(tmp_path, capsys, var, noted):
    body = "w1:\n  ansible_host: 10.0.0.2\n  " + var + "\n"
    if var.startswith("ansible_host"):
        body = "w1:\n  " + var + "\n"
    inv = put(tmp_path, {"hosts.yml": with_workers(body)}) / "hosts.yml"
    code, text = run_cli(capsys, "validate", inv)
    assert code == 0, text
    assert "note:" in text and noted in text and "not checked" in text


# --------------------------------------------------------------------------- 9. floats


@pytest.mark.parametrize(
    ("line", "written"),
    [
        ("dlrs_kubernetes_version: 1.30", "1.30"),
        ("dlrs_kubernetes_version: 1.3", "1.3"),
        ("dlrs_kubernetes_version: 1.32", "1.32"),
    ],
)
def test_version_given_as_a_float(tmp_path, capsys, line, written):
    put(tmp_path, {"hosts.yml": MASTER, "group_vars/all.yml": f"# site\n{line}\n"})
    refused(
        capsys,
        "validate",
        tmp_path,
        says=["group_vars/all.yml:2", "dlrs_kubernetes_version", f"'{written}'", "quote"],
    )


def test_version_float_in_ini(tmp_path, capsys):
    text = "[masters]\nm1\n\n[all:vars]\ndlrs_kubernetes_version=1.30\n"
    inv = put(tmp_path, {"hosts": text}) / "hosts"
    refused(capsys, "validate", inv, says=["dlrs_kubernetes_version", "'1.30'"])


# --------------------------------------------------------------------------- 10. --limit


TWO = with_workers("w1: {ansible_host: 10.0.0.2}\nw2: {ansible_host: 10.0.0.3}\n")


@pytest.mark.parametrize("command", ["validate", "plan", "preflight", "cluster", "benchmark"])
@pytest.mark.parametrize("limit", ["nosuch", "w1,nosuch", "workers:nogroup", "!nosuch", "zz*"])
def test_unknown_limit_is_exit_2_in_every_command(tmp_path, capsys, command, limit):
    inv = put(tmp_path, {"hosts.yml": TWO}) / "hosts.yml"
    refused(capsys, command, inv, "--limit", limit, says=["--limit", "neither a host nor a group"])


@pytest.mark.parametrize("command", ["validate", "plan", "preflight", "cluster", "benchmark"])
def test_limit_that_leaves_no_host(tmp_path, capsys, command):
    inv = put(tmp_path, {"hosts.yml": TWO}) / "hosts.yml"
    refused(capsys, command, inv, "--limit", "w1:&w2", says=["leaves no host"])


@pytest.mark.parametrize(
    ("limit", "chosen"),
    [
        ("workers", ["w1", "w2"]),
        ("w1", ["w1"]),
        ("w*", ["w1", "w2"]),
        ("all:!w2", ["m1", "w1"]),
        ("!m1", ["w1", "w2"]),
        ("workers:&w2", ["w2"]),
        ("~w[12]", ["w1", "w2"]),
        ("workers[0]", ["w1"]),
        ("masters,w2", ["m1", "w2"]),
    ],
)
def test_preflight_reaches_only_the_limited_hosts(tmp_path, capsys, monkeypatch, limit, chosen):
    inv = put(tmp_path, {"hosts.yml": TWO}) / "hosts.yml"
    reached: list[list[str]] = []

    def reach(_inv, hosts, **_kw):
        reached.append(list(hosts))
        raise SystemExit(0)  # stop before Ansible

    monkeypatch.setattr(preflight, "check_reach", reach)
    with pytest.raises(SystemExit):
        cli.main(["preflight", str(inv), "--limit", limit])
    assert reached == [chosen]
    assert (
        host_commands.cluster_hosts(
            __import__("dlrs_provision.inventory").inventory.load(inv), limit
        )
        == chosen
    )


def test_validate_prints_what_the_limit_selects(tmp_path, capsys):
    inv = put(tmp_path, {"hosts.yml": TWO}) / "hosts.yml"
    code, text = run_cli(capsys, "validate", inv, "--limit", "workers:!w1")
    assert code == 0, text
    assert "--limit workers:!w1: 1 host(s): w2" in text


def test_plan_shows_only_the_limited_hosts(tmp_path, capsys):
    inv = put(tmp_path, {"hosts.yml": TWO}) / "hosts.yml"
    code, text = run_cli(capsys, "plan", inv, "--limit", "w2")
    assert code == 0, text
    assert "w2" in text and "w1 " not in text and "m1 " not in text


def test_no_stat_surprise_for_regular_files(tmp_path):
    path = tmp_path / "f"
    path.write_text("x")
    assert input_files.kind_problem(path) is None
    assert stat.S_ISREG(os.stat(path).st_mode)
