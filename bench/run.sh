#!/usr/bin/env bash
# Runs the benchmark suite and prints one markdown table of medians (with
# each client's time ratio to the floor and to atlaskeys), followed by the
# performance targets. go test's progress goes to stderr; the raw output is
# kept in results/ (gitignored) for benchstat.
#
#   bench/run.sh                        # COUNT=6 BENCHTIME=1s, about 6-8 minutes
#   COUNT=10 BENCHTIME=2s bench/run.sh  # tighter medians, longer
#   BENCH='BenchmarkGet' bench/run.sh   # a subset (a -bench regexp)
#   BENCHSTAT=1 bench/run.sh            # also write results/benchstat-*.txt
set -euo pipefail
cd "$(dirname "$0")"
export GOFLAGS="${GOFLAGS:-} -buildvcs=false"
COUNT=${COUNT:-6}
BENCHTIME=${BENCHTIME:-1s}
BENCH=${BENCH:-.}
BENCHSTAT_VERSION=v0.0.0-20260908200009-22c9c6c9d4da

mkdir -p results
stamp=$(date -u +%Y%m%dT%H%M%SZ)
raw="results/raw-$stamp.txt"
{
  echo "# date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "# $(go version)"
  echo "# cpu:$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-), $(nproc) cores"
  echo "# go test -run '^\$' -bench '$BENCH' -benchtime $BENCHTIME -count $COUNT"
} >"$raw"
echo "raw output: bench/$raw" >&2
go test -run '^$' -bench "$BENCH" -benchtime "$BENCHTIME" -count "$COUNT" -timeout 60m . | tee -a "$raw" >&2
ln -sfn "$(basename "$raw")" results/latest.txt

if [ "${BENCHSTAT:-0}" = 1 ]; then
  go run "golang.org/x/perf/cmd/benchstat@$BENCHSTAT_VERSION" "$raw" >"results/benchstat-$stamp.txt" &&
    echo "benchstat: bench/results/benchstat-$stamp.txt" >&2
fi
go run ./cmd/benchtable -targets "$raw" | tee "results/table-$stamp.md"
