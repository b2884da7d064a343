#!/usr/bin/env bash
# bench.sh: how much faster deploy.sh is than the same deployment made with the
# AWS CLI, one command at a time, as an operator scripts the manual runbook
# (scripts/bench/aws-cli-deploy.sh). Not part of the test run.
#
# On the local emulators (moto server, MariaDB standing in for RDS, the same
# settings as demo.sh), each round:
#   1. resets the emulators, then times deploy.sh on them (first run) and
#      again (re-run: must make no mutating call);
#   2. resets them, then times aws-cli-deploy.sh, counting its `aws` and
#      `mariadb` commands.
# Half the rounds run the AWS CLI script first. Prints each round's times, the
# median ratio (AWS CLI / deploy.sh), the re-run time and the API calls of
# each; exits non-zero if any run failed.
#
#   bash scripts/bench.sh [--rounds N] [--cold] [--deploy-script FILE]
#
#   --rounds N            rounds to run (default 3)
#   --cold                no emulator warm-up (see below)
#   --deploy-script FILE  time FILE instead of scripts/deploy.sh, e.g. an older
#                         version: git show HEAD~1:scripts/deploy.sh >/tmp/old.sh
#
# Warm-up: moto loads each service's code on its first request, and after a
# reset it rebuilds its backends lazily: the second request it serves then
# takes about a second and a half of its CPU, whatever the request. Neither
# cost has a counterpart on AWS, so bench.sh first runs deploy.sh once
# untimed, and after each reset makes two read-only calls (aws sts
# get-caller-identity) before timing anything: both scripts start from the
# same empty, warm emulator. --cold skips both: each script's first run then
# includes the rebuilding, and round 1's first script the loading.
#
# Started through scripts/with-emulators.sh unless ANALYTICS_MOTO_URL is set,
# in which case that emulator set is used, and reset.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
rounds=3 cold=0 deploy_script=$REPO_ROOT/scripts/deploy.sh
args=("$@")
while (($#)); do
    case $1 in
    --rounds)
        [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || { echo "bench.sh: --rounds needs a positive number" >&2; exit 2; }
        rounds=$2
        shift 2
        ;;
    --cold) cold=1; shift ;;
    --deploy-script)
        [[ -r ${2:-} ]] || { echo "bench.sh: --deploy-script needs a readable file" >&2; exit 2; }
        deploy_script=$(cd "$(dirname "$2")" && pwd -P)/$(basename "$2")
        shift 2
        ;;
    -h | --help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done

if [[ -z ${ANALYTICS_MOTO_URL:-} ]]; then
    exec bash "$REPO_ROOT/scripts/with-emulators.sh" bash "$REPO_ROOT/scripts/bench.sh" "${args[@]}"
fi

# shellcheck source=scripts/emulators.sh
source "$REPO_ROOT/scripts/emulators.sh"
say() { echo "bench.sh: $*" >&2; }

cd "$REPO_ROOT"
say "building the tools (cargo build --workspace --bins: the debug profile, as test.sh and demo.sh use)"
cargo build --quiet --workspace --bins
export PATH="$REPO_ROOT/target/debug:$PATH"

work=$(mktemp -d "${TMPDIR:-/tmp}/analytics-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

# The settings of demo.sh: the local MariaDB stands in for the RDS endpoint and
# for edxapp's database; moto has only old Canonical images.
export ANALYTICS_CLIENT=bench
emu_runbook_env "$work"

# `aws` and `mariadb` through a shim that counts them (one line per command).
real_aws=$(command -v aws)
real_mariadb=$(_emu_bin mariadb)
mkdir "$work/shim"
for tool in aws mariadb; do
    real=$real_aws
    [[ $tool == mariadb ]] && real=$real_mariadb
    # shellcheck disable=SC2016 # $1, $2, $@ and $BENCH_COMMANDS belong to the shim
    printf '#!/bin/sh\necho "%s $1 $2" >>"$BENCH_COMMANDS"\nexec "%s" "$@"\n' "$tool" "$real" >"$work/shim/$tool"
    chmod +x "$work/shim/$tool"
done

reset_emulators() {
    emu_reset
    # What the runs create on the MariaDB server.
    # shellcheck disable=SC2016 # backquoted SQL identifiers
    printf '%s\n' 'DROP DATABASE IF EXISTS `dashboard`;' 'DROP DATABASE IF EXISTS `analytics-api`;' \
        'DROP DATABASE IF EXISTS `reports`;' "DROP USER IF EXISTS 'analytics'@'%';" \
        "DROP USER IF EXISTS 'edxapp_ro'@'%';" "DROP USER IF EXISTS '$EDXAPP_MIGRATION_USER'@'%';" |
        "$real_mariadb" --no-defaults --protocol=TCP -h "$ANALYTICS_TEST_MYSQL_HOST" \
            -P "$ANALYTICS_TEST_MYSQL_PORT" -u "$ANALYTICS_TEST_MYSQL_ADMIN_USER"
    if ((!cold)); then
        "$real_aws" sts get-caller-identity >/dev/null
        "$real_aws" sts get-caller-identity >/dev/null
    fi
}

# timed NAME CMD...: runs CMD with its output in $work/NAME.log; sets $secs.
timed() {
    local name=$1 t0 rc=0
    shift
    t0=$EPOCHREALTIME
    "$@" >"$work/$name.log" 2>&1 || rc=$?
    secs=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }')
    if ((rc != 0)); then
        say "$name failed (exit $rc); last lines of its output:"
        tail -n 15 "$work/$name.log" >&2
        return 1
    fi
}

