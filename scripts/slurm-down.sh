#!/usr/bin/env bash
# Stop the single-node Slurm started by scripts/slurm-up.sh.
#
#   bash scripts/slurm-down.sh           # stop the daemons recorded in $FLAREPIPE_SLURM_DIR/pids
#   bash scripts/slurm-down.sh --purge   # ... and delete $FLAREPIPE_SLURM_DIR (config, state, logs)
#
# Only the processes slurm-up.sh started (their PIDs are recorded in $FLAREPIPE_SLURM_DIR/pids) are
# stopped, and only if the PID still belongs to a process of the expected name; a munged or Slurm that
# was already running before slurm-up.sh is never touched. Jobs still queued or running on the test
# cluster are cancelled first. Safe to call when nothing is up (exit status 0).
set -uo pipefail

STATE_DIR=${FLAREPIPE_SLURM_DIR:-/tmp/flarepipe-slurm}
PIDS=$STATE_DIR/pids
export PATH=$PATH:/usr/sbin:/sbin
log() { printf '[slurm-down] %s\n' "$*" >&2; }

purge=0
[ "${1:-}" = "--purge" ] && purge=1

if [ ! -s "$PIDS" ]; then
  log "nothing recorded in $PIDS; nothing to stop"
else
  # cancel leftover jobs of the test cluster while slurmctld is still there
  if head -n1 /etc/slurm/slurm.conf 2>/dev/null | grep -q "written by scripts/slurm-up.sh" \
     && command -v scancel >/dev/null 2>&1; then
    if [ -n "$(timeout 10 squeue -h -o %i 2>/dev/null)" ]; then
      log "cancelling leftover jobs: $(timeout 10 squeue -h -o %i | tr '\n' ' ')"
      timeout 10 scancel --quiet --user="$(id -un)" 2>/dev/null || true
      sleep 2
    fi
  fi
  # stop in reverse start order: slurmd, slurmctld, munged
  for name in slurmd slurmctld munged; do
    pid=$(awk -v n="$name" '$1 == n {print $2}' "$PIDS" | tail -n1)
    [ -n "$pid" ] || continue
    if ! kill -0 "$pid" 2>/dev/null; then
      log "$name ($pid) not running"
      continue
    fi
    comm=$(cat "/proc/$pid/comm" 2>/dev/null || true)
    if [ "$comm" != "$name" ]; then
      log "PID $pid is '$comm', not $name: leaving it alone"
      continue
    fi
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      log "$name ($pid) ignored SIGTERM for 10 s; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
    log "stopped $name ($pid)"
  done
  rm -f "$PIDS"
fi

# undo the /etc/slurm changes slurm-up.sh recorded: remove its files, put moved-aside ones back
if [ -s "$STATE_DIR/etc-files" ]; then
  while read -r f action; do
    case "$action" in
      remove)
        if [ -e "$f" ] && head -n1 "$f" | grep -q "written by scripts/slurm-up.sh"; then rm -f "$f"; fi ;;
      restore)
        if [ -e "$f.flarepipe-backup" ]; then mv -f "$f.flarepipe-backup" "$f"; log "restored $f"; fi ;;
    esac
  done <"$STATE_DIR/etc-files"
  rm -f "$STATE_DIR/etc-files"
fi

if [ "$purge" -eq 1 ] && [ -d "$STATE_DIR" ]; then
  rm -rf "$STATE_DIR"
  log "removed $STATE_DIR"
fi
exit 0
