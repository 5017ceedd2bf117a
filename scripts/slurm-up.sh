#!/usr/bin/env bash
# Bring up a single-node Slurm cluster on localhost, for CI and for trying the Slurm profile on a
# workstation. Debian/Ubuntu only (uses Debian's slurm-wlm 22.05 and munge packages).
#
#   sudo bash scripts/slurm-up.sh        # installs slurm-wlm + munge with apt-get if absent
#   sinfo; pytest -m slurm
#   sudo bash scripts/slurm-down.sh      # stops only the daemons this script started
#
# State, logs and PID files live in $FLAREPIPE_SLURM_DIR (default /tmp/flarepipe-slurm). The config
# goes to /etc/slurm/slurm.conf and /etc/slurm/gres.conf (copies are kept in the state directory):
# it has to be at the default place, because the Snakemake jobstep plugin strips all SLURM_*
# variables, SLURM_CONF included, before it calls `srun` inside the job. An existing /etc/slurm/slurm.conf
# that slurm-up.sh did not write is never overwritten unless FLAREPIPE_SLURM_FORCE=1, in which case it
# is moved aside and slurm-down.sh puts it back.
# The cluster has one node (this machine, NodeAddr 127.0.0.1) in two partitions,
# `cpu` (default) and `gpu`, matching the partition names used in profiles/slurm/profile.yaml, and one
# fake GPU (gres `gpu`, File=/dev/null) so that `--gpus=1` jobs are accepted and scheduled.
#
# Environment knobs (all optional):
#   FLAREPIPE_SLURM_DIR     state directory                        (/tmp/flarepipe-slurm)
#   FLAREPIPE_SLURM_CPUS    CPUs the node advertises               (max(nproc, 8); over-subscribes on purpose)
#   FLAREPIPE_SLURM_MEM_MB  RealMemory the node advertises, MB     (max(90% of RAM, 32000))
#   FLAREPIPE_SLURM_GPUS    number of fake GPUs                    (1)
#   FLAREPIPE_SLURM_CTLD_PORT / FLAREPIPE_SLURM_SLURMD_PORT         (6817 / 6818)
#   FLAREPIPE_SLURM_NO_INSTALL=1   never run apt-get (fail if the packages are missing)
#   FLAREPIPE_SLURM_FORCE=1        move a foreign /etc/slurm/{slurm,gres}.conf aside (restored by slurm-down.sh)
#
# Facts this configuration encodes (Slurm 22.05, no cgroups, no slurmdbd):
#   * no accounting storage -> `sacct` does not work; the Snakemake plugin must use
#     `slurm-status-command: squeue`, which only sees finished jobs for MinJobAge seconds, so MinJobAge is
#     300 s here (>= max(120 s, 3 x the plugin's init-seconds-before-status-checks)).
#   * ProctrackType=proctrack/linuxproc and TaskPlugin=task/none: no cgroup setup needed.
#   * RealMemory must be set, otherwise every `--mem` request is rejected.
#   * a GRES gpu needs a File= in gres.conf or the node goes INVAL; /dev/null is a harmless stand-in.
#   * munged refuses to run as root: it is started as the `munge` user.
#   * SlurmdParameters=config_overrides lets the node advertise more CPUs/memory than it has, so that the
#     workflow's resource requests (e.g. 4 CPUs for training) fit on a small CI machine.
set -euo pipefail

STATE_DIR=${FLAREPIPE_SLURM_DIR:-/tmp/flarepipe-slurm}
CTLD_PORT=${FLAREPIPE_SLURM_CTLD_PORT:-6817}
SLURMD_PORT=${FLAREPIPE_SLURM_SLURMD_PORT:-6818}
NGPUS=${FLAREPIPE_SLURM_GPUS:-1}

