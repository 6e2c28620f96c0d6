"""`dlrs-provision cluster` from the wheel, installed outside the checkout, on the shared cluster.

tests/package proves validate, plan, tune and preflight of the installed wheel on a local
connection; `cluster` needs the sandbox's hosts, so it is here: the wheel's own copy of the
playbooks and roles runs every phase over real SSH against the cluster the session built, and,
that cluster being converged, changes nothing on any host.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from e2e_support import Cluster

from dlrs_provision import paths

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "package"))
from package_install import build_wheel, install

REPO = Path(__file__).resolve().parents[2]


def test_cluster_from_the_installed_wheel_runs_every_phase_and_changes_nothing(
    cluster: Cluster, sandbox, tmp_path: Path
):
    installed = install(build_wheel(tmp_path / "build"), tmp_path / "install")
    located = subprocess.run(
        [str(installed.python), "-c", "import dlrs_provision; print(dlrs_provision.__file__)"],
        capture_output=True,
        text=True,
        cwd=installed.work,
        env=installed.env,
        check=True,
    ).stdout.strip()
    assert not located.startswith(str(REPO)), located

    installed.env[paths.STATE_ENV] = str(cluster.state)  # the session's facts, CA, admin.conf
    proc = installed.run("cluster", str(Path(sandbox.inventory).resolve()), "--json",
                         check=False, timeout=2400)  # fmt: skip
    lines = [json.loads(x) for x in proc.stdout.splitlines() if x.startswith("{")]
    assert lines and lines[-1]["kind"] == "summary", proc.stdout[-3000:] + proc.stderr[-3000:]
    summary = lines[-1]
    assert proc.returncode == 0, json.dumps(summary, indent=1) + proc.stderr[-3000:]
    phases = [x["phase"] for x in lines if x["kind"] == "phase"]
    assert phases == cluster.second.phases
    changed = {h: s["changed"] for h, s in summary["hosts"].items()}
    assert set(changed) == set(cluster.second.changed())
    assert all(n == 0 for n in changed.values()), json.dumps(summary, indent=1)
