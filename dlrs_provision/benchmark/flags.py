"""What one node runs for a single-node benchmark: the container's command, environment, mounts.

The benchmark role calls this through its filter (`benchmark_runs`), with the node's tuning
from the calculator (`dlrs_tuning`, single-node rule), so the role and the tests agree:

    runs = node_runs(tuning_dict, Options(benchmark="synthetic", compare_default=True))
    # [{"label": "tuned", "argv": [...], "env": {...}, "mounts": [...], "workdir": ""},
    #  {"label": "untuned", ...}]

tuned: the calculator's --num_inter_threads, --num_intra_threads and --data_format; for the
OpenMP (MKL) builds also OMP_NUM_THREADS, KMP_AFFINITY and KMP_BLOCKTIME in the environment and
tf_cnn_benchmarks' --mkl=True with --kmp_blocktime and --kmp_affinity (with --mkl it sets the
KMP_* variables itself, from these flags). untuned: tf_cnn_benchmarks' own defaults apart from
what the image needs to run at all: no thread flags, no OpenMP environment, no --kmp_* flags;
it keeps the data format (a TensorFlow without oneDNN kernels cannot train NCHW on a CPU), and
with NCHW it keeps --mkl=True, because tf_cnn_benchmarks refuses --device=cpu with NCHW
without it ("device=cpu requires that data_format=NHWC", BenchmarkCNN.__init__). With --mkl
and no --kmp_* flags tf_cnn_benchmarks sets KMP_BLOCKTIME, KMP_AFFINITY and KMP_SETTINGS from
its own flag defaults and leaves OMP_NUM_THREADS unset: that is its default MKL run.

Benchmarks: "synthetic" (dlrs_provision/benchmark/synthetic.py, put on the node and mounted
read-only), "tf_cnn_benchmarks" (a git checkout on the node, mounted read-only) or "image" (a
command the image carries itself, `tf_cnn_benchmarks` on its PATH by default).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dlrs_provision import benchmark_defaults

BENCHMARKS = ("synthetic", "tf_cnn_benchmarks", "image")
MOUNT = "/opt/dlrs-benchmark"  # where the node's benchmark folder appears in the container
SYNTHETIC_FILE = "synthetic.py"
CHECKOUT_DIR = "benchmarks"  # the git checkout, under the node's benchmark folder
TF_CNN_SCRIPT = "scripts/tf_cnn_benchmarks/tf_cnn_benchmarks.py"
DEFAULT_COMMAND = "tf_cnn_benchmarks"
# What is benchmarked unless told otherwise: the seed's ResNet50 run, declared once in
# dlrs_provision/benchmark_defaults.py (a plain module, so the collection's filters can ship it).
DEFAULT_MODEL = benchmark_defaults.DEFAULT_MODEL
DEFAULT_BATCH_SIZE = benchmark_defaults.DEFAULT_BATCH_SIZE
DEFAULT_NUM_BATCHES = benchmark_defaults.DEFAULT_NUM_BATCHES
DEFAULTS = benchmark_defaults.DEFAULTS
LABELS = ("tuned", "untuned")


@dataclass(frozen=True)
class Options:
    benchmark: str = "synthetic"
    model: str = DEFAULT_MODEL
    batch_size: int = DEFAULT_BATCH_SIZE
    num_batches: int = DEFAULT_NUM_BATCHES
    num_warmup_batches: int | None = None  # None: a tenth of num_batches, 1 to 10
    python: str = "python3"
    command: str = DEFAULT_COMMAND  # for benchmark "image"
    compare_default: bool = False

    def warmup(self) -> int:
        if self.num_warmup_batches is not None:
            return self.num_warmup_batches
        return max(1, min(10, self.num_batches // 10))


def check(options: Options) -> list[str]:
    """Problems with the options, one line each (empty: fine)."""
    problems = []
    if options.benchmark not in BENCHMARKS:
        problems.append(f"benchmark {options.benchmark!r}: choose one of {', '.join(BENCHMARKS)}")
    for name in ("batch_size", "num_batches"):
        value = getattr(options, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            problems.append(f"{name} must be a whole number of 1 or more, got {value!r}")
    if options.num_warmup_batches is not None and options.num_warmup_batches < 0:
        problems.append(f"num_warmup_batches must be 0 or more, got {options.num_warmup_batches}")
    if not options.model or not all(c.isalnum() or c in "._-" for c in options.model):
        problems.append(f"model {options.model!r}: letters, digits, '.', '_' and '-' only")
    if not options.command.strip():
        problems.append("the image's benchmark command is empty")
    return problems


def benchmark_flags(tuning: dict[str, Any], options: Options, tuned: bool) -> list[str]:
    """tf_cnn_benchmarks' flags (which the synthetic benchmark also takes) for one run."""
    flags = [
        f"--model={options.model}",
        f"--batch_size={options.batch_size}",
        f"--num_batches={options.num_batches}",
        f"--num_warmup_batches={options.warmup()}",
        f"--data_format={tuning['data_format']}",
        "--device=cpu",
        "--local_parameter_device=cpu",
        "--variable_update=parameter_server",
        "--nodistortions",
    ]
    if not tuned:
        if tuning["data_format"] == "NCHW":  # tf_cnn_benchmarks: NCHW on a CPU needs --mkl
            flags.append("--mkl=True")
        return flags
    flags += [
        f"--num_inter_threads={tuning['num_inter_threads']}",
        f"--num_intra_threads={tuning['num_intra_threads']}",
    ]
    env = tuning.get("env") or {}
    if "KMP_BLOCKTIME" in env:  # the calculator sets the OpenMP values only for OpenMP builds
        flags += [
            "--mkl=True",
            f"--kmp_blocktime={env['KMP_BLOCKTIME']}",
            f"--kmp_affinity={env['KMP_AFFINITY']}",
        ]
    return flags


