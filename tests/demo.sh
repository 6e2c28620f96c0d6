#!/usr/bin/env bash
# The README's first command: start the local sandbox (3 test hosts: Debian master, a
# Clear-Linux-like worker, a Debian worker; plus the mirror host) and run the real command on it.
# The sandbox stays up afterwards; `dlrs-provision sandbox down` removes it.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
"${BIN}/dlrs-provision" sandbox up --nodes 3 --os mixed
echo
echo "+ dlrs-provision cluster inventory/sandbox/hosts.yml"
"${BIN}/dlrs-provision" cluster inventory/sandbox/hosts.yml
echo
echo "+ kubectl get nodes --show-labels   (on node1; kubeadm, kubelet and kubectl here are the"
echo "  sandbox's stand-ins, tests/standins/k8s/: no real control plane runs in the sandbox)"
docker exec dlrs-sandbox-node1 kubectl --kubeconfig /etc/kubernetes/admin.conf get nodes --show-labels
