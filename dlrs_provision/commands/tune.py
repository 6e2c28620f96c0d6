"""`dlrs-provision tune`: the tuning values from a host's facts, or measured over a grid."""

from __future__ import annotations

import argparse
import json

from dlrs_provision import report, tuning
from dlrs_provision.catalog import VARIANTS
from dlrs_provision.commands import options
from dlrs_provision.commands.console import err, out
from dlrs_provision.errors import EXIT_OK, UsageError
from dlrs_provision.facts import load_facts


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("tune", help="compute the tuning values from a host's facts")
    p.add_argument(
        "--facts",
        help="JSON of `ansible HOST -m setup`, or a jsonfile fact-cache file",
    )
    p.add_argument(
        "--mode",
        choices=tuning.MODES,
        default="single",
        help="single node, or multi node (cluster worker: 2 cores/socket for IO)",
    )
    p.add_argument("--variant", choices=sorted(VARIANTS), default="mkl")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    sweep = p.add_argument_group("measuring (--sweep): the synthetic benchmark over a grid")
    sweep.add_argument(
        "--sweep",
        action="store_true",
        help="run the benchmark on this machine over inter x intra thread counts "
        "and compare the best with the calculator's choice",
    )
    sweep.add_argument(
        "--inter",
        type=options.int_list(1, 1024),
        help="inter values, e.g. 1,2 (default: around the choice)",
    )
    sweep.add_argument("--intra", type=options.int_list(1, 1024), help="intra values, e.g. 1,2,4")
    sweep.add_argument("--batch-size", type=options.int_range(1, 65536), default=16)
    sweep.add_argument("--num-batches", type=options.int_range(1, 1_000_000), default=10)
    sweep.add_argument(
        "--repeats",
        type=options.int_range(1, 100),
        default=1,
        help="runs per point (median counts)",
    )
    sweep.add_argument(
        "--python", type=options.executable, help="a Python with TensorFlow (default: .venv-tf's)"
    )
    sweep.add_argument(
        "--out", type=options.output_folder, help="folder for sweep.md and sweep.json"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.sweep:
        return _sweep(args)
    if not args.facts:
        raise UsageError("tune needs --facts FILE (or --sweep to measure this machine)")
    facts = load_facts(args.facts)
    try:
        result = tuning.compute(facts, mode=args.mode, variant=args.variant)
    except tuning.FactsError as exc:
        raise UsageError(
            f"{args.facts}: {exc}",
            "gather facts with `ansible HOST -m setup` (hardware subset) and save its JSON",
        ) from None
    data = result.to_dict()
    out(json.dumps(data, indent=2, sort_keys=True) if args.json else report.tuning_table(data))
    return EXIT_OK


def _sweep(args: argparse.Namespace) -> int:
    """Measure the synthetic benchmark over an inter x intra grid on this machine."""
    from dlrs_provision.benchmark import sweep

    python = sweep.find_python(args.python)
    grid = [v or None for v in (args.inter, args.intra)]
    settings = sweep.Settings(
        batch_size=args.batch_size, num_batches=args.num_batches, repeats=args.repeats
    )
    facts = load_facts(args.facts) if args.facts else None
    result = sweep.sweep(
        python,
        grid[0],
        grid[1],
        facts=facts,
        variant=args.variant,
        settings=settings,
        on_point=lambda p: err(f"  inter {p.inter} intra {p.intra}: {p.images_per_sec}"),
    )
    out(sweep.render_text(result))
    if args.out:
        for path in sweep.write_report(args.out, result).values():
            out(f"wrote {path}")
    return EXIT_OK
