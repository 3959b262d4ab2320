#!/usr/bin/env bash
# Runs hook-runner's fuzz targets (fuzz/, cargo-fuzz + libFuzzer), one after the other.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]   # default 25 s, every target
#
# Used for the CI smoke run (scripts/test.sh calls it with a short budget) and for long local runs
# (e.g. scripts/fuzz.sh 600). Only the stable toolchain exists here: libFuzzer's instrumentation
# needs nightly flags, so cargo fuzz runs with RUSTC_BOOTSTRAP=1.
#
# 1. Installs cargo-fuzz from crates.io when it is missing.
# 2. Builds every target (release + debug assertions + AddressSanitizer, cargo fuzz's default).
# 3. Seeds each fuzz/corpus/<target>/ (not committed) at run time: our own seeds written below,
#    plus, when the public material is beside the repository (../shared, as in CI), its hook
#    playbooks and Forklift fixtures (third-party text is never committed into fuzz/).
# 4. Runs each target for SECONDS with the invariants as libFuzzer limits: no panic, no run of one
#    input over FUZZ_TIMEOUT seconds (default 10), at most 512 MB of memory (RSS and one malloc).
# 5. Prints one line per target (executions, coverage, features, corpus size, crashes) and also
#    appends them to target/fuzz-figures.txt. Exits non-zero when a target found a crash, a hang
#    or an out-of-memory input: the input is in fuzz/artifacts/<target>/ (keep it as a regression
#    test in tests/fuzz_regressions.rs).
#
# Environment: FUZZ_TIMEOUT (s per input, default 10), FUZZ_RSS_MB (default 512),
# FUZZ_SKIP_BUILD=1 (run the targets as last built, for several runs in a row),
# HOOK_RUNNER_SHARED (default: ../shared beside the repository).
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)
FUZZ="$ROOT/fuzz"
SECONDS_PER_TARGET=${1:-25}
shift || true
ALL_TARGETS=(yaml_load template kv_args inventory mode)
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=("${ALL_TARGETS[@]}")
SHARED=${HOOK_RUNNER_SHARED:-$ROOT/../shared}
TIMEOUT=${FUZZ_TIMEOUT:-10}
RSS_MB=${FUZZ_RSS_MB:-512}
FIGURES="$ROOT/target/fuzz-figures.txt"

log() { printf '==> fuzz: %s\n' "$*" >&2; }
warn() { printf '!!! fuzz: %s\n' "$*" >&2; }

export RUSTC_BOOTSTRAP=1
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_odr_violation=0}
if [ -x "${CARGO_HOME:-$HOME/.cargo}/bin/cargo" ]; then PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"; fi

ensure_cargo_fuzz() {
	if cargo fuzz --version >/dev/null 2>&1; then return 0; fi
	log "installing cargo-fuzz (crates.io)"
	cargo install --locked cargo-fuzz >&2 || { warn "could not install cargo-fuzz"; return 1; }
}

# --- seeds ------------------------------------------------------------------------------------
# seed DIR NAME BYTES: one seed file; BYTES is a printf format (so \x00 selector bytes work).
seed() { printf -- "$3" >"$1/$2"; }

shared_files() { # the shared playbooks and fixtures (may be absent outside the project's machines)
	local d
	for d in "$SHARED/corpus/hooks" "$SHARED/fixtures/forklift"; do
		[ -d "$d" ] && find "$d" -type f \( -name '*.yml' -o -name '*.yaml' -o -name '*.json' \)
	done
	return 0
}

