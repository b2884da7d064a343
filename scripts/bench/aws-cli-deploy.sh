#!/usr/bin/env bash
# aws-cli-deploy.sh: the deployment of deploy.sh made the way an operator
# scripts the manual runbook with the AWS CLI: one command per step, one after
# the other, ids captured with --query ... --output text. It is the baseline
# of scripts/bench.sh, and documents what the tools replace.
#
# It makes the same resources as deploy.sh with ANALYTICS_REPORTS=1 (SPEC
# sections 2 to 9 and 11). Unlike the tools it is not idempotent (a second
# run fails on the first existing resource), never checks what exists, never
# corrects drift and has no dry run or destroy; that is what the tools add.
#
# Settings (environment), as for deploy.sh:
#   ANALYTICS_CLIENT            client name (required), e.g. acme
#   AWS_PROFILE / AWS_REGION / AWS_ENDPOINT_URL   as for the AWS CLI
#   ANALYTICS_SECRETS_DIR       keys, passwords, secure config (default ./secrets/<client>)
#   ANALYTICS_UBUNTU_RELEASE    Ubuntu LTS of the hosts: 16.04, 18.04, 20.04, 22.04, 24.04 (default)
#   ANALYTICS_ADMIN_CIDR        who may SSH to the director (default anywhere)
#   ANALYTICS_DB_HOST, ANALYTICS_DB_PORT, ANALYTICS_DB_ADMIN_USER, MYSQL_PWD
#                               the analytics database server (default: the new RDS
#                               instance, as its master user)
#   EDXAPP_DB_HOST, EDXAPP_DB_PORT, EDXAPP_DB_ADMIN_USER, EDXAPP_DB_ADMIN_PASSWORD_FILE
#                               edxapp's database: adds the read-only edxapp_ro user
#   EDXAPP_MIGRATION_USER, EDXAPP_MIGRATION_PASSWORD_FILE
#                               edxapp's migration credentials, granted on the analytics dbs
set -euo pipefail

: "${ANALYTICS_CLIENT:?set ANALYTICS_CLIENT to the deployment client name, e.g. acme}"
c=$ANALYTICS_CLIENT
region=${AWS_REGION:-${AWS_DEFAULT_REGION:-us-east-1}}
secrets=${ANALYTICS_SECRETS_DIR:-./secrets/$c}
admin_cidr=${ANALYTICS_ADMIN_CIDR:-0.0.0.0/0}
umask 077
mkdir -p "$secrets"
chmod 700 "$secrets"
secrets=$(cd "$secrets" && pwd -P)

# AWS CLI v1 ignores AWS_ENDPOINT_URL for `aws rds` (it pins the RDS endpoint):
# with an emulator the RDS commands need the flag.
rds_endpoint=()
[[ -n ${AWS_ENDPOINT_URL:-} ]] && rds_endpoint=(--endpoint-url "$AWS_ENDPOINT_URL")

