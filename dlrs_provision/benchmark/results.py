"""Benchmark results: read images/sec from logs, write a report (Markdown, JSON, PNG chart).

Both tf_cnn_benchmarks and the project's synthetic benchmark print per-step lines

    10	images/sec: 123.4 +/- 1.2 (jitter = 3.4)	7.812

and, at the end, `total images/sec: 123.45`. A log without that last line is a failed run: the
report says so, with the error line found and the last lines of the log.

What counts for a node. A single-node run's `total images/sec` is that node's rate. In a
parameter-server TFJob, tf_cnn_benchmarks computes each worker's `total images/sec` from the
global step, which every worker advances: it is the cluster's rate as one worker saw it. A
worker's own rate there is its per-step figure (the mean of its step times), so for distributed
logs the report takes the last per-step figure per node and adds those up for the cluster,
keeping every reported total beside it.

Stand-ins. A log that carries STAND_IN_MARK comes from a stand-in of the benchmark (the
sandbox's test images cannot run TensorFlow): its figures are made up. Such runs are marked
(`stand_in`, source "stand-in"), and the report says so at the top, in the table, in the notes
and in the chart's title: they are never shown as measurements.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

TOTAL_RE = re.compile(r"total images/sec:\s*([0-9]+(?:\.[0-9]*)?)")
STEP_RE = re.compile(
    r"(\d+)\s+images/sec:\s*([0-9.]+)\s*\+/-\s*([0-9.]+)\s*\(jitter\s*=\s*([0-9.]+)\)"
)
INFO_RE = re.compile(r"^(Model|Batch size|Data format|Devices|Num batches|TensorFlow):\s+(.*)$")
ERROR_RE = re.compile(
    r"Traceback|Error|Exception|error:|Killed|OOMKilled|Aborted|Segmentation fault|core dumped"
)
SYNTHETIC_MARK = "dlrs-provision synthetic benchmark"
STAND_IN_MARK = "dlrs-provision stand-in"
STAND_IN_WARNING = (
    "STAND-IN FIGURES, NOT MEASUREMENTS: {runs} came from a stand-in of the benchmark "
    "(no TensorFlow ran); their images/sec are made up and say nothing about any machine"
)
TAIL_LINES = 15


@dataclass
class Run:
    """What one benchmark log says."""

    name: str
    ok: bool
    images_per_sec: float | None  # the `total images/sec` line
    step_images_per_sec: float | None  # the last per-step mean
    source: str  # tf_cnn_benchmarks, synthetic or unknown
    distributed: bool
    steps: int | None = None  # the step of the last per-step line
    error: str | None = None
    tail: list[str] = field(default_factory=list)
    info: dict[str, str] = field(default_factory=dict)
    stand_in: bool = False  # the log says it comes from a stand-in: made-up figures

    @property
    def node_images_per_sec(self) -> float | None:
        """This node's own rate (see the module's note on distributed runs)."""
        if not self.ok:
            return None
        if self.distributed and self.step_images_per_sec is not None:
            return self.step_images_per_sec
        return self.images_per_sec

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"node_images_per_sec": self.node_images_per_sec}


def parse_log(text: str, name: str = "run") -> Run:
    lines = text.splitlines()
    total = step_rate = None
    step_no = None
    info: dict[str, str] = {}
    for line in lines:
        m = TOTAL_RE.search(line)
        if m:
            total = float(m.group(1))
            continue
        m = STEP_RE.search(line)
        if m:
            step_no, step_rate = int(m.group(1)), float(m.group(2))
            continue
        m = INFO_RE.match(line.strip())
        if m and m.group(1) not in info:
            info[m.group(1)] = m.group(2).strip()
    stand_in = STAND_IN_MARK in text
    if stand_in:
        source = "stand-in"
    elif SYNTHETIC_MARK in text:
        source = "synthetic"
    elif "Step\tImg/sec" in text or "tf_cnn_benchmarks" in text or info:
        source = "tf_cnn_benchmarks"
    else:
        source = "unknown"
    distributed = (
        "/job:worker" in text or "--job_name=worker" in text or "launcher: task worker" in text
    )
    tail = [line.rstrip() for line in lines if line.strip()][-TAIL_LINES:]
    ok = total is not None
    error = None
    if not ok:
        errors = [line.strip() for line in lines if ERROR_RE.search(line)]
        error = (
            errors[-1]
            if errors
            else "no `total images/sec` line: the benchmark did not finish"
            + (" (the log is empty)" if not tail else "")
        )
    return Run(
        name=name,
        ok=ok,
        images_per_sec=total,
        step_images_per_sec=step_rate,
        source=source,
        distributed=distributed,
        steps=step_no,
        error=error,
        tail=tail if not ok else tail[-5:],
        info=info,
        stand_in=stand_in,
    )


def parse_file(path: str | Path, name: str | None = None) -> Run:
    p = Path(path)
    return parse_log(p.read_text(encoding="utf-8", errors="replace"), name or p.stem)


# --------------------------------------------------------------------------- summary


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a is not None and b else None


def _sum(runs: Iterable[Run]) -> float | None:
    rates = [r.node_images_per_sec for r in runs]
    known = [r for r in rates if r is not None]
    if not rates or len(known) != len(rates):
        return None
    return round(sum(known), 2)


def summarize(
    runs: list[Run],
    untuned: list[Run] | None = None,
    title: str = "ResNet50 benchmark",
    notes: Iterable[str] = (),
    context: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Per node and in total: images/sec, and tuned against untuned when both are given."""
    base = {r.name: r for r in untuned or []}
    names = [r.name for r in runs] + [n for n in base if n not in {r.name for r in runs}]
    by_name = {r.name: r for r in runs}
    nodes = []
    for name in names:
        tuned, plain = by_name.get(name), base.get(name)
        t = tuned.node_images_per_sec if tuned else None
        u = plain.node_images_per_sec if plain else None
        nodes.append(
            {
                "node": name,
                "tuned": t,
                "untuned": u,
                "ratio": _ratio(t, u),
                "reported_total": tuned.images_per_sec if tuned else None,
                "source": tuned.source if tuned else (plain.source if plain else "unknown"),
                "stand_in": any(r is not None and r.stand_in for r in (tuned, plain)),
            }
        )
    total_tuned = _sum(runs)
    total_untuned = _sum(untuned) if untuned else None
    failures = [
        {"node": r.name, "run": label, "error": r.error, "tail": r.tail}
        for label, group in (("tuned", runs), ("untuned", untuned or []))
        for r in group
        if not r.ok
    ]
    all_notes = list(notes)
    fake = [
        f"{r.name} ({label})"
        for label, group in (("tuned", runs), ("untuned", untuned or []))
        for r in group
        if r.stand_in
    ]
    if fake:
        all_notes.insert(0, STAND_IN_WARNING.format(runs=", ".join(fake)))
    if any(r.distributed for r in runs):
        all_notes.append(
            "distributed run: each node's figure is its own per-step rate; tf_cnn_benchmarks' "
            "`total images/sec` of each worker (reported_total) is the cluster's rate as that "
            "worker saw it"
        )
    return {
        "title": title,
        "generated": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "nodes": nodes,
        "total": {
            "tuned": total_tuned,
            "untuned": total_untuned,
            "ratio": _ratio(total_tuned, total_untuned),
        },
        "compared": untuned is not None,
        "stand_in": bool(fake),
        "failures": failures,
        "notes": all_notes,
        "context": dict(context or {}),
        "runs": [r.to_dict() for r in runs],
        "untuned_runs": [r.to_dict() for r in untuned or []],
    }


