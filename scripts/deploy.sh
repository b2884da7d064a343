#!/usr/bin/env bash
# deploy.sh: the runbook. Stands up, or converges, one Open edX analytics
# deployment by chaining the tools in dependency order. Safe to re-run: a
# finished deployment makes no mutating call. Same script for real AWS and
# for the local emulators (see demo.sh).
#
# Settings (environment): see scripts/settings.sh, which reads them all
# (`bash scripts/settings.sh --table` lists each with its default).
set -euo pipefail

# shellcheck source=scripts/settings.sh
source "$(dirname "${BASH_SOURCE[0]}")/settings.sh"
mkdir -p "$state"
: > "$state/calls.log"
finished=$state/.finished-steps
: > "$finished"
started=$EPOCHREALTIME

say() { echo "deploy.sh: $*" >&2; }

# run NAME TOOL ARGS...: runs TOOL, keeps its document as $state/NAME.json and
# notes NAME as finished. A failing tool stops the runbook (its own error line
# is already on stderr; its document is kept as NAME.failed.json).
run_as() {
    local name=$1 tool=$2
    shift 2
    local out="$state/$name.json" tmp
    # A file of this run's own (two runs never share one), renamed into place.
    tmp=$(mktemp "$out.XXXXXX")
    if ! "$tool" "$@" >"$tmp"; then
        mv -f "$tmp" "$state/$name.failed.json"
        say "$tool failed; see the error above and $state/$name.failed.json"
        return 1
    fi
    mv -f "$tmp" "$out"
    rm -f "$state/$name.failed.json"
    echo "$name" >>"$finished"
}