log() { printf '[slurm-up] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root (slurmd and munged need it); try: sudo bash $0"

t0=$(date +%s.%N)

# --------------------------------------------------------------------------------------------------
# 1. packages
need_install=0
for b in slurmctld slurmd sbatch squeue scontrol srun munged munge unmunge; do
  command -v "$b" >/dev/null 2>&1 || PATH=$PATH:/usr/sbin:/sbin
  command -v "$b" >/dev/null 2>&1 || need_install=1
done
if [ "$need_install" -eq 1 ]; then
  [ "${FLAREPIPE_SLURM_NO_INSTALL:-0}" = 1 ] && die "slurm-wlm/munge not installed and FLAREPIPE_SLURM_NO_INSTALL=1"
  command -v apt-get >/dev/null 2>&1 || die "slurm-wlm/munge not installed and apt-get not available"
  log "installing slurm-wlm and munge with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq </dev/null
  apt-get install -y -qq --no-install-recommends slurm-wlm munge </dev/null >/dev/null
fi
export PATH=$PATH:/usr/sbin:/sbin

# --------------------------------------------------------------------------------------------------
# 2. refuse to start twice; refuse to clash with a Slurm that is not ours
mkdir -p "$STATE_DIR"
if [ -f "$STATE_DIR/pids" ]; then
  alive=0
  while read -r name pid; do
    [ -n "${pid:-}" ] && kill -0 "$pid" 2>/dev/null && alive=1
  done <"$STATE_DIR/pids"
  if [ "$alive" -eq 1 ]; then
    if scontrol ping 2>/dev/null | grep -q UP; then
      log "already up (daemons listed in $STATE_DIR/pids); nothing to do"
      exit 0
    fi
    die "daemons from a previous run are still alive but not answering; run scripts/slurm-down.sh first"
  fi
  rm -f "$STATE_DIR/pids"
fi
MARKER="written by scripts/slurm-up.sh"
if [ "${FLAREPIPE_SLURM_FORCE:-0}" != 1 ]; then
  for f in /etc/slurm/slurm.conf /etc/slurm/gres.conf; do
    if [ -e "$f" ] && ! head -n1 "$f" | grep -q "$MARKER"; then
      die "$f exists and was not written by slurm-up.sh (a real Slurm?); set FLAREPIPE_SLURM_FORCE=1 to move it aside"
    fi
  done
fi
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in "$CTLD_PORT" "$SLURMD_PORT"; do
  port_busy "$p" && die "port $p is already in use (another Slurm?); set FLAREPIPE_SLURM_CTLD_PORT/_SLURMD_PORT"
done
: >"$STATE_DIR/pids"
record() { echo "$1 $2" >>"$STATE_DIR/pids"; }

# --------------------------------------------------------------------------------------------------
# 3. munge (reuse a running munged; otherwise start one as the munge user and record it)
if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  log "munged already running; reusing it (it will not be stopped by slurm-down.sh)"
else
  id munge >/dev/null 2>&1 || die "user 'munge' missing (is the munge package installed?)"
  install -d -o munge -g munge -m 0700 /etc/munge
  if [ ! -s /etc/munge/munge.key ]; then
    log "creating /etc/munge/munge.key"
    if command -v mungekey >/dev/null 2>&1; then
      mungekey --create --keyfile=/etc/munge/munge.key --force
    else
      dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
    fi
  fi
  chown munge:munge /etc/munge/munge.key
  chmod 0400 /etc/munge/munge.key
  install -d -o munge -g munge -m 0755 /run/munge
  install -d -o munge -g munge -m 0700 /var/log/munge /var/lib/munge
  rm -f /run/munge/munged.pid
  # munged daemonises itself and writes its PID file
  runuser -u munge -- /usr/sbin/munged --pid-file=/run/munge/munged.pid \
    || die "munged failed to start (see /var/log/munge/munged.log)"
  for _ in $(seq 1 50); do
    [ -s /run/munge/munged.pid ] && munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break
    sleep 0.1
  done
  [ -s /run/munge/munged.pid ] || die "munged wrote no PID file"
  record munged "$(cat /run/munge/munged.pid)"
  munge -n | unmunge >/dev/null || die "munge round trip failed"
fi

# --------------------------------------------------------------------------------------------------
# 4. slurm.conf + gres.conf
HOST=$(hostname -s)
NPROC=$(nproc)
CPUS=${FLAREPIPE_SLURM_CPUS:-$(( NPROC > 8 ? NPROC : 8 ))}
MEM_TOTAL=$(awk '/^MemTotal:/ {print int($2/1024)}' /proc/meminfo)
MEM_DEFAULT=$(( MEM_TOTAL * 9 / 10 )); [ "$MEM_DEFAULT" -lt 32000 ] && MEM_DEFAULT=32000
MEM=${FLAREPIPE_SLURM_MEM_MB:-$MEM_DEFAULT}
rm -rf "$STATE_DIR/state" "$STATE_DIR/spool"   # a fresh cluster every time (job ids start at 1)
mkdir -p "$STATE_DIR/state" "$STATE_DIR/spool" "$STATE_DIR/log"
chmod 0755 "$STATE_DIR" "$STATE_DIR/spool"

cat >"$STATE_DIR/slurm.conf" <<EOF
# written by scripts/slurm-up.sh ($(date -u +%FT%TZ)); single-node test cluster
ClusterName=flarepipe
SlurmctldHost=${HOST}(127.0.0.1)
SlurmctldPort=${CTLD_PORT}
SlurmdPort=${SLURMD_PORT}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=${STATE_DIR}/state
SlurmdSpoolDir=${STATE_DIR}/spool
SlurmctldPidFile=${STATE_DIR}/slurmctld.pid
SlurmdPidFile=${STATE_DIR}/slurmd.pid
SlurmctldLogFile=${STATE_DIR}/log/slurmctld.log
SlurmdLogFile=${STATE_DIR}/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# no cgroups in containers/VMs: plain process tracking, no task binding
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
# no accounting storage (no slurmdbd): sacct does not work, use squeue for job status
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
# finished jobs stay visible to squeue/scontrol for 5 minutes (>= 3 x the plugin's first status delay)
MinJobAge=300
ReturnToService=2
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SlurmdParameters=config_overrides
GresTypes=gpu
MpiDefault=none
SwitchType=switch/none
KillWait=5
InactiveLimit=0
SlurmctldTimeout=30
SlurmdTimeout=60
NodeName=${HOST} NodeAddr=127.0.0.1 NodeHostname=${HOST} CPUs=${CPUS} RealMemory=${MEM} Gres=gpu:${NGPUS} State=UNKNOWN
PartitionName=cpu Nodes=${HOST} Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
PartitionName=gpu Nodes=${HOST} Default=NO MaxTime=INFINITE State=UP OverSubscribe=NO
EOF

{
  echo "# written by scripts/slurm-up.sh: fake GPUs (File=/dev/null keeps the node out of INVAL)"
  for _ in $(seq 1 "$NGPUS"); do echo "NodeName=${HOST} Name=gpu File=/dev/null"; done
} >"$STATE_DIR/gres.conf"

# install into /etc/slurm (see the header for why); remember what to undo in $STATE_DIR/etc-files
mkdir -p /etc/slurm
: >"$STATE_DIR/etc-files"
for f in slurm.conf gres.conf; do
  dst=/etc/slurm/$f
  if [ -e "$dst" ] && ! head -n1 "$dst" | grep -q "$MARKER"; then
    if [ "${FLAREPIPE_SLURM_FORCE:-0}" = 1 ]; then
      mv "$dst" "$dst.flarepipe-backup"
      echo "$dst restore" >>"$STATE_DIR/etc-files"
      log "moved existing $dst to $dst.flarepipe-backup"
    else
      die "$dst exists and was not written by slurm-up.sh; set FLAREPIPE_SLURM_FORCE=1 to move it aside"
    fi
  else
    echo "$dst remove" >>"$STATE_DIR/etc-files"
  fi
  cp "$STATE_DIR/$f" "$dst"
  chmod 0644 "$dst"
done
export SLURM_CONF=/etc/slurm/slurm.conf

# --------------------------------------------------------------------------------------------------
# 5. daemons (both daemonise and write the PID files named in slurm.conf)
rm -f "$STATE_DIR/slurmctld.pid" "$STATE_DIR/slurmd.pid"
wait_pidfile() {
  for _ in $(seq 1 100); do [ -s "$1" ] && return 0; sleep 0.1; done
  return 1
}
log "starting slurmctld"
/usr/sbin/slurmctld -f "$SLURM_CONF" -i || die "slurmctld failed; see $STATE_DIR/log/slurmctld.log"
wait_pidfile "$STATE_DIR/slurmctld.pid" || die "slurmctld wrote no PID file; see $STATE_DIR/log/slurmctld.log"
record slurmctld "$(cat "$STATE_DIR/slurmctld.pid")"
log "starting slurmd"
/usr/sbin/slurmd -f "$SLURM_CONF" -N "$HOST" || die "slurmd failed; see $STATE_DIR/log/slurmd.log"
wait_pidfile "$STATE_DIR/slurmd.pid" || die "slurmd wrote no PID file; see $STATE_DIR/log/slurmd.log"
record slurmd "$(cat "$STATE_DIR/slurmd.pid")"

# --------------------------------------------------------------------------------------------------
# 6. wait until the node is schedulable
state=""
for _ in $(seq 1 120); do
  state=$(sinfo -h -n "$HOST" -o '%T' 2>/dev/null | head -n1 || true)
  case "$state" in
    idle|mixed|allocated) break ;;
    down*|drain*|inval*)
      # a previous run's state can leave the node down: resume it
      scontrol update nodename="$HOST" state=resume >/dev/null 2>&1 || true ;;
  esac
  sleep 0.25
done
case "$state" in
  idle|mixed|allocated) ;;
  *)
    scontrol show node "$HOST" >&2 || true
    tail -n 30 "$STATE_DIR/log/slurmctld.log" "$STATE_DIR/log/slurmd.log" >&2 || true
    die "node $HOST did not become idle (state: '${state:-none}')" ;;
esac

t1=$(date +%s.%N)
log "up in $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", b - a}') s: node $HOST, $CPUS CPUs, ${MEM} MB, gpu:$NGPUS; partitions cpu (default), gpu"
log "daemons: $(tr '\n' ' ' <"$STATE_DIR/pids")"
log "config: /etc/slurm/slurm.conf, /etc/slurm/gres.conf; logs: $STATE_DIR/log"
