"""`dlrs-provision images list|save|load`: the stack's image catalog, and archives of images for
air-gapped sites."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from dlrs_provision import report
from dlrs_provision.catalog import IMAGES, VARIANTS
from dlrs_provision.commands import hosts, options
from dlrs_provision.commands.console import err, out
from dlrs_provision.errors import EXIT_OK


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("images", help="the stack's image catalog; archives for air-gapped sites")
    images = p.add_subparsers(dest="images_command", metavar="COMMAND", required=True)
    q = images.add_parser("list", help="the catalogued images, their variant and tuning needs")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=run_list)
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
        type=options.image_ref,
        metavar="REF",
        help="an image to save (repeat for more; default: the inventory's images, else every "
        "variant's default image)",
    )
    q.add_argument("--inventory", help="take the images, upstream and insecure registries from it")
    q.add_argument(
        "-o",
        "--out",
        required=True,
        type=options.output_file,
        metavar="ARCHIVE",
        help="the archive to write",
    )
    q.add_argument(
        "--registry",
        type=options.registry_host,
        metavar="HOST:PORT",
        help="take docker.io images from this registry (a mirror of Docker Hub; default: the "
        "inventory's dlrs_upstream_registry, else Docker Hub)",
    )
    q.add_argument(
        "--insecure-registry",
        action="append",
        default=[],
        type=options.registry_host,
        metavar="HOST:PORT",
        help="a registry reached over plain HTTP (repeat for more)",
    )
    q.add_argument(
        "--ca-file",
        type=options.ca_file,
        help="CA bundle to check the source registries' certificates with",
    )
    q.add_argument(
        "--platform",
        type=options.platform,
        default="linux/amd64",
        help="platform taken from a multi-platform image",
    )
    q.set_defaults(func=run_save)
    q = images.add_parser(
        "load",
        help="beside the cluster: push an archive of `images save` into the cluster's registry "
        "(dlrs_registry_mode: local)",
    )
    q.add_argument("archive", help="the file written by `images save`")
    q.add_argument("inventory", help="the cluster's inventory (its master runs the registry)")
    q.add_argument(
        "--registry",
        type=options.host_port,
        metavar="HOST:PORT",
        help="the address this machine reaches the master's registry by (default: "
        "dlrs_registry_cache_host or the master's name, and dlrs_registry_cache_port)",
    )
    q.set_defaults(func=run_load)


def run_list(args: argparse.Namespace) -> int:
    rows = [img.to_dict() for img in IMAGES]
    if args.json:
        out(json.dumps(rows, indent=2))
        return EXIT_OK
    out(
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
    out(f"dlrs_variant picks the default image: {defaults}; dlrs_image overrides it")
    return EXIT_OK


def run_save(args: argparse.Namespace) -> int:
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
        echo=err,
    )
    out(images.render_saved(result.images))
    out(
        f"wrote {result.path}: {len(result.images)} image(s), {result.blobs} blob(s), "
        f"{result.bytes:,} bytes"
    )
    return EXIT_OK


def run_load(args: argparse.Namespace) -> int:
    from dlrs_provision import images

    images.Archive.open(Path(args.archive))  # a missing or damaged archive, before the inventory
    target = images.target_from_inventory(Path(args.inventory), args.registry)
    with hosts.one_run_at_a_time(args.inventory):
        result = images.load(Path(args.archive), target, echo=err)
    out(images.render_saved(result.images))
    out(
        f"loaded {len(result.images)} image(s) into {result.registry}: "
        f"{result.pushed_blobs} blob(s) pushed ({result.pushed_bytes:,} bytes), "
        f"{result.present_blobs} already there"
    )
    return EXIT_OK
