"""Filters of the benchmark role, over the toolkit's own benchmark code.

    {{ tuning | benchmark_runs(benchmark='synthetic', compare_default=true, ...) }}
        -> the node's container runs (dlrs_provision/benchmark/flags.py)
    {{ run | benchmark_docker_argv(name, image) }}  -> `docker run --detach ...` for one run
    {{ 'synthetic.py' | benchmark_shipped }}   -> that file of the package, on the controller
    {{ stdout | benchmark_job_state(elapsed_s=40, timeout_s=3600, pending_timeout_s=120) }}
        -> how the TFJob stands, and whether to stop waiting (benchmark/job_state.py)

When Ansible runs from a Python without the dlrs_provision package, the repository root is put
on sys.path (as the tuning filter does).
"""

from __future__ import annotations

import sys
from pathlib import Path

try:
    from dlrs_provision.benchmark import flags, job_state
except ImportError:  # pragma: no cover - depends on how Ansible was installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
    from dlrs_provision.benchmark import flags, job_state

from ansible.errors import AnsibleFilterError

_SHIPPED = ("synthetic.py",)


def benchmark_runs(
    tuning,
    benchmark="synthetic",
    model=flags.DEFAULT_MODEL,
    batch_size=flags.DEFAULT_BATCH_SIZE,
    num_batches=flags.DEFAULT_NUM_BATCHES,
    python="python3",
    command=flags.DEFAULT_COMMAND,
    compare_default=False,
    node_dir="/tmp",
):
    try:
        options = flags.Options(
            benchmark=str(benchmark),
            model=str(model),
            batch_size=int(batch_size),
            num_batches=int(num_batches),
            python=str(python),
            command=str(command),
            compare_default=bool(compare_default),
        )
        return flags.node_runs(dict(tuning), options, str(node_dir))
    except (KeyError, TypeError, ValueError) as exc:
        raise AnsibleFilterError(f"benchmark_runs: {exc}") from exc


def benchmark_docker_argv(run, name, image):
    try:
        return flags.docker_run_argv(dict(run), str(name), str(image))
    except (KeyError, TypeError) as exc:
        raise AnsibleFilterError(f"benchmark_docker_argv: {exc}") from exc


def benchmark_shipped(name):
    if name not in _SHIPPED:
        raise AnsibleFilterError(f"benchmark_shipped: {name!r} is not one of {_SHIPPED}")
    return str(Path(flags.__file__).resolve().parent / name)


def benchmark_job_state(text, **options):
    try:
        ints = {k: int(v) for k, v in options.items() if k.endswith("_s") or k == "log_tail"}
        rest = {k: str(v) for k, v in options.items() if k not in ints}
        return job_state.from_output(str(text or ""), **ints, **rest).to_dict()
    except (TypeError, ValueError) as exc:
        raise AnsibleFilterError(f"benchmark_job_state: {exc}") from exc


class FilterModule:
    def filters(self):
        return {
            "benchmark_runs": benchmark_runs,
            "benchmark_docker_argv": benchmark_docker_argv,
            "benchmark_shipped": benchmark_shipped,
            "benchmark_job_state": benchmark_job_state,
        }
