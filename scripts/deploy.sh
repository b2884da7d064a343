#!/usr/bin/env bash
# deploy.sh: the runbook. Stands up, or converges, one Open edX analytics
# deployment by chaining the tools in dependency order. Safe to re-run: a
# finished deployment makes no mutating call. Same script for real AWS and
# for the local emulators (see demo.sh).
#
# Settings (environment):
#   ANALYTICS_CLIENT            client name (required), e.g. acme
#   AWS_PROFILE / AWS_REGION / AWS_ENDPOINT_URL   as for the AWS CLI
#   ANALYTICS_STATE_DIR         each tool's JSON document (default ./state/<client>)
#   ANALYTICS_SECRETS_DIR       keys, passwords, secure config (default ./secrets/<client>)
#   ANALYTICS_REPORTS=1         also the Analytics API reports bucket and user
#   ANALYTICS_VPC_ID, ANALYTICS_SUBNET_ID   network for EMR (default VPC, its first subnet)
#   ANALYTICS_ADMIN_CIDR        who may SSH to the director (default anywhere, with a warning)
#   ANALYTICS_UBUNTU_RELEASE    Ubuntu LTS of the hosts (default 24.04)
#   ANALYTICS_DB_HOST, ANALYTICS_DB_PORT, ANALYTICS_DB_ADMIN_USER, MYSQL_PWD
#                               reach the analytics database there (an SSH tunnel, or a
#                               local MariaDB) instead of the RDS endpoint and master user
#   EDXAPP_DB_HOST, EDXAPP_DB_PORT, EDXAPP_DB_ADMIN_USER, EDXAPP_DB_ADMIN_PASSWORD_FILE
#                               edxapp's database: adds the read-only edxapp_ro user
#   EDXAPP_MIGRATION_USER, EDXAPP_MIGRATION_PASSWORD_FILE
#                               edxapp's migration credentials, granted on the analytics dbs
#   EDXAPP_GRADES_BUCKET, EDXAPP_USER_ARN   grades-download statement on edxapp's bucket
set -euo pipefail

: "${ANALYTICS_CLIENT:?set ANALYTICS_CLIENT to the deployment client name, e.g. acme}"
client=$ANALYTICS_CLIENT
state=${ANALYTICS_STATE_DIR:-./state/$client}
export ANALYTICS_SECRETS_DIR=${ANALYTICS_SECRETS_DIR:-./secrets/$client}
mkdir -p "$state"
: > "$state/calls.log"
started=$EPOCHREALTIME

say() { echo "deploy.sh: $*" >&2; }

# run NAME TOOL ARGS...: runs TOOL, keeps its document as $state/NAME.json and
# appends its call counts to calls.log. A failing tool stops the runbook (its
# own error line is already on stderr; its document is kept as NAME.failed.json).
run_as() {
    local name=$1 tool=$2
    shift 2
    local out="$state/$name.json"
    if ! "$tool" "$@" >"$out.tmp"; then
        mv -f "$out.tmp" "$state/$name.failed.json"
        say "$tool failed; see the error above and $state/$name.failed.json"
        return 1
    fi
    mv -f "$out.tmp" "$out"
    rm -f "$state/$name.failed.json"
    jq -c --arg n "$name" '{step: $n, total: .api_calls.total, mutating: .api_calls.mutating,
        changed: ([.changes[] | select(.action != "unchanged")] | length)}' "$out" >>"$state/calls.log"
}
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

say "1/7 network (mk-vpc)"
vpc_args=()
[[ -n ${ANALYTICS_VPC_ID:-} ]] && vpc_args+=(--vpc-id "$ANALYTICS_VPC_ID")
[[ -n ${ANALYTICS_SUBNET_ID:-} ]] && vpc_args+=(--subnet-id "$ANALYTICS_SUBNET_ID")
run mk-vpc "${vpc_args[@]}"
vpc_id=$(out mk-vpc .outputs.vpc_id)