failed=0
first=() rerun=() cli=() ratio=() # per successful round
t_first="" t_rerun="" t_cli=""
deploy_calls="" rerun_calls="" cli_commands=""

run_deploy() { # ROUND
    local dir=$work/deploy.$1 summary
    export ANALYTICS_STATE_DIR=$dir/state ANALYTICS_SECRETS_DIR=$dir/secrets
    reset_emulators
    timed "deploy.$1" bash "$deploy_script" || return 1
    t_first=$secs
    summary=$ANALYTICS_STATE_DIR/deploy-summary.json
    deploy_calls=$(jq -r '"\(.api_calls.total) (\(.api_calls.mutating) mutating)"' "$summary")
    timed "rerun.$1" bash "$deploy_script" || return 1
    t_rerun=$secs
    rerun_calls=$(jq -r '"\(.api_calls.total) (\(.api_calls.mutating) mutating)"' "$summary")
    if [[ $(jq '.api_calls.mutating + .changed' "$summary") != 0 ]]; then
        say "the re-run of round $1 changed something: $(jq -c . "$summary")"
        return 1
    fi
}

run_cli() { # ROUND
    local dir=$work/cli.$1 aws_n mariadb_n
    export ANALYTICS_SECRETS_DIR=$dir/secrets BENCH_COMMANDS=$dir/commands
    mkdir -p "$dir"
    : >"$BENCH_COMMANDS"
    reset_emulators
    PATH="$work/shim:$PATH" timed "cli.$1" bash "$REPO_ROOT/scripts/bench/aws-cli-deploy.sh" || return 1
    t_cli=$secs
    aws_n=$(grep -c '^aws ' "$BENCH_COMMANDS" || true)
    mariadb_n=$(grep -c '^mariadb ' "$BENCH_COMMANDS" || true)
    cli_commands="$aws_n aws commands (one API call each) and $mariadb_n mariadb sessions"
}

# The same deployment on both sides: the same secure files, keys and passwords.
same_secret_files() { # ROUND
    if ! diff <(ls "$work/deploy.$1/secrets") <(ls "$work/cli.$1/secrets") >"$work/secrets.diff"; then
        say "round $1: the AWS CLI script wrote other secret files than deploy.sh:"
        cat "$work/secrets.diff" >&2
        return 1
    fi
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
say "$rounds rounds on $(nproc) cores, load average $load_before$( ((cold)) && echo ', cold emulator')"
if ((!cold)); then
    say "warm-up: one untimed deploy.sh, so that moto has loaded the code of every service"
    export ANALYTICS_STATE_DIR=$work/warm-up/state ANALYTICS_SECRETS_DIR=$work/warm-up/secrets
    reset_emulators
    timed warm-up bash "$deploy_script" || exit 1
fi
for ((r = 1; r <= rounds; r++)); do
    ok=0
    if ((r % 2)); then
        run_deploy "$r" && run_cli "$r" && same_secret_files "$r" && ok=1
    else
        run_cli "$r" && run_deploy "$r" && same_secret_files "$r" && ok=1
    fi
    if ((ok)); then
        first+=("$t_first") rerun+=("$t_rerun") cli+=("$t_cli")
        ratio+=("$(awk -v c="$t_cli" -v d="$t_first" 'BEGIN { printf "%.1f", c / d }')")
        say "round $r: deploy.sh $t_first s (re-run $t_rerun s), AWS CLI script $t_cli s: ${ratio[-1]}x"
    else
        failed=1
        say "round $r failed; see above"
    fi
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
    if (NR == 0) { print "-"; exit }
    m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.2f", m }'; }

if ((${#ratio[@]} > 0)); then
    echo
    echo "| round | deploy.sh, first run | deploy.sh, re-run | AWS CLI script | AWS CLI / deploy.sh |"
    echo "| --- | --- | --- | --- | --- |"
    for i in "${!ratio[@]}"; do
        echo "| $((i + 1)) | ${first[i]} s | ${rerun[i]} s | ${cli[i]} s | ${ratio[i]}× |"
    done
    med_ratio=$(median "${ratio[@]}")
    med_rerun=$(median "${rerun[@]}")
    echo "| median | $(median "${first[@]}") s | $med_rerun s | $(median "${cli[@]}") s | $(printf '%.1f' "$med_ratio")× |"
    echo
    echo "API calls per run: deploy.sh $deploy_calls, its re-run $rerun_calls;"
    echo "AWS CLI script: $cli_commands."
    echo "Debug build, $(nproc) cores, load average $load_before before and $load_after after;"
    echo "emulator $( ((cold)) && echo 'cold (not warmed up)' || echo 'warmed up') after each reset."
    met() { awk -v v="$1" -v t="$3" "BEGIN { exit !(v $2 t) }" && echo met || echo "NOT met"; }
    echo "Targets: median ratio ≥ 15×: $(met "$med_ratio" '>=' 15); re-run < 1 s: $(met "$med_rerun" '<' 1)."
fi
if ((failed)); then
    say "some runs failed; logs were in $work (removed on exit)"
    exit 1
fi
