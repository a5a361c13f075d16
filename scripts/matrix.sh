#!/usr/bin/env bash
# Test the collection on the other ansible-core lines it claims (meta/runtime.yml's
# requires_ansible, those that run on this machine's Python): `ansible-test sanity` and
# the unit tests of the plugins, each line in its own virtualenv.  The main line (.venv,
# requirements/test.txt) is tested by the pytest and sanity stages of scripts/test.sh.
#
# A line is a file requirements/ansible-core-<line>.txt (every package pinned);
# scripts/setup.sh installs it into .cache/venvs/ansible-core-<line>.
#
# Usage: bash scripts/matrix.sh [LINE ...]      e.g. bash scripts/matrix.sh 2.18
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"

say() { printf '[matrix] %s\n' "$*"; }

all_lines() {
  local requirements
  for requirements in requirements/ansible-core-*.txt; do
    [[ -f "$requirements" ]] || continue
    requirements="$(basename "$requirements" .txt)"
    printf '%s\n' "${requirements#ansible-core-}"
  done
}

test_line() {
  local line="$1" venv="$REPO_ROOT/.cache/venvs/ansible-core-$1" started
  if [[ ! -x "$venv/bin/ansible-test" ]]; then
    say "$venv is missing: run scripts/setup.sh first" >&2
    return 1
  fi
  started=$(date +%s)
  say "ansible-core $line: sanity"
  ANSIBLE_CORE_VENV="$venv" bash "$REPO_ROOT/scripts/sanity.sh"
  # The core (plugins/module_utils) is free of Ansible imports, but the modules, filters and
  # their doc fragments are not; the plugin tests run them through this line's ansible-core.
  say "ansible-core $line: unit tests of the plugins"
  "$venv/bin/python" -m pytest -q -p no:cacheprovider tests/unit/plugins
  say "ansible-core $line: passed in $(($(date +%s) - started))s"
}

lines=("$@")
if [[ ${#lines[@]} -eq 0 ]]; then
  mapfile -t lines < <(all_lines)
fi
if [[ ${#lines[@]} -eq 0 ]]; then
  say "no requirements/ansible-core-<line>.txt: only the main line is tested" >&2
  exit 1
fi
for line in "${lines[@]}"; do
  test_line "$line"
done
say "lines tested here: ${lines[*]}; main line: $("$REPO_ROOT/.venv/bin/python" -c 'import ansible; print(ansible.__version__)')"
