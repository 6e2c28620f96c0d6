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
per-step figure covers every step. In a TFJob each worker runs on its own (there is no
parameter server here): a ps task exits at once, and a worker's figure is its own node's.

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
    values["job_name"] = ""
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
                if name == "job_name" and has_value:
                    values["job_name"] = text
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
    keras = tf.keras
    nchw = values["data_format"] == "NCHW"
    keras.backend.set_image_data_format("channels_first" if nchw else "channels_last")
    size, batch = values["image_size"], values["batch_size"]
    shape = (3, size, size) if nchw else (size, size, 3)

    _out(f"TensorFlow:  {tf.__version__}")
    _out(f"Model:       {values['model']}")
    _out("Dataset:     imagenet (synthetic)")
    _out("Mode:        training")
    _out(f"Batch size:  {batch} global")
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
    _out("==========")
    _out("Generating training model")
    model = keras.applications.ResNet50(weights=None, input_shape=shape, classes=1000)
    optimizer = keras.optimizers.SGD(learning_rate=values["init_learning_rate"])
    loss_fn = keras.losses.SparseCategoricalCrossentropy()
    images = tf.random.uniform((batch, *shape), dtype=tf.float32)
    labels = tf.random.uniform((batch,), maxval=1000, dtype=tf.int32)

    @tf.function
    def train_step():
        with tf.GradientTape() as tape:
            loss = loss_fn(labels, model(images, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))  # noqa: B905 (py<3.10)
        return loss

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
    if unused:
        _out("note: accepted, no effect on a single-process run: " + " ".join(unused))
    if unknown:
        _out("note: ignoring flags the synthetic benchmark does not know: " + " ".join(unknown))
    if values["job_name"] == "ps":
        _out("note: ps task: the synthetic benchmark has no parameter server; nothing to do")
        return 0
    # found, not imported: the OpenMP environment must be set before TensorFlow loads
    if importlib.util.find_spec("tensorflow") is None:
        sys.stderr.write(f"error: TensorFlow is not installed for {sys.executable}\n")
        return EXIT_NO_TENSORFLOW
    run(values)
    return 0


if __name__ == "__main__":
    sys.exit(main())
