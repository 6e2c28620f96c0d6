"""Shared code of the Kubernetes stand-ins of dlrs-provision (tests only, not Kubernetes).

kubeadm, kubelet and kubectl cannot be obtained on the machines that test dlrs-provision. The
stand-ins in tests/standins/k8s/ follow their command-line contracts (flags, files written, exit
codes, the parsable parts of their output) for the subset the toolkit uses; a small HTTPS API
endpoint (kube-apiserver-stand-in) on the master keeps the one state of the stand-in cluster.
See tests/standins/k8s/README.md.

Python 3.11 standard library plus python3-yaml, python3-cryptography and python3-jsonschema,
as Debian 12 ships them.
"""

STAND_IN = "dlrs-provision stand-in"
STAND_IN_HEADER = "X-Stand-In"
STAND_IN_HEADER_VALUE = "dlrs-provision"
