#!/usr/bin/env bash
# The modules alone, without the lab: start the local EC2 endpoint, build the
# reference Local Zone topology in it, then fail over to the VPN appliance and
# back with playbooks/failover.yml, showing --check --diff first. The endpoint
# stops when this ends.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"

bash "$REPO_ROOT/scripts/setup.sh"

export PATH="$REPO_ROOT/.venv/bin:$PATH"
export ANSIBLE_CONFIG="$REPO_ROOT/ansible.cfg"
export ANSIBLE_INVENTORY="$REPO_ROOT/inventories/local"
export ANSIBLE_FORCE_COLOR="${ANSIBLE_FORCE_COLOR:-false}"
export LZ_LOCAL_ENDPOINT_PORT="${LZ_LOCAL_ENDPOINT_PORT:-5055}"

STATE_DIR="$REPO_ROOT/.cache/local-endpoint"
VARS_FILE="$STATE_DIR/failover_vars.yml"
mkdir -p "$STATE_DIR"

endpoint_pid=""
stop_endpoint() {
  if [[ -n "$endpoint_pid" ]] && kill -0 "$endpoint_pid" 2>/dev/null; then
    kill "$endpoint_pid"
    wait "$endpoint_pid" 2>/dev/null || true
  fi
}
trap stop_endpoint EXIT

step() { printf '\n[main] %s  %s\n' "$(date +%H:%M:%S.%3N)" "$*"; }

step "starting the local EC2 endpoint on 127.0.0.1:$LZ_LOCAL_ENDPOINT_PORT"
python -m tools.endpoint --host 127.0.0.1 --port "$LZ_LOCAL_ENDPOINT_PORT" >"$STATE_DIR/endpoint.log" 2>&1 &
endpoint_pid=$!
for _ in $(seq 1 100); do
  if grep -q '^http' "$STATE_DIR/endpoint.log" 2>/dev/null; then break; fi
  if ! kill -0 "$endpoint_pid" 2>/dev/null; then cat "$STATE_DIR/endpoint.log" >&2; exit 1; fi
  sleep 0.1
done

step "building the Local Zone topology (VPC, subnets, VGW propagation, VPN appliance ENI)"
ansible-playbook playbooks/local_endpoint_seed.yml

step "status.yml: validate the settings, report each route table's path and the probe verdict"
ansible-playbook playbooks/status.yml -e "@$VARS_FILE"

step "failover to the VPN appliance, planned only (--check --diff)"
ansible-playbook playbooks/failover.yml -e "@$VARS_FILE" -e lz_failover_path=vpn --check --diff

step "failover to the VPN appliance"
ansible-playbook playbooks/failover.yml -e "@$VARS_FILE" -e lz_failover_path=vpn --diff

step "failover again: already on the VPN, nothing to change"
ansible-playbook playbooks/failover.yml -e "@$VARS_FILE" -e lz_failover_path=vpn

step "failback to Direct Connect"
ansible-playbook playbooks/failover.yml -e "@$VARS_FILE" -e lz_failover_path=dx --diff

step "final state"
ansible-playbook playbooks/status.yml -e "@$VARS_FILE"
step "done"
