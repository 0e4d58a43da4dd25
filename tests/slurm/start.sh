#!/bin/sh
# tests/slurm/start.sh OWNER — start a throwaway single-node Slurm cluster on
# this machine for the Slurm backend's tests, and print its slurm.conf path.
#
# Needs root, munge and slurm-wlm (.ci/deps test installs them). Everything
# lives in ${TMPDIR:-/tmp}/xover-slurm/OWNER/ (OWNER: the pid of the test
# process that owns the cluster): a munge key and munged on its own socket,
# a slurm.conf for this host alone (its real CPU count and memory, no
# accounting, proctrack/linuxproc, task/none), slurmctld and slurmd on free
# ports, their state, spool, logs and pids. It returns once sinfo shows the
# node idle, or fails loudly (exit 1, the daemons' logs on stderr).
#
# Clusters never outlive their owner: a watchdog stops this one when OWNER
# exits (even if it crashes), and every start first stops the clusters of
# owners that are gone (a leftover of a crashed run). tests/slurm/stop.sh
# OWNER stops it now.
set -u
owner=${1:?usage: start.sh OWNER_PID}
here=$(cd "$(dirname "$0")" && pwd)
base=${TMPDIR:-/tmp}/xover-slurm
dir=$base/$owner

die() {
  echo "slurm test cluster: $*" >&2
  for f in "$dir"/munged.log "$dir"/slurmctld.log "$dir"/slurmd.log; do
    [ -s "$f" ] && { echo "--- tail of $f" >&2; tail -n 15 "$f" >&2; }
  done
  sh "$here/stop.sh" "$owner" >&2
  exit 1
}

[ "$(id -u)" = 0 ] || { echo "slurm test cluster: needs root (slurmd runs jobs as their user)" >&2; exit 1; }
for p in munged mungekey slurmctld slurmd sinfo sbatch squeue scancel; do
  command -v "$p" >/dev/null 2>&1 || [ -x "/usr/sbin/$p" ] ||
    { echo "slurm test cluster: $p is missing: apt-get install munge slurm-wlm (or sh .ci/deps test)" >&2; exit 1; }
done
PATH=$PATH:/usr/sbin:/sbin

# Leftovers: clusters whose owner is gone.
mkdir -p "$base"
for d in "$base"/*; do
  [ -d "$d" ] || continue
  o=$(basename "$d")
  [ "$o" = "$owner" ] && continue
  kill -0 "$o" 2>/dev/null && continue
  sh "$here/stop.sh" "$o" >&2
done
[ -d "$dir" ] && sh "$here/stop.sh" "$owner" >&2
mkdir -p "$dir/state" "$dir/spool" "$dir/munge" || die "cannot create $dir"
chmod 700 "$dir" "$dir/munge"

# A port nobody listens on: /proc/net/tcp{,6} list listening sockets (state 0A).
port_free() {
  hex=$(printf '%04X' "$1")
  ! cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | awk '{print $2, $4}' | grep -q ":$hex 0A"
}
pick_port() {
  p=$1
  while ! port_free "$p" || ! port_free $((p + 1)); do p=$((p + 2)); done
  echo "$p"
}
port=$(pick_port $((20000 + (owner % 10000) * 2)))

mungekey --create --keyfile="$dir/munge/munge.key" >/dev/null 2>&1 ||
  { dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 2>/dev/null && chmod 400 "$dir/munge/munge.key"; } ||
  die "cannot create a munge key"
munged --force --socket="$dir/munge/munge.sock" --key-file="$dir/munge/munge.key" \
  --pid-file="$dir/munge/munged.pid" --log-file="$dir/munged.log" --seed-file="$dir/munge/munged.seed" \
  </dev/null >/dev/null 2>>"$dir/munged.log" || die "munged did not start"

host=$(hostname -s 2>/dev/null || hostname)
node=$(slurmd -C | head -n 1 | sed "s/^NodeName=[^ ]*/NodeName=$host/")
case "$node" in NodeName=*CPUs=*RealMemory=*) ;; *) die "slurmd -C did not describe this node: $node" ;; esac
cat >"$dir/slurm.conf" <<CONF
# A single-node cluster for xover's tests (tests/slurm/start.sh).
ClusterName=xovertest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
# cred_expire: a requeued task waits cred_expire+1 s before it may start again
# (120 s by default); short, so the requeue test is quick.
AuthInfo=socket=$dir/munge/munge.sock,cred_expire=5
CredType=cred/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/builtin
# the main scheduling loop every second (a requeued task waits for it)
SchedulerParameters=sched_interval=1
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
MinJobAge=600
KillWait=5
InactiveLimit=0
$node NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$dir/slurm.conf"

slurmctld -D -i -f "$SLURM_CONF" </dev/null >>"$dir/slurmctld.log" 2>&1 &
echo $! >"$dir/slurmctld.fg.pid"
slurmd -D -f "$SLURM_CONF" </dev/null >>"$dir/slurmd.log" 2>&1 &
echo $! >"$dir/slurmd.fg.pid"

# The watchdog: stop the cluster when its owner exits, however it exits.
# Its command line names $dir/, so stop.sh knows it for ours.
sh -c 'while kill -0 "$1" 2>/dev/null; do sleep 1; done; exec sh "$2" "$1"' xover-slurm-watchdog \
  "$owner" "$here/stop.sh" "$dir/" </dev/null >/dev/null 2>&1 &
echo $! >"$dir/watchdog.pid"

i=0
while :; do
  st=$(sinfo -h -N -o '%T' 2>/dev/null | head -n 1)
  [ "$st" = idle ] && break
  i=$((i + 1))
  [ $i -ge 60 ] && die "the node did not become idle in 30s (sinfo says '${st:-nothing}')"
  kill -0 "$(cat "$dir/slurmctld.fg.pid")" 2>/dev/null || die "slurmctld exited"
  kill -0 "$(cat "$dir/slurmd.fg.pid")" 2>/dev/null || die "slurmd exited"
  sleep 0.5
done
echo "$SLURM_CONF"
