"""Run the molecule scenarios of the roles: `python tests/molecule/run.py [ROLE[/SCENARIO] ...]`.

Every roles/<role>/molecule/<scenario>/molecule.yml is a scenario; with no argument all of them
run, one after the other, each as `molecule test -s SCENARIO` in its role's directory. First the
test-host images are made sure of (built by tests/harness/dlrs_harness/sandbox/images.py when
missing; nothing is pulled) and their tags exported for .config/molecule/config.yml. Each scenario's
full output goes to .cache/molecule/<role>-<scenario>.log; the console gets one line per scenario
with its time, and the tail of the output of a failed one. Exit 0 when every scenario passed.

tests/molecule/test_scenarios.py runs the same scenarios under pytest through these functions.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
LOG_DIR = ROOT / ".cache" / "molecule"
# The images of the test hosts, by the variable .config/molecule/config.yml reads them from.
IMAGE_ENV = {
    "DLRS_IMAGE_HOST_DEBIAN": "host-debian",
    "DLRS_IMAGE_HOST_CLEARLINUX": "host-clearlinux",
}
ROLE_ENV = "DLRS_MOLECULE_ROLE"  # the role under test: part of the container names
# Two checkouts of the project on one machine (a CI clone beside a working tree) run the same
# scenarios: a short hash of this checkout's path in the container names and molecule's own
# state folder keeps them from destroying each other's test hosts.
CHECKOUT_TAG = hashlib.sha256(str(ROOT).encode()).hexdigest()[:6]
# Label of every molecule test host (config.yml); the sandbox's containers never carry it.
LABEL = "dlrs-provision.molecule"
TIMEOUT_ENV = "DLRS_MOLECULE_TIMEOUT"
DEFAULT_TIMEOUT_S = 1200
TAIL_LINES = 60

Echo = Callable[[str], None]


@dataclass(frozen=True)
class Scenario:
    role: str
    name: str
    role_dir: Path

    def __str__(self) -> str:
        return f"{self.role}/{self.name}"

    @property
    def log_path(self) -> Path:
        return LOG_DIR / f"{self.role}-{self.name}.log"


@dataclass(frozen=True)
class Result:
    scenario: Scenario
    rc: int
    seconds: float
    output: str
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.rc == 0 and not self.timed_out

    def tail(self, lines: int = TAIL_LINES) -> str:
        return "\n".join(self.output.rstrip().splitlines()[-lines:])


def find_scenarios(root: Path = ROOT, only: Iterable[str] = ()) -> list[Scenario]:
    """Scenarios under roles/*/molecule/, optionally limited to ROLE or ROLE/SCENARIO names."""
    found = [
        Scenario(role=path.parents[2].name, name=path.parent.name, role_dir=path.parents[2])
        for path in sorted(root.glob("roles/*/molecule/*/molecule.yml"))
    ]
    wanted = [w.strip("/") for w in only]
    if not wanted:
        return found
    unknown = [w for w in wanted if not any(w in (s.role, str(s)) for s in found)]
    if unknown:
        known = ", ".join(str(s) for s in found) or "none"
        raise SystemExit(f"no molecule scenario for {', '.join(unknown)} (scenarios: {known})")
    return [s for s in found if s.role in wanted or str(s) in wanted]


def ensure_images(echo: Echo | None = None) -> dict[str, str]:
    """Start Docker if none answers, build the test-host images if missing; {env var: tag}."""
    from dlrs_harness.docker_engine import ensure_docker
    from dlrs_harness.sandbox.images import ImageBuilder

    ensure_docker(echo=echo)
    builder = ImageBuilder(ROOT, echo=echo)
    return {var: builder.ensure(image) for var, image in IMAGE_ENV.items()}


def molecule_env(
    images: Mapping[str, str], base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The environment molecule runs with: the image tags, this Python's bin/ first on PATH
    (molecule calls ansible-config and ansible-playbook from there), no colours."""
    env = dict(os.environ if base is None else base)
    bindir = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join([bindir, env.get("PATH", os.defpath)])
    env.update(images)
    env.update(
        {"NO_COLOR": "1", "PY_COLORS": "0", "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0"}
    )
    return env


def _molecule() -> str:
    here = Path(sys.executable).parent / "molecule"
    return str(here) if here.exists() else "molecule"


def run_scenario(
    scenario: Scenario, env: Mapping[str, str], timeout: float | None = None
) -> Result:
    """`molecule test -s NAME` in the role's directory; its output also goes to the log file."""
    timeout = timeout or float(os.environ.get(TIMEOUT_ENV, DEFAULT_TIMEOUT_S))
    run_env = {
        **env,
        ROLE_ENV: scenario_tag(scenario.role),
        # molecule takes this folder as it is (inventory, state, fact cache): one per scenario, so
        # that scenarios of different roles can run at the same time
        "MOLECULE_EPHEMERAL_DIRECTORY": str(
            ROOT / ".cache" / "molecule-state" / CHECKOUT_TAG / f"{scenario.role}-{scenario.name}"
        ),
    }
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    timed_out = False
    with open(scenario.log_path, "w+", encoding="utf-8", errors="replace") as log:
        log.write(f"$ cd {scenario.role_dir} && molecule test -s {scenario.name}\n")
        log.flush()
        # Both molecule commands run in the role's directory and write to the log.
        where: dict[str, Any] = {
            "cwd": scenario.role_dir,
            "env": run_env,
            "stdin": subprocess.DEVNULL,
            "stdout": log,
            "stderr": subprocess.STDOUT,
        }
        # A session of its own, so that a timeout can stop molecule and the Ansible it started.
        proc = subprocess.Popen(
            [_molecule(), "test", "-s", scenario.name], start_new_session=True, **where
        )
        try:
            rc = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                rc = proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                rc = proc.wait()
            log.write(f"\n*** molecule test ran past {timeout:.0f} s and was stopped\n")
            log.flush()
            # The test hosts of a stopped run would stay: destroy them.
            subprocess.run(
                [_molecule(), "destroy", "-s", scenario.name], timeout=300, check=False, **where
            )
        seconds = time.monotonic() - started
        log.seek(0)
        output = log.read()
    return Result(scenario, rc, seconds, output, timed_out)


def scenario_tag(role: str) -> str:
    """What the container names of ROLE's scenarios carry: the role and this checkout's tag."""
    return f"{role}-{CHECKOUT_TAG}"


def leftover_containers(scenario: Scenario) -> list[str]:
    """Containers of this scenario still there (destroy should have removed them all)."""
    listed = subprocess.run(
        ["docker", "ps", "-a", "--filter", f"label={LABEL}=1", "--format", "{{.Names}}"],
        capture_output=True,
        text=True,
        check=True,
    )
    prefix, suffix = f"molecule-{scenario_tag(scenario.role)}-", f"-{scenario.name}"
    return [n for n in listed.stdout.split() if n.startswith(prefix) and n.endswith(suffix)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="tests/molecule/run.py",
        description="Run `molecule test` for every role scenario (or the ones named).",
    )
    parser.add_argument("only", nargs="*", metavar="ROLE[/SCENARIO]", help="default: all")
    parser.add_argument("--list", action="store_true", help="list the scenarios and exit")
    parser.add_argument(
        "--env",
        action="store_true",
        help="print the exports for running molecule by hand (eval them) and exit",
    )
    args = parser.parse_args(argv)

    scenarios = find_scenarios(ROOT, args.only)
    if args.list:
        print("\n".join(str(s) for s in scenarios))
        return 0
    if not scenarios:
        print("no molecule scenarios under roles/*/molecule/")
        return 0

    def say(message: str) -> None:
        print(f"molecule: {message}", file=sys.stderr if args.env else sys.stdout, flush=True)

    from dlrs_provision.errors import DlrsError

    try:
        images = ensure_images(echo=say)
    except DlrsError as exc:  # no Docker, a failed image build: the message carries the fix
        print(exc.render(), file=sys.stderr)
        return exc.exit_code
    if args.env:
        exports = {"PATH": f"{Path(sys.executable).parent}:$PATH", **images}
        roles = sorted({s.role for s in scenarios})
        if len(roles) == 1:
            exports[ROLE_ENV] = scenario_tag(roles[0])
        for var, value in exports.items():
            quoted = f'"{value}"' if var == "PATH" else shlex.quote(value)
            print(f"export {var}={quoted}")
        return 0
    env = molecule_env(images)
    for var, tag in images.items():
        say(f"{var}={tag}")

    summary: list[tuple[Scenario, bool, float]] = []
    for scenario in scenarios:
        say(f"{scenario}: molecule test -s {scenario.name} (log: {scenario.log_path})")
        result = run_scenario(scenario, env)
        left = leftover_containers(scenario)
        passed = result.ok and not left
        summary.append((scenario, passed, result.seconds))
        say(f"{scenario}: {'passed' if passed else 'FAILED'} in {result.seconds:.0f} s")
        if not result.ok:
            print(result.tail(), flush=True)
        if left:
            say(f"{scenario}: containers left after destroy: {', '.join(left)}")

    print(f"\n{'scenario':<33} {'result':<8} time")
    for scenario, passed, seconds in summary:
        print(f"{scenario!s:<33} {'passed' if passed else 'FAILED':<8} {seconds:4.0f} s")
    return 0 if all(passed for _, passed, _ in summary) else 1


if __name__ == "__main__":
    sys.exit(main())
