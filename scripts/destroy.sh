#!/usr/bin/env bash
# destroy.sh: tears one deployment down in reverse order. Each tool removes
# only what carries this client's tags, so nothing foreign is touched. The
# EMR default roles and any adopted bucket (e.g. tracking logs) stay.
#
# Settings: ANALYTICS_CLIENT (required), the AWS variables, ANALYTICS_STATE_DIR,
# ANALYTICS_SECRETS_DIR as for deploy.sh, and
#   ANALYTICS_FORCE=1            delete buckets that still hold objects
#   ANALYTICS_FINAL_SNAPSHOT=1   keep a final snapshot of the database
#   EDXAPP_GRADES_BUCKET         remove the grades-download statement there
#   EDXAPP_RDS_ID                the edxapp instance that joined the EMR-RDS group
set -euo pipefail

: "${ANALYTICS_CLIENT:?set ANALYTICS_CLIENT to the deployment client name}"
client=$ANALYTICS_CLIENT
state=${ANALYTICS_STATE_DIR:-./state/$client}
export ANALYTICS_SECRETS_DIR=${ANALYTICS_SECRETS_DIR:-./secrets/$client}
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

snapshot=(--skip-final-snapshot)
[[ ${ANALYTICS_FINAL_SNAPSHOT:-} == 1 ]] && snapshot=()
force=()
[[ ${ANALYTICS_FORCE:-} == 1 ]] && force=(--force)
grades=()
[[ -n ${EDXAPP_GRADES_BUCKET:-} ]] && grades=(--grades-bucket "$EDXAPP_GRADES_BUCKET")

say "1/3 hosts, search domain and database"
ec2() { run mk-ec2; }
es() { run mk-es; }
rds() { run mk-rds "${snapshot[@]}"; }
together ec2 es rds
say "2/3 security groups, then buckets and identities"
run mk-sg
buckets() { run mk-buckets "${force[@]}" "${grades[@]}"; }
iam() { run mk-iam; }
together buckets iam
say "3/3 network"
run mk-vpc
rm -f "$state"/*.json
rm -rf "$state/start"
jq -s '{deleted: (map([.changes[] | select(.action == "deleted")] | length) | add),
        api_calls: {total: (map(.api_calls.total) | add), mutating: (map(.api_calls.mutating) | add)}}' \
    "$state"/destroy/*.json | jq -r '"destroy.sh: done for '"$client"': \(.deleted) resources deleted, \(.api_calls.total) API calls"' >&2
