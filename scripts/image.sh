#!/usr/bin/env bash
# Builds hook-runner's container image from images/Containerfile with podman; the last line of
# the output is the built image's reference.
#
#   scripts/image.sh                      # Red Hat UBI 9 bases, the binary compiled in the build
#                                         # (a normal CI: registry, rustup and crates.io reachable)
#   scripts/image.sh --local-base         # here, offline: a Debian bookworm base made with
#                                         # debootstrap and `podman import` (made when missing),
#                                         # the release binary built with cargo outside the image
#   scripts/image.sh --containers-conf    # only writes the podman configuration, prints its path
#
# Options: --binary PATH (copy this binary in instead of building one; with --local-base the
# default is `cargo build --release`), --tag REF (default localhost/hook-runner:<base>-<hash>).
#
# The image is tagged by a hash of what goes into it (Containerfile, entrypoint, runtime setup,
# binary, base image id): when that tag exists the build is skipped. HOOK_RUNNER_IMAGE_REBUILD=1
# builds anyway. After a build, the script's own tags older than two hours are removed.
#
# podman's configuration: unless CONTAINERS_CONF is set, a containers.conf is written under the
# target dir and exported as CONTAINERS_CONF (the machine's own configuration is not changed):
# runtime runc (crun refuses hybrid cgroups) and default ulimits at or below the machine's hard
# limits (podman's defaults exceed them: "setrlimit RLIMIT_NOFILE: Operation not permitted").
# Rootful: run as root.
#
# The local base: `debootstrap --variant=minbase` with the runtime's packages, without apt's
# caches, lists and the documentation, imported as localhost/hook-runner-base:<BASE_RECIPE>.
# LAB_DEBIAN_MIRROR overrides the mirror (as for the lab's VMs).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
STATE=$TARGET/image

# Names the local base; change it whenever make_local_base changes, so the base is made again.
BASE_RECIPE=bookworm-minbase-ssh-nsswrapper-tini-v1
BASE_IMAGE=localhost/hook-runner-base:$BASE_RECIPE
BASE_PACKAGES=openssh-client,libnss-wrapper,tini
MIRROR=${LAB_DEBIAN_MIRROR:-http://deb.debian.org/debian}

log() { printf '==> %s\n' "$*" >&2; }
die() {
	printf 'image.sh: %s\n' "$*" >&2
	exit 1
}

write_containers_conf() {
	if [ -n "${CONTAINERS_CONF:-}" ]; then
		[ -f "$CONTAINERS_CONF" ] || die "CONTAINERS_CONF=$CONTAINERS_CONF does not exist"
		return
	fi
	local nofile nproc conf=$STATE/containers.conf
	nofile=$(ulimit -Hn)
	nproc=$(ulimit -Hu)
	[ "$nofile" = unlimited ] || [ "$nofile" -ge 1024 ] && nofile=1024
	[ "$nproc" = unlimited ] || [ "$nproc" -ge 4096 ] && nproc=4096
	mkdir -p "$STATE"
	# Written beside and renamed: a concurrent podman never reads half a file.
	cat >"$conf.tmp.$$" <<-EOF
		# Written by scripts/image.sh for hook-runner's image builds and tests.
		[containers]
		default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]

		[engine]
		runtime = "runc"
	EOF
	mv "$conf.tmp.$$" "$conf"
	export CONTAINERS_CONF=$conf
}

image_exists() { podman image exists "$1"; }

