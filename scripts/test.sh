#!/usr/bin/env bash
# hook-runner's test command: provisions what the test lab needs and runs the whole suite.
#
#   scripts/test.sh            # as root, from the repository (any cwd)
#
# 1. Installs the missing system packages of the lab with apt-get (no `apt-get update` when nothing
#    is missing): openssh-server/-client, debootstrap, systemd-container, iproute2, util-linux,
#    libnss-wrapper, tini, podman, runc, catatonit, and kubectl when absent and available.
# 2. cargo build --workspace --all-targets, then cargo test --workspace (plain cargo, no nextest).
# 3. Prints the lab's setup times (from LAB-TIMING reports), the lab tests that could not run
#    (LAB-NOT-RUN, only possible outside CI), and the build and suite times.
# 4. Fails when the lab left anything behind: namespaces, links, mounts, processes.
#
# With CI=true a missing prerequisite is a failure (here and in every lab test), never a skip.
# Environment: TEST_THREADS (default: 2 x cores, at least 4), extra `cargo test` filters as arguments
# (e.g. scripts/test.sh ssh_ runs the tests whose names contain "ssh_").
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)

log() { printf '==> %s\n' "$*" >&2; }
warn() { printf '!!! %s\n' "$*" >&2; }
is_ci() { case "${CI:-}" in true | TRUE | True | 1 | yes) return 0 ;; *) return 1 ;; esac; }
now_ms() { date +%s%3N; }
seconds_since() { awk -v s="$1" -v e="$(now_ms)" 'BEGIN { printf "%.1f", (e - s) / 1000 }'; }
missing_prerequisite() {
	if is_ci; then
		warn "$* (CI=true: a missing prerequisite is a failure)"
		exit 1
	fi
	warn "$* (outside CI: the tests that need it will say they did not run)"
}

# ---------------------------------------------------------------------------------------------
# 1. System packages
# ---------------------------------------------------------------------------------------------
# gcc/libc6-dev: the linker and C compiler cargo needs (ring); procps: ps for the leftover check;
# acl: getfacl/setfacl, which Ansible's copy target (conformance) runs on its host;
# podman/runc/catatonit: the container engine that builds and runs the image (tests/image_podman.rs;
# runc because crun refuses hybrid cgroups, catatonit for podman's pause image).
PACKAGES=(openssh-server openssh-client debootstrap systemd-container iproute2 util-linux libnss-wrapper tini sudo
	procps gcc libc6-dev acl podman runc catatonit)