seed_yaml_load() {
	local dir=$1 f i=0
	seed "$dir" anchors 'base: &b {a: 1, b: [x, y]}\nother:\n  <<: *b\n  c: *b\nlist: [*b, *b]\n'
	seed "$dir" scalars 'a: yes\nb: 0644\nc: 0x1F\nd: 1_000\ne: ~\nf: .inf\ng: 12:30\nh: "0644"\ni: !!str 12\nj: |\n  block\n  text\nk: >-\n  folded\n'
	seed "$dir" play '- hosts: all\n  tasks:\n    - name: x\n      command: echo {{ a }}\n      when: a is defined\n'
	seed "$dir" bomb 'a: &a [x, x, x]\nb: &b [*a, *a, *a]\nc: &c [*b, *b, *b]\nd: [*c, *c, *c]\n'
	seed "$dir" flow '{a: [1, {b: c}], "q": '"'"'s'"'"', ? complex : key}\n'
	while IFS= read -r f; do cp "$f" "$dir/shared-$((i++))"; done < <(shared_files)
}

seed_template() {
	local dir=$1 f i=0 line
	seed "$dir" render '\x00Hello {{ s | upper }} {{ l | length }} {%% for x in l %%}{{ loop.index }}:{{ x }} {%% endfor %%}'
	seed "$dir" filters '\x00{{ d | dict2items | items2dict | to_json }} {{ s | regex_replace("o", "0") }} {{ vm.ips | ipaddr | default([]) }} {{ s | b64encode | b64decode }}'
	seed "$dir" eval '\x01d.c.x ~ vm.name ~ (n * 2) | string'
	seed "$dir" cond '\x02n > 2 and s is search("wor") and vm.disks | map(attribute="size") | sum == 10'
	seed "$dir" loop '\x00{{ loop_a }}'
	seed "$dir" template '\x03{{ indirect }} {{ lookup("vars", "s") }} {{ query("items", l) }}'
	seed "$dir" yaml '\x00{{ d | to_nice_yaml }}{{ "a: [1, 2]" | from_yaml }}{{ s | hash("sha1") }}{{ s | quote }}'
	for f in $(shared_files); do
		while IFS= read -r line; do
			printf '\x00%s' "$line" >"$dir/shared-$((i++))"
		done < <(grep -o '{{[^}]*}}' "$f" | head -n 40)
		while IFS= read -r line; do
			printf '\x02%s' "$line" >"$dir/shared-$((i++))"
		done < <(sed -n 's/^[[:space:]]*\(when\|failed_when\|changed_when\|until\):[[:space:]]*\(..*\)$/\2/p' "$f" | head -n 20)
	done
}

seed_kv_args() {
	local dir=$1 f i=0 line
	seed "$dir" file '\x00path=/tmp/a b state=directory mode="0755" owner='"'"'x y'"'"''
	seed "$dir" command '\x01echo "a b" creates=/tmp/x chdir=/tmp foo=bar {{ x }} {%% if y %%}z{%% endif %%}'
	seed "$dir" quotes '\x00a="b \\" c" d='"'"'e f'"'"' g=h=i j= =k'
	for f in $(shared_files); do
		while IFS= read -r line; do
			printf '\x01%s' "$line" >"$dir/shared-$((i++))"
		done < <(sed -n 's/^[[:space:]]*-\{0,1\}[[:space:]]*\(ansible\.builtin\.\)\{0,1\}\(command\|shell\|file\|copy\|stat\|debug\|set_fact\|service\):[[:space:]]\{1,\}\([^|>].*=.*\)$/\3/p' "$f" | head -n 20)
	done
}

seed_inventory() {
	local dir=$1
	seed "$dir" ini '\x00[web]\nh1 ansible_host=127.0.0.1 ansible_port=2222 x="a b"\nh[01:03].example.com\n[web:vars]\nv=1\n[all:children]\nweb\n[db]\nd[a:c]\n\x00web:&db:!h1'
	seed "$dir" yaml '\x01all:\n  hosts:\n    h1: {ansible_host: 127.0.0.1}\n  children:\n    web:\n      hosts: {h2: null, "h[1:3]": {}}\n      vars: {v: 1}\n      children: {inner: {hosts: {h9: {}}}}\n\x00web,~h[0-9]'
	seed "$dir" pattern '\x00a\nb\nc\n\x00all[0:1]'
}