step() { echo "aws-cli-deploy.sh: $*" >&2; }
# Secrets never go on a command line (visible in ps): to jq through the
# environment, to mariadb on stdin and in MYSQL_PWD, to the AWS CLI in a file.
password() { head -c 18 /dev/urandom | base64 | tr '+/' '-_'; }
# A value as a quoted SQL string literal (MariaDB/MySQL default sql_mode).
sql_string() { local s=${1//\\/\\\\}; s=${s//\'/\\\'}; printf "'%s'" "$s"; }

# Tags in the three spellings the services use.
iam_tags=("Key=analytics:client,Value=$c" "Key=analytics:managed-by,Value=aws-cli")
tag_list="{Key=analytics:client,Value=$c},{Key=analytics:managed-by,Value=aws-cli}"
ec2_tags() { # RESOURCE-TYPE [NAME]
    local extra=""
    [[ -n ${2:-} ]] && extra=",{Key=Name,Value=$2}"
    printf 'ResourceType=%s,Tags=[%s%s]' "$1" "$tag_list" "$extra"
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

#
# 1. IAM (SPEC section 2)
#
step "IAM: policies, roles, instance profiles, users, access keys"
cat >"$work/provision-emr-clusters.json" <<'EOF'
{"Version": "2012-10-17", "Statement": [{"Sid": "ProvisionEmrClusters", "Effect": "Allow",
  "Action": ["elasticmapreduce:*", "iam:PassRole", "route53:Get*", "route53:List*",
             "ec2:DescribeInstances", "rds:DescribeDBInstances"],
  "Resource": "*"}]}
EOF
cat >"$work/elasticsearch-all.json" <<'EOF'
{"Version": "2012-10-17", "Statement": [{"Sid": "ElasticsearchAll", "Effect": "Allow", "Action": "es:*", "Resource": "*"}]}
EOF
cat >"$work/ec2-trust.json" <<'EOF'
{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
EOF
cat >"$work/emr-trust.json" <<'EOF'
{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "elasticmapreduce.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
EOF
reports_bucket=$c-analytics-api-reports
cat >"$work/reports-read.json" <<EOF
{"Version": "2012-10-17", "Statement": [{"Sid": "ReadAnalyticsReports", "Effect": "Allow",
  "Action": ["s3:Get*", "s3:List*"],
  "Resource": ["arn:aws:s3:::$reports_bucket", "arn:aws:s3:::$reports_bucket/*"]}]}
EOF

provision_arn=$(aws iam create-policy --policy-name "$c-provision-emr-clusters" \
    --policy-document "file://$work/provision-emr-clusters.json" --tags "${iam_tags[@]}" \
    --query Policy.Arn --output text)
es_policy_arn=$(aws iam create-policy --policy-name "$c-elasticsearch-all" \
    --policy-document "file://$work/elasticsearch-all.json" --tags "${iam_tags[@]}" \
    --query Policy.Arn --output text)

aws iam create-role --role-name "$c-edxanalytics" \
    --assume-role-policy-document "file://$work/ec2-trust.json" --tags "${iam_tags[@]}" >/dev/null
aws iam create-role --role-name EMR_DefaultRole \
    --assume-role-policy-document "file://$work/emr-trust.json" >/dev/null
aws iam create-role --role-name EMR_EC2_DefaultRole \
    --assume-role-policy-document "file://$work/ec2-trust.json" >/dev/null

aws iam create-instance-profile --instance-profile-name "$c-edxanalytics" --tags "${iam_tags[@]}" >/dev/null
aws iam create-instance-profile --instance-profile-name EMR_EC2_DefaultRole >/dev/null
aws iam add-role-to-instance-profile --instance-profile-name "$c-edxanalytics" --role-name "$c-edxanalytics"
aws iam add-role-to-instance-profile --instance-profile-name EMR_EC2_DefaultRole --role-name EMR_EC2_DefaultRole

aws iam attach-role-policy --role-name "$c-edxanalytics" --policy-arn "$provision_arn"
aws iam attach-role-policy --role-name EMR_DefaultRole \
    --policy-arn arn:aws:iam::aws:policy/service-role/AmazonElasticMapReduceRole
aws iam attach-role-policy --role-name EMR_EC2_DefaultRole \
    --policy-arn arn:aws:iam::aws:policy/service-role/AmazonElasticMapReduceforEC2Role
aws iam attach-role-policy --role-name EMR_EC2_DefaultRole --policy-arn "$es_policy_arn"

es_user_arn=$(aws iam create-user --user-name "$c-analytics-elasticsearch" --tags "${iam_tags[@]}" \
    --query User.Arn --output text)
aws iam create-user --user-name "$c-analytics-reports" --tags "${iam_tags[@]}" >/dev/null
account=$(cut -d: -f5 <<<"$es_user_arn")

# Access keys: the secret is shown once; it goes straight into the secrets directory.
key=$(aws iam create-access-key --user-name "$c-analytics-elasticsearch" \
    --query 'AccessKey.[AccessKeyId,SecretAccessKey]' --output text)
read -r es_key_id es_secret <<<"$key"
key=$(aws iam create-access-key --user-name "$c-analytics-reports" \
    --query 'AccessKey.[AccessKeyId,SecretAccessKey]' --output text)
read -r reports_key_id reports_secret <<<"$key"
key_file() { # USER KEY-ID SECRET
    SECRET=$3 jq -n --arg u "$1" --arg id "$2" '{user: $u, access_key_id: $id, secret_access_key: env.SECRET}' \
        >"$secrets/$1.access-key.json"
}
key_file "$c-analytics-elasticsearch" "$es_key_id" "$es_secret"
key_file "$c-analytics-reports" "$reports_key_id" "$reports_secret"

aws iam put-user-policy --user-name "$c-analytics-reports" --policy-name s3-read-analytics-reports \
    --policy-document "file://$work/reports-read.json"

#
# 2. S3 (SPEC section 5)
#
step "S3: buckets, each with public access blocked, default encryption and tags"
for bucket in "$c-tracking-logs" "$c-analytics-emr" "$c-edxanalytics" "$reports_bucket"; do
    if [[ $region == us-east-1 ]]; then
        aws s3api create-bucket --bucket "$bucket" >/dev/null
    else
        aws s3api create-bucket --bucket "$bucket" \
            --create-bucket-configuration "LocationConstraint=$region" >/dev/null
    fi
    aws s3api put-public-access-block --bucket "$bucket" --public-access-block-configuration \
        BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true
    aws s3api put-bucket-encryption --bucket "$bucket" --server-side-encryption-configuration \
        '{"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}'
    aws s3api put-bucket-tagging --bucket "$bucket" --tagging "TagSet=[$tag_list]"
done

#
# 3. VPC (SPEC section 3): DNS, internet gateway, default route
#
step "VPC: DNS support and hostnames, internet gateway, 0.0.0.0/0 route"
vpc_id=$(aws ec2 describe-vpcs --filters Name=isDefault,Values=true --query 'Vpcs[0].VpcId' --output text)
# One attribute per call; hostnames need DNS support first.
aws ec2 modify-vpc-attribute --vpc-id "$vpc_id" --enable-dns-support '{"Value": true}'
aws ec2 modify-vpc-attribute --vpc-id "$vpc_id" --enable-dns-hostnames '{"Value": true}'
igw_id=$(aws ec2 create-internet-gateway --tag-specifications "$(ec2_tags internet-gateway)" \
    --query InternetGateway.InternetGatewayId --output text)
aws ec2 attach-internet-gateway --internet-gateway-id "$igw_id" --vpc-id "$vpc_id"
rtb_id=$(aws ec2 describe-route-tables --filters "Name=vpc-id,Values=$vpc_id" Name=association.main,Values=true \
    --query 'RouteTables[0].RouteTableId' --output text)
aws ec2 create-route --route-table-id "$rtb_id" --destination-cidr-block 0.0.0.0/0 \
    --gateway-id "$igw_id" >/dev/null
# The VPC's subnets: the first for the hosts and EMR, all of them for RDS.
subnet_ids=$(aws ec2 describe-subnets --filters "Name=vpc-id,Values=$vpc_id" --query 'Subnets[].SubnetId' --output text)
read -r -a subnets <<<"$subnet_ids"
subnet_id=${subnets[0]}

#
# 4. Security groups (SPEC section 4)
#
step "security groups and their inbound rules"
sg() { # NAME DESCRIPTION
    aws ec2 create-security-group --vpc-id "$vpc_id" --group-name "$1" --description "$2" \
        --tag-specifications "$(ec2_tags security-group)" --query GroupId --output text
}
director_sg=$(sg "$c-director" "$c: director host, SSH from the admins")
analytics_sg=$(sg "$c-analytics" "$c: Insights, Analytics API and Jenkins host")
master_sg=$(sg ElasticMapReduce-master "Master group for Elastic MapReduce")
slave_sg=$(sg ElasticMapReduce-slave "Slave group for Elastic MapReduce")
emr_rds_sg=$(sg "$c-emr-rds" "$c: MySQL from the EMR clusters")
default_sg=$(aws ec2 describe-security-groups \
    --filters "Name=vpc-id,Values=$vpc_id" Name=group-name,Values=default \
    --query 'SecurityGroups[0].GroupId' --output text)

allow() { aws ec2 authorize-security-group-ingress --group-id "$@" >/dev/null; }
allow "$director_sg" --protocol tcp --port 22 --cidr "$admin_cidr"
allow "$analytics_sg" --protocol tcp --port 22 --source-group "$director_sg"
allow "$analytics_sg" --protocol tcp --port 80 --cidr 0.0.0.0/0
allow "$analytics_sg" --protocol tcp --port 443 --cidr 0.0.0.0/0
allow "$master_sg" --protocol tcp --port 22 --source-group "$analytics_sg"
allow "$master_sg" --protocol all --source-group "$master_sg"
allow "$master_sg" --protocol all --source-group "$slave_sg"
allow "$slave_sg" --protocol all --source-group "$slave_sg"
allow "$slave_sg" --protocol all --source-group "$master_sg"
allow "$emr_rds_sg" --protocol tcp --port 3306 --source-group "$master_sg"
allow "$emr_rds_sg" --protocol tcp --port 3306 --source-group "$slave_sg"

#
# 5. The slow creations: search domain, database (SPEC sections 6 and 7)
#
step "search domain (create-domain)"
es_domain=$c-analytics-es
cat >"$work/es-access.json" <<EOF
{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": ["$es_user_arn"]},
  "Action": "es:*", "Resource": "arn:aws:es:$region:$account:domain/$es_domain/*"}]}
EOF
aws opensearch create-domain --domain-name "$es_domain" --engine-version Elasticsearch_7.10 \
    --cluster-config InstanceType=t3.small.search,InstanceCount=1,DedicatedMasterEnabled=false,ZoneAwarenessEnabled=false \
    --ebs-options EBSEnabled=true,VolumeType=gp2,VolumeSize=10 \
    --snapshot-options AutomatedSnapshotStartHour=0 \
    --node-to-node-encryption-options Enabled=true \
    --encryption-at-rest-options Enabled=false \
    --domain-endpoint-options EnforceHTTPS=true,TLSSecurityPolicy=Policy-Min-TLS-1-2-2019-07 \
    --advanced-options rest.action.multi.allow_explicit_index=true \
    --access-policies "file://$work/es-access.json" \
    --tag-list "Key=analytics:client,Value=$c" "Key=analytics:managed-by,Value=aws-cli" >/dev/null

step "database (create-db-subnet-group, create-db-instance)"
db_id=$c-analytics
master_password=$(password)
printf '%s' "$master_password" >"$secrets/rds-$db_id.master-password"
# The password goes in a file, never on the command line (visible in ps).
SECRET=$master_password jq -n '{MasterUserPassword: env.SECRET}' >"$work/db-password.json"
aws rds create-db-subnet-group "${rds_endpoint[@]}" --db-subnet-group-name "$db_id" \
    --db-subnet-group-description "Analytics RDS subnets ($db_id)" --subnet-ids "${subnets[@]}" \
    --tags "${iam_tags[@]}" >/dev/null
aws rds create-db-instance "${rds_endpoint[@]}" --db-instance-identifier "$db_id" \
    --engine mysql --engine-version 8.4 --db-instance-class db.t3.medium \
    --allocated-storage 20 --storage-type gp3 --storage-encrypted --no-publicly-accessible \
    --backup-retention-period 7 --copy-tags-to-snapshot --master-username admin \
    --cli-input-json "file://$work/db-password.json" \
    --db-subnet-group-name "$db_id" --vpc-security-group-ids "$emr_rds_sg" "$default_sg" \
    --tags "${iam_tags[@]}" >/dev/null

#
# 6. Hosts (SPEC section 9)
#
step "hosts: key pairs, Ubuntu AMI, instances, Elastic IP"
case ${ANALYTICS_UBUNTU_RELEASE:-24.04} in
16.04) codename=xenial ;;
18.04) codename=bionic ;;
20.04) codename=focal ;;
22.04) codename=jammy ;;
24.04) codename=noble ;;
*) echo "aws-cli-deploy.sh: unknown ANALYTICS_UBUNTU_RELEASE ${ANALYTICS_UBUNTU_RELEASE}" >&2; exit 2 ;;
esac
release=${ANALYTICS_UBUNTU_RELEASE:-24.04}
aws ec2 create-key-pair --key-name "$c-analytics" --tag-specifications "$(ec2_tags key-pair)" \
    --query KeyMaterial --output text >"$secrets/$c-analytics.pem"
