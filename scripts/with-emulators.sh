#!/usr/bin/env bash
# Runs a command with the local AWS (moto server) and MySQL (MariaDB)
# emulators: installs them if needed, starts a fresh set, exports its
# environment (see scripts/emulators.sh), runs CMD, and stops the set when CMD
# ends, fails or is interrupted. Exits with CMD's status.
#   bash scripts/with-emulators.sh [--keep] CMD [ARGS...]
# With --keep the set stays up afterwards; stderr says how to use and stop it.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
# shellcheck source=scripts/emulators.sh
source "$REPO_ROOT/scripts/emulators.sh"

keep=0
if [[ ${1:-} == --keep ]]; then
    keep=1
    shift
fi
if [[ ${1:-} == -- ]]; then
    shift
fi
if (($# == 0)); then
    echo "usage: $0 [--keep] CMD [ARGS...]" >&2
    exit 2
fi

child=""
started=0
# Never act on (or stop) a set inherited from the caller's environment.
unset ANALYTICS_EMULATOR_RUN

# shellcheck disable=SC2317 # run by trap
on_exit() {
    local status=$?
    trap - EXIT INT TERM
    if ((keep && started)); then
        _emu_log "kept running (run dir $ANALYTICS_EMULATOR_RUN)."
        _emu_log "use it in a shell:  eval \"\$(bash $REPO_ROOT/scripts/emulators.sh env)\""
        _emu_log "stop it:            ANALYTICS_EMULATOR_RUN=$ANALYTICS_EMULATOR_RUN bash $REPO_ROOT/scripts/emulators.sh stop"
    elif [[ -n ${ANALYTICS_EMULATOR_RUN:-} ]]; then
        emu_stop || true
    fi
    exit "$status"
}

# Pass the signal on to CMD and everything it started, wait for them, exit.
# shellcheck disable=SC2317 # run by trap
on_signal() {
    local sig=$1 code=$2 pids=() pid deadline=$((SECONDS + 10))
    trap - INT TERM
    if [[ -n $child ]] && kill -0 "$child" 2>/dev/null; then
        mapfile -t pids < <(_emu_tree "$child")
        kill -s "$sig" "${pids[@]}" 2>/dev/null || true
        wait "$child" 2>/dev/null || true
        for pid in "${pids[@]}"; do
            while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
        done
    fi
    exit "$code"
}

trap on_exit EXIT
trap 'on_signal INT 130' INT
trap 'on_signal TERM 143' TERM

emu_install
emu_start
started=1

# CMD runs in the background so that a signal to this script is handled at
# once; it gets back the default SIGINT/SIGQUIT and this script's stdin.
if [[ -e /dev/fd/0 ]]; then # bash checks fd 0 itself here
    (trap - INT QUIT; exec "$@") <&0 &
else
    (trap - INT QUIT; exec "$@") </dev/null &
fi
child=$!
status=0
wait "$child" || status=$?
child=""
exit "$status"
