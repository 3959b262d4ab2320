#!/bin/sh
# Gives the runtime base what hook-runner needs beside its binary, whatever the base:
#   - the OpenSSH client (hook-runner drives `ssh` with ControlMaster),
#   - nss_wrapper (the entrypoint gives OpenShift's arbitrary UID a passwd entry with it),
#   - tini (PID 1: reaps the ssh control processes reparented to it, forwards SIGTERM).
# Run once by images/Containerfile in the runtime stage, as root. This is the one place where
# the bases differ; everything else in the image is the same on every base.
#
#   Red Hat UBI 9 (production):  microdnf/dnf from the UBI repositories: openssh-clients,
#                                nss_wrapper-libs. tini is not in UBI (only in EPEL): upstream's
#                                static build, pinned and checked against its published SHA-256.
#   Debian (the offline base that scripts/image.sh --local-base makes with debootstrap): the
#                                packages are already in the base (openssh-client, libnss-wrapper,
#                                tini); apt-get installs only what a base lacks (needs a mirror).
set -eu

TINI_VERSION=v0.19.0
# From https://github.com/krallin/tini/releases/download/v0.19.0/tini-static-{amd64,arm64}.sha256sum
TINI_SHA256_AMD64=c5b0666b4cb676901f90dfcb37106783c5fe2077b04590973b885950611b30ee
TINI_SHA256_ARM64=eae1d3aa50c48fb23b8cbdf4e369d0910dfc538566bfd09df89a774aa84a48b9

say() { printf 'runtime-setup: %s\n' "$*" >&2; }

# The pinned static tini from its GitHub release, at /usr/bin/tini.
static_tini() {
	case "$(uname -m)" in
	x86_64) arch=amd64 sum=$TINI_SHA256_AMD64 ;;
	aarch64) arch=arm64 sum=$TINI_SHA256_ARM64 ;;
	*) say "no pinned tini for $(uname -m)"; exit 1 ;;
	esac
	curl -fsSL --retry 3 -o /usr/bin/tini \
		"https://github.com/krallin/tini/releases/download/$TINI_VERSION/tini-static-$arch"
	echo "$sum  /usr/bin/tini" | sha256sum -c -
	chmod 755 /usr/bin/tini
}

. /etc/os-release
case " ${ID:-} ${ID_LIKE:-} " in
*" rhel "* | *" fedora "* | *" centos "*)
	pm=microdnf
	command -v microdnf >/dev/null 2>&1 || pm=dnf
	$pm install -y --nodocs --setopt=install_weak_deps=0 openssh-clients nss_wrapper-libs
	$pm clean all
	rm -rf /var/cache/yum /var/cache/dnf /var/lib/dnf/history*
	command -v tini >/dev/null 2>&1 || static_tini
	;;
*" debian "*)
	missing=""
	for package in openssh-client libnss-wrapper tini; do
		dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' ||
			missing="$missing $package"
	done
	if [ -n "$missing" ]; then
		say "installing$missing (the base lacks them)"
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
		rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin
	fi
	;;
*)
	say "unknown base (ID=${ID:-?}): add it here"
	exit 1
	;;
esac

# What the entrypoint and hook-runner rely on, checked in the image rather than at a hook's run.
tini --version
ssh -V
for lib in /usr/lib64/libnss_wrapper.so /usr/lib/*/libnss_wrapper.so; do
	if [ -f "$lib" ]; then
		say "nss_wrapper: $lib"
		exit 0
	fi
done
say "libnss_wrapper.so not found"
exit 1
