"""`dlrs-provision benchmark`: run playbooks/benchmark.yml, read what came back, write the report.

    request = run.Request(inventory=Path("hosts.yml"), mode="single", compare_default=True)
    hosts = run.prepare(request, inv)           # checks the input (UsageError: exit 2)
    outcome = run.execute(request, inv, hosts, emit)
    outcome.report                              # {"markdown", "json", "chart"} paths

The role does the work on the nodes (benchmark code, `docker run` with each node's tuning, or
the TFJob on the master); this module only chooses the options, renders the TFJob for multi
mode (tfjob.py), and turns the logs and records that the role brings back into the report
(results.py). Everything of one run lies in its ansible-runner folder,
`.dlrs-provision/runs/<time>-benchmark/`, under `benchmark/`: the logs, each run's record (its
command, environment and tuning), the manifests of multi mode, report.md, report.json and
chart.png.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dlrs_provision import benchmark_defaults, paths, registry, runner
from dlrs_provision.benchmark import flags, results
from dlrs_provision.errors import DlrsError, UsageError
from dlrs_provision.facts import cached_facts_file
from dlrs_provision.inventory import Inventory, select

MODES = ("single", "multi")
RESULTS_DIRNAME = "benchmark"
JOB_NAME = "dlrs-resnet50"
NAMESPACE = "default"
WORKER_LABEL = "training.kubeflow.org/replica-type"
TAIL_LINES = 15


@dataclass
class Request:
    inventory: Path
    mode: str = "single"
    compare_default: bool = False
    image: str | None = None
    benchmark: str | None = None  # None: the variant's (see the role's benchmark_kind)
    repo: str | None = None
    ref: str | None = None
    batch_size: int = flags.DEFAULT_BATCH_SIZE
    num_batches: int = flags.DEFAULT_NUM_BATCHES
    model: str = flags.DEFAULT_MODEL
    timeout: int = 3600
    limit: str | None = None
    trust_new_host_keys: bool = False
    facts_dir: Path | None = None


@dataclass
class Outcome:
    ok: bool
    results_dir: Path
    report: dict[str, Path]
    summary: dict[str, Any]
    run: runner.RunResult
    problems: list[str] = field(default_factory=list)  # what went wrong, for the operator


# --------------------------------------------------------------------------- checking


def _hosts(inv: Inventory, limit: str | None) -> list[str]:
    """The hosts a single-mode run reaches: masters and workers, or those --limit selects
    (inventory.select: the rule of every command)."""
    everyone = [*inv.masters, *[w for w in inv.workers if w not in inv.masters]]
    return select(inv, limit, among=everyone)


def _preflight_hint(inv: Inventory) -> str:
    return (
        f"run `dlrs-provision preflight {inv.path}` first: it reads every host's hardware into "
        "the inventory's fact cache, which the benchmark's tuning comes from"
    )


def prepare(request: Request, inv: Inventory) -> list[str]:
    """Check the request against the inventory before anything runs; return the hosts."""
    problems: list[str] = []
    if request.mode not in MODES:
        problems.append(f"--mode {request.mode}: choose single or multi")
    if request.benchmark is not None and request.benchmark not in flags.BENCHMARKS:
        problems.append(f"--benchmark {request.benchmark}: choose {', '.join(flags.BENCHMARKS)}")
    if request.benchmark not in (None, "tf_cnn_benchmarks") and (request.repo or request.ref):
        problems.append(
            "--benchmark-repo and --benchmark-ref choose the tf_cnn_benchmarks checkout: "
            "give them with --benchmark tf_cnn_benchmarks (or leave --benchmark out)"
        )
    if request.ref is not None:
        try:
            benchmark_defaults.benchmark_commit(request.ref)
        except ValueError as exc:
            problems.append(f"--benchmark-ref {exc}")
    options = flags.Options(
        benchmark=request.benchmark or "synthetic",
        model=request.model,
        batch_size=request.batch_size,
        num_batches=request.num_batches,
    )
    for problem in flags.check(options):  # named as the command line names them
        for name in ("batch_size", "num_batches", "model"):
            problem = problem.replace(name, "--" + name.replace("_", "-"), 1)
        problems.append(problem)
    if request.timeout < 1:
        problems.append(f"--timeout {request.timeout}: give seconds, 1 or more")
    if request.image:
        try:
            registry.Reference.parse(request.image)
        except UsageError as exc:
            problems.append(f"--image: {exc.message}")
    if request.mode == "multi":
        if request.compare_default:
            problems.append(
                "--compare-default runs each node once more with TensorFlow's defaults: "
                "single mode only"
            )
        if request.benchmark == "image":
            problems.append(
                "--benchmark image is for single mode; a TFJob runs synthetic or tf_cnn_benchmarks"
            )
    if problems:
        raise UsageError(
            "; ".join(problems), "see `dlrs-provision benchmark --help` for the options"
        )
    hosts = _hosts(inv, request.limit)
    if request.mode == "single":
        fdir = request.facts_dir or paths.facts_dir(inv.path)
        missing = [h for h in hosts if cached_facts_file(fdir, h) is None]
        if missing:
            raise UsageError(
                f"no facts for host(s) {', '.join(missing)} in {fdir}", _preflight_hint(inv)
            )
    return hosts


# --------------------------------------------------------------------------- running


def _given(values: dict[str, Any]) -> dict[str, Any]:
    """The request's optional values that were given (an empty or None one is left out, so
    that the role's or tfjob's default applies)."""
    return {key: value for key, value in values.items() if value}


def _extravars(request: Request, results_dir: Path, manifest: Path | None) -> dict[str, Any]:
    extra: dict[str, Any] = {
        "benchmark_mode": request.mode,
        "benchmark_results_dir": str(results_dir),
        "benchmark_batch_size": request.batch_size,
        "benchmark_num_batches": request.num_batches,
        "benchmark_model": request.model,
        "benchmark_compare_default": request.compare_default,
        "benchmark_timeout": request.timeout,
    }
    extra |= _given(
        {
            "benchmark_kind": request.benchmark,
            "benchmark_image": request.image,
            "benchmark_repo": request.repo,
            "benchmark_ref": request.ref,
        }
    )
    if manifest is not None:
        extra["benchmark_manifest"] = str(manifest)
        extra["benchmark_job_name"] = JOB_NAME
        extra["benchmark_namespace"] = NAMESPACE
    return extra


def render_manifests(
    request: Request,
    inv: Inventory,
    hosts: list[str],
    out: Path,
    rooms: dict[str, Any] | None = None,
) -> list[str]:
    """Multi mode: the TFJob and its ConfigMap (tfjob.build) written to `out`, sized to the
    cluster's free room when `rooms` is given; the placement lines, then the warnings."""
    from dlrs_provision import tfjob

    workers = [h for h in hosts if h in inv.workers] if request.limit else None
    options: dict[str, Any] = {"name": JOB_NAME, "namespace": NAMESPACE}
    options |= _given(
        {"benchmark": request.benchmark, "git_url": request.repo, "git_ref": request.ref}
    )
    manifests = tfjob.build(
        inv,
        request.facts_dir,
        workers=workers or None,
        batch_size=request.batch_size,
        model=request.model,
        num_batches=request.num_batches,
        rooms=rooms,
        **options,
    )
    if request.image:
        for spec in manifests.tfjob["spec"]["tfReplicaSpecs"].values():
            for container in spec["template"]["spec"]["containers"]:
                container["image"] = request.image
    out.write_text(manifests.to_yaml(), encoding="utf-8")
    return [f"placement: {line}" for line in manifests.placement] + [
        f"warning: {w}" for w in manifests.warnings
    ]


