"""The project's own synthetic benchmark: tf.keras ResNet50 trained on random images.

For images where tf_cnn_benchmarks cannot run (it needs TensorFlow 1.x-era APIs; current Intel
images are TensorFlow 2). It takes the flags the project passes to tf_cnn_benchmarks, uses those
that mean something here and names the rest in a note, and prints its figures in
tf_cnn_benchmarks' form, so one parser (dlrs_provision.benchmark.results) reads both:

    Step    Img/sec total_loss
    1       images/sec: 12.3 +/- 0.0 (jitter = 0.0)    7.012
    ...
    ----------------------------------------------------------------
    total images/sec: 12.34
    ----------------------------------------------------------------

Used: --model (resnet50 only), --batch_size, --num_batches, --num_warmup_batches,
--num_inter_threads, --num_intra_threads, --data_format (NCHW or NHWC), --display_every,
--init_learning_rate, --tf_random_seed, --mkl with --kmp_blocktime, --kmp_affinity and
--kmp_settings (set the OpenMP environment before TensorFlow starts, as tf_cnn_benchmarks does),
--device (cpu only), and --image_size (ours: a smaller square image for quick runs; 224 is
ResNet50's). Unlike tf_cnn_benchmarks it also prints the last step's line, so the final
per-step figure covers every step.

Distributed (a TFJob's workers, flags from the launcher): with --variable_update=
collective_all_reduce, --job_name=worker, --task_index and --worker_hosts naming two or more
workers, the workers train one model together, synchronously, under TensorFlow 2's
MultiWorkerMirroredStrategy: each computes the gradients of its own batch and a collective
all-reduce (ring, over gRPC) averages them, as tf_cnn_benchmarks' collective_all_reduce mode
does. There is no parameter server in this mode: a ps task exits at once. Before training the
workers all-reduce one number each (task index + 1) and print the sum, and afterwards a
checksum of the weights, so a log shows that the workers really trained together. Each
worker's images/sec counts its own batches, as tf_cnn_benchmarks' do. The cluster is taken
from the flags, as tf_cnn_benchmarks takes it, not from TF_CONFIG (the launcher derives one
from the other and passes TF_CONFIG on unchanged).

Standard library and TensorFlow only: this file also runs inside the benchmark containers.
"""

from __future__ import annotations

import importlib.util
import math
import os
import statistics
import sys
import time

BANNER = (
    "dlrs-provision synthetic benchmark: tf.keras ResNet50 on random images (not tf_cnn_benchmarks)"
)
RULE = "-" * 64
EXIT_USAGE = 2
EXIT_NO_TENSORFLOW = 3

# name -> (kind, default); kind: int, float, str, bool
FLAGS = {
    "model": ("str", "resnet50"),
    "batch_size": ("int", 64),
    "num_batches": ("int", 100),
    "num_warmup_batches": ("int", 10),
    "num_inter_threads": ("int", 0),
    "num_intra_threads": ("int", 0),
    "data_format": ("str", "NHWC"),
    "display_every": ("int", 10),
    "init_learning_rate": ("float", 0.0001),
    "tf_random_seed": ("int", 1234),
    "image_size": ("int", 224),
    "device": ("str", "cpu"),
    "mkl": ("bool", False),
    "kmp_blocktime": ("int", 0),
    "kmp_affinity": ("str", "granularity=fine,verbose,compact,1,0"),
    "kmp_settings": ("int", 1),
}
# tf_cnn_benchmarks flags the project passes that mean nothing for a single-process run
ACCEPTED_UNUSED = (
    "variable_update",
    "local_parameter_device",
    "distortions",
    "job_name",
    "ps_hosts",
    "worker_hosts",
    "task_index",
    "data_name",
    "optimizer",
    "num_gpus",
    "forward_only",
)
# tf_cnn_benchmarks' --variable_update values; only collective_all_reduce spans processes here
VARIABLE_UPDATES = (
    "parameter_server",
    "replicated",
    "distributed_replicated",
    "independent",
    "distributed_all_reduce",
    "collective_all_reduce",
    "horovod",
)
COLLECTIVE = "collective_all_reduce"
# accepted flags whose values the distributed mode reads: name -> (kind, default)
CLUSTER = {
    "variable_update": ("str", "parameter_server"),
    "job_name": ("str", ""),
    "ps_hosts": ("str", ""),
    "worker_hosts": ("str", ""),
    "task_index": ("int", 0),
}
MODELS = ("resnet50", "resnet50_v1.5")
TRUE = ("1", "true", "t", "yes", "y")
FALSE = ("0", "false", "f", "no", "n")


