from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from dlrs_provision import inventory
from dlrs_provision.errors import InputError

DATA = Path(__file__).parent / "data"
FACTS = DATA / "facts"


def lscpu_text(sockets: int, cores: int, threads: int) -> str:
    """`lscpu -p=CPU,CORE,SOCKET,NODE` as Linux numbers CPUs on Xeon: all first threads of every
    socket's cores, then the hyper-thread siblings in the same order (cpu0's sibling is cpuN)."""
    lines = ["# The following is the parsable format", "# CPU,Core,Socket,Node"]
    per_thread = sockets * cores
    for t in range(threads):
        for s in range(sockets):
            for c in range(cores):
                core = s * cores + c
                lines.append(f"{t * per_thread + core},{core},{s},{s}")
    return "\n".join(lines) + "\n"


def facts_for(sockets: int, cores: int, threads: int) -> dict:
    return {
        "ansible_processor_count": sockets,
        "ansible_processor_cores": cores,
        "ansible_processor_threads_per_core": threads,
        "ansible_processor_vcpus": sockets * cores * threads,
    }


@pytest.fixture
def gold6140() -> dict:
    return json.loads((FACTS / "xeon-gold-6140-2s-ht.json").read_text())["ansible_facts"]


def inventory_problems(path: Path) -> list:
    """The problems the inventory checker reports for a bad inventory (it must refuse it)."""
    with pytest.raises(InputError) as info:
        inventory.load(path)
    return info.value.problems


SETTINGS_HOSTS = """\
all:
  vars:
{vars}
  children:
    masters:
      hosts:
        m1: {{ansible_host: 10.0.0.1}}
    workers:
      hosts:
        w1: {{ansible_host: 10.0.0.2}}
"""


def settings_inventory(tmp_path: Path, settings: str) -> Path:
    """hosts.yml of one master m1 and one worker w1 with `settings` (YAML lines) under all.vars."""
    body = textwrap.indent(textwrap.dedent(settings).strip(), "    ") or "    {}"
    path = tmp_path / "hosts.yml"
    path.write_text(SETTINGS_HOSTS.format(vars=body))
    return path