package_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
apt_candidate() { apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ { print $2 }'; }

install_system_packages() {
	local missing=() p
	for p in "${PACKAGES[@]}"; do
		package_installed "$p" || missing+=("$p")
	done
	local kubectl_missing=""
	command -v kubectl >/dev/null 2>&1 || kubectl_missing=kubectl
	if [ ${#missing[@]} -eq 0 ] && [ -z "$kubectl_missing" ]; then
		log "system packages: all present"
		return
	fi
	local wanted="${missing[*]} $kubectl_missing"
	if ! command -v apt-get >/dev/null 2>&1; then
		missing_prerequisite "missing: $wanted, and there is no apt-get"
		return
	fi
	if [ "$(id -u)" != 0 ]; then
		missing_prerequisite "missing: $wanted; run as root to install them"
		return
	fi
	export DEBIAN_FRONTEND=noninteractive
	log "apt-get update (missing: $wanted)"
	apt-get update -qq
	if [ -n "$kubectl_missing" ]; then
		# kubectl comes from the Kubernetes/Google repositories where configured; Debian 12 itself
		# only has the old kubernetes-client (1.20).
		local pkg candidate found=""
		for pkg in kubectl kubernetes-client; do
			candidate=$(apt_candidate "$pkg")
			if [ -n "$candidate" ] && [ "$candidate" != "(none)" ]; then
				missing+=("$pkg")
				found=$pkg
				break
			fi
		done
		[ -n "$found" ] || warn "kubectl is absent and no package provides it: the kubectl tests will report it"
	fi
	if [ ${#missing[@]} -gt 0 ]; then
		log "apt-get install ${missing[*]}"
		apt-get install -y -qq --no-install-recommends "${missing[@]}"
	fi
}

# ---------------------------------------------------------------------------------------------
# 1b. Ansible, the oracle of the differential tests (tests/differential.rs)
#     A venv with PyPI ansible 11.x (ansible-core 2.18 + kubernetes.core) and the kubernetes
#     client, cached under .lab-cache/ansible-venv and reused when complete (marker file).
#     Exports HOOK_RUNNER_ANSIBLE=<venv>/bin/ansible-playbook for the tests (and HR_ANSIBLE_PLAYBOOK,
#     the same path, which tests/modules_differential.rs reads).
# ---------------------------------------------------------------------------------------------
ANSIBLE_VENV="$ROOT/.lab-cache/ansible-venv"
ANSIBLE_SPEC=(ansible==11.* kubernetes)

install_ansible_venv() {
	local marker="$ANSIBLE_VENV/.hook-runner-complete"
	if [ -f "$marker" ] && [ "$(cat "$marker")" = "${ANSIBLE_SPEC[*]}" ] && [ -x "$ANSIBLE_VENV/bin/ansible-playbook" ]; then
		log "ansible venv: present ($("$ANSIBLE_VENV/bin/ansible-playbook" --version 2>/dev/null | sed -n 1p))"
		export HOOK_RUNNER_ANSIBLE="$ANSIBLE_VENV/bin/ansible-playbook" HR_ANSIBLE_PLAYBOOK="$ANSIBLE_VENV/bin/ansible-playbook"
		return
	fi
	local t
	t=$(now_ms)
	log "ansible venv: creating $ANSIBLE_VENV (${ANSIBLE_SPEC[*]})"
	# A half-made venv (interrupted install) is removed, not repaired; venvs are not relocatable,
	# so it is built in place and only the marker says it is complete.
	rm -rf "$ANSIBLE_VENV"
	mkdir -p "$(dirname "$ANSIBLE_VENV")"
	# The system Python (Debian's): it is also the interpreter Ansible uses on the sshd targets.
	local p
	for p in python3 python3-venv; do
		if ! package_installed "$p" && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
			log "apt-get install $p (for the ansible venv)"
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$p" ||
				{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$p"; } || true
		fi
	done
	if /usr/bin/python3 -m venv "$ANSIBLE_VENV" &&
		"$ANSIBLE_VENV/bin/pip" install -q --disable-pip-version-check "${ANSIBLE_SPEC[@]}"; then
		printf '%s' "${ANSIBLE_SPEC[*]}" >"$marker"
		export HOOK_RUNNER_ANSIBLE="$ANSIBLE_VENV/bin/ansible-playbook" HR_ANSIBLE_PLAYBOOK="$ANSIBLE_VENV/bin/ansible-playbook"
		log "ansible venv: ready in $(seconds_since "$t") s ($("$HOOK_RUNNER_ANSIBLE" --version 2>/dev/null | sed -n 1p))"
	else
		rm -rf "$ANSIBLE_VENV"
		missing_prerequisite "could not install ${ANSIBLE_SPEC[*]} into a venv (/usr/bin/python3 -m venv, pip): the differential tests need it"
	fi
}
# ------------------------------------ end of 1b ----------------------------------------------

# ---------------------------------------------------------------------------------------------
# 1c. The ansible-core sdist for the conformance suite (tests/conformance, issue 4)
#     Ansible's own integration targets (GPL-3.0: fetched here, never committed) unpacked into
#     .lab-cache/ansible-core-<version>/ (git-ignored); an unpacked tree is reused as it is.
#     Exports HOOK_RUNNER_ANSIBLE_SDIST=<that dir> for the test.
# ---------------------------------------------------------------------------------------------
ANSIBLE_SDIST_VERSION=2.18.19
ANSIBLE_SDIST_DIR="$ROOT/.lab-cache/ansible-core-$ANSIBLE_SDIST_VERSION"

fetch_ansible_sdist() {
	if [ -d "$ANSIBLE_SDIST_DIR/test/integration/targets" ]; then
		log "ansible-core $ANSIBLE_SDIST_VERSION sdist: present"
		export HOOK_RUNNER_ANSIBLE_SDIST="$ANSIBLE_SDIST_DIR"
		return
	fi
	local t download="$ANSIBLE_SDIST_DIR.download" partial="$ANSIBLE_SDIST_DIR.partial"
	t=$(now_ms)
	log "ansible-core $ANSIBLE_SDIST_VERSION sdist: pip download"
	mkdir -p "$download"
	# Unpacked beside its final place and renamed: a half-unpacked tree is never taken as complete.
	rm -rf "$partial"
	mkdir -p "$partial"
	if python3 -m pip download -q --disable-pip-version-check --no-deps --no-binary :all: \
		"ansible-core==$ANSIBLE_SDIST_VERSION" -d "$download" &&
		tar -xzf "$download/ansible_core-$ANSIBLE_SDIST_VERSION.tar.gz" -C "$partial" --strip-components=1 &&
		mv "$partial" "$ANSIBLE_SDIST_DIR"; then
		export HOOK_RUNNER_ANSIBLE_SDIST="$ANSIBLE_SDIST_DIR"
		log "ansible-core sdist: ready in $(seconds_since "$t") s"
	else
		rm -rf "$partial"
		missing_prerequisite "could not fetch the ansible-core $ANSIBLE_SDIST_VERSION sdist: the conformance suite needs it"
	fi
}
# ------------------------------------ end of 1c ----------------------------------------------

# ---------------------------------------------------------------------------------------------
# 2. Rust toolchain (not installed here: the CI image or the developer provides it)
# ---------------------------------------------------------------------------------------------
find_cargo() {
	if ! command -v cargo >/dev/null 2>&1 && [ -x "${CARGO_HOME:-$HOME/.cargo}/bin/cargo" ]; then
		PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
	fi
	if ! command -v cargo >/dev/null 2>&1; then
		warn "cargo not found: install a Rust toolchain (rustup) first"
		exit 1
	fi
	log "$(cargo --version)"
}

# ---------------------------------------------------------------------------------------------
# 4. Leftovers: everything the lab creates is named hrlab-* (namespaces, links, temp dirs),
#    hrvm-* (VMs) or lives under hook-runner-lab.
# ---------------------------------------------------------------------------------------------
LAB_PATTERN='hrlab-|hrvm-|hook-runner-lab'
POD_MOUNT_POINTS=(/tmp/hook /run/secrets /dev/termination-log)

lab_leftovers() {
	{
		ip netns list 2>/dev/null | grep -E "^($LAB_PATTERN)" | sed 's/^/netns: /' || true
		ip -o link show 2>/dev/null | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }' | grep -E "^($LAB_PATTERN)" | sed 's/^/link: /' || true
		grep -E "$LAB_PATTERN" /proc/self/mountinfo | awk '{ print "mount: " $5 }' || true
		ps -eo pid=,args= | grep -E "$LAB_PATTERN" | grep -v -E "grep|scripts/test.sh" | sed 's/^ */process: /' || true
		local p
		for p in "${POD_MOUNT_POINTS[@]}"; do
			if [ -e "$p" ]; then echo "pod mount point: $p"; fi
		done
	} | sort
}

# ---------------------------------------------------------------------------------------------
# 3. Timings
# ---------------------------------------------------------------------------------------------
print_lab_timings() {
	local file=$1
	[ -s "$file" ] || { log "lab setup times: none reported"; return; }
	log "lab setup times (ms):"
	# Lines are "LAB-TIMING <what> <ms> ms"; <what> may contain spaces.
	awk '$1 == "LAB-TIMING" && NF >= 4 {
		what = $2; for (i = 3; i <= NF - 2; i++) what = what "_" $i
		ms = $(NF - 1); n[what]++; sum[what] += ms
		if (!(what in min) || ms < min[what]) min[what] = ms
		if (ms > max[what]) max[what] = ms
	}
	END {
		printf "    %-24s %5s %9s %9s %9s\n", "what", "count", "min", "mean", "max"
		for (w in n) printf "    %-24s %5d %9d %9d %9d\n", w, n[w], min[w], sum[w] / n[w], max[w]
	}' "$file"
}

main() {
	local start
	start=$(now_ms)
	[ "$(id -u)" = 0 ] || missing_prerequisite "not root: the lab (namespaces, sshd, VMs, pods) needs root"
	install_system_packages
	install_ansible_venv
	fetch_ansible_sdist
	find_cargo

	local before
	before=$(lab_leftovers)
	[ -z "$before" ] || warn "lab leftovers from an earlier run (cleaned by the lab when it can):"$'\n'"$before"

	local threads=${TEST_THREADS:-$(($(nproc) * 2))}
	[ "$threads" -ge 4 ] || threads=4
	export LAB_TIMINGS_FILE="$ROOT/target/lab-timings.txt"
	# One id per suite run: the VM rootfs is built fresh once per CI run and shared by its tests.
	export LAB_RUN_ID="${LAB_RUN_ID:-run-$$-$(date +%s)}"
	# The scale tests that need minutes and a few GiB of disk (the 1 GiB streaming copy) run too.
	export HR_SCALE_TESTS="${HR_SCALE_TESTS:-1}"
	mkdir -p "$ROOT/target"
	rm -f "$LAB_TIMINGS_FILE"

	local t
	t=$(now_ms)
	log "cargo build --workspace --all-targets"
	cargo build --workspace --all-targets
	local build_s
	build_s=$(seconds_since "$t")

	t=$(now_ms)
	log "cargo test --workspace --no-fail-fast -- --test-threads=$threads $*"
	local rc=0
	cargo test --workspace --no-fail-fast -- --test-threads="$threads" "$@" || rc=$?
	local test_s
	test_s=$(seconds_since "$t")

	# ------------------------------- fuzz smoke (scripts/fuzz.sh) --------------------------------
	# Each fuzz target briefly (FUZZ_SMOKE_SECONDS per target, default 25; FUZZ_SMOKE=0 skips).
	if [ "${FUZZ_SMOKE:-1}" != 0 ]; then
		t=$(now_ms)
		log "fuzz smoke: scripts/fuzz.sh ${FUZZ_SMOKE_SECONDS:-25}"
		# A failure to build or run the fuzzers fails the suite. A new finding of the random
		# exploration is reported loudly but does not: it is not reproducible run to run, so it
		# becomes a regression test in tests/fuzz_regressions.rs (which does fail the suite).
		local findings_before findings_after
		mkdir -p "$ROOT/fuzz/artifacts"
		findings_before=$(find "$ROOT/fuzz/artifacts" -type f | wc -l)
		if ! "$ROOT/scripts/fuzz.sh" "${FUZZ_SMOKE_SECONDS:-25}"; then
			findings_after=$(find "$ROOT/fuzz/artifacts" -type f | wc -l)
			if [ "$findings_after" -gt "$findings_before" ]; then
				warn "FUZZ FINDING: new inputs in fuzz/artifacts/ (see the lines above); keep them as regression tests"
			else
				rc=1
			fi
		fi
		log "fuzz smoke: $(seconds_since "$t") s"
	fi
	# ------------------------------------ end of fuzz smoke --------------------------------------

	print_lab_timings "$LAB_TIMINGS_FILE"
	if grep -q '^LAB-NOT-RUN ' "$LAB_TIMINGS_FILE" 2>/dev/null; then
		warn "lab tests that did NOT run (missing prerequisites):"
		grep '^LAB-NOT-RUN ' "$LAB_TIMINGS_FILE" | sed 's/^LAB-NOT-RUN /!!!   /' >&2
	fi
	log "build: ${build_s} s, tests: ${test_s} s, total: $(seconds_since "$start") s"

	local after new
	after=$(lab_leftovers)
	new=$(comm -13 <(printf '%s\n' "$before") <(printf '%s\n' "$after") | sed '/^$/d')
	if [ -n "$new" ]; then
		warn "the test run left lab resources behind:"$'\n'"$new"
		rc=1
	fi
	if [ "$rc" -ne 0 ]; then
		warn "FAILED (exit $rc)"
	else
		log "all tests passed"
	fi
	return "$rc"
}

main "$@"
