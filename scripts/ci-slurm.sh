#!/usr/bin/env bash
# CI entry point for the Slurm test: bring up a single-node Slurm, run `pytest -m slurm`, tear down.
#
#   bash scripts/ci-slurm.sh [extra pytest args]
#
# Runs as root on a clean Debian machine without stdin (slurm-up.sh installs slurm-wlm and munge
# with apt-get when they are missing). The teardown (scripts/slurm-down.sh) always runs, also when
# bring-up or the test fails or the script is interrupted; the exit status is pytest's (or
# slurm-up.sh's when the cluster did not come up). FLAREPIPE_SLURM_REQUIRED=1 makes the Slurm test
# fail instead of skip if it cannot find the cluster, so CI cannot pass without really running it.
#
# Environment: PYTHON (default: .venv/bin/python if present, else python3), FLAREPIPE_SLURM_DIR,
# FLAREPIPE_SLURM_TEST_TIMEOUT (seconds for the workflow, default 1800), FLAREPIPE_SLURM_KEEP=1
# (leave the cluster running afterwards, for debugging).
set -uo pipefail

cd "$(dirname "$0")/.."
REPO=$(pwd)
if [ -z "${PYTHON:-}" ]; then
  if [ -x "$REPO/.venv/bin/python" ]; then PYTHON=$REPO/.venv/bin/python; else PYTHON=python3; fi
fi
export FLAREPIPE_SLURM_DIR=${FLAREPIPE_SLURM_DIR:-/tmp/flarepipe-slurm}
export FLAREPIPE_SLURM_REQUIRED=1

log() { printf '[ci-slurm] %s\n' "$*" >&2; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.1f", b - a}'; }

teardown() {
  local rc=$?
  trap - EXIT INT TERM
  if [ "${FLAREPIPE_SLURM_KEEP:-0}" = 1 ]; then
    log "FLAREPIPE_SLURM_KEEP=1: leaving the cluster up (stop it with: bash scripts/slurm-down.sh)"
  else
    bash "$REPO/scripts/slurm-down.sh" || log "slurm-down.sh failed (ignored)"
  fi
  exit "$rc"
}
trap teardown EXIT
trap 'log "interrupted"; exit 130' INT TERM

t0=$(now)
if ! bash "$REPO/scripts/slurm-up.sh"; then
  log "slurm-up.sh failed"
  for f in "$FLAREPIPE_SLURM_DIR"/log/*.log; do [ -f "$f" ] && { log "--- $f"; tail -n 40 "$f" >&2; }; done
  exit 1
fi
t1=$(now)

"$PYTHON" -m pytest -m slurm -rA -p no:cacheprovider "$@" tests/test_slurm.py
rc=$?
t2=$(now)

log "bring-up $(elapsed "$t0" "$t1") s (includes apt-get install when the packages were missing), pytest -m slurm $(elapsed "$t1" "$t2") s, exit status $rc"
exit "$rc"
