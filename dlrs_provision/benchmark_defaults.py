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
