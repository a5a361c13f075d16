#!/usr/bin/env bash
# Set the machine up and run every test and quality gate of the collection, in
# order, stopping at the first failure.  Stages:
#
#   1. setup       scripts/setup.sh (system packages, .venv, collection link)
#   2. shellcheck  scripts/*.sh and .ci/run
#   3. pytest      unit and integration tests (pytest.ini)
#   4. sanity      ansible-test sanity (scripts/sanity.sh)
#   5. matrix      sanity and the plugins' unit tests on the other ansible-core lines (scripts/matrix.sh)
#   6. lint        yamllint + ansible-lint, production profile (scripts/lint.sh)
#   7. changelog   antsibull-changelog lint
#   8. docs        antsibull-docs lint-collection-docs, then the docs site's build (scripts/docs.sh)
#   9. build       ansible-galaxy collection build, tarball content check, Galaxy's import
#                  checks (scripts/galaxy_importer.sh)
#  10. molecule    every scenario under extensions/molecule/ (skipped when none)
#
# Usage: bash scripts/test.sh [STAGE ...]
#   With stage names, only those stages run (setup always runs first).
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"

ALL_STAGES=(setup shellcheck pytest sanity matrix lint changelog docs build molecule)
VENV_BIN="$REPO_ROOT/.venv/bin"
export PYTHONUNBUFFERED=1

# --- stages ------------------------------------------------------------------
stage_setup() {
  bash "$REPO_ROOT/scripts/setup.sh"
}

