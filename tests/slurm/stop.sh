#!/usr/bin/env bash
# Stop the daemons tests/slurm/start.sh started — only those, by the pid files under $GALSSL_SLURM_STATE/pids
# (a daemon that was already running before start.sh has no pid file there and is left alone) — and remove the
# config files it wrote (marked ones only). Idempotent. `stop.sh --purge` also deletes the state directory
# (accounting database, Slurm state).
set -euo pipefail

STATE=${GALSSL_SLURM_STATE:-/tmp/galssl-slurm}
MARKER="# galssl-test-cluster: written by tests/slurm/start.sh, removed by tests/slurm/stop.sh"
PIDS=$STATE/pids

stop() {  # stop NAME: TERM the pid in pids/NAME.pid if that process is NAME, wait, KILL if it lingers
    local name=$1 file=$PIDS/$1.pid pid
    [[ -s $file ]] || return 0
    pid=$(cat "$file")
    if kill -0 "$pid" 2>/dev/null && [[ $(cat "/proc/$pid/comm" 2>/dev/null) == "$name" ]]; then
        kill -TERM "$pid"
        for ((i = 0; i < 80; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
        echo "slurm-test: stopped $name ($pid)" >&2
    fi
    rm -f "$file"
}

for daemon in slurmd slurmctld slurmdbd mariadbd munged; do stop "$daemon"; done
for conf in /etc/slurm/slurm.conf /etc/slurm/gres.conf /etc/slurm/slurmdbd.conf; do
    [[ -f $conf ]] && grep -qF "$MARKER" "$conf" && rm -f "$conf"
done
if [[ ${1:-} == --purge ]]; then rm -rf "$STATE"; fi
exit 0
