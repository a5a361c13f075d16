#!/usr/bin/env bash
# Run `ansible-test sanity` on the collection.
#
# ansible-test wants the collection at .../ansible_collections/<namespace>/<name>,
# so the files git would ship (tracked plus untracked-but-not-ignored) are copied
# to .cache/ansible-test/ansible_collections/localzones/failover and the tests run
# there (a symlink would be resolved back to this checkout).  Results are left in
# that copy under tests/output/.  Nothing is skipped through ignore files.  Extra arguments are passed on,
# e.g. `bash scripts/sanity.sh --test pep8`.
#
# ANSIBLE_CORE_VENV picks the virtualenv whose ansible-core runs the tests
# (default .venv; scripts/setup.sh makes one per supported line under
# .cache/venvs/, see scripts/matrix.sh).
#
# Needs scripts/setup.sh to have run (test.sh does that).
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"

ANSIBLE_CORE_VENV="${ANSIBLE_CORE_VENV:-$REPO_ROOT/.venv}"
WORK_ROOT="$REPO_ROOT/.cache/ansible-test/$(basename "$ANSIBLE_CORE_VENV")"
COPY="$WORK_ROOT/ansible_collections/localzones/failover"

if [[ ! -x "$ANSIBLE_CORE_VENV/bin/ansible-test" ]]; then
  echo "[sanity] $ANSIBLE_CORE_VENV is missing: run scripts/setup.sh first" >&2
  exit 1
fi

# The Python version of .venv (3.11 on Debian 12) is the one the tests run under.
PYTHON_VERSION="$("$ANSIBLE_CORE_VENV/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"

for ignore_file in tests/sanity/ignore-*.txt; do
  if [[ -s "$ignore_file" ]]; then
    echo "[sanity] $ignore_file must stay empty: fix the finding instead of ignoring it" >&2
    exit 1
  fi
done

echo "[sanity] copying the collection to $COPY"
rm -rf "$COPY"
mkdir -p "$COPY"
git ls-files -z --cached --others --exclude-standard \
  | rsync -a --from0 --files-from=- --ignore-missing-args ./ "$COPY/"
# ansible-test lists files through the nearest enclosing git repository; give the
# copy its own (empty) one so it is not resolved against this checkout, where
# .cache/ is ignored.  Untracked files count, so nothing needs to be added.
git init --quiet "$COPY"

# Collections the collection depends on (galaxy.yml, followed transitively) must
# sit next to it in the same ansible_collections tree for ansible-test to see
# them.  Link the copies the chosen virtualenv has (scripts/dependency_collections.py).
dependencies="$("$ANSIBLE_CORE_VENV/bin/python" scripts/dependency_collections.py)"
while IFS=$'\t' read -r fqcn source; do
  link="$WORK_ROOT/ansible_collections/${fqcn/.//}"
  mkdir -p "$(dirname "$link")"
  ln -sfn "$source" "$link"
done <<<"$dependencies"
echo "[sanity] dependencies: $(cut -f1 <<<"$dependencies" | paste -sd, | sed 's/,/, /g')"

export PATH="$ANSIBLE_CORE_VENV/bin:$PATH"
# The sanity tests run without colour codes in CI logs and never wait on a terminal.
color_args=()
if [[ -n "${CI:-}" || ! -t 1 ]]; then
  color_args=(--color no)
fi

cd "$COPY"
echo "[sanity] ansible-core $(ansible --version | sed -n '1s/.*core \([0-9.]*\).*/\1/p'): ansible-test sanity --local --python $PYTHON_VERSION --requirements $*"
ansible-test sanity --local --python "$PYTHON_VERSION" --requirements "${color_args[@]}" "$@" </dev/null
