#!/usr/bin/env bash
# Galaxy's import checks (galaxy-importer) on a built collection tarball, run the way Galaxy
# runs them: the tarball unpacked alone, no other collection installed, ansible-doc for every
# plugin's documentation and ansible-lint's production profile. ansible-test is not run (it
# needs a container engine; scripts/sanity.sh runs it).
#
#   bash scripts/galaxy_importer.sh [--skip-lint] TARBALL   import TARBALL; fail on any error or warning
#
# --skip-lint leaves out the importer's ansible-lint run (some 85 of its 105 s on 2 cores).
# scripts/test.sh's build stage uses it: the importer lints with the .ansible-lint that the
# tarball ships and the project's ansible-lint version, the lint stage runs the same on the
# same files with amazon.aws installed, so the importer's run would only add the expected
# warnings below.
#
# The tool runs from its own virtualenv, .cache/venvs/galaxy-importer, which scripts/setup.sh
# makes from requirements/galaxy-importer.txt: its pins clash with the project's .venv.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$REPO_ROOT/.cache/venvs/galaxy-importer"

# Warnings that come from Galaxy's setting, not from the collection: the importer lints with
# no other collection installed, so ansible-lint's syntax check cannot resolve a module of
# amazon.aws (a dependency in galaxy.yml) and reports the first such task of each file.
# scripts/lint.sh lints the same files with amazon.aws installed.
EXPECTED_WARNING="^WARNING: [^ ]+: syntax-check\[unknown-module\]: couldn't resolve module/action 'amazon\.aws\.[a-z0-9_]+'\."

say() { printf '[galaxy-importer] %s\n' "$*"; }

write_config() {
  local scratch="$1" lint="$2"
  cat >"$scratch/galaxy-importer.cfg" <<EOF
[galaxy-importer]
log_level_main = INFO
run_ansible_doc = True
run_ansible_lint = $lint
offline_ansible_lint = True
check_changelog = True
run_ansible_test = False
ansible_test_local_image = False
ansible_local_tmp = $scratch/ansible-tmp
tmp_root_dir = $scratch
EOF
}

# Prints the importer's warnings and errors other than the expected ones; nothing when clean.
unexpected_findings() {
  grep -E '^(WARNING|ERROR|CRITICAL):' "$1" | grep -vE "$EXPECTED_WARNING" || true
}

check_tarball() {
  local lint="$1" tarball scratch log rc=0 findings
  tarball="$(cd "$(dirname "$2")" && pwd)/$(basename "$2")"
  if [[ ! -x "$VENV/bin/python" ]]; then
    say "no $VENV: run scripts/setup.sh first" >&2
    return 1
  fi
  scratch="$(mktemp -d)"
  # shellcheck disable=SC2064  # expand $scratch now
  trap "rm -rf '$scratch'" RETURN
  mkdir -p "$scratch/ansible-tmp"
  write_config "$scratch" "$lint"
  log="$scratch/import.log"
  # The importer writes importer_result.json into its working directory.
  (cd "$scratch" && PATH="$VENV/bin:$PATH" GALAXY_IMPORTER_CONFIG="$scratch/galaxy-importer.cfg" \
    "$VENV/bin/python" -m galaxy_importer.main "$tarball") >"$log" 2>&1 || rc=$?
  findings="$(unexpected_findings "$log")"
  if [[ $rc -ne 0 || -n "$findings" ]] || ! grep -q '^Importer processing completed successfully' "$log"; then
    cat "$log" >&2
    say "the import of $(basename "$tarball") failed or warned (exit $rc):" >&2
    printf '%s\n' "${findings:-(no finding lines; see the log above)}" >&2
    return 1
  fi
  say "$(basename "$tarball"): imported with no warning (ansible-lint: $lint; $(grep -cE "$EXPECTED_WARNING" "$log" || true) expected amazon.aws syntax-check warnings)"
}

if [[ $# -eq 2 && $1 == --skip-lint ]]; then
  check_tarball False "$2"
elif [[ $# -eq 1 && $1 != -* ]]; then
  check_tarball True "$1"
else
  echo "usage: $0 [--skip-lint] TARBALL" >&2
  exit 2
fi