class FlagError(ValueError):
    pass


def _convert(name: str, kind: str, text: str) -> object:
    try:
        if kind == "int":
            return int(text)
        if kind == "float":
            return float(text)
    except ValueError:
        raise FlagError(f"--{name}={text}: expected a {kind}") from None
    if kind == "bool":
        if text.lower() in TRUE:
            return True
        if text.lower() in FALSE:
            return False
        raise FlagError(f"--{name}={text}: expected true or false")
    return text


def parse_flags(argv: list) -> tuple:
    """absl-style flags -> (values, accepted-but-unused, unknown).

    --name=value, --name value, --flag / --noflag for booleans, as tf_cnn_benchmarks takes them.
    """
    values = {name: default for name, (_, default) in FLAGS.items()}
    values.update({name: default for name, (_, default) in CLUSTER.items()})
    unused: list = []
    unknown: list = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        i += 1
        if not arg.startswith("--"):
            unknown.append(arg)
            continue
        name, has_value, text = arg[2:].partition("=")
        kind = FLAGS.get(name, (None, None))[0]
        negated = name[2:] if name.startswith("no") and not has_value else ""
        if kind is None and FLAGS.get(negated, (None, None))[0] == "bool":
            values[negated] = False
            continue
        if kind is None:
            if (negated or name) in ACCEPTED_UNUSED:
                unused.append(arg)
                if name in CLUSTER and has_value:
                    values[name] = _convert(name, CLUSTER[name][0], text)
            else:
                unknown.append(arg)
            continue
        if kind == "bool" and not has_value:
            values[name] = True
            continue
        if not has_value:
            if i >= len(argv):
                raise FlagError(f"--{name} needs a value")
            text = argv[i]
            i += 1
        values[name] = _convert(name, kind, text)
    return values, unused, unknown


def check(values: dict) -> None:
    if values["model"] not in MODELS:
        raise FlagError(
            f"--model={values['model']}: the synthetic benchmark has only {', '.join(MODELS)}"
        )
    if values["data_format"] not in ("NCHW", "NHWC"):
        raise FlagError(f"--data_format={values['data_format']}: expected NCHW or NHWC")
    if values["device"].lower() != "cpu":
        raise FlagError(f"--device={values['device']}: the synthetic benchmark runs on cpu")
    for name in ("batch_size", "num_batches", "display_every", "image_size"):
        if values[name] < 1:
            raise FlagError(f"--{name}={values[name]}: expected 1 or more")
    for name in ("num_warmup_batches", "num_inter_threads", "num_intra_threads"):
        if values[name] < 0:
            raise FlagError(f"--{name}={values[name]}: expected 0 or more")
    if values["image_size"] < 32:
        raise FlagError(f"--image_size={values['image_size']}: ResNet50 needs 32 or more")
    if values["variable_update"] not in VARIABLE_UPDATES:
        raise FlagError(
            f"--variable_update={values['variable_update']}: expected one of "
            + ", ".join(VARIABLE_UPDATES)
        )
    workers = hosts(values["worker_hosts"])
    if values["job_name"] not in ("", "ps", "worker"):
        raise FlagError(f"--job_name={values['job_name']}: expected ps or worker")
    if values["job_name"] != "worker" or len(workers) < 2:
        return
    if values["variable_update"] != COLLECTIVE:
        raise FlagError(
            f"--variable_update={values['variable_update']} with {len(workers)} workers: the "
            f"synthetic benchmark trains across workers only with --variable_update={COLLECTIVE} "
            "(all-reduce among the workers, no parameter server)"
        )
    if not 0 <= values["task_index"] < len(workers):
        raise FlagError(
            f"--task_index={values['task_index']}: --worker_hosts names {len(workers)} workers"
        )
    for address in workers:
        host, sep, port = address.rpartition(":")
        if not sep or not host or not port.isdigit():
            raise FlagError(f"--worker_hosts holds {address!r}, not host:port")


