#!/usr/bin/env bash
# settings.sh: every setting the runbooks (deploy.sh, destroy.sh) read, with
# its default and meaning, in one place. Sourced by both; nothing else in
# them reads the environment for a setting. The README's settings table is
# checked against SETTINGS below (tests/tests/runbook.rs), and
#   bash scripts/settings.sh --table
# prints it.
#
# Each row: NAME|DEFAULT|USED BY|MEANING (DEFAULT empty: unset).
SETTINGS=(
    "ANALYTICS_CLIENT||deploy, destroy|client name (required), e.g. acme: prefixes every name"
    "ANALYTICS_STATE_DIR|./state/<client>|deploy, destroy|each tool's JSON document"
    "ANALYTICS_SECRETS_DIR|./secrets/<client>|deploy, destroy|keys, passwords, secure config (0700)"
    "ANALYTICS_REPORTS||deploy|1: also the Analytics API reports bucket and user"
    "ANALYTICS_VPC_ID|the default VPC|deploy, destroy|the VPC of the deployment (EMR, hosts, database)"
    "ANALYTICS_SUBNET_ID|every subnet of the VPC|deploy, destroy|the subnet EMR runs in (vpc_subnet_id of emr-vars.yml)"
    "ANALYTICS_ADMIN_CIDR|anywhere, with a warning|deploy|who may SSH to the director"
    "ANALYTICS_UBUNTU_RELEASE|24.04|deploy|Ubuntu LTS of the hosts"
    "ANALYTICS_DB_HOST||deploy|reach the analytics database here (an SSH tunnel, a local MariaDB) instead of the RDS endpoint"
    "ANALYTICS_DB_PORT|3306|deploy|with ANALYTICS_DB_HOST: its port"
    "ANALYTICS_DB_ADMIN_USER|admin|deploy|with ANALYTICS_DB_HOST: the admin user"
    "MYSQL_PWD||deploy|with ANALYTICS_DB_HOST: the admin user's password"
    "ANALYTICS_DB_VIA|director (none with ANALYTICS_DB_HOST)|deploy|mk-rds-users reaches the analytics database through an SSH tunnel via this host: director (its public address from mk-ec2), a host name, or none"
    "ANALYTICS_DB_VIA_USER|ubuntu|deploy|with a *_DB_VIA: the SSH user on that host"
    "ANALYTICS_DB_VIA_PORT|22|deploy|with a *_DB_VIA: that host's SSH port"
    "ANALYTICS_DB_VIA_KEY|the director's key (mk-ec2's)|deploy|with a *_DB_VIA: the SSH private key for that host"
    "EDXAPP_DB_HOST||deploy|edxapp's database: adds the read-only edxapp_ro user"
    "EDXAPP_DB_PORT|3306|deploy|with EDXAPP_DB_HOST: its port"
    "EDXAPP_DB_ADMIN_USER|admin|deploy|with EDXAPP_DB_HOST: the admin user"
    "EDXAPP_DB_ADMIN_PASSWORD_FILE||deploy|with EDXAPP_DB_HOST: a file holding the admin password"
    "EDXAPP_DB_VIA|none|deploy|with EDXAPP_DB_HOST: the same for edxapp's database (director: it must let the director in, mk-rds --join-sg)"
    "EDXAPP_MIGRATION_USER||deploy|edxapp's migration user, granted on the analytics databases"
    "EDXAPP_MIGRATION_PASSWORD_FILE||deploy|with EDXAPP_MIGRATION_USER: a file holding its password"
    "EDXAPP_GRADES_BUCKET||deploy, destroy|edxapp's bucket that gets (and loses) the grades-download statement"
    "EDXAPP_USER_ARN||deploy|with EDXAPP_GRADES_BUCKET: edxapp's IAM principal allowed to download grades"
    "ANALYTICS_FORCE||destroy|1: delete buckets that still hold objects"
    "ANALYTICS_FINAL_SNAPSHOT||destroy|1: keep a final snapshot of the database"
)

settings_table() {
    local row name default used meaning
    echo "| setting | default | used by | meaning |"
    echo "| --- | --- | --- | --- |"
    for row in "${SETTINGS[@]}"; do
        IFS='|' read -r name default used meaning <<<"$row"
        echo "| \`$name\` | ${default:-unset} | $used | $meaning |"
    done
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    case ${1:-} in
        --table) settings_table ;;
        *) echo "usage: bash $0 --table   (deploy.sh and destroy.sh source this file)" >&2; exit 2 ;;
    esac
    exit 0
fi

# What the runbooks use, derived once. A missing or inconsistent setting is
# bad input: one line naming it, exit 2, before any tool runs.
setting_error() {
    echo "${0##*/}: $*" >&2
    exit 2
}
[[ -n ${ANALYTICS_CLIENT:-} ]] || setting_error "set ANALYTICS_CLIENT to the deployment client name, e.g. acme"
client=$ANALYTICS_CLIENT
state=${ANALYTICS_STATE_DIR:-./state/$client}
export ANALYTICS_SECRETS_DIR=${ANALYTICS_SECRETS_DIR:-./secrets/$client}
for flag in ANALYTICS_REPORTS ANALYTICS_FORCE ANALYTICS_FINAL_SNAPSHOT; do
    case ${!flag:-} in
        '' | 0 | 1) ;;
        *) setting_error "$flag must be 1 (or 0 or unset), not '${!flag}'" ;;
    esac
