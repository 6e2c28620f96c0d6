"""The `dlrs-provision` command: parse, call the library, print. Errors become exit codes here."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from dlrs_provision import (
    __version__,
    inventory,
    paths,
    plan,
    preflight,
    reach,
    report,
    runner,
    sandbox,
    tuning,
)
from dlrs_provision.catalog import IMAGES, VARIANTS
from dlrs_provision.errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE, DlrsError, UsageError
from dlrs_provision.facts import load_facts


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _err(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def _load_inventory(path: str) -> inventory.Inventory:
    inv = inventory.load(path)
    for w in inv.warnings:
        _err("warning: " + w.render())
    return inv


# --------------------------------------------------------------------------- commands


def cmd_validate(args: argparse.Namespace) -> int:
    inv = _load_inventory(args.inventory)
    _out(
        f"OK {args.inventory}: 1 master, {len(inv.workers)} worker(s), "
        f"{len(inv.hosts)} host(s), mode {inv.mode()}"
    )
    return EXIT_OK


def cmd_tune(args: argparse.Namespace) -> int:
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
    _out(json.dumps(data, indent=2, sort_keys=True) if args.json else report.tuning_table(data))
    return EXIT_OK


def _sweep(args: argparse.Namespace) -> int:
    """Measure the synthetic benchmark over an inter x intra grid on this machine."""
    from dlrs_provision.benchmark import sweep

    python = sweep.find_python(args.python)
    grid = [None if not v else [int(x) for x in v.split(",")] for v in (args.inter, args.intra)]
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
        on_point=lambda p: _err(f"  inter {p.inter} intra {p.intra}: {p.images_per_sec}"),
    )
    _out(sweep.render_text(result))
    if args.out:
        for path in sweep.write_report(args.out, result).values():
            _out(f"wrote {path}")
    return EXIT_OK


def cmd_render_tfjob(args: argparse.Namespace) -> int:
    from dlrs_provision import tfjob

    inv = _load_inventory(args.inventory)
    manifests = tfjob.build(
        inv,
        Path(args.facts_dir) if args.facts_dir else None,
        workers=args.workers.split(",") if args.workers else None,
        ps=args.ps,
        batch_size=args.batch_size,
        model=args.model,
        num_batches=args.num_batches,
        benchmark=args.benchmark,
    )
    for line in manifests.placement:
        _err(f"placement: {line}")
    _err(
        "warning: sized from the facts alone: what the cluster's pods already request (DaemonSets "
        "such as the pod network's) is not counted, so a worker may stay Pending; "
        "`dlrs-provision benchmark --mode multi` reads the cluster and sizes to what is free"
    )
    for warning in manifests.warnings:
        _err(f"warning: {warning}")
    if args.out:
        Path(args.out).write_text(manifests.to_yaml())
        _err(f"wrote {args.out}")
    else:
        _out(manifests.to_yaml().rstrip())
    return EXIT_OK


def cmd_plan(args: argparse.Namespace) -> int:
    inv = _load_inventory(args.inventory)
    result = plan.build(inv, Path(args.facts_dir) if args.facts_dir else None)
    _out(json.dumps(result.to_dict(), indent=2) if args.json else report.plan_text(result))
    return EXIT_OK


def _run(args: argparse.Namespace, playbook: str, resume: str) -> int:
    inv_path = Path(args.inventory)
    emit = (
        runner.JsonProgress(_out)
        if args.json
        else runner.TerminalProgress(_err, verbose=args.verbose)
    )
    result = runner.run_playbook(
        runner.RunOptions(
            inventory=inv_path,
            playbook=paths.playbook(playbook),
            trust_new_host_keys=args.trust_new_host_keys,
            limit=args.limit,
            check=args.check,
        ),
        emit,
    )
    summary = runner.render_summary(result, resume)
    if args.json:
        _out(
            json.dumps(
                {
                    "kind": "summary",
                    "status": result.status,
                    "rc": result.rc,
                    "artifacts": str(result.artifact_dir),
                    "hosts": {
                        h: {
                            "state": s.state,
                            "ok": s.ok,
                            "changed": s.changed,
                            "failed": s.failed,
                            "unreachable": s.unreachable,
                            "skipped": s.skipped,
                        }
                        for h, s in result.hosts.items()
                    },
                    "resume": None if result.ok else resume,
                },
                sort_keys=True,
            )
        )
    else:
        _out(summary)
    return EXIT_OK if result.ok else EXIT_FAILED


def cmd_images_list(args: argparse.Namespace) -> int:
    rows = [img.to_dict() for img in IMAGES]
    if args.json:
        _out(json.dumps(rows, indent=2))
        return EXIT_OK
    _out(
        report.table(
            [
                [
                    r["ref"],
                    r["variant"],
                    r["data_format"],
                    "yes" if r["openmp"] else "no",
                    r["onednn"],
                    r["status"],
                    r["note"],
                ]
                for r in rows
            ],
            ["image", "variant", "data_format", "OpenMP env", "oneDNN", "status", "note"],
        )
    )
    defaults = ", ".join(f"{v.name} -> {v.image}" for v in VARIANTS.values())
    _out(f"dlrs_variant picks the default image: {defaults}; dlrs_image overrides it")
    return EXIT_OK


def cmd_images_save(args: argparse.Namespace) -> int:
    from dlrs_provision import images

    source = images.source_from_inventory(Path(args.inventory)) if args.inventory else None
    wanted = args.image or (source.images if source else images.default_images())
    registry = args.registry or (source.registry if source else None)
    insecure = [*(source.insecure_registries if source else []), *args.insecure_registry]
    username, password = images.credentials_from_env()
    result = images.save(
        wanted,
        Path(args.out),
        registry=registry,
        insecure_registries=insecure,
        ca_file=args.ca_file,
        platform=args.platform,
        username=username,
        password=password,
        echo=_err,
    )
    _out(images.render_saved(result.images))
    _out(
        f"wrote {result.path}: {len(result.images)} image(s), {result.blobs} blob(s), "
        f"{result.bytes:,} bytes"
    )
    return EXIT_OK


def cmd_images_load(args: argparse.Namespace) -> int:
    from dlrs_provision import images

    images.Archive.open(Path(args.archive))  # a missing or damaged archive, before the inventory
    target = images.target_from_inventory(Path(args.inventory), args.registry)
    result = images.load(Path(args.archive), target, echo=_err)
    _out(images.render_saved(result.images))
    _out(
        f"loaded {len(result.images)} image(s) into {result.registry}: "
        f"{result.pushed_blobs} blob(s) pushed ({result.pushed_bytes:,} bytes), "
        f"{result.present_blobs} already there"
    )
    return EXIT_OK


def _resume(args: argparse.Namespace) -> str:
    cmd = f"dlrs-provision {args.command} {args.inventory}"
    if args.trust_new_host_keys:
        cmd += " --trust-new-host-keys"
    if args.limit:
        cmd += f" --limit {args.limit}"
    return cmd


def _reach_all(args: argparse.Namespace, inv: inventory.Inventory) -> bool:
    """Reach every host over SSH before Ansible; print the table; False if any host fails."""
    hosts = [*inv.masters, *[w for w in inv.workers if w not in inv.masters]]
    if args.limit:
        wanted = set(args.limit.split(","))
        hosts = [h for h in hosts if h in wanted] or hosts
    results, unchecked = preflight.check_reach(
        inv, hosts, trust_new_host_keys=args.trust_new_host_keys
    )
    bad = [r for r in results if not r.ok]
    if args.json:
        for r in results:
            _out(
                json.dumps(
                    {
                        "kind": "reach",
                        "host": r.target.name,
                        "result": r.kind,
                        "reason": r.reason,
                        "seconds": round(r.seconds, 2),
                    }
                )
            )
    elif bad or args.verbose:
        _err(reach.render_table(results))
    for host in unchecked:
        _err(f"note: {host}: connection settings use templates or vault; Ansible reaches it")
    if bad:
        _err(
            f"{len(bad)} of {len(results)} host(s) cannot be used; nothing was changed on any "
            f"host.\nfix the cause above, then run: {_resume(args)}"
        )
        return False
    if not args.json:
        _err(f"all {len(results)} host(s) reachable")
    return True


def cmd_cluster(args: argparse.Namespace) -> int:
    inv = _load_inventory(args.inventory)
    if not args.json:
        _err(f"inventory OK: 1 master, {len(inv.workers)} worker(s), mode {inv.mode()}")
    if not _reach_all(args, inv):
        return EXIT_FAILED
    rc = _run(args, "cluster.yml", _resume(args))
    if not args.json and rc == EXIT_OK:
        _out("")
        _out(report.plan_text(plan.build(inv)))
    return rc


def cmd_preflight(args: argparse.Namespace) -> int:
    inv = _load_inventory(args.inventory)
    if not _reach_all(args, inv):
        return EXIT_FAILED
    emit = (
        runner.JsonProgress(_out)
        if args.json
        else runner.TerminalProgress(_err, verbose=args.verbose)
    )
    result = runner.run_playbook(
        runner.RunOptions(
            inventory=Path(args.inventory),
            playbook=paths.playbook("preflight.yml"),
            trust_new_host_keys=args.trust_new_host_keys,
            limit=args.limit,
        ),
        emit,
    )
    reports = preflight.host_reports(inv, paths.facts_dir(Path(args.inventory)), result)
    if args.json:
        _out(json.dumps({"kind": "preflight", "hosts": [r.__dict__ for r in reports]}))
    else:
        _out(preflight.render_reports(reports))
        if not result.ok:
            _out(runner.render_summary(result, _resume(args)))
    return EXIT_OK if result.ok else EXIT_FAILED


def cmd_benchmark(args: argparse.Namespace) -> int:
    from dlrs_provision.benchmark import run as bench

    inv = _load_inventory(args.inventory)
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
    hosts = bench.prepare(request, inv)
    if not _reach_all(args, inv):
        return EXIT_FAILED
    emit = runner.TerminalProgress(_err, verbose=args.verbose)
    outcome = bench.execute(request, inv, hosts, emit, say=_err)
    _out(bench.render_text(outcome, " ".join(["dlrs-provision", *sys.argv[1:]])))
    return EXIT_OK if outcome.ok else EXIT_FAILED


# --------------------------------------------------------------------------- parser


def _add_run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--trust-new-host-keys",
        action="store_true",
        help="accept the SSH host key of a host seen for the first time "
        "(a changed key still fails)",
    )
    p.add_argument("--limit", help="restrict the run to these hosts (Ansible pattern)")
    p.add_argument("--check", action="store_true", help="dry run: report what would change")
    p.add_argument("--json", action="store_true", help="progress and summary as JSON lines")
    p.add_argument("-v", "--verbose", action="store_true", help="show every task and result")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dlrs-provision",
        description="Provision Intel's Deep Learning Reference Stack on Xeon servers.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("validate", help="check an inventory; touches no host")
    p.add_argument("inventory", help="hosts file (YAML or INI) or inventory folder")
    p.set_defaults(func=cmd_validate)

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
    sweep.add_argument("--inter", help="inter values, e.g. 1,2 (default: around the choice)")
    sweep.add_argument("--intra", help="intra values, e.g. 1,2,4")
    sweep.add_argument("--batch-size", type=int, default=16)
    sweep.add_argument("--num-batches", type=int, default=10)
    sweep.add_argument("--repeats", type=int, default=1, help="runs per point (median counts)")
    sweep.add_argument("--python", help="a Python with TensorFlow (default: .venv-tf's)")
    sweep.add_argument("--out", help="folder for sweep.md and sweep.json")
    p.set_defaults(func=cmd_tune)

    p = sub.add_parser("plan", help="show what `cluster` would do to each host")
    p.add_argument("inventory")
    p.add_argument("--facts-dir", help="fact cache folder (default: the inventory's own)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_plan)

    p = sub.add_parser(
        "preflight",
        help="reach every host, read its hardware and OS, check "
        "them and compute its tuning; changes nothing",
    )
    p.add_argument("inventory")
    _add_run_options(p)
    p.set_defaults(func=cmd_preflight)

    p = sub.add_parser("cluster", help="validate, then run every phase on the inventory")
    p.add_argument("inventory")
    _add_run_options(p)
    p.set_defaults(func=cmd_cluster)

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
    p.add_argument("--image", help="the image to run (default: each node's dlrs_image/variant)")
    p.add_argument(
        "--benchmark",
        choices=("synthetic", "tf_cnn_benchmarks", "image"),
        help="synthetic (the toolkit's ResNet50), tf_cnn_benchmarks (a git checkout), or image "
        "(the image's own tf_cnn_benchmarks command); default: the variant's",
    )
    p.add_argument("--benchmark-repo", help="git URL of tf_cnn_benchmarks")
    p.add_argument(
        "--benchmark-ref",
        help="branch, tag or commit (default: cnn_tf_v1.12_compatible for TensorFlow 1.x "
        "variants, master for onednn)",
    )
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--num-batches", type=int, default=100)
    p.add_argument("--model", default="resnet50")
    p.add_argument(
        "--timeout", type=int, default=3600, help="seconds per run, or for the TFJob (3600)"
    )
    p.add_argument("--limit", help="only these hosts or groups (comma-separated)")
    p.add_argument(
        "--trust-new-host-keys",
        action="store_true",
        help="accept the SSH host key of a host seen for the first time",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="show every task and result")
    p.set_defaults(func=cmd_benchmark, json=False)

    p = sub.add_parser("render", help="render Kubernetes objects from the inventory")
    kinds = p.add_subparsers(dest="render_kind", metavar="KIND", required=True)
    q = kinds.add_parser("tfjob", help="the distributed benchmark as a Kubeflow TFJob")
    q.add_argument("inventory")
    q.add_argument("--facts-dir", help="fact cache folder (default: the inventory's own)")
    q.add_argument("--workers", help="comma-separated worker hosts (default: group workers)")
    q.add_argument("--ps", type=int, default=1, help="parameter servers (default 1)")
    q.add_argument("--batch-size", type=int, default=64)
    q.add_argument("--num-batches", type=int, default=100)
    q.add_argument("--model", default="resnet50")
    q.add_argument(
        "--benchmark",
        choices=("tf_cnn_benchmarks", "synthetic"),
        help="default: the variant's (tf_cnn_benchmarks for the TF1 images)",
    )
    q.add_argument("--out", help="write the YAML here instead of standard output")
    q.set_defaults(func=cmd_render_tfjob)

    p = sub.add_parser("images", help="the stack's image catalog; archives for air-gapped sites")
    images = p.add_subparsers(dest="images_command", metavar="COMMAND", required=True)
    q = images.add_parser("list", help="the catalogued images, their variant and tuning needs")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_images_list)
    q = images.add_parser(
        "save",
        help="on a connected machine: pull images into one archive (OCI layout, every digest "
        "kept) for an air-gapped site",
        description="Credentials for the source registry come from the environment: "
        "DLRS_REGISTRY_USERNAME and DLRS_REGISTRY_PASSWORD (never from the command line).",
    )
    q.add_argument(
        "--image",
        action="append",
        default=[],
        metavar="REF",
        help="an image to save (repeat for more; default: the inventory's images, else every "
        "variant's default image)",
    )
    q.add_argument("--inventory", help="take the images, upstream and insecure registries from it")
    q.add_argument("-o", "--out", required=True, metavar="ARCHIVE", help="the archive to write")
    q.add_argument(
        "--registry",
        metavar="HOST:PORT",
        help="take docker.io images from this registry (a mirror of Docker Hub; default: the "
        "inventory's dlrs_upstream_registry, else Docker Hub)",
    )
    q.add_argument(
        "--insecure-registry",
        action="append",
        default=[],
        metavar="HOST:PORT",
        help="a registry reached over plain HTTP (repeat for more)",
    )
    q.add_argument("--ca-file", help="CA bundle to check the source registries' certificates with")
    q.add_argument(
        "--platform", default="linux/amd64", help="platform taken from a multi-platform image"
    )
    q.set_defaults(func=cmd_images_save)
    q = images.add_parser(
        "load",
        help="beside the cluster: push an archive of `images save` into the cluster's registry "
        "(dlrs_registry_mode: local)",
    )
    q.add_argument("archive", help="the file written by `images save`")
    q.add_argument("inventory", help="the cluster's inventory (its master runs the registry)")
    q.add_argument(
        "--registry",
        metavar="HOST:PORT",
        help="the address this machine reaches the master's registry by (default: "
        "dlrs_registry_cache_host or the master's name, and dlrs_registry_cache_port)",
    )
    q.set_defaults(func=cmd_images_load)

    sandbox.register_cli(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return args.func(args)
    except DlrsError as err:
        _err(err.render())
        return err.exit_code
    except KeyboardInterrupt:
        _err(
            "interrupted: hosts may be mid-phase; run the same command again to resume "
            "(every phase is idempotent)"
        )
        return 130


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
