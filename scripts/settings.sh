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
    "EDXAPP_DB_HOST||deploy|edxapp's database: adds the read-only edxapp_ro user"
    "EDXAPP_DB_PORT|3306|deploy|with EDXAPP_DB_HOST: its port"
    "EDXAPP_DB_ADMIN_USER|admin|deploy|with EDXAPP_DB_HOST: the admin user"
    "EDXAPP_DB_ADMIN_PASSWORD_FILE||deploy|with EDXAPP_DB_HOST: a file holding the admin password"
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

# What the runbooks use, derived once.
: "${ANALYTICS_CLIENT:?set ANALYTICS_CLIENT to the deployment client name, e.g. acme}"
client=$ANALYTICS_CLIENT
state=${ANALYTICS_STATE_DIR:-./state/$client}
export ANALYTICS_SECRETS_DIR=${ANALYTICS_SECRETS_DIR:-./secrets/$client}
# The network flags, the same for deploy and destroy: a named VPC's
# security groups, hosts and database are found (and removed) there.
vpc_args=()
[[ -n ${ANALYTICS_VPC_ID:-} ]] && vpc_args+=(--vpc-id "$ANALYTICS_VPC_ID")
subnet_args=()
[[ -n ${ANALYTICS_SUBNET_ID:-} ]] && subnet_args+=(--subnet-id "$ANALYTICS_SUBNET_ID")
grades_bucket=${EDXAPP_GRADES_BUCKET:-}
