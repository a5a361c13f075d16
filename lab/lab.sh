#!/usr/bin/env bash
# The failover lab (lab/README.md).  As root, from any directory:
#
#   bash lab/lab.sh up              build the topology, boot the hosts, start the EC2 endpoint and agents
#   bash lab/lab.sh site            converge playbooks/lab_site.yml (provision + strongSwan + VRRP + monitor)
#   bash lab/lab.sh fault FAULT     playbooks/lab_fault.yml: dx_down, dx_loss, dx_flap, vpn_down, restore
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

usage() { sed -n '2,11p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

command="${1:-}"
shift || true
case "$command" in
  up | down | status)
    exec "$REPO_ROOT/.venv/bin/python" lab/lab.py "$command"
    ;;
  site)
    exec ansible-playbook -i "$INVENTORY" playbooks/lab_site.yml "$@"
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
    exec "$REPO_ROOT/.venv/bin/python" lab/demo.py "$@"
    ;;
  -h | --help | help)
    usage
    ;;
  *)
    usage >&2
    exit 2
    ;;
esac
