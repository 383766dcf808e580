#!/usr/bin/env bash
# Start a single-node Slurm cluster on localhost for the CI test of `snakemake --profile slurm` (tests/test_slurm.py):
# munge, a private MariaDB on 127.0.0.1, slurmdbd (accounting, which the Slurm plugin's sacct polling needs),
# slurmctld and slurmd. Debian 12 / Slurm 22.05, run as root, no systemd.
#
# Idempotent: daemons already running from an earlier start are left as they are. Each daemon this script starts
# has its pid file under $GALSSL_SLURM_STATE/pids; tests/slurm/stop.sh stops exactly those. Config files it writes
# (/etc/slurm/{slurm,slurmdbd,gres}.conf) carry a marker line; it refuses to overwrite files without it, so a real
# cluster's configuration is never touched.
#
# The node declares four fake GPUs (gres.conf File= entries pointing at character devices made here) so GPU rules'
# `sbatch --gpus=1` is scheduled as on a GPU cluster; torch still finds no CUDA and trains on the CPU.
set -euo pipefail

STATE=${GALSSL_SLURM_STATE:-/tmp/galssl-slurm}
DB_PORT=${GALSSL_SLURM_DB_PORT:-33061}
MARKER="# galssl-test-cluster: written by tests/slurm/start.sh, removed by tests/slurm/stop.sh"
PIDS=$STATE/pids
LOGS=$STATE/log