def hosts(text: str) -> list:
    """'a:1,b:2' -> ['a:1', 'b:2'] (--ps_hosts, --worker_hosts)."""
    return [h.strip() for h in text.split(",") if h.strip()]


def distributed(values: dict) -> bool:
    """True for a worker of a collective all-reduce cluster of two or more workers."""
    return (
        values["job_name"] == "worker"
        and values["variable_update"] == COLLECTIVE
        and len(hosts(values["worker_hosts"])) > 1
    )


def perf_line(step: int, batch_size: int, times: list, loss: float) -> str:
    """One per-step line in tf_cnn_benchmarks' form: step, images/sec mean +/- error, loss."""
    speeds = [batch_size / t for t in times]
    mean = batch_size / statistics.mean(times)
    error = statistics.pstdev(speeds) / math.sqrt(len(speeds)) if len(speeds) > 1 else 0.0
    median = statistics.median(speeds)
    jitter = 1.4826 * statistics.median([abs(s - median) for s in speeds])
    return f"{step}\timages/sec: {mean:.1f} +/- {error:.1f} (jitter = {jitter:.1f})\t{loss:.3f}"


def _out(line: str = "") -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _strategy(tf, values: dict):
    """MultiWorkerMirroredStrategy over the workers named by the flags (gRPC, ring all-reduce)."""
    resolver = tf.distribute.cluster_resolver.SimpleClusterResolver(
        tf.train.ClusterSpec({"worker": hosts(values["worker_hosts"])}),
        task_type="worker",
        task_id=values["task_index"],
        rpc_layer="grpc",
    )
    options = tf.distribute.experimental.CommunicationOptions(
        implementation=tf.distribute.experimental.CommunicationImplementation.RING
    )
    return tf.distribute.MultiWorkerMirroredStrategy(
        cluster_resolver=resolver, communication_options=options
    )


