"""Thread sweep: the synthetic benchmark over a grid of inter x intra thread counts, locally.

It answers "how good is the calculator's choice on this machine?": every grid point is one run
of benchmark/synthetic.py in a subprocess (a fresh TensorFlow each time, since the thread pools
are fixed when TensorFlow starts); the best point is reported beside the calculator's choice
(single-node rule on the CPUs this process may use) with the ratio of their throughputs.
Each point's environment comes from the calculator too (tuning.compute with the point's values
as overrides), so OpenMP builds get OMP_NUM_THREADS equal to the point's intra.

The command line (`dlrs-provision tune --sweep`) calls find_python(), sweep() and
write_report(); TensorFlow comes from .venv-tf (tests/tf/setup.sh) or any --python given.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dlrs_provision import tuning
from dlrs_provision.benchmark import launcher, results
from dlrs_provision.errors import EnvironmentProblem, UsageError
from dlrs_provision.report import table

SYNTHETIC = Path(__file__).resolve().parent / "synthetic.py"
REPO_ROOT = Path(__file__).resolve().parents[2]
TF_VENV = REPO_ROOT / ".venv-tf"
DEFAULT_VARIANT = "onednn"  # TensorFlow 2 from PyPI is a oneDNN build: NHWC


@dataclass
class Settings:
    """The benchmark run at every grid point."""

    batch_size: int = 16
    num_batches: int = 10
    num_warmup_batches: int = 2
    image_size: int = 224
    data_format: str | None = None  # None: the calculator's, for the variant
    repeats: int = 1  # runs per point, in rounds over the grid; the median counts
    timeout_s: float = 900.0

    def flags(self, data_format: str) -> list[str]:
        return [
            "--model=resnet50",
            f"--batch_size={self.batch_size}",
            f"--num_batches={self.num_batches}",
            f"--num_warmup_batches={self.num_warmup_batches}",
            f"--display_every={max(1, self.num_batches)}",
            f"--image_size={self.image_size}",
            f"--data_format={data_format}",
        ]


@dataclass
class Point:
    inter: int
    intra: int
    runs: list[results.Run] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.runs) and all(r.ok for r in self.runs)

    @property
    def images_per_sec(self) -> float | None:
        if not self.ok:
            return None
        return statistics.median(r.images_per_sec for r in self.runs)  # type: ignore[misc]

    def to_dict(self) -> dict[str, Any]:
        return {
            "inter": self.inter,
            "intra": self.intra,
            "images_per_sec": self.images_per_sec,
            "runs": [r.images_per_sec for r in self.runs],
            "error": next((r.error for r in self.runs if not r.ok), None),
        }


@dataclass
class SweepResult:
    points: list[Point]
    calculated: Point
    tuning: dict[str, Any]
    settings: Settings
    python: str
    variant: str

    @property
    def best(self) -> Point | None:
        good = [p for p in self.points if p.ok]
        return max(good, key=lambda p: p.images_per_sec or 0.0) if good else None

    @property
    def ratio(self) -> float | None:
        """best / calculated images/sec: 1.0 means the calculator's choice is the best found."""
        best, calc = self.best, self.calculated.images_per_sec
        if best is None or not calc:
            return None
        return round((best.images_per_sec or 0.0) / calc, 3)

    def to_dict(self) -> dict[str, Any]:
        best = self.best
        return {
            "variant": self.variant,
            "python": self.python,
            "settings": self.settings.__dict__,
            "calculated": self.calculated.to_dict(),
            "best": best.to_dict() if best else None,
            "ratio_best_to_calculated": self.ratio,
            "points": [p.to_dict() for p in self.points],
            "tuning": self.tuning,
        }


# --------------------------------------------------------------------------- this machine


def local_cpu_flags(cpuinfo: str = "/proc/cpuinfo") -> list[str]:
    """This machine's CPU flags, as preflight reads them (the first flags line); [] if none."""
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return []
    for line in text.splitlines():
        name, sep, value = line.partition(":")
        if sep and name.strip() in ("flags", "Features"):
            return sorted(value.split())
    return []


