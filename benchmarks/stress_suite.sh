#!/usr/bin/env bash
# The whole test suite, twice in a row, while stress-ng keeps every core busy.
#
# Tests must wait on signals and conditions, never on time; this is how we check that they
# do. Not part of .ci/run (it takes a while): run it before merging changes to tests or to
# anything threaded. Needs stress-ng (apt-get install stress-ng).
#
#   benchmarks/stress_suite.sh [PYTHON] [extra pytest args...]
#
# Prints the load average seen and each pass's wall time; exits non-zero if a pass fails.
set -u
cd "$(dirname "$0")/.."
PYTHON="${1:-python}"
shift || true
command -v stress-ng >/dev/null || { echo "stress-ng is not installed (apt-get install stress-ng)" >&2; exit 2; }
CORES="$(nproc)"
stress-ng --cpu "$CORES" --timeout 0 --quiet &
STRESS=$!
trap 'kill "$STRESS" 2>/dev/null; wait "$STRESS" 2>/dev/null' EXIT
status=0
for pass in 1 2; do
  start=$(date +%s)
  echo "pass $pass: stress-ng --cpu $CORES running; load average $(cut -d' ' -f1-3 /proc/loadavg)"
  PYTHONPATH="$PWD" QT_QPA_PLATFORM=offscreen "$PYTHON" -m pytest -q -p no:cacheprovider "$@" || status=1
  echo "pass $pass: $(( $(date +%s) - start )) s, load average $(cut -d' ' -f1-3 /proc/loadavg)"
done
exit "$status"