aws ec2 create-key-pair --key-name "$c-director" --tag-specifications "$(ec2_tags key-pair)" \
    --query KeyMaterial --output text >"$secrets/$c-director.pem"
ami_id=$(aws ec2 describe-images --owners 099720109477 \
    --filters "Name=name,Values=ubuntu/images/hvm-ssd*/ubuntu-$codename-$release-amd64-server-*" \
    --query 'sort_by(Images, &CreationDate)[-1].ImageId' --output text)
launch() { # NAME TYPE GB KEY GROUP [PROFILE]
    local profile=()
    [[ -n ${6:-} ]] && profile=(--iam-instance-profile "Name=$6")
    aws ec2 run-instances --image-id "$ami_id" --instance-type "$2" --count 1 \
        --key-name "$4" --subnet-id "$subnet_id" --security-group-ids "$default_sg" "$5" \
        --block-device-mappings "DeviceName=/dev/sda1,Ebs={VolumeSize=$3,VolumeType=gp3,DeleteOnTermination=true,Encrypted=true}" \
        --metadata-options HttpTokens=required,HttpEndpoint=enabled \
        "${profile[@]}" \
        --tag-specifications "$(ec2_tags instance "$1")" "$(ec2_tags volume "$1")" \
        --query 'Instances[0].InstanceId' --output text
}
analytics_id=$(launch analytics-1 t3.medium 50 "$c-analytics" "$analytics_sg" "$c-edxanalytics")
launch director-1 t3.micro 8 "$c-director" "$director_sg" >/dev/null
alloc_id=$(aws ec2 allocate-address --domain vpc --tag-specifications "$(ec2_tags elastic-ip "$c-analytics")" \
    --query AllocationId --output text)