seed_mode() {
	local dir=$1 m
	for m in 0644 0o755 755 '+x' 'u+rwx,g-w,o=' 'a=rX' 'ug=rw,o-rwx' 'u=s' '=t' 'go+X' '-1' '0o1_7_7' '7777' '99'; do
		printf '\xa4\x81\x00\x00\x12\x00%s' "$m" >"$dir/m-$m"
	done
	printf '\xa4\x81\x00\x00\x12\x00#\xa4\x01\x00\x00\x00\x00' >"$dir/number"
}

# --- runs -------------------------------------------------------------------------------------
run_target() {
	local target=$1 corpus="$FUZZ/corpus/$1" log="$ROOT/target/fuzz-$1.log"
	mkdir -p "$corpus" "$FUZZ/artifacts/$target"
	"seed_$target" "$corpus"
	log "$target: ${SECONDS_PER_TARGET}s from $(find "$corpus" -type f | wc -l) seed/corpus inputs"
	local rc=0
	# The binary built by `cargo fuzz build` (not `cargo fuzz run`, which would rebuild when the
	# tree changed since the build).
	(cd "$FUZZ" && "$FUZZ/target/$(rustc -vV | sed -n 's/^host: //p')/release/$target" "$corpus" \
		-max_total_time="$SECONDS_PER_TARGET" -timeout="$TIMEOUT" -rss_limit_mb="$RSS_MB" \
		-malloc_limit_mb="$RSS_MB" -max_len=65536 -print_final_stats=1 \
		-artifact_prefix="$FUZZ/artifacts/$target/") >"$log" 2>&1 || rc=$?
	local execs cov ft found rss
	execs=$(LC_ALL=C awk '/stat::number_of_executed_units/ { print $NF }' "$log" | tail -n1)
	rss=$(LC_ALL=C awk '/stat::peak_rss_mb/ { print $NF }' "$log" | tail -n1)
	cov=$(grep -a -o 'cov: [0-9]*' "$log" | tail -n1 | awk '{ print $2 }')
	ft=$(grep -a -o 'ft: [0-9]*' "$log" | tail -n1 | awk '{ print $2 }')
	found=$(grep -a -E '^(==[0-9]+==ERROR|SUMMARY: libFuzzer|artifact_prefix=)|Test unit written to|panicked at' "$log" | head -n 6)
	local line
	line=$(printf '%s %-10s %4ss execs=%-10s cov=%-6s ft=%-6s corpus=%-5s peak_rss_mb=%-5s exit=%s' \
		"$(date -u +%FT%TZ)" "$target" "$SECONDS_PER_TARGET" "${execs:-?}" "${cov:-?}" "${ft:-?}" \
		"$(find "$corpus" -type f | wc -l)" "${rss:-?}" "$rc")
	echo "$line" | tee -a "$FIGURES"
	if [ "$rc" -ne 0 ]; then
		warn "$target failed (exit $rc); log: $log"
		[ -n "$found" ] && printf '%s\n' "$found" | sed 's/^/!!!   /' >&2
		return 1
	fi
}

main() {
	mkdir -p "$ROOT/target"
	ensure_cargo_fuzz || return 1
	if [ "${FUZZ_SKIP_BUILD:-0}" = 1 ]; then
		log "FUZZ_SKIP_BUILD=1: using the targets as last built"
	else
		log "cargo fuzz build --release (every target)"
		(cd "$FUZZ" && cargo fuzz build --release) || { warn "cargo fuzz build failed"; return 1; }
	fi
	local t
	local failed=()
	for t in "${TARGETS[@]}"; do
		run_target "$t" || failed+=("$t")
	done
	if [ ${#failed[@]} -gt 0 ]; then
		warn "targets with findings: ${failed[*]} (inputs in fuzz/artifacts/<target>/)"
		return 1
	fi
	log "no crash, hang or out-of-memory input in ${TARGETS[*]}"
}

main
