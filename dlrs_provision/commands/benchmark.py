"""`dlrs-provision benchmark INVENTORY`: the ResNet50 benchmark on every node (Docker) or as the
TFJob on the cluster, and its report."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dlrs_provision import runner
from dlrs_provision.commands import hosts, options
from dlrs_provision.commands.console import err, load_inventory, out
from dlrs_provision.errors import EXIT_FAILED, EXIT_OK


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "benchmark",
        help="run the ResNet50 benchmark (each node in Docker, or the TFJob) and write a report",
    )
    p.add_argument("inventory")
    p.add_argument(
        "--mode",
        choices=("single", "multi"),
        default="single",
        help="single: every node runs its image with its single-node tuning (docker run); "
        "multi: submit the TFJob on the master and wait for it",
    )
    p.add_argument(
        "--compare-default",
        action="store_true",
        help="single mode: also run each node with TensorFlow's defaults (no thread flags)",
    )
    p.add_argument(
        "--image",
        type=options.image_ref,
        help="the image to run (default: each node's dlrs_image/variant)",
    )
    p.add_argument(
        "--benchmark",
        choices=("synthetic", "tf_cnn_benchmarks", "image"),
        help="synthetic (the toolkit's ResNet50), tf_cnn_benchmarks (a git checkout), or image "
        "(the image's own tf_cnn_benchmarks command); default: the variant's",
    )
    p.add_argument(
        "--benchmark-repo",
        type=options.git_repo,
        help="git URL of tf_cnn_benchmarks (https://, ssh://, file:// or a path)",
    )
    p.add_argument(
        "--benchmark-ref",
        type=options.git_ref,
        help="a full commit id, or a tensorflow/benchmarks branch the toolkit pins to a commit "
        "(master, cnn_tf_v1.5_compatible ... cnn_tf_v2.1_compatible); default: "
        "cnn_tf_v1.12_compatible for TensorFlow 1.x variants, master for onednn",
    )
    p.add_argument("--batch-size", type=options.int_range(1, 65536), default=64)
    p.add_argument("--num-batches", type=options.int_range(1, 1_000_000), default=100)
    p.add_argument(
        "--model", type=options.model, default="resnet50", help="a tf_cnn_benchmarks model"
    )
    p.add_argument(
        "--timeout",
        type=options.int_range(1, 7 * 86400),
        default=3600,
        help="seconds per run, or for the TFJob (3600)",
    )
    hosts.add_options(p, check=False, json_lines=False)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from dlrs_provision.benchmark import run as bench

    inv = load_inventory(args.inventory)
    request = bench.Request(
        inventory=Path(args.inventory),
        mode=args.mode,
        compare_default=args.compare_default,
        image=args.image,
        benchmark=args.benchmark,
        repo=args.benchmark_repo,
        ref=args.benchmark_ref,
        batch_size=args.batch_size,
        num_batches=args.num_batches,
        model=args.model,
        timeout=args.timeout,
        limit=args.limit,
        trust_new_host_keys=args.trust_new_host_keys,
    )
    selected = bench.prepare(request, inv)
    with hosts.one_run_at_a_time(args.inventory):
        if not hosts.reach_all(args, inv):
            return EXIT_FAILED
        emit = runner.TerminalProgress(err, verbose=args.verbose)
        outcome = bench.execute(request, inv, selected, emit, say=err)
    out(bench.render_text(outcome, " ".join(["dlrs-provision", *sys.argv[1:]])))
    return EXIT_OK if outcome.ok else EXIT_FAILED
