"""Adding one worker to a running 3-node cluster, beside building a 1-node cluster, in one run.

    .venv/bin/python tests/bench/scale_vs_build.py [--os debian|mixed|clearlinux] [--keep]

On a fresh sandbox of 4 nodes (the one running is removed first: every host starts as a bare
server), with the same mirror, images and caches for every step:

1. `cluster` with an inventory of node1 alone: the 1-node cluster, from bare hosts;
2. `cluster` with node1..node3: the two new workers join (the 3-node cluster; timed, for
   information);
3. `scale` with node1..node4: node4 joins the 3-node cluster (the day-2 path);
4. `scale` again: nothing to add (the cost of asking).

Each step's wall time, and the tasks changed on each host, from the command's --json summary.
The figure of interest is step 3 / step 1. Nothing is asserted: see README.md. The JSON goes to
.cache/bench/scale_vs_build.json. With --keep, the sandbox is left up (with the 4-node cluster).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
CLI = str(ROOT / ".venv" / "bin" / "dlrs-provision")
INVENTORY = ROOT / "inventory" / "sandbox" / "hosts.yml"
OUT = ROOT / ".cache" / "bench" / "scale_vs_build.json"


def sandbox(*args: str) -> None:
    subprocess.run([CLI, "sandbox", *args], check=True, stdout=sys.stderr)


def subset(workers: list[str], dest: Path) -> Path:
    """A copy of the sandbox inventory with only these workers (its paths are absolute)."""
    data = yaml.safe_load(INVENTORY.read_text())
    hosts = data["all"]["children"]["workers"]["hosts"]
    data["all"]["children"]["workers"]["hosts"] = {w: hosts[w] for w in workers} or None
    dest.write_text(yaml.safe_dump(data, sort_keys=False))
    return dest


def timed(name: str, command: str, inventory: Path, state: Path) -> dict:
    t0 = time.monotonic()
    proc = subprocess.run(
        [CLI, command, str(inventory), "--json"],
        capture_output=True,
        text=True,
        env=os.environ | {"DLRS_PROVISION_STATE": str(state)},
    )
    seconds = time.monotonic() - t0
    lines = [json.loads(x) for x in proc.stdout.splitlines() if x.startswith("{")]
    summary = lines[-1] if lines and lines[-1].get("kind") == "summary" else {}
    hosts = summary.get("hosts", {})
    step = {
        "step": name,
        "command": f"dlrs-provision {command} {inventory.name}",
        "rc": proc.returncode,
        "seconds": round(seconds, 1),
        "changed": {h: s["changed"] for h, s in hosts.items()},
        "ok": {h: s["ok"] for h, s in hosts.items()},
    }
    print(f"  {name:<42} {seconds:7.0f} s  rc {proc.returncode}", file=sys.stderr)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
        raise SystemExit(f"{name}: `{step['command']}` failed (exit {proc.returncode})")
    return step


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--os", default="debian", choices=("debian", "mixed", "clearlinux"))
    parser.add_argument("--keep", action="store_true", help="leave the sandbox up afterwards")
    args = parser.parse_args(argv)

    print(f"bench: a fresh 4-node {args.os} sandbox", file=sys.stderr)
    sandbox("down")
    sandbox("up", "--nodes", "4", "--os", args.os)
    steps = []
    with tempfile.TemporaryDirectory(prefix="dlrs-bench-") as tmp:
        work = Path(tmp)
        state = work / "state"
        one = subset([], work / "one-node.yml")
        three = subset(["node2", "node3"], work / "three-nodes.yml")
        steps.append(timed("cluster: 1-node cluster (node1)", "cluster", one, state))
        steps.append(timed("cluster: node2, node3 join (3 nodes)", "cluster", three, state))
        steps.append(timed("scale: node4 into the 3-node cluster", "scale", INVENTORY, state))
        steps.append(timed("scale again: nothing to add", "scale", INVENTORY, state))
    if not args.keep:
        sandbox("down")
    build, scale = steps[0]["seconds"], steps[2]["seconds"]
    ratio = scale / build
    result = {"os": args.os, "cpus": os.cpu_count(), "steps": steps, "scale_over_build": ratio}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=1) + "\n")
    print()
    print(f"| step ({args.os} sandbox, {os.cpu_count()} CPUs) | seconds | changed per host |")
    print("|---|---|---|")
    for s in steps:
        changed = ", ".join(f"{h} {n}" for h, n in sorted(s["changed"].items()))
        print(f"| {s['step']} | {s['seconds']:.0f} | {changed} |")
    print(f"\nadding one worker / building a 1-node cluster: {ratio:.2f}")
    print(f"(JSON: {OUT.relative_to(ROOT)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
