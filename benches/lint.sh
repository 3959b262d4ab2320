#!/usr/bin/env bash
# The linter's run time on the public hook corpus, as a benchmark (not a test): every playbook of
# the corpus linted against every provider's shape (`hook-runner lint FILE --provider all`), one
# process per playbook as a CI job would run it, in rounds; prints the median round in
# milliseconds (whole corpus and per playbook) as a Markdown table on stdout.
#
#   benches/lint.sh                                  # target/release/hook-runner, 5 rounds
#   benches/lint.sh --binary target/debug/hook-runner --runs 10
#   HOOK_CORPUS_DIR=/path/to/corpus/hooks benches/lint.sh
#
# The corpus lives beside the repository (../shared/corpus/hooks) unless HOOK_CORPUS_DIR says
# where. Nothing is built here: build the binary first (cargo build --release).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
BIN=target/release/hook-runner
RUNS=5
while [ $# -gt 0 ]; do
  case "$1" in
    --binary) BIN=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    *) echo "usage: $0 [--binary PATH] [--runs N]" >&2; exit 2 ;;
  esac
done
CORPUS=${HOOK_CORPUS_DIR:-../shared/corpus/hooks}
[ -x "$BIN" ] || { echo "$BIN: not built (cargo build --release)" >&2; exit 1; }
[ -d "$CORPUS" ] || { echo "$CORPUS: no hook corpus (set HOOK_CORPUS_DIR)" >&2; exit 1; }
[ "$RUNS" -ge 1 ] 2>/dev/null || { echo "--runs needs a number >= 1" >&2; exit 2; }

mapfile -t files < <(find "$CORPUS" -maxdepth 1 -name '*.yml' | sort)
[ ${#files[@]} -gt 0 ] || { echo "$CORPUS: no playbooks" >&2; exit 1; }

now_ns() { date +%s%N; }

# One round: every playbook once. Exit 2 (errors found) is expected for the broken hooks;
# anything else means the linter itself failed, which would make the figure meaningless.
round() {
  local file code
  for file in "${files[@]}"; do
    code=0
    "$BIN" lint "$file" --provider all --format json >/dev/null || code=$?
    if [ "$code" -ne 0 ] && [ "$code" -ne 2 ]; then
      echo "$file: hook-runner lint exited $code" >&2
      exit 1
    fi
  done
}

round # warm the page cache; not counted
times=()
for _ in $(seq "$RUNS"); do
  start=$(now_ns)
  round
  times+=($(( ($(now_ns) - start) / 1000 )))
done
median=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')

printf '| corpus | playbooks | providers | rounds | median round | per playbook |\n'
printf '|---|---|---|---|---|---|\n'
printf '| %s | %d | 7 (`--provider all`) | %d | %d.%01d ms | %d.%01d ms |\n' \
  "$(basename "$(dirname "$CORPUS")")/$(basename "$CORPUS")" "${#files[@]}" "$RUNS" \
  $((median / 1000)) $(((median % 1000) / 100)) \
  $((median / ${#files[@]} / 1000)) $(((median / ${#files[@]} % 1000) / 100))
printf '\n%s, %s\n' "$("$BIN" --version 2>/dev/null || echo hook-runner)" "$(file -b "$BIN" | cut -d, -f1-2)"