aws ec2 wait instance-running --instance-ids "$analytics_id"
aws ec2 associate-address --allocation-id "$alloc_id" --instance-id "$analytics_id" >/dev/null

#
# 7. Wait for the search domain and the database
#
step "waiting for the search domain and the database"
while :; do
    es_endpoint=$(aws opensearch describe-domain --domain-name "$es_domain" \
        --query 'DomainStatus.Endpoint' --output text)
    [[ -n $es_endpoint && $es_endpoint != None ]] && break
    sleep 30
done
es_endpoint=https://$es_endpoint
while :; do
    db_row=$(aws rds describe-db-instances "${rds_endpoint[@]}" --db-instance-identifier "$db_id" \
        --query 'DBInstances[0].[DBInstanceStatus,Endpoint.Address,Endpoint.Port]' --output text)
    read -r db_status db_host db_port <<<"$db_row"
    [[ $db_status == available ]] && break
    sleep 30
done

#
# 8. MySQL databases, users and grants (SPEC section 8), with the mariadb client
#
step "MySQL: databases, users and grants"
if [[ -n ${ANALYTICS_DB_HOST:-} ]]; then
    : "${MYSQL_PWD:?MYSQL_PWD (the admin password) is needed with ANALYTICS_DB_HOST}"
    db_host=$ANALYTICS_DB_HOST db_port=${ANALYTICS_DB_PORT:-3306} db_admin=${ANALYTICS_DB_ADMIN_USER:-admin}
    db_admin_password=$MYSQL_PWD