def local_facts() -> dict[str, Any]:
    """The calculator's facts for the CPUs this process may use (sysfs topology)."""
    cpus = sorted(os.sched_getaffinity(0))
    try:
        return {
            "preflight_cpu_topology": launcher.cpu_topology(cpus),
            "preflight_cpu_features": local_cpu_flags(),
        }
    except launcher.LaunchError as exc:
        raise EnvironmentProblem(
            f"cannot read this machine's CPU topology: {exc}",
            "give the facts of this host (`ansible localhost -m setup`) instead",
        ) from None


def default_grid(topology: tuning.Topology) -> tuple[list[int], list[int]]:
    """A small grid around the calculator's choice: inter 1..2 x sockets, intra 1..logical."""
    logical = topology.logical_cpus
    cores = topology.physical_cores
    inter = sorted({1, 2, topology.sockets, 2 * topology.sockets} & set(range(1, logical + 1)))
    intra = sorted({1, max(1, cores // 2), cores, logical})
    return inter, intra


_HAS_TENSORFLOW = (
    "import importlib.util, sys; sys.exit(importlib.util.find_spec('tensorflow') is None)"
)


def find_python(python: str | None = None) -> str:
    """A Python with TensorFlow: the one given, else .venv-tf's, else this one."""
    candidates = [python] if python else [str(TF_VENV / "bin" / "python"), sys.executable]
    for candidate in candidates:
        if not candidate or not Path(candidate).exists():
            continue
        probe = subprocess.run([candidate, "-c", _HAS_TENSORFLOW], capture_output=True)
        if probe.returncode == 0:
            return candidate
    tried = ", ".join(c for c in candidates if c)
    raise EnvironmentProblem(
        f"no Python with TensorFlow found (tried {tried})",
        "make .venv-tf with `bash tests/tf/setup.sh`, or give a Python that has TensorFlow",
    )


# --------------------------------------------------------------------------- running


def point_tuning(
    facts: Mapping[str, Any] | tuning.Topology, variant: str, inter: int, intra: int
) -> tuning.Tuning:
    """The calculator's values with this point's thread counts as overrides (env included)."""
    return tuning.compute(
        facts,
        mode="single",
        variant=variant,
        overrides={"dlrs_num_inter_threads": inter, "dlrs_num_intra_threads": intra},
        override_sources={
            "dlrs_num_inter_threads": "sweep grid",
            "dlrs_num_intra_threads": "sweep grid",
        },
    )


def run_point(
    python: str,
    inter: int,
    intra: int,
    settings: Settings,
    data_format: str,
    env: Mapping[str, str],
) -> results.Run:
    """One run of the synthetic benchmark with these thread counts, parsed."""
    cmd = [
        python,
        str(SYNTHETIC),
        *settings.flags(data_format),
        f"--num_inter_threads={inter}",
        f"--num_intra_threads={intra}",
    ]
    full_env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **env}
    name = f"inter {inter} intra {intra}"
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, env=full_env, timeout=settings.timeout_s
        )
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout or ""
        text = out.decode(errors="replace") if isinstance(out, bytes) else out
        run = results.parse_log(text, name)
        run.ok, run.images_per_sec = False, None
        run.error = f"timed out after {settings.timeout_s:.0f} s"
        return run
    run = results.parse_log(proc.stdout + "\n" + proc.stderr, name)
    if proc.returncode != 0 and run.ok:
        run.ok, run.error = False, f"exit code {proc.returncode}"
    return run


Runner = Callable[[str, int, int, Settings, str, Mapping[str, str]], results.Run]


def sweep(
    python: str,
    inter_values: Iterable[int] | None = None,
    intra_values: Iterable[int] | None = None,
    *,
    facts: Mapping[str, Any] | None = None,
    variant: str = DEFAULT_VARIANT,
    settings: Settings | None = None,
    runner: Runner = run_point,
    on_point: Callable[[Point], None] | None = None,
) -> SweepResult:
    """Run every (inter, intra) of the grid, plus the calculator's choice when outside it."""
    settings = settings or Settings()
    facts = facts if facts is not None else local_facts()
    try:
        calc = tuning.compute(facts, mode="single", variant=variant)
    except tuning.FactsError as exc:
        raise UsageError(f"facts unusable for the sweep: {exc}") from None
    grid_inter, grid_intra = default_grid(calc.topology)
    inter_list = sorted(set(inter_values or grid_inter))
    intra_list = sorted(set(intra_values or grid_intra))
    if any(v < 1 for v in (*inter_list, *intra_list)):
        raise UsageError("thread counts in the sweep grid must be 1 or more")
    data_format = settings.data_format or calc.data_format
    wanted = [(i, j) for i in inter_list for j in intra_list]
    chosen = (calc.num_inter_threads, calc.num_intra_threads)
    if chosen not in wanted:
        wanted.append(chosen)
    points = [Point(inter, intra) for inter, intra in wanted]
    envs = [point_tuning(calc.topology, variant, p.inter, p.intra).env for p in points]
    rounds = max(1, settings.repeats)
    # repeats go in rounds over the whole grid, so that a drift in the machine's load
    # (other work, heat) spreads over every point instead of favouring some
    for round_no in range(rounds):
        for point, env in zip(points, envs, strict=True):
            point.runs.append(runner(python, point.inter, point.intra, settings, data_format, env))
            if on_point and round_no == rounds - 1:
                on_point(point)
    calculated = next(p for p in points if (p.inter, p.intra) == chosen)
    return SweepResult(
        points=points,
        calculated=calculated,
        tuning=calc.to_dict(),
        settings=settings,
        python=python,
        variant=variant,
    )


# --------------------------------------------------------------------------- reporting


def _rate(value: float | None) -> str:
    return "failed" if value is None else f"{value:.2f}"


def render_text(result: SweepResult) -> str:
    """The grid as a table (images/sec), then best against calculated."""
    inters = sorted({p.inter for p in result.points})
    intras = sorted({p.intra for p in result.points})
    by = {(p.inter, p.intra): p for p in result.points}
    rows = []
    for i in inters:
        cells = []
        for j in intras:
            p = by.get((i, j))
            mark = "*" if p is result.calculated else " "
            cells.append("" if p is None else _rate(p.images_per_sec) + mark)
        rows.append([i, *cells])
    header = ["inter \\ intra", *(str(j) for j in intras)]
    lines = [table(rows, header, right=range(1, len(header)), rule=False)]
    calc, best = result.calculated, result.best
    lines.append("")
    lines.append(
        f"calculated (*): inter {calc.inter}, intra {calc.intra}: "
        f"{_rate(calc.images_per_sec)} images/sec"
    )
    if best is not None:
        lines.append(
            f"best:           inter {best.inter}, intra {best.intra}: "
            f"{_rate(best.images_per_sec)} images/sec"
        )
    ratio = result.ratio
    lines.append(
        "best / calculated: "
        + ("n/a (a run failed)" if ratio is None else f"{ratio:.3f}")
        + f"  (batch {result.settings.batch_size}, {result.settings.num_batches} batches, "
        f"{result.settings.image_size}px, variant {result.variant})"
    )
    failed = [p for p in result.points if not p.ok]
    for p in failed:
        lines.append(f"failed: inter {p.inter} intra {p.intra}: {p.to_dict()['error']}")
    return "\n".join(lines)


def write_report(out_dir: str | Path, result: SweepResult) -> dict[str, Path]:
    """sweep.md (the table) and sweep.json (every point) in out_dir."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"markdown": out / "sweep.md", "json": out / "sweep.json"}
    paths["markdown"].write_text(
        "# Thread sweep: synthetic ResNet50\n\n```\n" + render_text(result) + "\n```\n", "utf-8"
    )
    paths["json"].write_text(json.dumps(result.to_dict(), indent=2) + "\n", "utf-8")
    return paths
