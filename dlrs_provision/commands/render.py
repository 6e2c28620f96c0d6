"""`dlrs-provision render tfjob INVENTORY`: Kubernetes objects from the inventory."""

from __future__ import annotations

import argparse
from pathlib import Path

from dlrs_provision.commands import options
from dlrs_provision.commands.console import err, load_inventory, out
from dlrs_provision.errors import EXIT_OK


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("render", help="render Kubernetes objects from the inventory")
    kinds = p.add_subparsers(dest="render_kind", metavar="KIND", required=True)
    q = kinds.add_parser("tfjob", help="the distributed benchmark as a Kubeflow TFJob")
    q.add_argument("inventory")
    q.add_argument(
        "--facts-dir",
        type=options.input_folder("facts folder"),
        help="fact cache folder (default: the inventory's own)",
    )
    q.add_argument(
        "--workers",
        type=options.host_list,
        help="comma-separated worker hosts (default: group workers)",
    )
    q.add_argument(
        "--ps", type=options.int_range(1, 64), default=1, help="parameter servers, 1 to 64 (1)"
    )
    q.add_argument("--batch-size", type=options.int_range(1, 65536), default=64)
    q.add_argument("--num-batches", type=options.int_range(1, 1_000_000), default=100)
    q.add_argument("--model", type=options.model, default="resnet50")
    q.add_argument(
        "--benchmark",
        choices=("tf_cnn_benchmarks", "synthetic"),
        help="default: the variant's (tf_cnn_benchmarks for the TF1 images)",
    )
    q.add_argument(
        "--out",
        "-o",
        type=options.output_file,
        help="write the YAML here instead of standard output",
    )
    q.set_defaults(func=run_tfjob)


def run_tfjob(args: argparse.Namespace) -> int:
    from dlrs_provision import tfjob

    inv = load_inventory(args.inventory)
    manifests = tfjob.build(
        inv,
        Path(args.facts_dir) if args.facts_dir else None,
        workers=args.workers or None,
        ps=args.ps,
        batch_size=args.batch_size,
        model=args.model,
        num_batches=args.num_batches,
        benchmark=args.benchmark,
    )
    for line in manifests.placement:
        err(f"placement: {line}")
    err(
        "warning: sized from the facts alone: what the cluster's pods already request (DaemonSets "
        "such as the pod network's) is not counted, so a worker may stay Pending; "
        "`dlrs-provision benchmark --mode multi` reads the cluster and sizes to what is free"
    )
    for warning in manifests.warnings:
        err(f"warning: {warning}")
    if args.out:
        Path(args.out).write_text(manifests.to_yaml())
        err(f"wrote {args.out}")
    else:
        out(manifests.to_yaml().rstrip())
    return EXIT_OK
