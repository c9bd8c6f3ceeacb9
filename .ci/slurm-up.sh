#!/usr/bin/env bash
# Brings up a one-node SLURM cluster on this machine (Debian, as root) so that a test can
# submit docs/cluster/*.sbatch exactly as docs/cluster.md says. Idempotent: a second run
# leaves running daemons alone, restarting them only when the configuration changed.
# Finished jobs stay visible to `scontrol show job ID` for an hour (MinJobAge); there is no
# accounting database, so `sacct` does not work. Logs: /var/log/slurm/.
set -euo pipefail

conf=/etc/slurm/slurm.conf
logs=/var/log/slurm
start=$SECONDS

missing=""
for pkg in slurm-wlm munge; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing="$missing $pkg"
done
if [ -n "$missing" ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-cache show slurm-wlm >/dev/null 2>&1 || apt-get update -qq
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# munge authenticates every SLURM message; Debian's package usually creates the key.
if [ ! -s /etc/munge/munge.key ]; then
  mungekey --create --keyfile=/etc/munge/munge.key 2>/dev/null ||
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
fi
chown munge:munge /etc/munge/munge.key
chmod 0400 /etc/munge/munge.key

host=$(hostname -s)
cpus=$(nproc)
# A little under the machine's memory, so slurmd never finds less than configured.
memory=$(free -m | awk '/^Mem:/ { print int($2 * 0.95) }')

install -d -m 0755 /etc/slurm "$logs" /var/spool/slurmctld /var/spool/slurmd
new=$(mktemp)
trap 'rm -f "$new"' EXIT
cat >"$new" <<EOF
# Written by .ci/slurm-up.sh: a one-node CI cluster.
ClusterName=ci
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=$logs/slurmctld.log
SlurmdLogFile=$logs/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$logs/jobcomp.log
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
MinJobAge=3600
SlurmdTimeout=60
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$memory State=UNKNOWN
PartitionName=ci Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF

# Whether process $1 exists and is no zombie.
alive() {
  [ -n "$1" ] && [ -e "/proc/$1/stat" ] && [ "$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null)" != Z ]
}
# Whether the daemon whose pid file is $1 runs the program $2.
running() {
  local pid
  pid=$(cat "$1" 2>/dev/null) || return 1
  alive "$pid" && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ]
}
# Stops the daemon whose pid file is $1 (running $2), waiting up to 10 s for it to exit.
stop() {
  running "$1" "$2" || return 0
  local pid
  pid=$(cat "$1")
  kill "$pid"
  for _ in $(seq 100); do
    alive "$pid" || return 0
    sleep 0.1
  done
  kill -9 "$pid" 2>/dev/null || true
}

if ! cmp -s "$new" "$conf"; then
  stop /run/slurmd.pid slurmd
  stop /run/slurmctld.pid slurmctld
  install -m 0644 "$new" "$conf"
fi

if ! running /run/munge/munged.pid munged; then
  install -d -o munge -g munge -m 0755 /run/munge
  runuser -u munge -- /usr/sbin/munged
fi
# -c: a newly started controller forgets the jobs and node state of any earlier cluster.
running /run/slurmctld.pid slurmctld || slurmctld -c
running /run/slurmd.pid slurmd || slurmd

state=""
deadline=$((SECONDS + 60))
while [ "$SECONDS" -lt "$deadline" ]; do
  state=$(timeout 10 sinfo -h -o %T 2>/dev/null || true)
  case "$state" in
  idle | mixed | allocated | completing)
    echo "slurm: one-node cluster up on $host ($cpus CPUs, $memory MB, partition ci, slurm $(sinfo -V | cut -d' ' -f2)) after $((SECONDS - start)) s"
    exit 0
    ;;
  down | drained | draining | drain)
    # A node the controller once marked down (say, it restarted) is put back in service.
    scontrol update NodeName="$host" State=RESUME 2>/dev/null || true
    ;;
  esac
  sleep 0.5
done
echo "slurm-up: node $host is not idle after 60 s (state: ${state:-no answer from slurmctld}); see $logs/slurmctld.log and $logs/slurmd.log" >&2
tail -n 5 "$logs/slurmctld.log" "$logs/slurmd.log" >&2 2>/dev/null || true
exit 1