say "2/7 identities and buckets (mk-iam, mk-buckets)"
reports=()
[[ ${ANALYTICS_REPORTS:-} == 1 ]] && reports=(--reports)
grades=()
[[ -n ${EDXAPP_GRADES_BUCKET:-} ]] && grades=(--grades-bucket "$EDXAPP_GRADES_BUCKET" --edxapp-user-arn "${EDXAPP_USER_ARN:?EDXAPP_USER_ARN is needed with EDXAPP_GRADES_BUCKET}")
iam() { run mk-iam "${reports[@]}"; }
buckets() { run mk-buckets "${reports[@]}" "${grades[@]}"; }
together iam buckets

say "3/7 security groups (mk-sg)"
sg_args=(--vpc-id "$vpc_id")
[[ -n ${ANALYTICS_ADMIN_CIDR:-} ]] && sg_args+=(--admin-cidr "$ANALYTICS_ADMIN_CIDR")
run mk-sg "${sg_args[@]}"

say "4/7 search domain, database and hosts, started together (mk-es, mk-rds, mk-ec2 --no-wait)"
ec2_args=(--vpc-id "$vpc_id")
[[ -n ${ANALYTICS_UBUNTU_RELEASE:-} ]] && ec2_args+=(--ubuntu-release "$ANALYTICS_UBUNTU_RELEASE")
es() { run mk-es "$@"; }
rds() { run mk-rds --vpc-id "$vpc_id" "$@"; }
ec2() { run mk-ec2 "${ec2_args[@]}" "$@"; }
es_start() { es --no-wait; }
rds_start() { rds --no-wait; }
ec2_start() { ec2 --no-wait; }
together es_start rds_start ec2_start
say "5/7 waiting for them (the same tools again, without --no-wait)"
together es rds ec2

say "6/7 databases and users (mk-rds-users)"
if [[ -n ${ANALYTICS_DB_HOST:-} ]]; then
    : "${MYSQL_PWD:?MYSQL_PWD (the admin password) is needed with ANALYTICS_DB_HOST}"
    db_args=(--host "$ANALYTICS_DB_HOST" --port "${ANALYTICS_DB_PORT:-3306}" --admin-user "${ANALYTICS_DB_ADMIN_USER:-admin}")
else
    db_args=(--admin-from-rds --rds-state "$state/mk-rds.json")
fi
if [[ -n ${EDXAPP_MIGRATION_USER:-} ]]; then
    db_args+=(--migration-user "$EDXAPP_MIGRATION_USER" --migration-password-file "${EDXAPP_MIGRATION_PASSWORD_FILE:?EDXAPP_MIGRATION_PASSWORD_FILE is needed with EDXAPP_MIGRATION_USER}")
fi
run_as mk-rds-users mk-rds-users --analytics "${db_args[@]}"
if [[ -n ${EDXAPP_DB_HOST:-} ]]; then
    run_as mk-rds-users.edxapp-readonly mk-rds-users --edxapp-readonly --host "$EDXAPP_DB_HOST" \
        --port "${EDXAPP_DB_PORT:-3306}" --admin-user "${EDXAPP_DB_ADMIN_USER:-admin}" \
        --admin-password-file "${EDXAPP_DB_ADMIN_PASSWORD_FILE:?EDXAPP_DB_ADMIN_PASSWORD_FILE is needed with EDXAPP_DB_HOST}"
fi

say "7/7 secure configuration (mk-config --upload)"
docs=()
for t in mk-vpc mk-iam mk-buckets mk-sg mk-es mk-rds mk-ec2; do docs+=("$state/$t.json"); done
run mk-config --upload "${docs[@]}"

jq -s --arg t0 "$started" --arg t1 "$EPOCHREALTIME" --arg client "$client" '{
    client: $client, seconds: (($t1 | tonumber) - ($t0 | tonumber) | . * 100 | round / 100),
    api_calls: {total: (map(.total) | add), mutating: (map(.mutating) | add)},
    changed: (map(.changed) | add), steps: .}' "$state/calls.log" >"$state/deploy-summary.json"
jq -r '"deploy.sh: done for \(.client) in \(.seconds)s: \(.changed) changes, \(.api_calls.total) API calls (\(.api_calls.mutating) mutating)"' \
    "$state/deploy-summary.json" >&2