else
    db_admin=admin db_admin_password=$master_password
fi
analytics_password=$(password)
printf '%s' "$analytics_password" >"$secrets/mysql-analytics.password"
{
    for db in dashboard analytics-api reports; do
        echo "CREATE DATABASE \`$db\` CHARACTER SET utf8mb4;"
    done
    echo "CREATE USER 'analytics'@'%' IDENTIFIED BY $(sql_string "$analytics_password");"
    for db in dashboard analytics-api reports; do
        echo "GRANT ALL PRIVILEGES ON \`$db\`.* TO 'analytics'@'%';"
    done
    if [[ -n ${EDXAPP_MIGRATION_USER:-} ]]; then
        migration_password=$(<"${EDXAPP_MIGRATION_PASSWORD_FILE:?EDXAPP_MIGRATION_PASSWORD_FILE is needed with EDXAPP_MIGRATION_USER}")
        echo "CREATE USER $(sql_string "$EDXAPP_MIGRATION_USER")@'%' IDENTIFIED BY $(sql_string "$migration_password");"
        for db in dashboard analytics-api reports; do
            echo "GRANT ALL PRIVILEGES ON \`$db\`.* TO $(sql_string "$EDXAPP_MIGRATION_USER")@'%';"
        done
    fi
} | MYSQL_PWD=$db_admin_password mariadb --no-defaults --protocol=TCP -h "$db_host" -P "$db_port" -u "$db_admin"

if [[ -n ${EDXAPP_DB_HOST:-} ]]; then
    edxapp_ro_password=$(password)
    printf '%s' "$edxapp_ro_password" >"$secrets/mysql-edxapp_ro.password"
    edxapp_admin_password=$(<"${EDXAPP_DB_ADMIN_PASSWORD_FILE:?EDXAPP_DB_ADMIN_PASSWORD_FILE is needed with EDXAPP_DB_HOST}")
    printf '%s\n' "CREATE USER 'edxapp_ro'@'%' IDENTIFIED BY $(sql_string "$edxapp_ro_password");" \
        "GRANT SELECT ON *.* TO 'edxapp_ro'@'%';" |
        MYSQL_PWD=$edxapp_admin_password mariadb --no-defaults --protocol=TCP -h "$EDXAPP_DB_HOST" \
            -P "${EDXAPP_DB_PORT:-3306}" -u "${EDXAPP_DB_ADMIN_USER:-admin}"
fi

