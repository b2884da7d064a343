#!/usr/bin/env bash
# Local stand-ins for AWS (moto server), MySQL (a throwaway MariaDB) and the
# director host the database is reached through (a throwaway OpenSSH sshd)
# for the test suite. Source it for the emu_* functions, or run it:
#   bash scripts/emulators.sh install   # venv with moto[server] + awscli, MariaDB and OpenSSH from apt
#   bash scripts/emulators.sh start     # start all three; prints `export K=V` lines on stdout
#   bash scripts/emulators.sh env       # `export K=V` lines for a running set
#   bash scripts/emulators.sh stop [RUN_DIR]   # default: $ANALYTICS_EMULATOR_RUN
#   bash scripts/emulators.sh reset     # wipe all moto state
# Everything lives under ${ANALYTICS_EMULATOR_HOME:-<repo>/.emulators}: the
# venv, a bin/ with only `aws` and `moto_server`, and one run.XXXXXX directory
# per started set (logs, PIDs, MariaDB data, the generated root password,
# sshd's config and keys). All servers listen on 127.0.0.1 only; passwords
# never go on a command line.

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    set -euo pipefail
fi

EMU_REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
# What goes into the venv; changing it makes emu_install reinstall.
EMU_PIP_REQUIREMENTS=('moto[server]>=5,<6' 'awscli')
EMU_START_TIMEOUT=30
EMU_STOP_TIMEOUT=10

_emu_log() { printf 'emulators: %s\n' "$*" >&2; }

_emu_home() {
    local home=${ANALYTICS_EMULATOR_HOME:-$EMU_REPO_ROOT/.emulators}
    mkdir -p "$home" && (cd "$home" && pwd -P)
}

_emu_as_root() {
    if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi
}

# Path of a MariaDB or OpenSSH tool (/usr/sbin is not on every PATH).
_emu_bin() {
    local name=$1 dir
    if command -v "$name" >/dev/null 2>&1; then command -v "$name"; return 0; fi
    for dir in /usr/sbin /usr/bin /usr/local/sbin /usr/local/bin; do
        if [[ -x $dir/$name ]]; then printf '%s\n' "$dir/$name"; return 0; fi
    done
    return 1
}

_emu_have_mariadb() {
    local tool
    for tool in mariadbd mariadb-install-db mariadb-admin mariadb; do
        _emu_bin "$tool" >/dev/null || return 1
    done
}

_emu_have_openssh() {
    local tool
    for tool in sshd ssh ssh-keygen; do
        _emu_bin "$tool" >/dev/null || return 1
    done
}

