#!/usr/bin/env bash
# The full suite, as CI runs it: lint, then every test (unit, role scenarios, end-to-end) in
# one pytest session that shares one sandbox. Prints the time of each stage so growth shows.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
declare -a TIMES=()
stage() {
  local name=$1 t0 rc=0
  shift
  t0=$(date +%s)
  echo "::: ${name}"
  "$@" || rc=$?
  TIMES+=("$(printf '%-10s %5ss  exit %s' "${name}" "$(($(date +%s) - t0))" "${rc}")")
  return "${rc}"
}
report() {
  echo "::: stage times"
  printf '  %s\n' "${TIMES[@]}"
}
trap report EXIT

stage lint make --no-print-directory lint
# Docker Engine for the test hosts: installed and started here when no daemon answers.
stage docker "${BIN}/dlrs-provision" sandbox docker
# TensorFlow for CPU in its own environment, for the real benchmark runs (tests/tf)
stage tf-venv bash tests/tf/setup.sh
stage pytest "${BIN}/pytest" tests --durations=15 -p no:cacheprovider
# The all-Clear-Linux sandbox (another shape than tests/e2e's): a session of its own.
stage e2e-clear "${BIN}/pytest" tests/e2e_clearlinux --durations=5 -p no:cacheprovider
