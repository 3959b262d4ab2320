#!/usr/bin/env bash
# hook-runner's benchmark suite: hook-runner against ansible-core 2.18 (stock, pipelining, Mitogen)
# on the same lab targets in the same run. Not part of the test run (scripts/test.sh).
#
#   scripts/bench.sh                 # every scenario, BENCH_RUNS runs each (default 5)
#   scripts/bench.sh --quick         # one run each (development)
#   scripts/bench.sh tasks fanout    # only these scenarios (seed tasks fanout startup bigfile)
#   scripts/bench.sh --write-readme  # also writes the table into README.md (or BENCH_WRITE_README=1)
#   scripts/bench.sh --runs 3        # runs per scenario (or BENCH_RUNS=3)
#
# As root (the lab starts sshd, network namespaces and a systemd VM). It
# 1. builds `target/release/hook-runner`,
# 2. makes the peers' venv once in .lab-cache/bench-venv (git-ignored): PyPI ansible 11.x
#    (ansible-core 2.18 with kubernetes.core), kubernetes, mitogen 0.3.x,
# 3. builds and runs the driver, benches/ (package hook-runner-bench): target/release/hook-runner-bench.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)
log() { printf '==> %s\n' "$*" >&2; }

VENV=${BENCH_VENV:-$ROOT/.lab-cache/bench-venv}
# The peers' versions; change PEERS_STAMP with them so the venv is rebuilt.
PEERS=('ansible==11.*' 'kubernetes' 'mitogen>=0.3.22,<0.4')
PEERS_STAMP="ansible11-kubernetes-mitogen03-v1"

make_venv() {
	if [ -f "$VENV/.stamp" ] && [ "$(cat "$VENV/.stamp")" = "$PEERS_STAMP" ]; then
		log "peers: reusing $VENV ($("$VENV/bin/ansible-playbook" --version | head -1))"
		return
	fi
	log "peers: creating $VENV (${PEERS[*]})"
	rm -rf "$VENV"
	python3 -m venv "$VENV"
	"$VENV/bin/pip" install --quiet --disable-pip-version-check "${PEERS[@]}"
	echo "$PEERS_STAMP" >"$VENV/.stamp"
	"$VENV/bin/pip" list --disable-pip-version-check 2>/dev/null | grep -i -E '^(ansible|ansible-core|kubernetes|mitogen) ' >&2
}

log "building target/release/hook-runner and the driver"
cargo build --release -p hook-runner --bin hook-runner
cargo build --release -p hook-runner-bench
make_venv
log "running the suite"
export BENCH_VENV="$VENV" HOOK_RUNNER_BIN="$ROOT/target/release/hook-runner"
exec "$ROOT/target/release/hook-runner-bench" "$@"