done
# The network flags, the same for deploy and destroy: a named VPC's
# security groups, hosts and database are found (and removed) there.
vpc_args=()
[[ -n ${ANALYTICS_VPC_ID:-} ]] && vpc_args+=(--vpc-id "$ANALYTICS_VPC_ID")
subnet_args=()
[[ -n ${ANALYTICS_SUBNET_ID:-} ]] && subnet_args+=(--subnet-id "$ANALYTICS_SUBNET_ID")
# mk-sg's and mk-ec2's own settings.
sg_args=()
[[ -n ${ANALYTICS_ADMIN_CIDR:-} ]] && sg_args+=(--admin-cidr "$ANALYTICS_ADMIN_CIDR")
ubuntu_args=()
[[ -n ${ANALYTICS_UBUNTU_RELEASE:-} ]] && ubuntu_args+=(--ubuntu-release "$ANALYTICS_UBUNTU_RELEASE")
# The reports bucket and user (mk-iam, mk-buckets).
reports_args=()
[[ ${ANALYTICS_REPORTS:-} == 1 ]] && reports_args=(--reports)
# edxapp's bucket: deploy adds the grades-download statement, destroy removes it.
grades_bucket=${EDXAPP_GRADES_BUCKET:-}
grades_args=()
if [[ -n $grades_bucket ]]; then
    grades_args=(--grades-bucket "$grades_bucket")
    if [[ ${0##*/} == deploy.sh ]]; then
        [[ -n ${EDXAPP_USER_ARN:-} ]] || setting_error "EDXAPP_USER_ARN is needed with EDXAPP_GRADES_BUCKET"
        grades_args+=(--edxapp-user-arn "$EDXAPP_USER_ARN")
    fi
fi
# edxapp's database exists already: its read-only user needs nothing of ours.
edxapp_db_args=()
if [[ -n ${EDXAPP_DB_HOST:-} ]]; then
    [[ -n ${EDXAPP_DB_ADMIN_PASSWORD_FILE:-} ]] || setting_error "EDXAPP_DB_ADMIN_PASSWORD_FILE is needed with EDXAPP_DB_HOST"
    edxapp_db_args=(--host "$EDXAPP_DB_HOST" --port "${EDXAPP_DB_PORT:-3306}" --admin-user "${EDXAPP_DB_ADMIN_USER:-admin}"
        --admin-password-file "$EDXAPP_DB_ADMIN_PASSWORD_FILE")
fi
# How mk-rds-users reaches the analytics database: a given host (a tunnel, a
# local MariaDB) with MYSQL_PWD, else the RDS endpoint and master password.
if [[ -n ${ANALYTICS_DB_HOST:-} ]]; then
    [[ -n ${MYSQL_PWD:-} ]] || setting_error "MYSQL_PWD (the admin password) is needed with ANALYTICS_DB_HOST"
    db_args=(--host "$ANALYTICS_DB_HOST" --port "${ANALYTICS_DB_PORT:-3306}" --admin-user "${ANALYTICS_DB_ADMIN_USER:-admin}")
else
    db_args=(--admin-from-rds --rds-state "$state/mk-rds.json")
fi
# Through which host mk-rds-users tunnels (deploy.sh turns `director` into
# the director's address once mk-ec2 ran): a given ANALYTICS_DB_HOST is
# reached straight unless ANALYTICS_DB_VIA says otherwise.
if [[ -n ${ANALYTICS_DB_HOST:-} ]]; then db_via=${ANALYTICS_DB_VIA:-none}; else db_via=${ANALYTICS_DB_VIA:-director}; fi
edxapp_db_via=${EDXAPP_DB_VIA:-none}
for via_setting in "$db_via" "$edxapp_db_via"; do
    [[ $via_setting =~ ^[A-Za-z0-9_.:-]+$ && $via_setting != -* ]] ||
        setting_error "ANALYTICS_DB_VIA and EDXAPP_DB_VIA are director, none or a host name, not '$via_setting'"
done
# How to log in to that host (the same for both databases).
via_opts=()
[[ -n ${ANALYTICS_DB_VIA_USER:-} ]] && via_opts+=(--via-user "$ANALYTICS_DB_VIA_USER")
if [[ -n ${ANALYTICS_DB_VIA_PORT:-} ]]; then
    [[ $ANALYTICS_DB_VIA_PORT =~ ^[0-9]{1,5}$ ]] || setting_error "ANALYTICS_DB_VIA_PORT must be a port number, not '$ANALYTICS_DB_VIA_PORT'"
    via_opts+=(--via-port "$ANALYTICS_DB_VIA_PORT")
fi
via_key=${ANALYTICS_DB_VIA_KEY:-}
if [[ -n ${EDXAPP_MIGRATION_USER:-} ]]; then
    [[ -n ${EDXAPP_MIGRATION_PASSWORD_FILE:-} ]] || setting_error "EDXAPP_MIGRATION_PASSWORD_FILE is needed with EDXAPP_MIGRATION_USER"
    db_args+=(--migration-user "$EDXAPP_MIGRATION_USER" --migration-password-file "$EDXAPP_MIGRATION_PASSWORD_FILE")
fi
# destroy's choices.
snapshot_args=(--skip-final-snapshot)
[[ ${ANALYTICS_FINAL_SNAPSHOT:-} == 1 ]] && snapshot_args=()
force_args=()
[[ ${ANALYTICS_FORCE:-} == 1 ]] && force_args=(--force)
# Read by the caller (shellcheck cannot see across the source).
: "${vpc_args[@]}" "${subnet_args[@]}" "${sg_args[@]}" "${ubuntu_args[@]}" "${reports_args[@]}" "${grades_args[@]}" \
    "${edxapp_db_args[@]}" "${db_args[@]}" "$db_via" "$edxapp_db_via" "${via_opts[@]}" "$via_key" "${snapshot_args[@]}" "${force_args[@]}"
