#!/usr/bin/env bash
# demo.sh: the main job. Builds the tools, starts the local emulators (moto
# server for AWS, MariaDB standing in for the RDS endpoint and the edxapp
# database), runs the whole runbook (deploy.sh) against them, prints what it
# built, and stops the emulators at the end.
#   bash scripts/demo.sh            # deploy, summarise, stop
#   bash scripts/demo.sh --rerun    # also run deploy.sh a second time (0 mutating calls)
#   bash scripts/demo.sh --keep     # leave the emulators running to explore
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
keep=() rerun=0
for a in "$@"; do
    case $a in
    --keep) keep=(--keep) ;;
    --rerun) rerun=1 ;;
    *) echo "demo.sh: unknown option $a (use --keep, --rerun)" >&2; exit 2 ;;
    esac
done

if [[ -z ${ANALYTICS_MOTO_URL:-} ]]; then
    exec bash "$REPO_ROOT/scripts/with-emulators.sh" "${keep[@]}" bash "$REPO_ROOT/scripts/demo.sh" "$@"
fi

cd "$REPO_ROOT"
echo "demo.sh: building the tools (cargo build --workspace --bins)" >&2
cargo build --quiet --workspace --bins
export PATH="$REPO_ROOT/target/debug:$PATH"

export ANALYTICS_CLIENT=${ANALYTICS_CLIENT:-demo}
work="$REPO_ROOT/.emulators/demo/$ANALYTICS_CLIENT"
rm -rf "$work"
export ANALYTICS_STATE_DIR="$work/state" ANALYTICS_SECRETS_DIR="$work/secrets"
# The local MariaDB stands in for the RDS endpoint and for edxapp's database.
# shellcheck source=scripts/emulators.sh
source "$REPO_ROOT/scripts/emulators.sh"
emu_runbook_env "$work"

bash "$REPO_ROOT/scripts/deploy.sh"
if [[ $rerun == 1 ]]; then
    cp "$ANALYTICS_STATE_DIR/deploy-summary.json" "$work/first-run.json"
    echo "demo.sh: running deploy.sh again: a finished deployment makes no mutating call" >&2
    bash "$REPO_ROOT/scripts/deploy.sh"
fi

s=$ANALYTICS_STATE_DIR
jq -r -n --slurpfile sum "$s/deploy-summary.json" '
    $sum[0] as $d |
    "Deployment \($d.client) on the local emulators: \($d.changed) changes, \($d.api_calls.total) API calls (\($d.api_calls.mutating) mutating) in \($d.seconds)s"' 
echo
echo "Resources per tool:"
for f in "$s"/mk-*.json; do
    jq -r '"  \(.tool | . + "             " | .[0:14]) " + ([.changes[] | .kind] | group_by(.) | map("\(length) \(.[0])") | join(", "))' "$f"
done
echo
echo "Endpoints:"
jq -r '"  search domain     \(.outputs.endpoint)"' "$s/mk-es.json"
jq -r '"  analytics db      \(.outputs.endpoint.address):\(.outputs.endpoint.port) (RDS on the emulator; the demo used the local MariaDB)"' "$s/mk-rds.json"
jq -r '"  analytics host    \(.outputs.instances.analytics[0].id) elastic IP \(.outputs.elastic_ip.public_ip)"' "$s/mk-ec2.json"
jq -r '"  director host     \(.outputs.instances.director.id)"' "$s/mk-ec2.json"
echo
echo "Secure configuration (mode 0600) in $ANALYTICS_SECRETS_DIR:"
(cd "$ANALYTICS_SECRETS_DIR" && ls -l | awk 'NR > 1 {print "  " $1 "  " $NF}')
echo
echo "Each tool's JSON document is in $s."
