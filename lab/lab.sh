#!/usr/bin/env bash
# The failover lab (lab/README.md).  As root, from any directory:
#
#   bash lab/lab.sh up              build the topology, boot the hosts, start the EC2 endpoint and agents
#   bash lab/lab.sh site            converge site.yml through the AWS inventory's path (provision + strongSwan + DX BGP + VRRP + monitor)
#   bash lab/lab.sh fault FAULT     playbooks/lab_fault.yml: dx_down, dx_loss, dx_flap, vpn_down, holder_kill|poweroff|crash|isolate, restore
#   bash lab/lab.sh demo            cut DX, fail over, restore, fail back; print the timeline
#   bash lab/lab.sh drill           playbooks/drill.yml: the failover drill, report under results/drill/
#   bash lab/lab.sh status          hosts, processes, BGP, the VPC router's rules
#   bash lab/lab.sh down            remove everything `up` made
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"

export PATH="$REPO_ROOT/.venv/bin:$PATH"
export ANSIBLE_CONFIG="$REPO_ROOT/ansible.cfg"
export ANSIBLE_COLLECTIONS_PATH="$REPO_ROOT/.cache/collections"
INVENTORY="$REPO_ROOT/inventories/lab"
# The lab's inventory is the AWS one plus the lab's values: its aws_ec2.yml (an inventory
# plugin reads no group_vars) finds the launched instances in the lab's EC2 endpoint
# (lz_lab_endpoint_url) with the endpoint's dummy keys.
export AWS_URL="http://198.18.255.1:5055" AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_EC2_METADATA_DISABLED=true

usage() { sed -n '2,11p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

command="${1:-}"
shift || true
case "$command" in
  up | down | status)
    exec "$REPO_ROOT/.venv/bin/python" -m lab.lab "$command"
    ;;
  site)
    exec ansible-playbook -i "$INVENTORY" site.yml "$@"
    ;;
  fault)
    [[ $# -ge 1 ]] || { usage >&2; exit 2; }
    fault="$1"
    shift
    exec ansible-playbook -i "$INVENTORY" playbooks/lab_fault.yml -e "lab_fault=$fault" "$@"
    ;;
  drill)
    exec ansible-playbook -i "$INVENTORY" playbooks/drill.yml "$@"
    ;;
  demo)
    exec "$REPO_ROOT/.venv/bin/python" -m lab.demo "$@"
    ;;
  -h | --help | help)
    usage
    ;;
  *)
    usage >&2
    exit 2
    ;;
esac
