"""The image catalog: the stack's TensorFlow images and what the tuning rules need from each.

A variant names a TensorFlow build (mkl, eigen, onednn); its default image and data layout
follow from it. The seed's images are kept under their original names, with their later names
and the current Intel images beside them. `dlrs-provision images list` prints this table;
`dlrs_variant` picks a variant, `dlrs_image` overrides the image.

Each image also says when its TensorFlow runs oneDNN (MKL-DNN) kernels, since only those train
NCHW convolutions on a CPU (stock TensorFlow's own CPU kernels refuse NCHW: "Conv2DCustom
BackpropFilterOp only supports NHWC"). The policies:

- "always": built with oneDNN as the only path (TensorFlow's ENABLE_MKL builds: the DLRS MKL
  images, Intel's intel-optimized-tensorflow); oneDNN runs on any x86-64 CPU;
- "by-cpu": a stock x86 build of TensorFlow 2.9 or later, where oneDNN is on by default on
  Linux only when the CPU has one of ONEDNN_DEFAULT_CPU_FLAGS (tensorflow/core/util/port.cc,
  DefaultOneDnnPolicy, read through IsMklEnabled; TF_ENABLE_ONEDNN_OPTS can change it); an
  image that is not in the catalog is taken to be such a build;
- "never": an Eigen build (the DLRS open-source images).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from dlrs_provision import benchmark_defaults


@dataclass(frozen=True)
class Variant:
    name: str
    image: str  # the default image of the variant
    data_format: str  # the layout the build is fastest with
    openmp: bool  # OMP_NUM_THREADS / KMP_* apply (Intel OpenMP builds)
    description: str
    onednn: str  # when the variant's default image runs oneDNN kernels: ONEDNN_POLICIES
    # the benchmark its images run (tf_cnn_benchmarks for the seed's TensorFlow 1.x builds, the
    # toolkit's synthetic tf.keras ResNet50 for TensorFlow 2) and tf_cnn_benchmarks' git ref
    benchmark: str = "tf_cnn_benchmarks"
    benchmark_ref: str = "cnn_tf_v1.12_compatible"

    @property
    def benchmark_commit(self) -> str:
        """The commit benchmark_ref is pinned to (benchmark_defaults.BENCHMARK_COMMITS)."""
        return benchmark_defaults.benchmark_commit(self.benchmark_ref)


@dataclass(frozen=True)
class Image:
    ref: str
    variant: str
    status: str  # "seed" (the original DLRS release), "renamed", "current"
    note: str
    onednn: str  # when its TensorFlow runs oneDNN kernels: ONEDNN_POLICIES

    def to_dict(self) -> dict[str, Any]:
        v = VARIANTS[self.variant]
        return asdict(self) | {"data_format": v.data_format, "openmp": v.openmp}


ONEDNN_POLICIES = ("always", "by-cpu", "never")
# /proc/cpuinfo names of the features for which TensorFlow >= 2.9 x86 Linux builds turn oneDNN
# on by default: port::CPUFeature AVX512_VNNI, AVX512_BF16, AVX_VNNI, AMX_TILE, AMX_INT8,
# AMX_BF16 in DefaultOneDnnPolicy (tensorflow/core/util/port.cc).
ONEDNN_DEFAULT_CPU_FLAGS = (
    "avx512_vnni",
    "avx512_bf16",
    "avx_vnni",
    "amx_tile",
    "amx_int8",
    "amx_bf16",
)
UNCATALOGUED_ONEDNN = "by-cpu"


VARIANTS: dict[str, Variant] = {
    "mkl": Variant(
        name="mkl",
        image="clearlinux/stacks-dlaas-mkl:latest",
        data_format="NCHW",
        openmp=True,
        description="TensorFlow built with Intel MKL-DNN (the DLRS MKL image)",
        onednn="always",
    ),
    "eigen": Variant(
        name="eigen",
        image="clearlinux/stacks-dlaas-oss:latest",
        data_format="NHWC",
        openmp=False,
        description="TensorFlow built with Eigen (the DLRS open-source image)",
        onednn="never",
    ),
    "onednn": Variant(
        name="onednn",
        image="intel/intel-optimized-tensorflow:latest",
        data_format="NHWC",
        openmp=True,
        description="current Intel-optimized TensorFlow 2 (oneDNN, channels-last)",
        onednn="always",
        benchmark="synthetic",
        benchmark_ref="master",
    ),
}

IMAGES: tuple[Image, ...] = (
    Image(
        "clearlinux/stacks-dlaas-mkl:latest",
        "mkl",
        "seed",
        "the original DLRS MKL-DNN image (TensorFlow 1.x); deprecated upstream",
        "always",
    ),
    Image(
        "clearlinux/stacks-dlaas-oss:latest",
        "eigen",
        "seed",
        "the original DLRS Eigen image (TensorFlow 1.x); deprecated upstream",
        "never",
    ),
    Image(
        "clearlinux/stacks-dlrs-mkl:latest",
        "mkl",
        "renamed",
        "later name of the MKL image; deprecated upstream",
        "always",
    ),
    Image(
        "clearlinux/stacks-dlrs-oss:latest",
        "eigen",
        "renamed",
        "later name of the Eigen image; deprecated upstream",
        "never",
    ),
    Image(
        "intel/intel-optimized-tensorflow:latest",
        "onednn",
        "current",
        "maintained Intel image (TensorFlow 2, oneDNN)",
        "always",
    ),
)

DEFAULT_VARIANT = "mkl"


def variant(name: str) -> Variant:
    try:
        return VARIANTS[name]
    except KeyError:
        raise ValueError(
            f"unknown variant {name!r}; known variants: {', '.join(sorted(VARIANTS))}"
        ) from None


def _bare(ref: str) -> str:
    """The repository path of an image reference: no registry host, tag or digest."""
    name = ref.split("@", 1)[0]
    if ":" in name.rsplit("/", 1)[-1]:
        name = name.rsplit(":", 1)[0]
    parts = name.split("/")
    if len(parts) > 2 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"):
        parts = parts[1:]
    return "/".join(parts)


def image_variant(ref: str) -> str | None:
    """The variant of a catalogued image (registry prefix and tag ignored), or None."""
    wanted = _bare(ref)
    for img in IMAGES:
        if _bare(img.ref) == wanted:
            return img.variant
    return None


def onednn_policy(variant_name: str, image: str | None = None) -> tuple[str, str]:
    """When the image's TensorFlow runs oneDNN kernels, and why we think so.

    A catalogued image gives its own policy; another image is taken as a stock TensorFlow
    build ("by-cpu"); no image means the variant's default image.
    """
    if not image:
        v = variant(variant_name)
        image = v.image
    for img in IMAGES:
        if _bare(img.ref) == _bare(image):
            return img.onednn, f"image {img.ref} (catalog: oneDNN {img.onednn})"
    return UNCATALOGUED_ONEDNN, (
        f"image {image} is not in the catalog: taken as a stock TensorFlow build "
        f"(oneDNN {UNCATALOGUED_ONEDNN})"
    )
