#!/usr/bin/env bash
# PostgreSQL server binaries (initdb, pg_ctl, postgres) for the app store tests, installed if missing.
# The tests start and stop their own throwaway server on 127.0.0.1 (tests/appstore_fixtures.py), so this
# starts nothing and exports nothing. Set CASPER_TEST_PG_DSN instead to test against a running server.
set -euo pipefail

if command -v pg_ctl >/dev/null 2>&1 || compgen -G "/usr/lib/postgresql/*/bin/pg_ctl" >/dev/null; then
    exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends postgresql