make_local_base() {
	if image_exists "$BASE_IMAGE"; then
		log "local base: $BASE_IMAGE present"
		return
	fi
	command -v debootstrap >/dev/null || die "debootstrap is needed for --local-base (Debian package debootstrap)"
	local root=$STATE/base-root.$$ started=$SECONDS
	log "local base: debootstrap bookworm ($BASE_PACKAGES) from $MIRROR"
	rm -rf --one-file-system "$root"
	mkdir -p "$STATE"
	trap 'umount -R "$root/proc" "$root/sys" 2>/dev/null || true; rm -rf --one-file-system "$root"' EXIT
	if ! debootstrap --variant=minbase --include="$BASE_PACKAGES" bookworm "$root" "$MIRROR" >"$STATE/debootstrap.log" 2>&1; then
		tail -20 "$STATE/debootstrap.log" >&2
		die "debootstrap failed (log: $STATE/debootstrap.log)"
	fi
	# What a runtime image never reads: apt's package cache and lists, documentation, locales.
	rm -rf --one-file-system "$root"/var/cache/apt/* "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/* \
		"$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/locale/* \
		"$root"/var/log/*.log "$root"/var/log/apt/*
	tar -C "$root" --numeric-owner -c . | podman import --quiet - "$BASE_IMAGE" >/dev/null
	rm -rf --one-file-system "$root"
	trap - EXIT
	log "local base: $BASE_IMAGE made in $((SECONDS - started)) s"
}

release_binary() {
	command -v cargo >/dev/null || die "cargo not found: pass --binary PATH or install a Rust toolchain"
	log "cargo build --release -p hook-runner"
	cargo build --release --locked -p hook-runner --bin hook-runner >&2
	printf '%s\n' "$TARGET/release/hook-runner"
}

main() {
	local local_base="" binary="" tag="" conf_only=""
	while [ $# -gt 0 ]; do
		case "$1" in
		--local-base) local_base=1 ;;
		--binary) binary=${2:?--binary needs a path}; shift ;;
		--tag) tag=${2:?--tag needs a reference}; shift ;;
		--containers-conf) conf_only=1 ;;
		-h | --help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; return ;;
		*) die "unknown argument: $1 (see --help)" ;;
		esac
		shift
	done
	[ "$(id -u)" = 0 ] || die "run as root (rootful podman)"
	write_containers_conf
	if [ -n "$conf_only" ]; then
		printf '%s\n' "$CONTAINERS_CONF"
		return
	fi
	command -v podman >/dev/null || die "podman not found (Debian: podman runc catatonit)"
	mkdir -p "$STATE"
	# One build at a time (concurrent test binaries share the base and the tags).
	exec 9>"$STATE/.lock"
	flock 9

	local -a args=(-f images/Containerfile)
	local base_name context=$ROOT
	if [ -n "$local_base" ]; then
		make_local_base
		base_name=debian
		args+=(--pull=never --build-arg "RUNTIME_IMAGE=$BASE_IMAGE")
		[ -n "$binary" ] || binary=$(release_binary)
	else
		base_name=ubi
	fi
	if [ -n "$binary" ]; then
		[ -x "$binary" ] || die "--binary $binary: not an executable file"
		# A small context of its own: the files the runtime stage copies and the binary.
		context=$STATE/context.$$
		rm -rf "$context"
		mkdir -p "$context/images" "$context/prebuilt"
		cp images/Containerfile images/entrypoint images/runtime-setup.sh "$context/images/"
		cp "$binary" "$context/prebuilt/hook-runner"
		args+=(--build-arg BINARY=prebuilt)
	else
		# Given although it is the Containerfile's default: podman 4.3's buildah does not follow
		# `FROM binary-${BINARY}` to the stage when the value comes from the ARG's default
		# (buildah issue 4312), and tries to pull an image of that name.
		args+=(--build-arg BINARY=source)
	fi

	if [ -z "$tag" ]; then
		local hash base_id=""
		[ -z "$local_base" ] || base_id=$(podman image inspect --format '{{.Id}}' "$BASE_IMAGE")
		hash=$({
			sha256sum images/Containerfile images/entrypoint images/runtime-setup.sh | awk '{ print $1 }'
			if [ -n "$binary" ]; then sha256sum "$binary" | awk '{ print $1 }'; else git -C "$ROOT" rev-parse HEAD 2>/dev/null || date +%s; fi
			printf '%s\n' "$base_id"
		} | sha256sum | cut -c1-16)
		tag=localhost/hook-runner:$base_name-$hash
		if image_exists "$tag" && [ "${HOOK_RUNNER_IMAGE_REBUILD:-0}" != 1 ]; then
			log "image: $tag present (same inputs)"
			[ "$context" = "$ROOT" ] || rm -rf "$context"
			printf '%s\n' "$tag"
			return
		fi
	fi
	local started=$SECONDS
	log "podman build ${args[*]} -t $tag $context"
	local rc=0
	(cd "$context" && podman build "${args[@]}" -t "$tag" .) >&2 || rc=$?
	[ "$context" = "$ROOT" ] || rm -rf "$context"
	# The binary stage's image: a copy of the binary on the base, used by nothing once built.
	podman image prune --force --filter label=io.github.hook-runner.stage=binary >/dev/null 2>&1 || true
	[ "$rc" = 0 ] || die "podman build failed (exit $rc)"
	log "image: $tag built in $((SECONDS - started)) s, $(podman image inspect --format '{{.Size}}' "$tag") bytes"
	remove_old_builds "$tag"
	printf '%s\n' "$tag"
}

# Every changed binary makes a new image: the script's own tags older than two hours go (an image
# a container still uses is kept: podman refuses to remove it without --force).
remove_old_builds() {
	local ref
	podman images --filter reference=localhost/hook-runner --filter until=2h \
		--format '{{.Repository}}:{{.Tag}}' 2>/dev/null |
		while read -r ref; do
			case "$ref" in
			"$1") ;;
			localhost/hook-runner:debian-???????????????? | localhost/hook-runner:ubi-????????????????)
				podman rmi "$ref" >/dev/null 2>&1 && log "removed the old build $ref" || true
				;;
			esac
		done
}

main "$@"
