#!/bin/sh
# tests/slurm/stop.sh OWNER — stop the test cluster tests/slurm/start.sh
# started for OWNER: cancel its jobs, stop slurmd, slurmctld and munged by
# their pids, end what is left of its jobs, remove its directory. Safe to
# repeat; a pid is signalled only while its command line or environment
# still names this cluster's directory (no stray kill after pid reuse).
set -u
owner=${1:?usage: stop.sh OWNER_PID}
dir=${TMPDIR:-/tmp}/xover-slurm/$owner
[ -d "$dir" ] || exit 0
PATH=$PATH:/usr/sbin:/sbin

ours() { # pid: is it a process of this cluster?
  [ -r "/proc/$1/cmdline" ] || return 1
  tr '\0' '\n' 2>/dev/null <"/proc/$1/cmdline" | grep -qF "$dir/" && return 0
  tr '\0' '\n' 2>/dev/null <"/proc/$1/environ" | grep -qxF "SLURM_CONF=$dir/slurm.conf"
}
stop_pid() { # pid: TERM, up to 5 s, then KILL
  [ -n "$1" ] && ours "$1" || return 0
  kill -TERM "$1" 2>/dev/null
  i=0
  while ours "$1" && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
  ours "$1" && kill -KILL "$1" 2>/dev/null
  return 0
}
pidof_file() { [ -r "$1" ] && head -n 1 "$1"; }

wd=$(pidof_file "$dir/watchdog.pid")
[ -n "$wd" ] && [ "$wd" != "$$" ] && [ "$wd" != "$PPID" ] && ours "$wd" && kill -KILL "$wd" 2>/dev/null

if [ -r "$dir/slurm.conf" ]; then
  export SLURM_CONF="$dir/slurm.conf"
  if scancel --quiet --user=root 2>/dev/null; then
    i=0
    while [ -n "$(squeue -h -o %i 2>/dev/null)" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
  fi
fi
stop_pid "$(pidof_file "$dir/slurmd.fg.pid")"
stop_pid "$(pidof_file "$dir/slurmctld.fg.pid")"
stop_pid "$(pidof_file "$dir/munge/munged.pid")"
# Job processes that outlived slurmd (they carry SLURM_CONF in their environment).
for p in /proc/[0-9]*; do
  p=${p#/proc/}
  [ "$p" = "$$" ] && continue
  [ "$p" = "$PPID" ] && continue
  tr '\0' '\n' 2>/dev/null <"/proc/$p/environ" | grep -qxF "SLURM_CONF=$dir/slurm.conf" && kill -KILL "$p" 2>/dev/null
done
rm -rf "$dir"
exit 0