def run(values: dict) -> float:
    """Build and train the model; print tf_cnn_benchmarks-style lines; return images/sec."""
    if values["mkl"]:
        os.environ["KMP_BLOCKTIME"] = str(values["kmp_blocktime"])
        os.environ["KMP_SETTINGS"] = str(values["kmp_settings"])
        os.environ["KMP_AFFINITY"] = values["kmp_affinity"]
        if values["num_intra_threads"] > 0:
            os.environ["OMP_NUM_THREADS"] = str(values["num_intra_threads"])
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
    import tensorflow as tf  # after the OpenMP environment, as tf_cnn_benchmarks does

    tf.config.threading.set_inter_op_parallelism_threads(values["num_inter_threads"])
    tf.config.threading.set_intra_op_parallelism_threads(values["num_intra_threads"])
    tf.random.set_seed(values["tf_random_seed"])
    multi = distributed(values)
    # the strategy starts this worker's gRPC server and waits for its peers
    strategy = _strategy(tf, values) if multi else tf.distribute.get_strategy()
    workers = strategy.num_replicas_in_sync
    task = values["task_index"] if multi else 0
    keras = tf.keras
    nchw = values["data_format"] == "NCHW"
    keras.backend.set_image_data_format("channels_first" if nchw else "channels_last")
    size, batch = values["image_size"], values["batch_size"]
    shape = (3, size, size) if nchw else (size, size, 3)

    _out(f"TensorFlow:  {tf.__version__}")
    _out(f"Model:       {values['model']}")
    _out("Dataset:     imagenet (synthetic)")
    _out("Mode:        training")
    _out(f"Batch size:  {batch * workers} global")
    _out(f"             {batch} per device")
    _out(f"Num batches: {values['num_batches']}")
    _out("Devices:     ['/cpu:0']")
    _out(f"Data format: {values['data_format']}")
    _out(f"Image size:  {size}x{size}")
    _out("Optimizer:   sgd")
    _out(
        f"Threads:     inter {values['num_inter_threads'] or 'default'}, "
        f"intra {values['num_intra_threads'] or 'default'}"
    )
    if multi:
        _out(
            f"Cluster:     worker {task} of {workers} workers, {COLLECTIVE} "
            "(MultiWorkerMirroredStrategy, ring all-reduce over gRPC)"
        )
    _out("==========")
    _out("Generating training model")
    with strategy.scope():
        model = keras.applications.ResNet50(weights=None, input_shape=shape, classes=1000)
        optimizer = keras.optimizers.SGD(learning_rate=values["init_learning_rate"])
    loss_fn = keras.losses.SparseCategoricalCrossentropy(reduction="none")
    # each worker its own random batch, so that only the all-reduce can keep the weights equal
    seed = (values["tf_random_seed"], task)
    images = tf.random.stateless_uniform((batch, *shape), seed=seed, dtype=tf.float32)
    labels = tf.random.stateless_uniform((batch,), seed=seed, minval=0, maxval=1000, dtype=tf.int32)
    global_batch = batch * workers

    def replica_step():
        with tf.GradientTape() as tape:
            per_image = loss_fn(labels, model(images, training=True))
            loss = tf.nn.compute_average_loss(per_image, global_batch_size=global_batch)
        grads = tape.gradient(loss, model.trainable_variables)
        # under the strategy, apply_gradients all-reduces the gradients across the workers
        optimizer.apply_gradients(zip(grads, model.trainable_variables))  # noqa: B905 (py<3.10)
        return loss

    @tf.function
    def train_step():
        return strategy.reduce(tf.distribute.ReduceOp.SUM, strategy.run(replica_step), axis=None)

    if multi:

        @tf.function
        def handshake():
            mine = strategy.run(lambda: tf.constant(float(task + 1)))
            return strategy.reduce(tf.distribute.ReduceOp.SUM, mine, axis=None)

        expected = workers * (workers + 1) // 2
        total = float(handshake())
        _out(
            f"Collective check: all-reduce over {workers} workers of (task index + 1): "
            f"{total:g} (expected {expected})"
        )
        if round(total) != expected:
            raise RuntimeError(f"the all-reduce gave {total:g}, not {expected}")

    _out("Running warm up")
    for _ in range(values["num_warmup_batches"]):
        float(train_step())
    _out("Done warm up")
    _out("Step\tImg/sec\ttotal_loss")
    times: list = []
    loop_start = time.perf_counter()
    for step in range(values["num_batches"]):
        start = time.perf_counter()
        loss = float(train_step())
        times.append(time.perf_counter() - start)
        last = step + 1 == values["num_batches"]
        if step == 0 or (step + 1) % values["display_every"] == 0 or last:
            _out(perf_line(step + 1, batch, times, loss))
    elapsed = time.perf_counter() - loop_start
    images_per_sec = values["num_batches"] * batch / elapsed
    _out(RULE)
    _out(f"total images/sec: {images_per_sec:.2f}")
    _out(RULE)
    if multi:
        checksum = sum(
            float(tf.reduce_sum(tf.cast(tf.convert_to_tensor(v), tf.float64)))
            for v in model.trainable_variables
        )
        _out(f"Weights checksum: {checksum:.12e}")
    return images_per_sec


def main(argv: list | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    _out(BANNER)
    try:
        values, unused, unknown = parse_flags(argv)
        check(values)
    except FlagError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return EXIT_USAGE
    if distributed(values):
        unused = [a for a in unused if a.split("=", 1)[0][2:] not in CLUSTER]
    if unused:
        _out("note: accepted, no effect on a single-process run: " + " ".join(unused))
    if unknown:
        _out("note: ignoring flags the synthetic benchmark does not know: " + " ".join(unknown))
    if values["job_name"] == "ps":
        _out(
            "note: ps task: the synthetic benchmark has no parameter server (its workers "
            f"all-reduce with --variable_update={COLLECTIVE}); nothing to do"
        )
        return 0
    # found, not imported: the OpenMP environment must be set before TensorFlow loads
    if importlib.util.find_spec("tensorflow") is None:
        sys.stderr.write(f"error: TensorFlow is not installed for {sys.executable}\n")
        return EXIT_NO_TENSORFLOW
    run(values)
    return 0


if __name__ == "__main__":
    sys.exit(main())
