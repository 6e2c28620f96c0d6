#!/usr/bin/env bash
# The README's first command: the mission whole on the local sandbox. Bare hosts (4: a Debian
# master and three workers, Debian and Clear-Linux-like; plus the mirror host) become a
# cluster with Kubeflow's training operator; then the single-node benchmark runs on every node
# with tuned and with default threads, and the multi-node TFJob (1 parameter server and 2
# workers, each on its own node; the master runs no workload) is submitted; the report ends it.
# Kubernetes, the training operator and tf_cnn_benchmarks are the sandbox's stand-ins
# (tests/standins/, tests/sandbox/stack-test/): every figure they give is marked as such.
# The sandbox stays up afterwards; `dlrs-provision sandbox down` removes it.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
INVENTORY=inventory/sandbox/hosts.yml
LOG=$(mktemp -d)
trap 'rm -rf "${LOG}"' EXIT
run() {
  echo
  echo "+ $*"
  "$@"
}
run "${BIN}/dlrs-provision" sandbox up --nodes 4 --os mixed
run "${BIN}/dlrs-provision" cluster "${INVENTORY}"
echo
echo "+ kubectl get nodes --show-labels   (on node1; kubeadm, kubelet and kubectl here are the"
echo "  sandbox's stand-ins, tests/standins/k8s/: no real control plane runs in the sandbox)"
docker exec dlrs-sandbox-node1 kubectl --kubeconfig /etc/kubernetes/admin.conf get nodes --show-labels
echo
echo "+ dlrs-provision benchmark ${INVENTORY} --mode single --benchmark image --compare-default ..."
"${BIN}/dlrs-provision" benchmark "${INVENTORY}" --mode single --benchmark image \
  --compare-default --batch-size 2 --num-batches 3 | tee "${LOG}/single.out"
# The stand-in kubelets bind the TFJob's pods but start no container, so the job cannot finish
# here: the command stops once every replica is bound and says so (exit 1). Any other end (a
# replica the scheduler cannot place, a refused TFJob) fails the demo.
echo
echo "+ dlrs-provision benchmark ${INVENTORY} --mode multi --timeout 60"
rc=0
"${BIN}/dlrs-provision" benchmark "${INVENTORY}" --mode multi --timeout 60 \
  | tee "${LOG}/multi.out" || rc=$?
if [[ ${rc} -ne 0 ]] && ! grep -q "all replicas bound: " "${LOG}/multi.out"; then
  echo "demo: the multi-node benchmark failed (exit ${rc}), see above" >&2
  exit "${rc}"
fi
echo
echo "demo: every replica of the TFJob is bound to its node; no container runs in the sandbox"
for mode in single multi; do
  report=$(sed -n 's/^wrote \(.*report\.md\)$/\1/p' "${LOG}/${mode}.out" | tail -n 1)
  echo
  echo "+ cat ${report}   (the ${mode}-node benchmark's report)"
  cat "${report}"
done
