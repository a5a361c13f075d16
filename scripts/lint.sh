#!/usr/bin/env bash
# Lint the YAML and Ansible content: yamllint (.yamllint) on every YAML file,
# then ansible-lint with the production profile (.ansible-lint, offline).
# Extra arguments go to ansible-lint.  Needs scripts/setup.sh to have run.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"

if [[ ! -x "$REPO_ROOT/.venv/bin/ansible-lint" ]]; then
  echo "[lint] .venv is missing: run scripts/setup.sh first" >&2
  exit 1
fi

export PATH="$REPO_ROOT/.venv/bin:$PATH"
# This collection resolves through the link scripts/setup.sh creates; its
# dependencies come from the pinned `ansible` package in .venv.
export ANSIBLE_COLLECTIONS_PATH="$REPO_ROOT/.cache/collections"
export ANSIBLE_CONFIG="$REPO_ROOT/ansible.cfg"
if [[ -n "${CI:-}" || ! -t 1 ]]; then
  export NO_COLOR=1
fi

echo "[lint] yamllint --strict ."
yamllint --strict .

echo "[lint] ansible-lint (profile and settings from .ansible-lint)"
ansible-lint --offline "$@" </dev/null
