"""A stand-in for the training operator's rendered standalone manifest (tests and sandbox only).

The real file is what a site renders once from kubeflow/training-operator's standalone overlay
(`kubectl kustomize "github.com/kubeflow/training-operator.git/manifests/overlays/standalone?ref=
v1.9.0" > training-operator-v1.9.0.yaml`) and serves from its mirror; GitHub cannot be reached
where dlrs-provision is tested, so the tests assemble a small file of the same shape instead:

- the Namespace `kubeflow`;
- the real TFJob CustomResourceDefinition of v1.9.0 ($DLRS_TFJOB_CRD, else the copy kept in
  tests/data/kubeflow/);
- a ServiceAccount and a Deployment, both named `training-operator`, whose image is only a name:
  the stand-in cluster makes no Pods for Deployments; while this one exists, its training
  operator stand-in (k8s_stand_in/controllers.py) turns TFJobs into Pods and Services.

Every object carries the label `stand-in.dlrs-provision.io/manifest: "true"` and the file starts
with a comment saying what it is. The other CRDs of the real overlay (PyTorchJob, MPIJob, ...),
its RBAC objects, Service and webhook configuration are left out: the role under test treats the
file as opaque and only relies on the TFJob CRD and the Deployment.

    python tests/standins/k8s/training_operator_manifest.py OUT.yaml   # prints the sha256
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[3]
CRD_NAME = "kubeflow.org_tfjobs.v1.9.0.yaml"
CRD_ENV = "DLRS_TFJOB_CRD"
NAMESPACE = "kubeflow"
DEPLOYMENT = "training-operator"
STAND_IN_LABEL = "stand-in.dlrs-provision.io/manifest"
# libyaml when present: the CRD is large, and the pure-Python parser takes seconds over it.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
HEADER = (
    "# dlrs-provision STAND-IN of the kubeflow/training-operator {version} standalone manifest,\n"
    "# assembled by tests/standins/k8s/training_operator_manifest.py for tests only: the real\n"
    "# TFJob CRD, a Namespace, a ServiceAccount and a Deployment whose image nothing runs.\n"
)


def find_tfjob_crd(repo: Path = REPO) -> Path | None:
    """The reference TFJob CRD, where the other tests find it (see tests/unit/test_tfjob.py)."""
    for candidate in (
        os.environ.get(CRD_ENV, ""),
        str(repo / "tests" / "data" / "kubeflow" / CRD_NAME),
        str(repo.parent / "shared" / "reference" / CRD_NAME),
    ):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


def documents(crd: dict, version: str = "v1.9.0") -> list[dict]:
    """The manifest's objects, in the order kustomize would print them (namespace first)."""
    labels = {"app.kubernetes.io/name": DEPLOYMENT, STAND_IN_LABEL: "true"}
    crd = dict(crd)
    crd["metadata"] = {
        **crd.get("metadata", {}),
        "labels": {**(crd.get("metadata", {}).get("labels") or {}), STAND_IN_LABEL: "true"},
    }
    return [
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": NAMESPACE, "labels": {STAND_IN_LABEL: "true"}},
        },
        crd,
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": DEPLOYMENT, "namespace": NAMESPACE, "labels": labels},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": DEPLOYMENT, "namespace": NAMESPACE, "labels": labels},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"control-plane": "kubeflow-training-operator"}},
                "template": {
                    "metadata": {"labels": {"control-plane": "kubeflow-training-operator"}},
                    "spec": {
                        "serviceAccountName": DEPLOYMENT,
                        "containers": [
                            {
                                "name": "training-operator",
                                # A name only: the stand-in cluster runs no Pods.
                                "image": f"kubeflow/training-operator:{version}-stand-in",
                                "command": ["/manager"],
                            }
                        ],
                    },
                },
            },
        },
    ]


def write(dest: Path, crd_path: Path | None = None, version: str = "v1.9.0") -> str:
    """Write the stand-in manifest to dest and return its sha256 (hex, as sha256sum prints)."""
    source = crd_path or find_tfjob_crd()
    if source is None:
        raise FileNotFoundError(
            f"the reference {CRD_NAME} is missing: restore tests/data/kubeflow/ or point "
            f"${CRD_ENV} at it"
        )
    crd = yaml.load(source.read_text(), Loader=_LOADER)  # a safe loader (C or Python)
    text = HEADER.format(version=version) + yaml.dump_all(
        documents(crd, version), Dumper=_DUMPER, explicit_start=True, sort_keys=False
    )
    data = text.encode()
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        sys.stderr.write("usage: training_operator_manifest.py OUT.yaml\n")
        return 2
    try:
        digest = write(Path(argv[0]))
    except FileNotFoundError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    sys.stdout.write(f"{digest}  {argv[0]}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