# --------------------------------------------------------------------------- writing


def _fmt(value: float | None) -> str:
    return "failed" if value is None else f"{value:.2f}"


def render_markdown(summary: Mapping[str, Any]) -> str:
    compared = summary["compared"]
    lines = [f"# {summary['title']}", "", f"Generated by dlrs-provision, {summary['generated']}."]
    if summary.get("stand_in"):
        lines += ["", f"**{summary['notes'][0]}.**"]
    for key, value in summary["context"].items():
        lines.append(f"- {key}: {value}")
    lines += ["", "![images/sec per node and in total](chart.png)", ""]
    if compared:
        lines += [
            "| node | images/sec tuned | images/sec untuned | tuned / untuned | benchmark |",
            "|---|---:|---:|---:|---|",
        ]
    else:
        lines += ["| node | images/sec | benchmark |", "|---|---:|---|"]
    for n in summary["nodes"]:
        source = "**stand-in, made up**" if n.get("stand_in") else n["source"]
        if compared:
            ratio = "" if n["ratio"] is None else f"{n['ratio']:.3f}"
            row = [n["node"], _fmt(n["tuned"]), _fmt(n["untuned"]), ratio, source]
        else:
            row = [n["node"], _fmt(n["tuned"]), source]
        lines.append("| " + " | ".join(row) + " |")
    total = summary["total"]
    if compared:
        ratio = "" if total["ratio"] is None else f"{total['ratio']:.3f}"
        lines.append(
            f"| **total** | {_fmt(total['tuned'])} | {_fmt(total['untuned'])} | {ratio} | |"
        )
    else:
        lines.append(f"| **total** | {_fmt(total['tuned'])} | |")
    if summary["failures"]:
        lines += ["", "## Failures", ""]
        for f in summary["failures"]:
            lines += [f"### {f['node']} ({f['run']})", "", f"{f['error']}", "", "```"]
            lines += f["tail"] or ["(empty log)"]
            lines += ["```", ""]
    if summary["notes"]:
        lines += ["## Notes", ""] if lines[-1] == "" else ["", "## Notes", ""]
        lines += [f"- {note}" for note in summary["notes"]]
    return "\n".join(lines).rstrip() + "\n"