def survey(
    request: Request, inv: Inventory, staging: Path, emit: Callable[[runner.Progress], None]
) -> dict[str, Any]:
    """What each node can still give: the role's survey mode brings back `kubectl get nodes`
    and `kubectl get pods -A` from the first master; kube_state does the arithmetic."""
    from dlrs_provision import kube_state

    folder = staging / "survey"
    folder.mkdir(mode=0o700)
    result = runner.run_playbook(
        runner.RunOptions(
            inventory=inv.path,
            playbook=paths.playbook("benchmark.yml"),
            trust_new_host_keys=request.trust_new_host_keys,
            limit=inv.masters[0] if inv.masters else request.limit,
            extravars={"benchmark_mode": "survey", "benchmark_results_dir": str(folder)},
        ),
        emit,
    )
    nodes, pods = folder / "cluster-nodes.json", folder / "cluster-pods.json"
    if not result.ok or not nodes.is_file() or not pods.is_file():
        why = "; ".join(
            f"{h}: {s.failure.message or s.failure.task}"
            for h, s in result.hosts.items()
            if s.failure is not None
        ) or " ".join(result.output_tail(4))
        raise DlrsError(
            "cannot size the TFJob: reading the cluster's nodes and pods on the first master "
            f"failed ({why}); nothing was submitted",
            f"check the cluster with `dlrs-provision cluster {inv.path}`; artifacts in "
            f"{result.artifact_dir}",
        )
    return kube_state.rooms(nodes.read_text(encoding="utf-8"), pods.read_text(encoding="utf-8"))


