#!/usr/bin/env bash
# The project's whole test command: builds every binary of the workspace and
# runs all tests against the local emulators (moto server for AWS, MariaDB for
# MySQL), which it starts and stops itself through scripts/with-emulators.sh.
# Extra arguments go to the test runner (cargo nextest run, else cargo test).
#   bash scripts/test.sh [RUNNER ARGS...]
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)

if [[ -z ${ANALYTICS_MOTO_URL:-} ]]; then
    exec bash "$REPO_ROOT/scripts/with-emulators.sh" bash "$REPO_ROOT/scripts/test.sh" "$@"
fi

cd "$REPO_ROOT"
echo "test.sh: cargo build --workspace --bins" >&2
cargo build --workspace --bins
if cargo nextest --version >/dev/null 2>&1; then
    echo "test.sh: cargo nextest run --workspace --no-fail-fast $*" >&2
    cargo nextest run --workspace --no-fail-fast "$@"
else
    echo "test.sh: cargo-nextest not found; cargo test --workspace --no-fail-fast $*" >&2
    cargo test --workspace --no-fail-fast "$@"
fi
