"""What the fault and check-mode tests share: a `dlrs-provision cluster --json` run that can act
on its own progress (stop a host when a phase starts), the resume command its summary prints,
and a fingerprint of each node's state to compare before and after a run."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

from e2e_support import CLI, NODES, ClusterRun, on

from dlrs_provision import paths


def run_watched(
    inventory: str,
    state: Path,
    *args: str,
    when: Callable[[dict], bool] | None = None,
    then: Callable[[], None] | None = None,
    timeout: float = 1800,
) -> ClusterRun:
    """`dlrs-provision cluster INVENTORY --json ARGS`; `then()` runs once, as soon as a progress
    line satisfies `when` (the run goes on meanwhile)."""
    proc = subprocess.Popen(
        [CLI, "cluster", inventory, "--json", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ | {paths.STATE_ENV: str(state)},
    )
    stderr: list[str] = []
    reader = threading.Thread(target=lambda: stderr.append(proc.stderr.read()), daemon=True)
    reader.start()
    killer = threading.Timer(timeout, proc.kill)
    killer.start()
    lines: list[dict] = []
    fired = when is None
    try:
        for raw in proc.stdout:
            if not raw.startswith("{"):
                continue
            line = json.loads(raw)
            lines.append(line)
            if not fired and when(line):
                fired = True
                then()
        proc.wait()
    finally:
        killer.cancel()
        reader.join(timeout=30)
    assert fired, "the run ended before the moment of the fault came"
    assert lines and lines[-1]["kind"] == "summary", "".join(stderr)[-3000:]
    return ClusterRun(proc.returncode, lines, "".join(stderr))


def resume_args(run: ClusterRun) -> list[str]:
    """The arguments after `dlrs-provision cluster INVENTORY` of the resume command the summary
    printed (so that the test runs exactly what the operator is told to run)."""
    resume = run.summary["resume"]
    assert resume, run.explain()
    words = shlex.split(resume)
    assert words[:2] == ["dlrs-provision", "cluster"], resume
    return words[3:]


def failure(run: ClusterRun, host: str) -> dict:
    """What the summary says stopped a host: status, phase, task, message."""
    got = run.summary["hosts"][host].get("failure")
    assert got, run.explain()
    return got


def phase_started(name: str) -> Callable[[dict], bool]:
    """The moment a play whose name starts with `name` begins."""
    return lambda line: line.get("kind") == "phase" and line.get("phase", "").startswith(name)


def changed_results(run: ClusterRun) -> list[tuple[str, str, str]]:
    """(host, phase, task) of every result that changed something."""
    return [
        (x["host"], x["phase"], x["task"])
        for x in run.lines
        if x["kind"] == "result" and x.get("status") == "changed"
    ]


# --------------------------------------------------------------------------- host state

# what a run could change on a node, each read by one command whose output is compared whole
NODE_STATE = {
    "etc": "find /etc -xdev -type f ! -name '*.swp' ! -path '/etc/ld.so.cache' -print0 "
    "| sort -z | xargs -0 sha256sum",
    "etc_modes": "find /etc -xdev -printf '%p %m %u %g %l\\n' | sort",
    "packages": "dpkg-query -W -f '${Package} ${Version} ${Status}\\n' | sort",
    "bundles": "ls /usr/share/clear/bundles 2>/dev/null | sort; true",
    # the SSH user's systemd session (user@UID, user-runtime-dir@UID) comes and goes with the
    # connections Ansible keeps open: not the toolkit's
    "services": "systemctl list-units --type=service --state=running --no-legend --plain "
    "| awk '{print $1}' | grep -v -E '^user(-runtime-dir)?@' | sort",
    "unit_files": "find /etc/systemd /usr/local/lib/systemd /lib/systemd/system -xdev -type f "
    "-print0 2>/dev/null | sort -z | xargs -0 sha256sum",
    "docker_containers": "docker ps --no-trunc --format '{{.ID}} {{.Image}} {{.Names}}' | sort",
    "docker_images": "docker images --no-trunc --digests --format "
    "'{{.Repository}}:{{.Tag}} {{.Digest}} {{.ID}}' | sort",
    "containerd_images": "ctr -n k8s.io images ls -q | sort",
    "containerd_containers": "ctr -n k8s.io containers ls -q | sort",
    # the settings, not the counters (conntrack's count moves with traffic)
    "sysctl": "sysctl -a 2>/dev/null | grep -E '^(net|vm|kernel\\.numa)' "
    "| grep -v nf_conntrack_count | sort",
    "kubelet": "find /var/lib/kubelet -maxdepth 1 -type f -name '*.yaml' -print0 "
    "| sort -z | xargs -0 -r sha256sum",
}

KUBE_STATE = (
    "kubectl --kubeconfig /etc/kubernetes/admin.conf get nodes,namespaces,deployments,"
    "daemonsets,crd,configmaps,secrets -A -o json"
)


def node_state(node: str) -> dict[str, str]:
    return {key: on(node, script, check=False) for key, script in NODE_STATE.items()}


def kube_state(master: str = "node1") -> list:
    """The stand-in API server's objects, without what changes by itself (heartbeats, times,
    resource versions)."""
    items = json.loads(on(master, KUBE_STATE))["items"]
    kept = []
    for item in items:
        meta = item.get("metadata", {})
        kept.append(
            {
                "kind": item.get("kind"),
                "namespace": meta.get("namespace"),
                "name": meta.get("name"),
                "uid": meta.get("uid"),
                "labels": meta.get("labels"),
                "annotations": {
                    k: v
                    for k, v in (meta.get("annotations") or {}).items()
                    if "heartbeat" not in k and "time" not in k.lower()
                },
                "spec": item.get("spec"),
                "data": item.get("data"),
            }
        )
    return sorted(kept, key=lambda x: (x["kind"] or "", x["namespace"] or "", x["name"] or ""))


def cluster_state() -> dict:
    return {"nodes": {n: node_state(n) for n in NODES}, "kubernetes": kube_state()}


def differences(before: dict, after: dict) -> list[str]:
    """Which parts differ, with the first differing lines of each (for the assertion)."""
    found = []
    for node, parts in before["nodes"].items():
        for key, text in parts.items():
            other = after["nodes"][node][key]
            if text != other:
                a, b = set(text.splitlines()), set(other.splitlines())
                found.append(f"{node} {key}: -{sorted(a - b)[:5]} +{sorted(b - a)[:5]}")
    if before["kubernetes"] != after["kubernetes"]:
        a = {json.dumps(x, sort_keys=True) for x in before["kubernetes"]}
        b = {json.dumps(x, sort_keys=True) for x in after["kubernetes"]}
        found.append(f"kubernetes: -{sorted(a - b)[:3]} +{sorted(b - a)[:3]}")
    return found


def wait_for(check: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(1)
    raise AssertionError(f"{what}: not after {seconds:.0f} s")
