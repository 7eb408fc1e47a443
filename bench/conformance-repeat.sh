#!/usr/bin/env bash
# The full MCP conformance suite N times (CONFORMANCE_RUNS, default 10) against the
# HTTP-container path through Berth's gateway; prints each run's pass count and what regressed
# from a direct run of the same fixture. Exit code 1 when any run regressed. About 30 s a run.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/bootstrap.sh test
exec node --import tsx bench/src/conformance/conformance-repeat.ts