def run_spec(tuning: dict[str, Any], options: Options, label: str, node_dir: str) -> dict:
    """One container run: label, argv (after the image), env, read-only mounts, workdir."""
    if label not in LABELS:
        raise ValueError(f"label must be one of {', '.join(LABELS)}, got {label!r}")
    flags = benchmark_flags(tuning, options, tuned=label == "tuned")
    mounts: list[str] = []
    workdir = ""
    node_dir = node_dir.rstrip("/")
    if options.benchmark == "synthetic":
        argv = [options.python, f"{MOUNT}/{SYNTHETIC_FILE}", *flags]
        mounts.append(f"{node_dir}/{SYNTHETIC_FILE}:{MOUNT}/{SYNTHETIC_FILE}:ro")
    elif options.benchmark == "tf_cnn_benchmarks":
        script = f"{MOUNT}/{CHECKOUT_DIR}/{TF_CNN_SCRIPT}"
        argv = [options.python, script, *flags]
        mounts.append(f"{node_dir}/{CHECKOUT_DIR}:{MOUNT}/{CHECKOUT_DIR}:ro")
        workdir = script.rsplit("/", 1)[0]  # it imports its sibling modules
    else:
        argv = [*options.command.split(), *flags]
    env = dict(tuning.get("env") or {}) if label == "tuned" else {}
    env["PYTHONUNBUFFERED"] = "1"
    return {"label": label, "argv": argv, "env": env, "mounts": mounts, "workdir": workdir}


def node_runs(tuning: dict[str, Any], options: Options, node_dir: str = "/tmp") -> list[dict]:
    """The node's runs: tuned, then untuned when compare_default."""
    problems = check(options)
    if problems:
        raise ValueError("; ".join(problems))
    labels = LABELS if options.compare_default else LABELS[:1]
    return [run_spec(tuning, options, label, node_dir) for label in labels]


def docker_run_argv(run: dict, name: str, image: str) -> list[str]:
    """`docker run` for one run, detached (the role waits for it with a time limit, then reads
    its log): no network (the benchmark needs none), the run's environment and mounts."""
    argv = ["docker", "run", "--detach", "--name", name]
    argv += ["--label", f"dlrs-provision.benchmark={run['label']}", "--network", "none"]
    for key, value in sorted(run["env"].items()):
        argv += ["--env", f"{key}={value}"]
    for mount in run["mounts"]:
        argv += ["--volume", mount]
    if run["workdir"]:
        argv += ["--workdir", run["workdir"]]
    return [*argv, image, *run["argv"]]