#
# 9. Secure configuration (SPEC section 11)
#
step "secure configuration files, credential files to S3"
cat >"$secrets/vars-analytics.yml" <<EOF
# Ansible variables of the analytics hosts for the $c analytics deployment.
ANALYTICS_MYSQL_HOST: "$db_host"
ANALYTICS_MYSQL_PORT: $db_port
ANALYTICS_MYSQL_USER: analytics
ANALYTICS_MYSQL_PASSWORD: "$analytics_password"
ANALYTICS_API_ELASTICSEARCH_LEARNERS_HOST: $es_endpoint
ANALYTICS_API_ELASTICSEARCH_AWS_ACCESS_KEY_ID: $es_key_id
ANALYTICS_API_ELASTICSEARCH_AWS_SECRET_ACCESS_KEY: "$es_secret"
ANALYTICS_API_ELASTICSEARCH_CONNECTION_DEFAULT_REGION: $region
ANALYTICS_API_REPORT_DOWNLOAD_BACKEND:
  AWS_ACCESS_KEY_ID: $reports_key_id
  AWS_SECRET_ACCESS_KEY: "$reports_secret"
  AWS_STORAGE_BUCKET_NAME: $reports_bucket
INSIGHTS_NGINX_PORT: 80
INSIGHTS_NGINX_SSL_PORT: 443
EOF
SECRET=$analytics_password jq -n --arg h "$db_host" --arg p "$db_port" \
    '{host: $h, port: $p, username: "analytics", password: env.SECRET}' >"$secrets/edxanalytics_creds"
if [[ -n ${EDXAPP_DB_HOST:-} ]]; then
    SECRET=$edxapp_ro_password jq -n --arg h "$EDXAPP_DB_HOST" --arg p "${EDXAPP_DB_PORT:-3306}" \
        '{host: $h, port: $p, username: "edxapp_ro", password: env.SECRET}' >"$secrets/edxapp_creds"
fi
cat >"$secrets/emr-vars.yml" <<EOF
# emr-launch variables (CLUSTER_NAME=... emr-launch --vars emr-vars.yml) for the $c analytics deployment.
name: "{{ lookup('env', 'CLUSTER_NAME') }}"
region: $region
keypair_name: $c-analytics
vpc_subnet_id: $subnet_id
log_uri: s3://$c-analytics-emr/logs
role: EMR_EC2_DefaultRole
service_role: EMR_DefaultRole
release_label: emr-5.36.2
applications:
- name: Hadoop
- name: Hive
- name: Sqoop
instance_groups:
  master:
    num_instances: 1
    type: m5.xlarge
    market: ON_DEMAND
  core:
    num_instances: 2
    type: m5.xlarge
    market: ON_DEMAND
emr_managed_master_security_group: $master_sg
emr_managed_slave_security_group: $slave_sg
visible_to_all_users: true
tags:
- Key: analytics:client
  Value: $c
EOF
cat >"$secrets/analytics-override.cfg" <<EOF
; Analytics pipeline overrides for the $c analytics deployment.
[database-export]
database=reports
credentials=s3://$c-edxanalytics/edxanalytics_creds

[database-import]
database=edxapp
credentials=s3://$c-edxanalytics/edxapp_creds
destination=s3://$c-edxanalytics/warehouse/

[event-logs]
source=["s3://$c-tracking-logs/logs/tracking/"]
pattern=[".*tracking.log-(?P<date>[0-9]+).*"]
expand_interval=30 days

[hive]
warehouse_path=s3://$c-edxanalytics/warehouse/hive/

[elasticsearch]
host=$es_endpoint
connection_type=aws

[geolocation]
geolocation_data=s3://$c-edxanalytics/geo/GeoIP.dat

[manifest]
path=s3://$c-edxanalytics/manifest/
EOF
cat >"$secrets/jenkins_env" <<EOF
# Environment of the pipeline's Jenkins jobs (source it) for the $c analytics deployment.
export EXTRA_VARS=@$secrets/emr-vars.yml
export ANALYTICS_OVERRIDE_CONFIG=$secrets/analytics-override.cfg
export ANALYTICS_CONFIG_BUCKET=$c-edxanalytics
export ANALYTICS_CLUSTER_NAME_PREFIX=$c-analytics
export AWS_REGION=$region
EOF
for f in edxanalytics_creds edxapp_creds; do
    [[ -f $secrets/$f ]] || continue
    aws s3 cp --only-show-errors --sse AES256 "$secrets/$f" "s3://$c-edxanalytics/$f"
done
step "done for $c: analytics host $analytics_id, search $es_endpoint, database $db_host:$db_port"