def execute(
    request: Request,
    inv: Inventory,
    hosts: list[str],
    emit: Callable[[runner.Progress], None],
    say: Callable[[str], None] = lambda _line: None,
) -> Outcome:
    """Run the playbook, then read the logs and write the report under the run's folder."""
    paths.ensure_state(inv.path)
    runs = paths.runs_dir(inv.path)
    staging = runs / f".benchmark-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
    staging.mkdir(mode=0o700)
    manifest = None
    warnings: list[str] = []
    if request.mode == "multi":
        manifest = staging / "tfjob.yaml"
        try:
            rooms = survey(request, inv, staging, emit)
            warnings = render_manifests(request, inv, hosts, manifest, rooms)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        for w in warnings:
            say(w)
    try:
        result = runner.run_playbook(
            runner.RunOptions(
                inventory=inv.path,
                playbook=paths.playbook("benchmark.yml"),
                trust_new_host_keys=request.trust_new_host_keys,
                limit=request.limit,
                extravars=_extravars(request, staging, manifest),
            ),
            emit,
        )
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    results_dir = result.artifact_dir / RESULTS_DIRNAME
    shutil.move(str(staging), str(results_dir))
    if request.mode == "single":
        tuned, untuned, notes, problems = collect_single(results_dir, hosts, request, result)
    else:
        tuned, notes, problems = collect_multi(results_dir, result)
        untuned = None
    notes = warnings + notes
    context = {
        "inventory": str(inv.path),
        "mode": request.mode,
        "benchmark": request.benchmark
        or "the variant's (tf_cnn_benchmarks for mkl/eigen, synthetic for onednn)",
        "image": request.image or ", ".join(sorted({inv.image(h) for h in hosts})),
        "model": request.model,
        "batch size": request.batch_size,
        "batches": request.num_batches,
        "artifacts": str(result.artifact_dir),
    }
    title = f"ResNet50 benchmark, {request.mode} mode"
    report = results.write_report(results_dir, tuned, untuned, title, notes, context)
    summary = json.loads(report["json"].read_text(encoding="utf-8"))
    runs_ok = all(r.ok for r in tuned + (untuned or [])) and bool(tuned)
    return Outcome(
        ok=result.ok and runs_ok and not problems,
        results_dir=results_dir,
        report=report,
        summary=summary,
        run=result,
        problems=problems,
    )


# --------------------------------------------------------------------------- reading back


def _missing_run(host: str, label: str, result: runner.RunResult) -> results.Run:
    summary = result.hosts.get(host)
    why = "no log came back"
    if summary is not None and summary.failure is not None:
        why = (
            f"{summary.failure.status} in task '{summary.failure.task}': "
            f"{summary.failure.message or 'no message'}"
        )
    elif summary is None:
        why = "the host took no part in the run (see the summary above)"
    return results.Run(
        name=host,
        ok=False,
        images_per_sec=None,
        step_images_per_sec=None,
        source="unknown",
        distributed=False,
        error=f"the {label} run did not happen: {why}",
    )


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def tuning_note(host: str, record: dict[str, Any]) -> str:
    t = record.get("tuning") or {}
    env = " ".join(f"{k}={v}" for k, v in sorted((record.get("env") or {}).items()))
    return (
        f"{host}: {record.get('label')} run with --num_inter_threads="
        f"{t.get('num_inter_threads')} --num_intra_threads={t.get('num_intra_threads')} "
        f"--data_format={t.get('data_format')} ({t.get('variant')}, single-node rule)"
        + (f"; environment {env}" if env else "")
        if record.get("label") == "tuned"
        else f"{host}: untuned run with TensorFlow's defaults (no thread flags, no OpenMP "
        f"environment), --data_format={t.get('data_format')}"
    )


