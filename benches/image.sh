#!/usr/bin/env bash
# The hook image's size and start-up, as a benchmark (not a test): the image built on the local
# Debian base with the release binary (scripts/image.sh --local-base), then
#   - its size: uncompressed (podman's figure) and compressed (`podman save` of the OCI archive,
#     gzip -6: what a registry stores and a node pulls);
#   - start-up: from `podman run` to the first `TASK [` line of a one-task hook (Forklift's
#     command, OpenShift's restricted settings, no passwd entry), and to the container's exit;
#     the engine's own cost is shown beside it (`podman run IMAGE true`: entrypoint and tini only);
#   - the upstream image's payload for comparison: no published size of quay.io/kubev2v/hook-runner
#     (ansible-runner + ansible-core + kubernetes.core) was found, so the Python packages that
#     image carries beyond its base are measured from the ansible venv of the test lab when it
#     exists (ansible-core, the kubernetes client, kubernetes.core; a lower bound: the upstream
#     image adds Python itself, ansible-runner, oc and its OS base).
#
#   benches/image.sh            # 5 start-up runs (IMAGE_BENCH_RUNS=N)
#   benches/image.sh --binary target/release/hook-runner
#
# As root (rootful podman). Prints a Markdown table on stdout, progress on stderr.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)
RUNS=${IMAGE_BENCH_RUNS:-5}
log() { printf '==> %s\n' "$*" >&2; }

CONTAINERS_CONF=$(scripts/image.sh --containers-conf)
export CONTAINERS_CONF
image=$(scripts/image.sh --local-base "$@" | tail -1)
log "image: $image"

work=$(mktemp -d /tmp/hrlab-image-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir "$work/hook"
cat >"$work/hook/playbook.yml" <<'EOF'
- name: Start-up
  hosts: localhost
  gather_facts: false
  tasks:
  - name: First task
    debug:
      msg: started
EOF
printf '{}\n' >"$work/hook/plan.yml"
printf '{}\n' >"$work/hook/workload.yml"
chmod 755 "$work" "$work/hook"
chmod 644 "$work/hook"/*.yml

restricted=(--rm --passwd=false --user 1000770000:0 --read-only --read-only-tmpfs=false
	--cap-drop=ALL --security-opt=no-new-privileges --network=none
	--tmpfs /tmp:mode=1777 --tmpfs /home/runner:mode=0775 -v "$work/hook:/tmp/hook:ro")

# Milliseconds from now to the first "TASK [" line of `podman run ...`, then to its exit:
# "FIRST EXIT".
time_run() {
	local start first="" line
	start=$EPOCHREALTIME
	while IFS= read -r line; do
		if [ -z "$first" ] && [[ $line == "TASK ["* ]]; then first=$EPOCHREALTIME; fi
	done < <(podman run "${restricted[@]}" "$image" "$@" 2>&1)
	local end=$EPOCHREALTIME
	awk -v s="$start" -v f="${first:-$end}" -v e="$end" 'BEGIN { printf "%d %d\n", (f - s) * 1000, (e - s) * 1000 }'
}

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }

log "warm-up run"
time_run /bin/entrypoint ansible-runner run /tmp/runner -p /tmp/hook/playbook.yml >/dev/null
firsts=() exits=() engine=()
for _ in $(seq "$RUNS"); do
	read -r first exit < <(time_run /bin/entrypoint ansible-runner run /tmp/runner -p /tmp/hook/playbook.yml)
	firsts+=("$first")
	exits+=("$exit")
	read -r _ bare < <(time_run /bin/entrypoint true)
	engine+=("$bare")
done

size=$(podman image inspect --format '{{.Size}}' "$image")
compressed=$(podman save --format oci-archive "$image" 2>/dev/null | gzip -6 | wc -c)
binary_size=$(podman run --rm --entrypoint /usr/bin/stat "$image" -c %s /usr/local/bin/hook-runner)
mb() { awk -v b="$1" 'BEGIN { printf "%.1f MB", b / 1000000 }'; }

upstream="not measured (no ansible venv in .lab-cache)"
venv=$ROOT/.lab-cache/ansible-venv
[ -d "$venv" ] || venv=${LAB_CACHE_DIR:-/nonexistent}/ansible-venv
if site=$(echo "$venv"/lib/python3*/site-packages) && [ -d "$site" ]; then
	total=$(du -sk "$site" | cut -f1)
	collections=$(du -sk "$site/ansible_collections" 2>/dev/null | cut -f1 || echo 0)
	k8s_core=$(du -sk "$site/ansible_collections/kubernetes/core" 2>/dev/null | cut -f1 || echo 0)
	upstream="$(awk -v k=$((total - collections + k8s_core)) 'BEGIN { printf "%.0f MB", k * 1.024 / 1000 }') of Python packages alone ($("$venv/bin/python" -m pip list --disable-pip-version-check 2>/dev/null | awk '$1 == "ansible-core" || $1 == "kubernetes" { printf "%s%s %s", sep, $1, $2; sep = ", " }'), kubernetes.core; measured from $venv)"
fi

cat <<EOF
| hook image ($image) | |
|---|---|
| size, uncompressed | $(mb "$size") (binary $(mb "$binary_size")) |
| size, compressed (OCI archive, gzip -6) | $(mb "$compressed") |
| start to first task (median of $RUNS) | $(printf '%s\n' "${firsts[@]}" | median) ms |
| start to exit of the one-task hook (median) | $(printf '%s\n' "${exits[@]}" | median) ms |
| the engine alone: \`podman run IMAGE /bin/entrypoint true\` (median) | $(printf '%s\n' "${engine[@]}" | median) ms |
| upstream image (ansible-runner + ansible-core + kubernetes.core) | no published size found; its payload: $upstream |
EOF
