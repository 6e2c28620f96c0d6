"""The stack's variants: what each TensorFlow build needs from the tuning rules.

A variant names a TensorFlow build; its image and its default data layout follow from it.
Later releases extend this catalog with more images (issue: image catalog); the tuning rules
only need the data_format and whether the OpenMP (MKL) environment applies.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Variant:
    name: str
    image: str
    data_format: str  # the layout the build is fastest with
    openmp: bool  # OMP_NUM_THREADS / KMP_* apply (MKL-DNN builds use Intel OpenMP)
    description: str


VARIANTS: dict[str, Variant] = {
    "mkl": Variant(
        name="mkl",
        image="clearlinux/stacks-dlaas-mkl:latest",
        data_format="NCHW",
        openmp=True,
        description="TensorFlow built with Intel MKL-DNN (the DLRS MKL image)",
    ),
    "eigen": Variant(
        name="eigen",
        image="clearlinux/stacks-dlaas-oss:latest",
        data_format="NHWC",
        openmp=False,
        description="TensorFlow built with Eigen (the DLRS open-source image)",
    ),
}

DEFAULT_VARIANT = "mkl"


def variant(name: str) -> Variant:
    try:
        return VARIANTS[name]
    except KeyError:
        raise ValueError(
            f"unknown variant {name!r}; known variants: {', '.join(sorted(VARIANTS))}"
        ) from None