say() { echo "slurm-test: $*" >&2; }
die() { say "error: $*"; exit 1; }
alive() { [[ -s $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }
wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...
    local seconds=$1 what=$2; shift 2
    for ((i = 0; i < seconds * 4; i++)); do "$@" >/dev/null 2>&1 && return 0; sleep 0.25; done
    die "$what did not come up within ${seconds}s (logs: $LOGS)"
}

[[ $(id -u) == 0 ]] || die "must run as root (it installs packages and starts daemons)"

# 1. Packages (about 20 s the first time).
if ! command -v slurmctld slurmd slurmdbd sbatch munged mariadbd >/dev/null 2>&1; then
    say "installing munge, Slurm and MariaDB"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends munge slurmctld slurmd slurm-client slurmdbd mariadb-server \
        >"${TMPDIR:-/tmp}/galssl-slurm-apt.log" 2>&1 || die "apt-get install failed (see ${TMPDIR:-/tmp}/galssl-slurm-apt.log)"
fi

# 2. The host's own name must resolve (srun connects back to it).
getent hosts "$(hostname)" >/dev/null || die "host name $(hostname) does not resolve; add it to /etc/hosts"

mkdir -p "$PIDS" "$LOGS" "$STATE/ctld" "$STATE/spool" "$STATE/dev" /etc/slurm
write_conf() {  # write_conf PATH MODE: stdin -> PATH, only over our own (marked) files
    local path=$1 mode=$2 tmp
    if [[ -e $path ]] && ! grep -qF "$MARKER" "$path"; then
        die "$path exists and was not written by this script; refusing to replace a real Slurm configuration"
    fi
    tmp=$(mktemp "$path.XXXXXX"); { echo "$MARKER"; cat; } >"$tmp"; chmod "$mode" "$tmp"
    if [[ -e $path ]] && cmp -s "$tmp" "$path"; then rm -f "$tmp"; else mv "$tmp" "$path"; CONF_CHANGED=1; fi
}
restart_if_changed() {  # a running daemon of ours reads its config only at start
    local name=$1 pid
    [[ $CONF_CHANGED == 1 ]] && alive "$PIDS/$name.pid" || return 0
    pid=$(cat "$PIDS/$name.pid"); say "config changed: restarting $name"
    kill -TERM "$pid"; for ((i = 0; i < 80; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    rm -f "$PIDS/$name.pid"
}
CONF_CHANGED=0

# The node declares OVERSUBSCRIBE (default 4) times its cores and 85 % of its memory, so that the tiny workflow's
# jobs (which ask for 2 cores and 2-12 GB each but use far less) run side by side instead of one at a time; without
# cgroups nothing enforces the limits. GALSSL_SLURM_OVERSUBSCRIBE=1 declares the machine as it is.
OVERSUBSCRIBE=${GALSSL_SLURM_OVERSUBSCRIBE:-4}
CPUS=$(($(nproc) * OVERSUBSCRIBE))
REAL_MEMORY=$(awk -v factor="$OVERSUBSCRIBE" '/MemTotal/ {print int($2 / 1024 * 0.85 * factor)}' /proc/meminfo)
for gpu in 0 1 2 3; do [[ -c $STATE/dev/gpu$gpu ]] || mknod "$STATE/dev/gpu$gpu" c 1 3; done  # like /dev/null

write_conf /etc/slurm/slurm.conf 644 <<CONF
ClusterName=galssl
SlurmctldHost=localhost
SlurmUser=root
AuthType=auth/munge
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/spool
SlurmctldPidFile=$PIDS/slurmctld.pid
SlurmdPidFile=$PIDS/slurmd.pid
SlurmctldLogFile=$LOGS/slurmctld.log
SlurmdLogFile=$LOGS/slurmd.log
# No cgroups in a container: track processes by parentage, no task binding.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
# Reject a job larger than the node at submission instead of letting it pend forever.
EnforcePartLimits=ALL
SlurmdParameters=config_overrides
ReturnToService=2
MpiDefault=none
SwitchType=switch/none
JobAcctGatherType=jobacct_gather/linux
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStorageTRES=gres/gpu
# sacct shows the Slurm plugin's --comment (rule name and wildcards) of each job.
AccountingStoreFlags=job_comment
JobCompType=jobcomp/none
SchedulerType=sched/backfill
KillWait=10
GresTypes=gpu
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$REAL_MEMORY Gres=gpu:4 State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF
write_conf /etc/slurm/gres.conf 644 <<CONF
NodeName=localhost Name=gpu File=$STATE/dev/gpu[0-3]
CONF
write_conf /etc/slurm/slurmdbd.conf 600 <<CONF
AuthType=auth/munge
DbdHost=localhost
SlurmUser=root
PidFile=$PIDS/slurmdbd.pid
LogFile=$LOGS/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$DB_PORT
StorageUser=slurm
StoragePass=galssl-test
StorageLoc=slurm_acct_db
CONF

# 3. munge: reuse a running one (its socket answers), else start our own.
if ! munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; then
    install -d -o munge -g munge -m 0755 /run/munge
    runuser -u munge -- munged --force
    wait_for 10 munged sh -c 'munge -n </dev/null | unmunge'
    cp /run/munge/munged.pid "$PIDS/munged.pid"
fi

# 4. MariaDB with its own data directory, socket and port, on 127.0.0.1 only.
if ! alive "$PIDS/mariadbd.pid"; then
    if [[ ! -d $STATE/mysql/mysql ]]; then
        mariadb-install-db --user=root --datadir="$STATE/mysql" --auth-root-authentication-method=normal \
            --skip-test-db >"$LOGS/mariadb-install.log" 2>&1 || die "mariadb-install-db failed (see $LOGS)"
    fi
    setsid mariadbd --no-defaults --user=root --datadir="$STATE/mysql" --socket="$STATE/mysqld.sock" \
        --port="$DB_PORT" --bind-address=127.0.0.1 --pid-file="$PIDS/mariadbd.pid" \
        --log-error="$LOGS/mariadbd.log" --innodb-buffer-pool-size=64M </dev/null >/dev/null 2>&1 &
    wait_for 60 mariadbd mariadb-admin --socket="$STATE/mysqld.sock" -u root ping
fi
mariadb --socket="$STATE/mysqld.sock" -u root <<SQL
CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY 'galssl-test';
CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY 'galssl-test';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';
SQL

# 5. Slurm daemons (each writes the pid file named in its config).
for daemon in slurmd slurmctld slurmdbd; do restart_if_changed "$daemon"; done
if ! alive "$PIDS/slurmdbd.pid"; then
    slurmdbd
    wait_for 60 slurmdbd sacctmgr -n list cluster
fi
sacctmgr -n list cluster format=cluster | grep -qw galssl || sacctmgr -i add cluster galssl >/dev/null
if ! alive "$PIDS/slurmctld.pid"; then
    slurmctld
    wait_for 60 slurmctld scontrol ping
fi
if ! alive "$PIDS/slurmd.pid"; then
    slurmd -N localhost
fi
wait_for 60 "node localhost" sh -c 'sinfo -h -N -o %T | grep -qE "^(idle|mixed|allocated)"'
say "cluster up: $(sinfo -h -o '%P %D %T %C' | head -1) (state in $STATE)"
