#!/usr/bin/env bash
# The main job on the built-in default, the local lab: build it (Debian 12
# containers in network namespaces, the EC2 endpoint, the VPC router), converge
# site.yml into it, then run the failover drill (playbooks/drill.yml): cut Direct
# Connect, fail over to IPsec, restore, fail back, and write the report under
# results/drill/ (its summary is printed). The lab is removed at the end unless
# LZ_KEEP_LAB=1 (then `bash lab/lab.sh down` removes it).
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"

bash "$REPO_ROOT/scripts/setup.sh"

step() { printf '\n[main] %s  %s\n' "$(date +%H:%M:%S)" "$*"; }

lab_down() {
  if [[ "${LZ_KEEP_LAB:-0}" == "1" ]]; then
    step "the lab stays up (LZ_KEEP_LAB=1); remove it with: bash lab/lab.sh down"
    return
  fi
  step "removing the lab"
  bash lab/lab.sh down
}
trap lab_down EXIT

step "building the lab"
bash lab/lab.sh up

step "converging site.yml into the lab (AWS roles into the lab's EC2 endpoint, strongSwan, VRRP, monitor)"
bash lab/lab.sh site

step "failover drill: cut DX, fail over to IPsec, restore, fail back"
bash lab/lab.sh drill

report="$(find "$REPO_ROOT/results/drill" -name report.md -printf '%T@ %p\n' | sort -n | tail -n 1 | cut -d' ' -f2-)"
step "the drill's report: $report"
sed -n '1,/^## Timeline/p' "$report"

step "done"
