"""Plain-text renderings for the terminal: the one table renderer every command's tables use
(reach results, run summaries, images, the sweep grid, preflight reports), tuning tables, plans.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dlrs_provision.plan import Plan


def table(
    rows: Sequence[Sequence[Any]],
    header: Sequence[str] | None = None,
    *,
    right: Collection[int] = (),
    rule: bool = True,
) -> str:
    """Columns as wide as their widest cell, two spaces apart; the columns numbered in `right`
    are aligned right (counts, sizes); a rule of dashes under the header unless rule=False."""
    all_rows = ([list(header)] if header else []) + [list(r) for r in rows]
    if not all_rows:
        return ""
    widths = [max(len(str(r[i])) for r in all_rows) for i in range(len(all_rows[0]))]
    out = []
    for n, row in enumerate(all_rows):
        cells = [
            str(c).rjust(w) if i in right else str(c).ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        out.append("  ".join(cells).rstrip())
        if header and rule and n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def tuning_table(t: dict[str, Any]) -> str:
    topo = t["topology"]
    src = t["sources"]
    head = f"{topo['summary']} (from {topo['source']}); mode {t['mode']}, variant {t['variant']}"
    reserved = str(t["reserved_cores"])
    if t["reserved_cpuset"]:
        reserved += f" (cpuset {t['reserved_cpuset']})"
    rows = [
        ["num_inter_threads", str(t["num_inter_threads"]), src["num_inter_threads"]],
        ["num_intra_threads", str(t["num_intra_threads"]), src["num_intra_threads"]],
        ["data_format", t["data_format"], src["data_format"]],
        ["reserved cores", reserved, src["reserved_cores"]],
    ]
    for key, value in t["env"].items():
        rows.append([key, value, src.get("env", "") if key == "OMP_NUM_THREADS" else ""])
    if not t["env"]:
        rows.append(["env", "(none)", src.get("env", "")])
    text = head + "\n" + table(rows, ["value", "setting", "from"])
    for w in t["warnings"]:
        text += f"\nwarning: {w}"
    return text


def plan_text(plan: Plan) -> str:
    lines = [f"inventory {plan.inventory}: mode {plan.mode}, facts from {plan.facts_dir}"]
    rows = []
    for h in plan.hosts:
        if h.tuning:
            t = h.tuning
            tune = (
                f"inter {t['num_inter_threads']}, intra {t['num_intra_threads']}, "
                f"{t['data_format']}, {t['reserved_cores']} core(s) kept for IO"
            )
            if t["overrides"]:
                tune += (
                    " (override: "
                    + ", ".join(f"{k} from {v}" for k, v in t["overrides"].items())
                    + ")"
                )
        else:
            tune = h.problem or "needs preflight"
        rows.append([h.host, h.role, h.variant, h.image, tune])
    lines.append(table(rows, ["host", "role", "variant", "image", "tuning"]))
    phases = plan.hosts[0].phases if plan.hosts else []
    lines.append("phases, in order: " + " -> ".join(phases))
    return "\n".join(lines)