_emu_apt_install() {
    local log=$1; shift
    _emu_log "apt-get install $* (log: $log)"
    if ! _emu_as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >>"$log" 2>&1; then
        _emu_log "apt-get install failed; running apt-get update and retrying"
        if ! { _emu_as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q &&
               _emu_as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@"; } >>"$log" 2>&1; then
            _emu_log "apt-get install $* failed; last lines of $log:"
            tail -n 20 "$log" >&2
            return 1
        fi
    fi
}

# A python3 that can create venvs (with pip); installs python3-venv if needed.
_emu_venv_python() {
    local log=$1 py
    for py in "${ANALYTICS_EMULATOR_PYTHON:-}" python3 /usr/bin/python3; do
        [[ -n $py ]] || continue
        if "$py" -c 'import venv, ensurepip' >/dev/null 2>&1; then
            command -v "$py"
            return 0
        fi
    done
    _emu_apt_install "$log" python3 python3-venv || return 1
    printf '%s\n' /usr/bin/python3
}

_emu_venv_ok() {
    local home=$1 want
    want=$(printf '%s\n' "${EMU_PIP_REQUIREMENTS[@]}")
    [[ -x $home/venv/bin/moto_server && -x $home/venv/bin/aws ]] &&
        [[ -f $home/venv/.analytics-installed && "$(cat "$home/venv/.analytics-installed")" == "$want" ]] &&
        "$home/venv/bin/python" -c '' >/dev/null 2>&1
}

_emu_link_bins() {
    local home=$1 tool
    mkdir -p "$home/bin" || return 1
    for tool in aws moto_server; do
        ln -sfn "$home/venv/bin/$tool" "$home/bin/$tool" || return 1
    done
}

emu_install() {
    local home lock_fd py log rc=0 did
    home=$(_emu_home) || return 1
    if _emu_venv_ok "$home" && _emu_have_mariadb && _emu_have_openssh &&
        [[ -L $home/bin/aws && -L $home/bin/moto_server ]]; then
        return 0
    fi
    log=$home/install.log
    # One installer at a time per emulator home.
    exec {lock_fd}>"$home/.install.lock" || return 1
    flock "$lock_fd" || { exec {lock_fd}>&-; return 1; }
    (
        did=0
        if ! _emu_venv_ok "$home"; then
            did=1
            _emu_log "installing moto server and awscli into $home/venv (log: $log)"
            py=$(_emu_venv_python "$log") || exit 1
            rm -rf "$home/venv"
            "$py" -m venv "$home/venv" >>"$log" 2>&1 || { _emu_log "python3 -m venv failed, see $log"; exit 1; }
            if ! "$home/venv/bin/python" -m pip install --quiet --disable-pip-version-check \
                    "${EMU_PIP_REQUIREMENTS[@]}" >>"$log" 2>&1; then
                _emu_log "pip install failed; last lines of $log:"
                tail -n 20 "$log" >&2
                exit 1
            fi
            printf '%s\n' "${EMU_PIP_REQUIREMENTS[@]}" >"$home/venv/.analytics-installed"
        fi
        _emu_link_bins "$home" || exit 1
        if ! _emu_have_mariadb; then
            did=1
            _emu_apt_install "$log" mariadb-server mariadb-client || exit 1
            _emu_have_mariadb || { _emu_log "MariaDB tools still missing after install"; exit 1; }
        fi
        # Only the binaries are used (each set runs an sshd of its own). Like
        # mariadb-server, the package enables the system's own service where
        # an init system runs (in containers, policy-rc.d usually stops that).
        if ! _emu_have_openssh; then
            did=1
            _emu_apt_install "$log" openssh-server openssh-client || exit 1
            _emu_have_openssh || { _emu_log "OpenSSH tools still missing after install"; exit 1; }
        fi
        if ((did)); then _emu_log "install done"; fi
    ) || rc=$?
    exec {lock_fd}>&-
    return "$rc"
}

_emu_py() { "$(_emu_home)/venv/bin/python" "$@"; }

_emu_free_port() {
    _emu_py -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

# _emu_http METHOD URL: succeeds on a 2xx answer (ignores any proxy settings).
_emu_http() {
    _emu_py -c 'import sys, urllib.request
method, url = sys.argv[1], sys.argv[2]
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
req = urllib.request.Request(url, data=b"" if method == "POST" else None, method=method)
try:
    with opener.open(req, timeout=5) as r:
        sys.exit(0 if 200 <= r.status < 300 else 1)
except Exception:
    sys.exit(1)' "$1" "$2" 2>/dev/null
}

# _emu_alive PID NAME: PID is running (not a zombie) and its command line has NAME.
_emu_alive() {
    local pid=$1 name=$2 state cmdline
    [[ $pid =~ ^[0-9]+$ && -r /proc/$pid/stat ]] || return 1
    state=$(sed -E 's/^.*\) ([A-Za-z]).*$/\1/' "/proc/$pid/stat" 2>/dev/null) || return 1
    [[ $state != Z && $state != X ]] || return 1
    cmdline=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") || return 1
    [[ $cmdline == *"$name"* ]]
}

# Reap PID if it is a child of this shell (no-op otherwise).
_emu_reap() { wait "$1" 2>/dev/null || true; }

_emu_wait_gone() {
    local pid=$1 name=$2 deadline=$((SECONDS + $3))
    while _emu_alive "$pid" "$name"; do
        ((SECONDS < deadline)) || return 1
        sleep 0.1
    done
    _emu_reap "$pid"
}

# SIGTERM, wait, then SIGKILL.
_emu_kill() {
    local pid=$1 name=$2
    _emu_alive "$pid" "$name" || { _emu_reap "$pid"; return 0; }
    kill -TERM "$pid" 2>/dev/null || true
    _emu_wait_gone "$pid" "$name" "$EMU_STOP_TIMEOUT" && return 0
    _emu_log "$name (pid $pid) ignored SIGTERM for ${EMU_STOP_TIMEOUT}s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    _emu_wait_gone "$pid" "$name" 5
}

# PID and all its descendants (found through /proc: no procps needed), PID first.
_emu_tree() {
    local -A kids=()
    local f stat pid ppid queue=("$1")
    for f in /proc/[0-9]*/stat; do
        { stat=$(<"$f"); } 2>/dev/null || continue
        pid=${f#/proc/}; pid=${pid%/stat}
        stat=${stat##*) }
        read -r _ ppid _ <<<"$stat"
        kids[$ppid]+=" $pid"
    done
    while ((${#queue[@]})); do
        pid=${queue[0]}; queue=("${queue[@]:1}")
        printf '%s\n' "$pid"
        # shellcheck disable=SC2206 # a space-separated list of PIDs
        queue+=(${kids[$pid]:-})
    done
}

# _emu_kill_tree PID NAME: _emu_kill for PID and everything it forked, the
# descendants first (listed before any signal: a dead parent's children go to
# init and are lost; and the parent reaps them, so none stays a zombie).
_emu_kill_tree() {
    local pid=$1 name=$2 pids=() p
    _emu_alive "$pid" "$name" || { _emu_reap "$pid"; return 0; }
    mapfile -t pids < <(_emu_tree "$pid")
    if ((${#pids[@]} > 1)); then
        kill -TERM "${pids[@]:1}" 2>/dev/null || true
        # By PID only (a forwarded session may run a command that is not
        # sshd); moments after listing them, a PID is not reused yet.
        for p in "${pids[@]:1}"; do
            _emu_wait_gone "$p" "" 2 || { kill -KILL "$p" 2>/dev/null || true; _emu_wait_gone "$p" "" 5 || true; }
        done
        # A moment for PID to reap them (once it is gone, init has to).
        for p in "${pids[@]:1}"; do
            for _ in 1 2 3 4 5 6 7 8 9 10; do [[ -e /proc/$p ]] || break; sleep 0.02; done
        done
    fi
    _emu_kill "$pid" "$name"
}

_emu_spawn_moto() {
    local run=$1 home=$2 port
    port=$(_emu_free_port) || return 1
    # INT/HUP ignored: a Ctrl-C meant for the test command must not kill it.
    (trap '' INT HUP; exec env MOTO_IAM_LOAD_MANAGED_POLICIES=true \
        "$home/venv/bin/moto_server" -H 127.0.0.1 -p "$port") </dev/null >>"$run/moto.log" 2>&1 &
    printf '%s\n' "$!" >"$run/moto.pid"
    printf '%s\n' "$port" >"$run/moto.port"
}

# Waits for the moto_server spawned by _emu_spawn_moto (respawns it on another
# port if its port was taken in the meantime).
_emu_wait_moto() {
    local run=$1 home=$2 attempt port pid deadline
    for attempt in 1 2 3; do
        pid=$(cat "$run/moto.pid") && port=$(cat "$run/moto.port") || return 1
        deadline=$((SECONDS + EMU_START_TIMEOUT))
        while :; do
            if _emu_http GET "http://127.0.0.1:$port/moto-api/" && _emu_alive "$pid" moto_server; then
                return 0
            fi
            _emu_alive "$pid" moto_server || break
            if ((SECONDS >= deadline)); then
                _emu_log "moto_server did not answer on 127.0.0.1:$port within ${EMU_START_TIMEOUT}s; last lines of $run/moto.log:"
                tail -n 20 "$run/moto.log" >&2
                return 1
            fi
            sleep 0.2
        done
        _emu_reap "$pid"
        if ((attempt < 3)) && grep -q 'Address already in use' "$run/moto.log"; then
            _emu_log "port $port was taken; retrying moto_server on another port"
            _emu_spawn_moto "$run" "$home" || return 1
            continue
        fi
        _emu_log "moto_server exited at start; last lines of $run/moto.log:"
        tail -n 20 "$run/moto.log" >&2
        return 1
    done
    return 1
}

_emu_start_mariadb() {
    local run=$1 mariadbd install_db admin client datadir socket sockdir user_opt=()
    local attempt port pid deadline pw hosts host esc sql left
    if ! { mariadbd=$(_emu_bin mariadbd) && install_db=$(_emu_bin mariadb-install-db) &&
        admin=$(_emu_bin mariadb-admin) && client=$(_emu_bin mariadb); }; then
        _emu_log "MariaDB is not installed (run emu_install)"
        return 1
    fi
    datadir=$run/mysql-data
    socket=$run/mysql.sock
    if ((${#socket} > 100)); then # unix socket paths are limited to ~107 bytes
        sockdir=$(mktemp -d /tmp/analytics-emu.XXXXXX) || return 1
        printf '%s\n' "$sockdir" >"$run/mysql.sockdir"
        socket=$sockdir/mysql.sock
    fi
    printf '%s\n' "$socket" >"$run/mysql.socket"
    if [[ $(id -u) -eq 0 ]]; then user_opt=(--user=root); fi
    if ! "$install_db" --no-defaults --datadir="$datadir" --auth-root-authentication-method=normal \
            --skip-test-db "${user_opt[@]}" >"$run/mariadb-install.log" 2>&1; then
        _emu_log "mariadb-install-db failed; last lines of $run/mariadb-install.log:"
        tail -n 20 "$run/mariadb-install.log" >&2
        return 1
    fi
    for attempt in 1 2 3; do
        port=$(_emu_free_port) || return 1
        (trap '' INT HUP; exec "$mariadbd" --no-defaults --datadir="$datadir" --bind-address=127.0.0.1 \
            --port="$port" --socket="$socket" --pid-file="$run/mariadbd.server.pid" \
            --skip-name-resolve --skip-log-bin --character-set-server=utf8mb4 "${user_opt[@]}") \
            </dev/null >>"$run/mariadbd.log" 2>&1 &
        pid=$!
        printf '%s\n' "$pid" >"$run/mariadbd.pid"
        printf '%s\n' "$port" >"$run/mysql.port"
        deadline=$((SECONDS + EMU_START_TIMEOUT))
        while :; do
            if _emu_alive "$pid" mariadbd &&
                "$admin" --no-defaults --socket="$socket" --connect-timeout=2 ping >/dev/null 2>&1; then
                break 2
            fi
            _emu_alive "$pid" mariadbd || break
            if ((SECONDS >= deadline)); then
                _emu_log "mariadbd did not answer within ${EMU_START_TIMEOUT}s; last lines of $run/mariadbd.log:"
                tail -n 20 "$run/mariadbd.log" >&2
                return 1
            fi
            sleep 0.1
        done
        _emu_reap "$pid"
        if ((attempt < 3)) && grep -qiE 'address already in use|bind on tcp/ip port' "$run/mariadbd.log"; then
            _emu_log "port $port was taken; retrying mariadbd on another port"
            continue
        fi
        _emu_log "mariadbd exited at start; last lines of $run/mariadbd.log:"
        tail -n 20 "$run/mariadbd.log" >&2
        return 1
    done

    # Password on every root account (localhost, 127.0.0.1, ::1, host name),
    # no anonymous accounts. SQL goes over stdin, never argv. With
    # --skip-name-resolve the host-name account is not loaded, so ALTER USER
    # cannot reach it; it could never match a login here, so it is deleted.
    pw=$(_emu_py -c 'import secrets; print(secrets.token_urlsafe(18))') || return 1
    (umask 077 && printf '%s' "$pw" >"$run/mysql-root-password") || return 1
    chmod 600 "$run/mysql-root-password"
    hosts=$("$client" --no-defaults --socket="$socket" -uroot -N -B \
        -e "SELECT host FROM mysql.user WHERE user='root'") || return 1
    sql="DELETE FROM mysql.global_priv WHERE User='';"$'\n'"FLUSH PRIVILEGES;"$'\n'
    while IFS= read -r host; do
        [[ -n $host ]] || continue
        esc=${host//\\/\\\\}; esc=${esc//\'/\\\'}
        sql+="ALTER USER IF EXISTS 'root'@'$esc' IDENTIFIED BY '$pw';"$'\n'
    done <<<"$hosts"
    sql+="DELETE FROM mysql.global_priv WHERE User='root' AND Host IN"
    sql+=" (SELECT Host FROM (SELECT Host FROM mysql.user WHERE User='root' AND authentication_string='') AS t);"$'\n'
    sql+="FLUSH PRIVILEGES;"$'\n'
    sql+="SELECT COUNT(*) FROM mysql.user WHERE User='' OR (User='root' AND authentication_string='');"$'\n'
    if ! left=$(printf '%s' "$sql" | env -u MYSQL_PWD "$client" --no-defaults --socket="$socket" -uroot -N -B 2>&1); then
        _emu_log "could not set the MariaDB root password: ${left//"$pw"/<password>}"
        return 1
    fi
    if [[ $left != 0 ]]; then
        _emu_log "MariaDB still has root or anonymous accounts without a password: ${left//"$pw"/<password>}"
        return 1
    fi
    # Self-check: TCP root login must need the password, and work with it.
    if env -u MYSQL_PWD "$client" --no-defaults --protocol=TCP -h127.0.0.1 -P"$port" -uroot \
            -N -B -e 'SELECT 1' >/dev/null 2>&1; then
        _emu_log "MariaDB root login over TCP still works without a password; refusing to go on"
        return 1
    fi
    if ! MYSQL_PWD=$pw "$client" --no-defaults --protocol=TCP -h127.0.0.1 -P"$port" -uroot \
            -N -B -e 'SELECT 1' >/dev/null; then
        _emu_log "MariaDB root login over TCP with the generated password failed"
        return 1
    fi
}

# The director host's stand-in: an sshd on 127.0.0.1, run as the current user
# (root or not), from a config, host key, client key and authorized_keys of
# its own in RUN/ssh (nothing of /etc/ssh is read; StrictModes is off as RUN
# may sit in a group-writable tree). It takes the set's client key only,
# forwards local ports to loopback only, and logs to RUN/sshd.log at DEBUG1
# (VERBOSE leaves channels out): each forwarded channel is a line
# "server_request_direct_tcpip: originator 127.0.0.1 port P, target 127.0.0.1 port N".
# sshd needs its absolute path to re-exec itself.
_emu_prepare_sshd() {
    local run=$1 dir keygen user shadow
    dir=$run/ssh
    if ! { keygen=$(_emu_bin ssh-keygen) && _emu_bin sshd >/dev/null; }; then
        _emu_log "OpenSSH is not installed (run emu_install)"
        return 1
    fi
    user=$(id -un) || { _emu_log "the current user (uid $(id -u)) has no name; sshd cannot log it in"; return 1; }
    printf '%s\n' "$user" >"$run/sshd.user" || return 1
    # Without PAM, sshd refuses an account it sees locked (password field
    # "!..."; it sees it when it can read the shadow entry, e.g. as root).
    if shadow=$(getent shadow "$user" 2>/dev/null); then
        shadow=${shadow#*:}
        if [[ $shadow == '!'* ]]; then
            _emu_log "warning: the account $user is locked; the emulators' sshd (the director stand-in) will refuse it"
        fi
    fi
    mkdir -m 700 "$dir" || return 1
    if ! { "$keygen" -q -t ed25519 -N '' -C analytics-emulator-host -f "$dir/host_ed25519_key" &&
        "$keygen" -q -t ed25519 -N '' -C analytics-emulator-client -f "$dir/client_ed25519_key"; } </dev/null; then
        _emu_log "ssh-keygen failed"
        return 1
    fi
    (umask 077 && cp "$dir/client_ed25519_key.pub" "$dir/authorized_keys") || return 1
    # As root, sshd wants its privilege separation directory (made at boot
    # by the package's tmpfiles.d, which a container may never have run).
    if [[ $(id -u) -eq 0 && ! -d /run/sshd ]]; then
        mkdir -m 0755 /run/sshd || return 1
    fi
}

# OpenSSH 9.8 and later refuse a source address for a while after it
# connected without logging in (e.g. a test rejecting a changed host key);
# every client here is 127.0.0.1. Older versions do not know the option.
_emu_sshd_penalties_line() {
    local version major minor
    version=$("$(_emu_bin ssh)" -V 2>&1) || return 0
    [[ $version =~ OpenSSH_([0-9]+)\.([0-9]+) ]] || return 0
    major=${BASH_REMATCH[1]} minor=${BASH_REMATCH[2]}
    if ((major > 9 || (major == 9 && minor >= 8))); then printf 'PerSourcePenalties no\n'; fi
}

_emu_spawn_sshd() {
    local run=$1 dir sshd port
    dir=$run/ssh
    sshd=$(_emu_bin sshd) || return 1
    [[ $sshd == /* ]] || sshd=$(cd "$(dirname "$sshd")" && pwd -P)/$(basename "$sshd")
    port=$(_emu_free_port) || return 1
    rm -f "$dir/listening.pid"
    {
        printf '# The director stand-in of one emulator set; written by scripts/emulators.sh.\n'
        printf 'ListenAddress 127.0.0.1:%s\n' "$port"
        printf 'HostKey "%s"\n' "$dir/host_ed25519_key"
        printf '# Written once the port is bound: the readiness signal.\n'
        printf 'PidFile "%s"\n' "$dir/listening.pid"
        printf 'AuthorizedKeysFile "%s"\n' "$dir/authorized_keys"
        printf 'AllowUsers %s\n' "$(cat "$run/sshd.user")"
        printf 'AuthenticationMethods publickey\n'
        printf 'PasswordAuthentication no\nKbdInteractiveAuthentication no\nHostbasedAuthentication no\n'
        printf 'PermitRootLogin prohibit-password\nUsePAM no\nStrictModes no\n'
        printf 'AllowTcpForwarding local\nPermitOpen 127.0.0.1:* localhost:*\nGatewayPorts no\n'
        printf 'AllowStreamLocalForwarding no\nAllowAgentForwarding no\nX11Forwarding no\nPermitTunnel no\n'
        printf 'PermitUserEnvironment no\nPrintMotd no\nPrintLastLog no\n'
        _emu_sshd_penalties_line
        printf 'LogLevel DEBUG1\n'
    } >"$dir/sshd_config" || return 1
    # -D: no daemon, so $! is sshd itself. INT/HUP ignored, as for moto.
    # sshd.out gets only what comes before sshd's own log (a failed exec).
    (trap '' INT HUP; exec "$sshd" -D -f "$dir/sshd_config" -E "$run/sshd.log") \
        </dev/null >>"$run/sshd.out" 2>&1 &
    printf '%s\n' "$!" >"$run/sshd.pid"
    printf '%s\n' "$port" >"$run/sshd.port"
}

_emu_sshd_tail() {
    local run=$1
    tail -n 20 "$run/sshd.log" >&2 2>/dev/null
    if [[ -s $run/sshd.out ]]; then tail -n 5 "$run/sshd.out" >&2; fi
}

# Waits for the sshd spawned by _emu_spawn_sshd to listen (respawns it on
# another port if its port was taken in the meantime).
_emu_wait_sshd() {
    local run=$1 attempt port pid deadline
    for attempt in 1 2 3; do
        pid=$(cat "$run/sshd.pid") && port=$(cat "$run/sshd.port") || return 1
        deadline=$((SECONDS + EMU_START_TIMEOUT))
        while :; do
            if [[ -s $run/ssh/listening.pid && $(cat "$run/ssh/listening.pid") == "$pid" ]] &&
                _emu_alive "$pid" sshd; then
                return 0
            fi
            _emu_alive "$pid" sshd || break
            if ((SECONDS >= deadline)); then
                _emu_log "sshd did not listen on 127.0.0.1:$port within ${EMU_START_TIMEOUT}s; last lines of $run/sshd.log:"
                _emu_sshd_tail "$run"
                return 1
            fi
            sleep 0.05
        done
        _emu_reap "$pid"
        if ((attempt < 3)) && grep -q 'Address already in use' "$run/sshd.log"; then
            _emu_log "port $port was taken; retrying sshd on another port"
            _emu_spawn_sshd "$run" || return 1
            continue
        fi
        _emu_log "sshd exited at start; last lines of $run/sshd.log:"
        _emu_sshd_tail "$run"
        return 1
    done
    return 1
}

# Stale run dirs (servers gone, e.g. after a SIGKILLed wrapper) hold ~100 MB each.
_emu_prune_stale() {
    local home=$1 dir pid live
    for dir in "$home"/run.*; do
        [[ -f $dir/.analytics-emulator-run ]] || continue
        [[ -n $(find "$dir" -maxdepth 0 -mmin +2 2>/dev/null) ]] || continue
        live=0
        if [[ -f $dir/moto.pid ]]; then
            pid=$(cat "$dir/moto.pid"); _emu_alive "$pid" moto_server && live=1
        fi
        if [[ -f $dir/mariadbd.pid ]]; then
            pid=$(cat "$dir/mariadbd.pid"); _emu_alive "$pid" mariadbd && live=1
        fi
        if [[ -f $dir/sshd.pid ]]; then
            pid=$(cat "$dir/sshd.pid"); _emu_alive "$pid" sshd && live=1
        fi
        if ((live == 0)); then
            _emu_log "removing stale $dir"
            emu_stop "$dir" >/dev/null 2>&1 || true
        fi
    done
}

emu_start() {
    local home run t0=${EPOCHREALTIME/[.,]/} ds
    home=$(_emu_home) || return 1
    if ! _emu_venv_ok "$home"; then
        _emu_log "no emulator venv in $home/venv; run emu_install (bash scripts/emulators.sh install) first"
        return 1
    fi
    _emu_prune_stale "$home"
    run=$(mktemp -d "$home/run.XXXXXX") || return 1
    : >"$run/.analytics-emulator-run"
    export ANALYTICS_EMULATOR_RUN=$run
    : >"$run/aws-config"
    : >"$run/aws-credentials"
    # moto takes about a second to come up, sshd a few milliseconds: let
    # them do so while MariaDB starts.
    if ! _emu_spawn_moto "$run" "$home" || ! _emu_prepare_sshd "$run" || ! _emu_spawn_sshd "$run" ||
        ! _emu_start_mariadb "$run" || ! _emu_wait_sshd "$run" || ! _emu_wait_moto "$run" "$home"; then
        _emu_log "start failed; cleaning up"
        emu_stop "$run"
        return 1
    fi
    eval "$(_emu_env_lines "$run")" || { emu_stop "$run"; return 1; }
    ds=$(((${EPOCHREALTIME/[.,]/} - t0) / 100000))
    _emu_log "moto on $ANALYTICS_MOTO_URL, MariaDB on 127.0.0.1:$ANALYTICS_TEST_MYSQL_PORT, sshd on 127.0.0.1:$ANALYTICS_TEST_SSH_PORT (run dir $run; up in $((ds / 10)).$((ds % 10)) s)"
}

# `export K=V` lines for the set in RUN (values shell-quoted).
_emu_env_lines() {
    local run=$1 home moto_port mysql_port socket ssh_port ssh_user key_type key_b64 var path_rest
    home=$(_emu_home) || return 1
    moto_port=$(cat "$run/moto.port") && mysql_port=$(cat "$run/mysql.port") &&
        socket=$(cat "$run/mysql.socket") && ssh_port=$(cat "$run/sshd.port") &&
        ssh_user=$(cat "$run/sshd.user") && read -r key_type key_b64 _ <"$run/ssh/host_ed25519_key.pub" ||
        return 1
    printf 'export %s=%q\n' \
        ANALYTICS_EMULATOR_RUN "$run" \
        AWS_ENDPOINT_URL "http://127.0.0.1:$moto_port" \
        ANALYTICS_MOTO_URL "http://127.0.0.1:$moto_port" \
        AWS_ACCESS_KEY_ID testing \
        AWS_SECRET_ACCESS_KEY testing \
        AWS_REGION us-east-1 \
        AWS_DEFAULT_REGION us-east-1 \
        AWS_EC2_METADATA_DISABLED true \
        AWS_CONFIG_FILE "$run/aws-config" \
        AWS_SHARED_CREDENTIALS_FILE "$run/aws-credentials" \
        ANALYTICS_TEST_MYSQL_HOST 127.0.0.1 \
        ANALYTICS_TEST_MYSQL_PORT "$mysql_port" \
        ANALYTICS_TEST_MYSQL_ADMIN_USER root \
        ANALYTICS_TEST_MYSQL_ADMIN_PASSWORD_FILE "$run/mysql-root-password" \
        ANALYTICS_TEST_MYSQL_SOCKET "$socket" \
        ANALYTICS_TEST_SSH_HOST 127.0.0.1 \
        ANALYTICS_TEST_SSH_PORT "$ssh_port" \
        ANALYTICS_TEST_SSH_USER "$ssh_user" \
        ANALYTICS_TEST_SSH_KEY "$run/ssh/client_ed25519_key" \
        ANALYTICS_TEST_SSH_LOG "$run/sshd.log" \
        ANALYTICS_TEST_SSH_HOST_KEY_PUB "$key_type $key_b64"
    # Prepend our bin/ (only `aws` and `moto_server` live there), once.
    path_rest=":$PATH:"
    path_rest=${path_rest//":$home/bin:"/:}
    path_rest=${path_rest#:}; path_rest=${path_rest%:}
    printf 'export PATH=%q\n' "$home/bin${path_rest:+:$path_rest}"
    # Nothing from the machine's own AWS setup may redirect or sign the calls.
    printf 'unset AWS_PROFILE AWS_SESSION_TOKEN AWS_DEFAULT_PROFILE AWS_SECURITY_TOKEN'
    printf ' AWS_ROLE_ARN AWS_WEB_IDENTITY_TOKEN_FILE AWS_CONTAINER_CREDENTIALS_RELATIVE_URI'
    printf ' AWS_CONTAINER_CREDENTIALS_FULL_URI AWS_IGNORE_CONFIGURED_ENDPOINT_URLS'
    for var in $(compgen -e); do
        [[ $var == AWS_ENDPOINT_URL_* ]] && printf ' %s' "$var"
    done
    printf '\n'
}

# The run dir to act on: $ANALYTICS_EMULATOR_RUN, else the newest live set.
_emu_find_run() {
    local home dir best="" n=0
    if [[ -n ${ANALYTICS_EMULATOR_RUN:-} ]]; then
        if [[ -f $ANALYTICS_EMULATOR_RUN/.analytics-emulator-run ]]; then
            printf '%s\n' "$ANALYTICS_EMULATOR_RUN"
            return 0
        fi
        _emu_log "ANALYTICS_EMULATOR_RUN=$ANALYTICS_EMULATOR_RUN is not a running emulator set"
        return 1
    fi
    home=$(_emu_home) || return 1
    for dir in "$home"/run.*; do
        [[ -f $dir/.analytics-emulator-run && -f $dir/moto.pid && -f $dir/mysql.port ]] || continue
        _emu_alive "$(cat "$dir/moto.pid")" moto_server || continue
        n=$((n + 1))
        if [[ -z $best || $dir -nt $best ]]; then best=$dir; fi
    done
    if [[ -z $best ]]; then
        _emu_log "no running emulators under $home; start them with: bash scripts/with-emulators.sh --keep true"
        return 1
    fi
    ((n == 1)) || _emu_log "$n emulator sets are running; using the newest, $best"
    printf '%s\n' "$best"
}

emu_env() {
    local run
    run=$(_emu_find_run) || return 1
    _emu_env_lines "$run"
}

# emu_stop [RUN_DIR]: stop the set in RUN_DIR (default $ANALYTICS_EMULATOR_RUN)
# and remove it. Safe to call twice or after a half-done start.
emu_stop() {
    local run=${1:-${ANALYTICS_EMULATOR_RUN:-}} pid socket admin rc=0
    [[ -n $run && -d $run ]] || return 0
    if [[ ! -f $run/.analytics-emulator-run || $(basename "$run") != run.* ]]; then
        _emu_log "stop: $run is not an emulator run dir; leaving it alone"
        return 1
    fi
    # moto takes 1 to 3 s to exit after SIGTERM: start that first.
    if [[ -f $run/moto.pid ]]; then
        pid=$(cat "$run/moto.pid")
        if _emu_alive "$pid" moto_server; then kill -TERM "$pid" 2>/dev/null || true; fi
    fi
    # sshd with its per-connection children (still open tunnels).
    if [[ -f $run/sshd.pid ]]; then
        _emu_kill_tree "$(cat "$run/sshd.pid")" sshd || rc=1
    fi
    if [[ -f $run/mariadbd.pid ]]; then
        pid=$(cat "$run/mariadbd.pid")
        if _emu_alive "$pid" mariadbd; then
            socket=$(cat "$run/mysql.socket" 2>/dev/null || true)
            if admin=$(_emu_bin mariadb-admin) && [[ -n $socket && -S $socket ]]; then
                if [[ -s $run/mysql-root-password ]]; then
                    MYSQL_PWD=$(cat "$run/mysql-root-password") "$admin" --no-defaults --socket="$socket" \
                        -uroot --connect-timeout=5 shutdown >/dev/null 2>&1 ||
                        env -u MYSQL_PWD "$admin" --no-defaults --socket="$socket" \
                            -uroot --connect-timeout=5 shutdown >/dev/null 2>&1 || true
                else
                    env -u MYSQL_PWD "$admin" --no-defaults --socket="$socket" \
                        -uroot --connect-timeout=5 shutdown >/dev/null 2>&1 || true
                fi
            fi
            if ! _emu_wait_gone "$pid" mariadbd "$EMU_STOP_TIMEOUT"; then
                _emu_kill "$pid" mariadbd || rc=1
            fi
        fi
        _emu_reap "$pid"
    fi
    if [[ -f $run/moto.pid ]]; then
        pid=$(cat "$run/moto.pid")
        _emu_kill "$pid" moto_server || rc=1
    fi
    if ((rc != 0)); then
        _emu_log "stop: a server in $run would not exit; keeping the dir"
        return 1
    fi
    if [[ -f $run/mysql.sockdir ]]; then
        socket=$(cat "$run/mysql.sockdir")
        [[ $socket == /tmp/analytics-emu.* ]] && rm -rf "$socket"
    fi
    rm -rf "$run"
    if [[ ${ANALYTICS_EMULATOR_RUN:-} == "$run" ]]; then
        unset ANALYTICS_EMULATOR_RUN ANALYTICS_MOTO_URL AWS_ENDPOINT_URL \
            ANALYTICS_TEST_MYSQL_PORT ANALYTICS_TEST_MYSQL_SOCKET ANALYTICS_TEST_MYSQL_ADMIN_PASSWORD_FILE \
            ANALYTICS_TEST_SSH_PORT ANALYTICS_TEST_SSH_KEY ANALYTICS_TEST_SSH_LOG ANALYTICS_TEST_SSH_HOST_KEY_PUB
    fi
}

# emu_runbook_env DIR: exports deploy.sh's settings for this emulator set (the
# set's environment must be exported already): the local MariaDB stands in
# for the RDS endpoint and for edxapp's database, edxapp's migration password
# is generated into DIR/edxapp (0600), the reports bucket is on, and the
# hosts use an image moto has (it ships only old Canonical ones; on AWS leave
# the default, 24.04).
emu_runbook_env() {
    local dir=$1
    export ANALYTICS_REPORTS=1 ANALYTICS_UBUNTU_RELEASE=16.04
    export ANALYTICS_DB_HOST=$ANALYTICS_TEST_MYSQL_HOST ANALYTICS_DB_PORT=$ANALYTICS_TEST_MYSQL_PORT
    export ANALYTICS_DB_ADMIN_USER=$ANALYTICS_TEST_MYSQL_ADMIN_USER
    MYSQL_PWD=$(cat "$ANALYTICS_TEST_MYSQL_ADMIN_PASSWORD_FILE")
    export MYSQL_PWD
    export EDXAPP_DB_HOST=$ANALYTICS_TEST_MYSQL_HOST EDXAPP_DB_PORT=$ANALYTICS_TEST_MYSQL_PORT
    export EDXAPP_DB_ADMIN_USER=$ANALYTICS_TEST_MYSQL_ADMIN_USER
    export EDXAPP_DB_ADMIN_PASSWORD_FILE=$ANALYTICS_TEST_MYSQL_ADMIN_PASSWORD_FILE
    mkdir -p "$dir/edxapp" && chmod 700 "$dir/edxapp"
    (umask 077 && head -c 18 /dev/urandom | base64 | tr '+/' '-_' >"$dir/edxapp/migrate-password")
    export EDXAPP_MIGRATION_USER=edxapp001 EDXAPP_MIGRATION_PASSWORD_FILE=$dir/edxapp/migrate-password
}

# Wipe all moto state (between tests).
emu_reset() {
    local url=${ANALYTICS_MOTO_URL:-} run
    if [[ -z $url ]]; then
        run=$(_emu_find_run) || return 1
        url="http://127.0.0.1:$(cat "$run/moto.port")"
    fi
    _emu_http POST "$url/moto-api/reset" || { _emu_log "reset: POST $url/moto-api/reset failed"; return 1; }
}

_emu_main() {
    local cmd=${1:-}
    shift || true
    case $cmd in
    install) emu_install ;;
    start)
        emu_install
        emu_start
        _emu_env_lines "$ANALYTICS_EMULATOR_RUN"
        _emu_log "running and kept; in a shell: eval \"\$(bash $EMU_REPO_ROOT/scripts/emulators.sh env)\""
        _emu_log "stop with: ANALYTICS_EMULATOR_RUN=$ANALYTICS_EMULATOR_RUN bash $EMU_REPO_ROOT/scripts/emulators.sh stop"
        ;;
    stop)
        if [[ -z ${1:-${ANALYTICS_EMULATOR_RUN:-}} ]]; then
            _emu_log "stop: which set? give its run dir, or set ANALYTICS_EMULATOR_RUN (as printed by start / --keep)"
            return 1
        fi
        emu_stop "$@"
        ;;
    reset) emu_reset ;;
    env) emu_env ;;
    *)
        printf 'usage: %s install|start|stop [RUN_DIR]|reset|env\n' "$0" >&2
        return 2
        ;;
    esac
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    _emu_main "$@"
fi
