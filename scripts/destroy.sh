#!/usr/bin/env bash
# destroy.sh: tears one deployment down in reverse order. Each tool removes
# only what carries this client's tags, so nothing foreign is touched. The
# EMR default roles and any adopted bucket (e.g. tracking logs) stay.
#
# Settings (environment): see scripts/settings.sh, which reads them all for
# deploy.sh and this script alike, so a named VPC is destroyed where it was
# deployed (`bash scripts/settings.sh --table` lists each with its default).
set -euo pipefail

# shellcheck source=scripts/settings.sh
source "$(dirname "${BASH_SOURCE[0]}")/settings.sh"
mkdir -p "$state/destroy"

say() { echo "destroy.sh: $*" >&2; }
run() {
    local tool=$1
    shift
    "$tool" --destroy "$@" >"$state/destroy/$tool.json" || {
        say "$tool --destroy failed; see the error above"
        return 1
    }
}
together() {
    local pids=() failed=0 pid
    for step in "$@"; do
        "$step" &
        pids+=("$!")
    done
    for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
    return "$failed"
}

say "1/3 hosts, search domain and database"
ec2() { run mk-ec2; }
es() { run mk-es; }
rds() { run mk-rds "${snapshot_args[@]}"; }
together ec2 es rds
say "2/3 security groups, then buckets and identities"
run mk-sg "${vpc_args[@]}"
buckets() { run mk-buckets "${force_args[@]}" "${grades_args[@]}"; }
iam() { run mk-iam; }
together buckets iam
say "3/3 network"
run mk-vpc "${vpc_args[@]}" "${subnet_args[@]}"
rm -f "$state"/*.json
rm -rf "$state/start"
jq -s '{deleted: (map([.changes[] | select(.action == "deleted")] | length) | add),
        api_calls: {total: (map(.api_calls.total) | add), mutating: (map(.api_calls.mutating) | add)}}' \
    "$state"/destroy/*.json | jq -r '"destroy.sh: done for '"$client"': \(.deleted) resources deleted, \(.api_calls.total) API calls"' >&2
