#!/bin/sh
# Install the validators the CI generator's tests run for real (tests/test_ci_validators.py):
#   check-jsonschema and zizmor (PyPI), gitlab-ci-local and bun (npm, into ./node_modules, gitignored),
#   rsync (apt; gitlab-ci-local syncs the repository with it).
# gitlab-ci-local needs Node >= 22; the tests run it under bun instead, so Node 20 is enough for npm.
set -eu
cd "$(dirname "$0")/.."

python3 -m pip install --disable-pip-version-check "check-jsonschema>=0.29" "zizmor>=1.0"

if ! command -v npm >/dev/null 2>&1; then
    echo "install-validators: npm not found; install Node.js (>= 18) to get gitlab-ci-local" >&2
    exit 1
fi
npm install --no-save --no-audit --no-fund "gitlab-ci-local@^4.75" "bun@^1.1"
node_modules/.bin/bun --version >/dev/null

if ! command -v rsync >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq && apt-get install -y -qq rsync
    else
        sudo apt-get update -qq && sudo apt-get install -y -qq rsync
    fi
fi
echo "install-validators: check-jsonschema, zizmor, gitlab-ci-local (under bun) and rsync are ready"