# calls.log: the call counts of each finished step, in the order they
# finished. Written when deploy.sh ends, whether it succeeded or not, with one
# jq for all steps (jq takes 20 ms of CPU to start).
write_calls_log() {
    local docs=() name
    while IFS= read -r name; do docs+=("$state/$name.json"); done <"$finished"
    if ((${#docs[@]})); then
        jq -c --arg dir "$state/" '{step: (input_filename | ltrimstr($dir) | rtrimstr(".json")),
            total: .api_calls.total, mutating: .api_calls.mutating,
            changed: ([.changes[] | select(.action != "unchanged")] | length)}' "${docs[@]}" >"$state/calls.log"
    fi
    rm -f "$finished"
}
trap write_calls_log EXIT
run() { run_as "$1" "$@"; }

# Runs the given step functions at once and fails if any failed.
together() {
    local pids=() failed=0 pid
    for step in "$@"; do
        "$step" &
        pids+=("$!")
    done
    for pid in "${pids[@]}"; do
        wait "$pid" || failed=1
    done
    return "$failed"
}

out() { jq -r "$2" "$state/$1.json"; }

# Each step runs as soon as what it needs exists: the steps of one `together`
# run at once, and a step may chain tools (mk-sg needs mk-vpc's VPC).
network() {
    run mk-vpc "${vpc_args[@]}" "${subnet_args[@]}"
    run mk-sg --vpc-id "$(out mk-vpc .outputs.vpc_id)" "${sg_args[@]}"
}
iam() { run mk-iam "${reports_args[@]}"; }
buckets() { run mk-buckets "${reports_args[@]}" "${grades_args[@]}"; }
# via_args VIA: sets the caller's `via` to mk-rds-users' tunnel flags for
# VIA: none, the director (its public address and key from mk-ec2's
# document), or a host.
via_args() {
    via=()
    case $1 in
    none) return 0 ;;
    director)
        local ip key
        ip=$(out mk-ec2 '.outputs.instances.director.public_ip // empty')
        if [[ -z $ip ]]; then
            say "mk-ec2's document names no public address of the director: tunnel via another host, or none (the *_DB_VIA settings)"
            return 1
        fi
        via=(--via "$ip")
        key=$(out mk-ec2 '.outputs.key_pairs.director.private_key_file // empty')
        [[ -n $via_key || -z $key ]] || via+=(--via-key "$key")
        ;;
    *) via=(--via "$1") ;;
    esac
    [[ -z $via_key ]] || via+=(--via-key "$via_key")
    via+=("${via_opts[@]}")
}
analytics_users() {
    local via
    via_args "$db_via" || return 1
    run_as mk-rds-users mk-rds-users --analytics "${db_args[@]}" "${via[@]}"
}
edxapp_users() {
    ((${#edxapp_db_args[@]})) || return 0
    local via
    via_args "$edxapp_db_via" || return 1
    run_as mk-rds-users.edxapp-readonly mk-rds-users --edxapp-readonly "${edxapp_db_args[@]}" "${via[@]}"
}
# Through the director, edxapp's user waits for it (phase 3).
early_edxapp_users() { [[ $edxapp_db_via == director ]] || edxapp_users; }
say "1/4 network then security groups (mk-vpc, mk-sg), identities (mk-iam), buckets (mk-buckets), edxapp's read-only user (mk-rds-users)"
together network iam buckets early_edxapp_users
vpc_id=$(out mk-vpc .outputs.vpc_id)

# mk-iam's names reach the tools after it through its document (so they
# follow any name flag mk-iam is given).
ec2_args=(--vpc-id "$vpc_id" --instance-profile "$(out mk-iam .outputs.instance_profiles.edxanalytics)" "${ubuntu_args[@]}")
es_args=(--grant-arn "$(out mk-iam .outputs.users.elasticsearch.arn)")
# The slow creations (search domain, database, hosts: minutes on AWS) are
# started together with --no-wait; then each tool whose document lists
# something `pending` runs again to wait for it (on a re-run nothing is, and
# the --no-wait document is the tool's document), and the database's users
# are made as soon as the database is up. The documents of the starting runs
# are kept in start/ (out of state/*.json).
mkdir -p "$state/start"
es_start() { run_as start/mk-es mk-es "${es_args[@]}" --no-wait; }
rds_start() { run_as start/mk-rds mk-rds --vpc-id "$vpc_id" --no-wait; }
ec2_start() { run_as start/mk-ec2 mk-ec2 "${ec2_args[@]}" --no-wait; }
say "2/4 starting the search domain (mk-es), the database (mk-rds) and the hosts (mk-ec2) with --no-wait"
together es_start rds_start ec2_start

# wait_for NAME ARGS...: runs NAME (a tool) again with ARGS if its --no-wait
# run left something pending.
wait_for() {
    local name=$1
    if jq -e '.pending // [] | length == 0' "$state/start/$name.json" >/dev/null; then
        cp "$state/start/$name.json" "$state/$name.json"
    else
        say "waiting for $(jq -r '[.pending[] | "\(.kind) \(.name) (\(.state))"] | join(", ")' "$state/start/$name.json")"
        run "$@"
    fi
}
es() { wait_for mk-es "${es_args[@]}"; }
# The database's users as soon as it is up; through the director, once the
# director is up too.
database() {
    wait_for mk-rds --vpc-id "$vpc_id"
    [[ $db_via == director ]] || analytics_users
}
ec2() { wait_for mk-ec2 "${ec2_args[@]}"; }
say "3/4 waiting for what is pending (mk-es, mk-rds, mk-ec2 again), then the database's databases and users (mk-rds-users)"
together es database ec2
late_analytics_users() { [[ $db_via != director ]] || analytics_users; }
late_edxapp_users() { [[ $edxapp_db_via != director ]] || edxapp_users; }
if [[ $db_via == director || $edxapp_db_via == director ]]; then
    say "3/4 the databases' users through the director (mk-rds-users --via)"
    together late_analytics_users late_edxapp_users
fi

say "4/4 secure configuration (mk-config --upload)"
docs=()
for t in mk-vpc mk-iam mk-buckets mk-sg mk-es mk-rds mk-ec2; do docs+=("$state/$t.json"); done
run mk-config --upload "${docs[@]}"

trap - EXIT
write_calls_log
# The summary, then (last line) the message.
summary=$(jq -rs --arg t0 "$started" --arg t1 "$EPOCHREALTIME" --arg client "$client" '{
    client: $client, seconds: (($t1 | tonumber) - ($t0 | tonumber) | . * 100 | round / 100),
    api_calls: {total: (map(.total) | add), mutating: (map(.mutating) | add)},
    changed: (map(.changed) | add), steps: .} |
    ., "deploy.sh: done for \(.client) in \(.seconds)s: \(.changed) changes, \(.api_calls.total) API calls (\(.api_calls.mutating) mutating)"' \
    "$state/calls.log")
printf '%s\n' "${summary%$'\n'*}" >"$state/deploy-summary.json"
printf '%s\n' "${summary##*$'\n'}" >&2
