#!/usr/bin/env bash
# The full suite, as CI runs it: lint, then every test (unit, role scenarios, end-to-end).
# Prints the time of each stage so growth shows.
#
# The role scenarios (molecule) run in a pytest session of their own, beside the main one
# (unit, end-to-end on the one sandbox, packages, TensorFlow) and the all-Clear-Linux sandbox
# session after it: both wait on SSH, systemd and apt far more than on the CPU, so side by
# side they take little more than the longer of them. They share nothing but Docker: molecule's
# test hosts carry their own label and names, the sandbox's its own; the images both start
# from are built first, once, so that no two builds of one recipe race.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
LOGS=.cache/run-all
declare -a TIMES=()
MOLECULE_PID=""
stage() {
  local name=$1 t0 rc=0
  shift
  t0=$(date +%s)
  echo "::: ${name}"
  "$@" || rc=$?
  TIMES+=("$(printf '%-10s %5ss  exit %s' "${name}" "$(($(date +%s) - t0))" "${rc}")")
  return "${rc}"
}
molecule_session() {
  # runs in the background: its output goes to a log, printed whole when it is waited for
  local t0 rc=0
  t0=$(date +%s)
  "${BIN}/pytest" tests/molecule --durations=25 -p no:cacheprovider >"${LOGS}/molecule.log" 2>&1 || rc=$?
  printf '%-10s %5ss  exit %s  (beside the stages above)\n' molecule "$(($(date +%s) - t0))" "${rc}" \
    >"${LOGS}/molecule.time"
  return "${rc}"
}
wait_molecule() {
  local rc=0
  [[ -n "${MOLECULE_PID}" ]] || return 0
  echo "::: molecule (waiting for the role scenarios' session)"
  wait "${MOLECULE_PID}" || rc=$?
  MOLECULE_PID=""
  cat "${LOGS}/molecule.log"
  [[ -f "${LOGS}/molecule.time" ]] && TIMES+=("$(cat "${LOGS}/molecule.time")")
  return "${rc}"
}
report() {
  # an early exit (a failed stage) still waits for the scenarios: no test host is left behind
  wait_molecule || true
  echo "::: stage times"
  printf '  %s\n' "${TIMES[@]}"
}
trap report EXIT

mkdir -p "${LOGS}"
rm -f "${LOGS}/molecule.time"
stage lint make --no-print-directory lint
# Docker Engine for the test hosts: installed and started here when no daemon answers.
stage docker "${BIN}/dlrs-provision" sandbox docker
# The test-host images both sessions start from (built when missing, by recipe hash).
stage images bash -c "${BIN}/python tests/molecule/run.py --env >/dev/null"
molecule_session &
MOLECULE_PID=$!
# TensorFlow for CPU in its own environment, for the real benchmark runs (tests/tf)
stage tf-venv bash tests/tf/setup.sh
# The day-2 modules that rebuild the cluster (reset, then cluster again; an upgrade from the
# previous minor) take about 6 and 11 minutes: past CI's budget beside the rest. They run in
# `make e2e-day2`; the scale and remove-node module (4 minutes) runs here.
DAY2_OWN_TARGET=(--ignore=tests/e2e/test_day2_reset.py --ignore=tests/e2e/test_day2_upgrade.py)
stage pytest "${BIN}/pytest" tests --ignore=tests/molecule "${DAY2_OWN_TARGET[@]}" --durations=25 -p no:cacheprovider
# The all-Clear-Linux sandbox (another shape than tests/e2e's): a session of its own.
stage e2e-clear "${BIN}/pytest" tests/e2e_clearlinux --durations=5 -p no:cacheprovider
wait_molecule