stage_shellcheck() {
  local -a files=("$REPO_ROOT"/scripts/*.sh "$REPO_ROOT"/lab/*.sh "$REPO_ROOT/.ci/run")
  shellcheck --shell=bash --external-sources "${files[@]}"
  echo "shellcheck: ${#files[@]} files clean"
}

stage_pytest() {
  local rc=0
  # The slowest tests are listed at the end, so a CI run shows where its time goes.
  "$VENV_BIN/python" -m pytest --durations=30 --durations-min=10 || rc=$?
  if [[ $rc -eq 5 ]]; then
    echo "pytest collected no tests: that is a failure here" >&2
  fi
  return "$rc"
}

stage_sanity() {
  bash "$REPO_ROOT/scripts/sanity.sh"
}

stage_matrix() {
  bash "$REPO_ROOT/scripts/matrix.sh"
}

stage_lint() {
  bash "$REPO_ROOT/scripts/lint.sh"
}

stage_changelog() {
  "$VENV_BIN/antsibull-changelog" lint
  "$VENV_BIN/antsibull-changelog" lint-changelog-yaml changelogs/changelog.yaml
  echo "changelog: fragments and changelogs/changelog.yaml are valid"
}

# Plugin and role docs and the site's extra docs as antsibull-docs lints them, then the
# whole site with Sphinx's warnings as errors (about 40 s + 25 s; the toolchain's own
# virtualenv adds about 20 s the first time).
stage_docs() {
  bash "$REPO_ROOT/scripts/docs.sh" lint
  bash "$REPO_ROOT/scripts/docs.sh" build
}

stage_build() {
  local out tarball listing forbidden
  out="$(mktemp -d)"
  # shellcheck disable=SC2064  # expand $out now; each stage runs in its own subshell
  trap "rm -rf '$out'" EXIT
  "$VENV_BIN/ansible-galaxy" collection build --force --output-path "$out" "$REPO_ROOT"
  tarball="$(find "$out" -maxdepth 1 -name 'localzones-failover-*.tar.gz' -print -quit)"
  if [[ -z "$tarball" ]]; then
    echo "no collection tarball was written to $out" >&2
    return 1
  fi
  listing="$(tar -tzf "$tarball")"
  forbidden="$(grep -E '(^|/)(\.venv|\.cache|__pycache__)(/|$)|^(\./)?tests/output(/|$)|\.pyc$' <<<"$listing" || true)"
  if [[ -n "$forbidden" ]]; then
    echo "the collection tarball contains files that must not ship:" >&2
    printf '  %s\n' "$forbidden" >&2
    return 1
  fi
  echo "build: $(basename "$tarball"), $(wc -l <<<"$listing") entries, $(du -h "$tarball" | cut -f1)"
  # Galaxy's import checks; its ansible-lint run is left to the lint stage (the script says why).
  bash "$REPO_ROOT/scripts/galaxy_importer.sh" --skip-lint "$tarball"
}

# Molecule scenarios live in extensions/molecule/<scenario>/molecule.yml and are
# run from extensions/.  Add scenarios there; this stage picks them up.
stage_molecule() {
  local -a scenarios=()
  local config
  for config in "$REPO_ROOT"/extensions/molecule/*/molecule.yml; do
    if [[ -f "$config" ]]; then
      scenarios+=("$(basename "$(dirname "$config")")")
    fi
  done
  if [[ ${#scenarios[@]} -eq 0 ]]; then
    echo "molecule: no scenarios under extensions/molecule/, nothing to run"
    echo "skipped (no scenarios)" >"$NOTE_FILE"
    return 0
  fi
  local scenario
  for scenario in "${scenarios[@]}"; do
    echo "molecule: scenario $scenario"
    (cd "$REPO_ROOT/extensions" && PATH="$VENV_BIN:$PATH" "$VENV_BIN/molecule" test -s "$scenario")
  done
}

# --- driver ------------------------------------------------------------------
selected=("$@")
for name in "${selected[@]}"; do
  if [[ " ${ALL_STAGES[*]} " != *" $name "* ]]; then
    echo "unknown stage '$name'; stages: ${ALL_STAGES[*]}" >&2
    exit 2
  fi
done

stages=()
for name in "${ALL_STAGES[@]}"; do
  if [[ $name == setup || ${#selected[@]} -eq 0 || " ${selected[*]} " == *" $name "* ]]; then
    stages+=("$name")
  fi
done

summary=()
failed=""
total_start=$(date +%s)
NOTE_FILE="$(mktemp)"
trap 'rm -f "$NOTE_FILE"' EXIT

print_summary() {
  local line
  echo
  echo "==================== summary ===================="
  printf '%-12s %-8s %9s  %s\n' STAGE RESULT SECONDS NOTE
  for line in "${summary[@]}"; do
    echo "$line"
  done
  printf '%-12s %-8s %9s\n' total "$([[ -n $failed ]] && echo FAIL || echo ok)" "$(($(date +%s) - total_start))"
}

index=0
for name in "${stages[@]}"; do
  index=$((index + 1))
  echo
  echo "==> [$index/${#stages[@]}] $name  ($(date -u +%H:%M:%S) UTC)"
  : >"$NOTE_FILE"
  start=$(date +%s)
  # Each stage runs in a subshell with errexit in force (it would be switched
  # off inside a function called as part of `cmd || ...`).
  set +e
  (set -e; "stage_$name") </dev/null
  rc=$?
  set -e
  elapsed=$(($(date +%s) - start))
  if [[ $rc -eq 0 ]]; then
    echo "<== $name ok in ${elapsed}s"
    summary+=("$(printf '%-12s %-8s %9s  %s' "$name" ok "$elapsed" "$(cat "$NOTE_FILE")")")
  else
    echo "<== $name FAILED (exit $rc) after ${elapsed}s"
    summary+=("$(printf '%-12s %-8s %9s  %s' "$name" FAIL "$elapsed" "exit $rc")")
    failed="$name"
    break
  fi
done
for name in "${stages[@]:index}"; do
  if [[ -n $failed ]]; then
    summary+=("$(printf '%-12s %-8s %9s' "$name" "not run" -)")
  fi
done

print_summary
if [[ -n $failed ]]; then
  echo "FAILED at stage: $failed" >&2
  exit 1
fi
echo "all stages passed"
