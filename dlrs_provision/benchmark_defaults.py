"""What is benchmarked unless told otherwise: the seed's ResNet50 run. The one place these live:
the CLI, tfjob.py, run.py (through benchmark/flags.py) and the benchmark role (filter
dlrs_benchmark_default) read them. A module of its own, free of imports, so that the collection
(collection.py) can carry it beside the filter plugins."""

DEFAULT_MODEL = "resnet50"
DEFAULT_BATCH_SIZE = 64
DEFAULT_NUM_BATCHES = 100
DEFAULTS = {
    "model": DEFAULT_MODEL,
    "batch_size": DEFAULT_BATCH_SIZE,
    "num_batches": DEFAULT_NUM_BATCHES,
}

# tf_cnn_benchmarks' code comes from tensorflow/benchmarks at a COMMIT, never at whatever a branch
# points to on the day: a branch can be moved (or force-pushed) and the nodes would run code nobody
# read. The branches the toolkit knows are pinned here to the commit each one pointed at when it
# was read (git rev-parse in a clone of github.com/tensorflow/benchmarks; the repository has seen
# no commit since 2023). A user may give one of these names, or a full 40-digit commit.
BENCHMARK_REPO = "https://github.com/tensorflow/benchmarks.git"
BENCHMARK_COMMITS = {
    "master": "8fb79079265933ad39bea628b777af662f5bf15d",
    "cnn_tf_v1.5_compatible": "48cbef14a592e02a14beee8e9aef3ad22cadaed1",
    "cnn_tf_v1.8_compatible": "3b90c14fb2bf02ca5d27c188aee878663229a0a7",
    "cnn_tf_v1.9_compatible": "9815f5f84fd5e681bbffdfe3176272a5c4ff5621",
    "cnn_tf_v1.10_compatible": "4c7b09ad87bbfc4b1f89650bcee40b3fc5e7dfed",
    "cnn_tf_v1.11_compatible": "4c7b09ad87bbfc4b1f89650bcee40b3fc5e7dfed",
    "cnn_tf_v1.12_compatible": "ec056be57f189ec96611a58e8dc5562a6d620139",
    "cnn_tf_v1.13_compatible": "4828965154c424bc61a7ec361edb67bb267869f4",
    "cnn_tf_v1.14_compatible": "aef6daa90a467a1fc7ce8395cd0067e5fda1ecff",
    "cnn_tf_v1.15_compatible": "aef6daa90a467a1fc7ce8395cd0067e5fda1ecff",
    "cnn_tf_v2.0_compatible": "aef6daa90a467a1fc7ce8395cd0067e5fda1ecff",
    "cnn_tf_v2.1_compatible": "aef6daa90a467a1fc7ce8395cd0067e5fda1ecff",
}
_HEX = frozenset("0123456789abcdef")


def is_commit(ref: object) -> bool:
    """A full commit id: 40 lower-case hex digits (an abbreviation could match more than one)."""
    return isinstance(ref, str) and len(ref) == 40 and set(ref) <= _HEX


def benchmark_commit(ref: object) -> str:
    """The commit to check out for `ref` (a known branch name or a full commit); ValueError
    with what to give instead otherwise."""
    if isinstance(ref, str) and ref in BENCHMARK_COMMITS:
        return BENCHMARK_COMMITS[ref]
    if is_commit(ref):
        return str(ref)
    shown = repr(ref) if isinstance(ref, str) else f"{type(ref).__name__} {ref!r}"
    hint = ""
    if isinstance(ref, str) and len(ref) == 40 and set(ref.lower()) <= _HEX:
        hint = " (in lower case)"
    elif isinstance(ref, str) and 4 <= len(ref) < 40 and set(ref.lower()) <= _HEX:
        hint = " (the full 40 digits, not an abbreviation)"
    raise ValueError(
        f"{shown} is neither a full commit id nor a branch the toolkit pins; give a 40-digit "
        f"commit{hint} or one of {', '.join(BENCHMARK_COMMITS)}"
    )
