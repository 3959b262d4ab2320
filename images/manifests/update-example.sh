#!/bin/sh
# Re-embeds the bundled example hook (playbooks/example/) into the manifests: the base64 playbook
# of hook.yaml and the ConfigMap data of job.yaml. Run it after changing the example;
# tests/pod_manifests.rs fails while the copies are stale.
#
#   images/manifests/update-example.sh
set -eu
cd "$(dirname "$0")/../.."
example=playbooks/example
manifests=images/manifests

playbook=$(base64 -w0 "$example/playbook.yml")
sed -i "s|^  playbook: .*|  playbook: $playbook|" "$manifests/hook.yaml"

# job.yaml: the lines up to `data:`, the three files as block scalars, then the Job from `---` on.
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
{
	sed -n '1,/^data:$/p' "$manifests/job.yaml"
	for file in playbook.yml plan.yml workload.yml; do
		printf '    %s: |\n' "$file"
		# Indent non-empty lines only: empty lines inside a block scalar stay empty.
		sed 's/^\(.\)/      \1/' "$example/$file"
	done
	sed -n '/^---$/,$p' "$manifests/job.yaml"
} >"$tmp"
cat "$tmp" >"$manifests/job.yaml"