def collect_single(
    results_dir: Path, hosts: list[str], request: Request, result: runner.RunResult
) -> tuple[list[results.Run], list[results.Run] | None, list[str], list[str]]:
    """Each host's tuned (and untuned) run from its log and record."""
    labels = flags.LABELS if request.compare_default else flags.LABELS[:1]
    by_label: dict[str, list[results.Run]] = {label: [] for label in labels}
    notes: list[str] = []
    problems: list[str] = []
    for host in hosts:
        for label in labels:
            log = results_dir / f"{host}-{label}.log"
            record = _read_json(results_dir / f"{host}-{label}.json")
            if not log.is_file() or record is None:
                run = _missing_run(host, label, result)
            else:
                run = results.parse_file(log, host)
                notes.append(tuning_note(host, record))
                if not record.get("ok") and run.ok:
                    run.ok = False
                    run.error = record.get("summary") or "the run did not exit 0"
                elif not record.get("ok"):
                    run.error = f"{record.get('summary')}: {run.error}"
            if not run.ok:
                problems.append(f"{host} ({label}): {run.error}")
            by_label[label].append(run)
    untuned = by_label.get("untuned") if request.compare_default else None
    return by_label["tuned"], untuned, notes, problems


def collect_multi(
    results_dir: Path, result: runner.RunResult
) -> tuple[list[results.Run], list[str], list[str]]:
    """The worker pods' runs (named after their nodes), and what happened to the job."""
    record = _read_json(results_dir / "multi.json")
    if record is None:
        tail = result.output_tail()
        return (
            [],
            [],
            ["the TFJob step did not run; Ansible's last lines:", *["  " + t for t in tail]],
        )
    runs: list[results.Run] = []
    problems: list[str] = []
    notes: list[str] = []
    pods = record.get("pods") or []
    for pod in pods:
        meta = pod.get("metadata") or {}
        name = meta.get("name", "?")
        node = (pod.get("spec") or {}).get("nodeName") or name
        kind = (meta.get("labels") or {}).get(WORKER_LABEL, "")
        log = results_dir / f"pod-{name}.log"
        if kind.lower() != "worker":
            continue
        if log.is_file():
            runs.append(results.parse_file(log, node))
    if record.get("outcome") != "succeeded":
        problems.append(str(record.get("message") or f"the TFJob ended: {record.get('outcome')}"))
        for pod in pods:
            name = (pod.get("metadata") or {}).get("name", "?")
            phase = (pod.get("status") or {}).get("phase", "Unknown")
            log = results_dir / f"pod-{name}.log"
            lines = []
            if log.is_file():
                text = log.read_text(encoding="utf-8", errors="replace")
                lines = [ln for ln in text.splitlines() if ln.strip()][-TAIL_LINES:]
            problems.append(f"pod {name} ({phase}), last lines of its log:")
            problems += ["  " + ln for ln in lines] or ["  (no log)"]
        notes.append(str(record.get("message")))
    return runs, notes, problems


# --------------------------------------------------------------------------- display


def _fmt(value: float | None) -> str:
    return "failed" if value is None else f"{value:.2f}"


def render_text(outcome: Outcome, resume: str) -> str:
    """What the command prints: images/sec per node, problems, the report's paths."""
    from dlrs_provision.report import table

    s = outcome.summary
    compared = s["compared"]
    header = ["node", "images/sec"] + (["untuned", "tuned/untuned"] if compared else [])
    rows = []
    for n in s["nodes"] + [{"node": "total", **s["total"], "source": ""}]:
        row = [n["node"], _fmt(n["tuned"])]
        if compared:
            row += [_fmt(n["untuned"]), "" if n["ratio"] is None else f"{n['ratio']:.3f}"]
        rows.append(row)
    lines = []
    if s.get("stand_in"):
        lines.append(s["notes"][0])
    lines.append(table(rows, header))
    if outcome.problems:
        lines += ["", "problems:"] + ["  " + p for p in outcome.problems]
    if not outcome.ok:
        lines += ["", runner.render_summary(outcome.run, resume)]
    lines += [""] + [f"wrote {path}" for path in outcome.report.values()]
    return "\n".join(lines)