def render_chart(summary: Mapping[str, Any], path: str | Path) -> Path:
    """A bar chart of images/sec per node and in total; tuned beside untuned when compared."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [n["node"] for n in summary["nodes"]] + ["total"]
    tuned = [n["tuned"] for n in summary["nodes"]] + [summary["total"]["tuned"]]
    untuned = [n["untuned"] for n in summary["nodes"]] + [summary["total"]["untuned"]]
    compared = summary["compared"]
    fig, ax = plt.subplots(figsize=(max(6.0, 1.2 * len(labels) + 2), 4.5))
    width = 0.38 if compared else 0.6
    xs = list(range(len(labels)))
    series = [("tuned", tuned, "#0071c5", 0.0)]
    if compared:
        series = [
            ("untuned", untuned, "#9e9e9e", -width / 2),
            ("tuned", tuned, "#0071c5", width / 2),
        ]
    top = max([v for _, vals, _, _ in series for v in vals if v is not None] or [1.0])
    for label, values, colour, shift in series:
        heights = [v or 0.0 for v in values]
        bars = ax.bar([x + shift for x in xs], heights, width, label=label, color=colour)
        for bar, value in zip(bars, values, strict=True):
            text = "failed" if value is None else f"{value:.1f}"
            ax.annotate(
                text,
                (bar.get_x() + bar.get_width() / 2, bar.get_height() + top * 0.01),
                ha="center",
                va="bottom",
                fontsize=8,
                color="#b00020" if value is None else "black",
            )
    ax.set_xticks(xs, labels, rotation=20 if len(labels) > 6 else 0)
    ax.set_ylabel("images/sec")
    ax.set_ylim(0, top * 1.15)
    title = summary["title"]
    if summary.get("stand_in"):
        title += "\nSTAND-IN: made-up figures, not measurements"
    ax.set_title(title, color="#b00020" if summary.get("stand_in") else "black")
    if compared:
        ax.legend()
    ax.axvline(len(labels) - 1.5, color="#cccccc", linewidth=0.8)
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def write_report(out_dir: str | Path, *args: Any, **kwargs: Any) -> dict[str, Path]:
    """Write report.md, report.json and chart.png of summarize(*args, **kwargs) into out_dir
    (made if missing)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    summary = summarize(*args, **kwargs)
    paths = {
        "markdown": out / "report.md",
        "json": out / "report.json",
        "chart": out / "chart.png",
    }
    paths["markdown"].write_text(render_markdown(summary), encoding="utf-8")
    paths["json"].write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n", "utf-8")
    render_chart(summary, paths["chart"])
    return paths
