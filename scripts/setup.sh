#!/usr/bin/env bash
# Prepare this checkout on a Debian 12 machine: system packages, the Python
# virtual environment in .venv, the collection path under .cache and the
# offline pip bootstrap for ansible-test.  Safe to run again: finished steps
# are detected and skipped.
#
# Environment:
#   PYTHON          interpreter used to create .venv (default: python3 on PATH)
#   SKIP_APT=1      do not touch system packages
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"

# Debian packages the project needs.  Add new ones here (one list, one place).
APT_PACKAGES=(
  ca-certificates
  git
  iproute2
  iputils-ping
  nftables
  # sysctl, for the namespace tests (priority "important", so missing from minimal images)
  procps
  python3
  python3-pip
  python3-venv
  rsync
  shellcheck
  # lab hosts (lab/image.sh, lab/nspawn.py): Debian trees booted with systemd-nspawn
  debootstrap
  systemd-container
)

# pip version put into .venv before the pinned requirements are installed.
PIP_VERSION="26.3"

VENV="$REPO_ROOT/.venv"
PYTHON="${PYTHON:-python3}"
COLLECTION_LINK="$REPO_ROOT/.cache/collections/ansible_collections/localzones/failover"

say() { printf '[setup] %s\n' "$*"; }

# --- system packages ---------------------------------------------------------
missing_apt_packages() {
  local pkg status
  for pkg in "${APT_PACKAGES[@]}"; do
    status="$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)"
    if [[ "$status" != "installed" ]]; then
      printf '%s\n' "$pkg"
    fi
  done
}

install_apt_packages() {
  if [[ "${SKIP_APT:-0}" == "1" ]]; then
    say "apt: skipped (SKIP_APT=1)"
    return
  fi
  if ! command -v dpkg-query >/dev/null 2>&1; then
    say "apt: no dpkg on this machine, skipping system packages"
    return
  fi
  local missing
  missing="$(missing_apt_packages)"
  if [[ -z "$missing" ]]; then
    say "apt: all ${#APT_PACKAGES[@]} packages already installed"
    return
  fi
  local sudo=()
  if [[ "$(id -u)" != "0" ]]; then
    if command -v sudo >/dev/null 2>&1; then
      sudo=(sudo)
    else
      say "apt: missing packages and not root: $(echo "$missing" | tr '\n' ' ')" >&2
      exit 1
    fi
  fi
  local -a to_install
  mapfile -t to_install <<<"$missing"
  say "apt: installing ${to_install[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${to_install[@]}" >/dev/null
}

# --- Python virtual environment ---------------------------------------------
requirements_digest() {
  cat requirements.txt requirements/runtime.txt requirements/test.txt requirements/constraints.txt pyproject.toml \
    <(printf 'pip==%s\n' "$PIP_VERSION") | sha256sum | cut -d' ' -f1
}

setup_venv() {
  if [[ -x "$VENV/bin/python" ]] && ! "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
    say "venv: $VENV is broken, recreating"
    rm -rf "$VENV"
  fi
  if [[ ! -x "$VENV/bin/python" ]]; then
    say "venv: creating $VENV with $(command -v "$PYTHON") ($("$PYTHON" -V 2>&1))"
    "$PYTHON" -m venv "$VENV"
  fi

  local stamp="$VENV/.requirements.sha256" digest
  digest="$(requirements_digest)"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$digest" ]]; then
    say "venv: requirements already installed"
    return
  fi
  say "venv: installing requirements/test.txt (constrained by requirements/constraints.txt)"
  export PIP_DISABLE_PIP_VERSION_CHECK=1
  "$VENV/bin/python" -m pip install --quiet "pip==$PIP_VERSION"
  "$VENV/bin/python" -m pip install --quiet \
    -r requirements/test.txt -c requirements/constraints.txt
  # The monitor daemon, editable, so lz-failover-monitor runs this checkout's code.
  "$VENV/bin/python" -m pip install --quiet --no-deps --no-build-isolation -e .
  "$VENV/bin/python" -m pip check >/dev/null
  printf '%s\n' "$digest" >"$stamp"
  say "venv: done"
}

# --- tool virtualenvs --------------------------------------------------------
# A tool whose pins clash with .venv's gets its own virtualenv, .cache/venvs/<tool>, from
# requirements/<tool>.txt (every package of it pinned; the file's header says how to regenerate).
setup_tool_venv() {
  local tool="$1" venv="$REPO_ROOT/.cache/venvs/$1" requirements="requirements/$1.txt" digest
  digest="$(cat "$requirements" <(printf 'pip==%s\n' "$PIP_VERSION") | sha256sum | cut -d' ' -f1)"
  if [[ -x "$venv/bin/python" && -f "$venv/.requirements.sha256" && "$(cat "$venv/.requirements.sha256")" == "$digest" ]]; then
    say "$tool: $venv already installed"
    return
  fi
  say "$tool: installing $requirements into $venv"
  rm -rf "$venv"
  "$PYTHON" -m venv "$venv"
  PIP_DISABLE_PIP_VERSION_CHECK=1 "$venv/bin/python" -m pip install --quiet "pip==$PIP_VERSION"
  PIP_DISABLE_PIP_VERSION_CHECK=1 "$venv/bin/python" -m pip install --quiet -r "$requirements"
  "$venv/bin/python" -m pip check >/dev/null
  printf '%s\n' "$digest" >"$venv/.requirements.sha256"
  say "$tool: done"
}

# --- the other ansible-core lines -------------------------------------------
# scripts/matrix.sh tests the collection on each line of requirements/ansible-core-<line>.txt,
# in .cache/venvs/ansible-core-<line>.  Each gets the dependency collections galaxy.yml names
# at the versions the main line tests (copied from .venv, on the line's import path through a
# .pth file, where Ansible and ansible-test look for collections), the monitor daemon's package
# (the plugins' unit tests import its configuration checks) and ansible-test's pip bootstrap.
setup_ansible_core_lines() {
  local requirements line venv collections fqcn source site_packages
  for requirements in requirements/ansible-core-*.txt; do
    [[ -f "$requirements" ]] || continue
    line="$(basename "$requirements" .txt)"
    venv="$REPO_ROOT/.cache/venvs/$line"
    setup_tool_venv "$line"
    collections="$venv/collections"
    while IFS=$'\t' read -r fqcn source; do
      mkdir -p "$collections/ansible_collections/${fqcn%%.*}"
      rsync -a --delete "$source/" "$collections/ansible_collections/${fqcn/.//}/"
    done < <("$VENV/bin/python" scripts/dependency_collections.py)
    site_packages="$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
    printf '%s\n' "$collections" >"$site_packages/lz-dependency-collections.pth"
    if ! "$venv/bin/python" -c 'import lz_failover_monitor' >/dev/null 2>&1; then
      "$venv/bin/python" -m pip install --quiet --no-deps --no-build-isolation -e .
    fi
    install_pip_bootstrap_shim "$venv"
    say "$line: ansible-core $("$venv/bin/python" -c 'import ansible; print(ansible.__version__)'), dependencies from .venv"
  done
}

# --- collection path ---------------------------------------------------------
expose_collection() {
  mkdir -p "$(dirname "$COLLECTION_LINK")"
  if [[ -L "$COLLECTION_LINK" && "$(readlink -f "$COLLECTION_LINK")" == "$REPO_ROOT" ]]; then
    say "collection: $COLLECTION_LINK already in place"
    return
  fi
  rm -rf "$COLLECTION_LINK"
  ln -s "$REPO_ROOT" "$COLLECTION_LINK"
  say "collection: linked $COLLECTION_LINK -> $REPO_ROOT"
}

# --- ansible-test pip bootstrap ----------------------------------------------
# ansible-test downloads get-pip.py for the pip version it pins; this machine
# cannot reach that host, so put a local stand-in where ansible-test caches it.
install_pip_bootstrap_shim() {
  local venv="${1:-$VENV}" pip_version target
  pip_version="$("$venv/bin/python" -c '
import types
from ansible_test._internal.python_requirements import get_venv_packages
print(get_venv_packages(types.SimpleNamespace(version="%d.%d" % __import__("sys").version_info[:2]))["pip"])
')"
  target="$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"
  if [[ -f "$target" ]] && cmp -s "$REPO_ROOT/scripts/get_pip_shim.py" "$target"; then
    say "ansible-test: pip $pip_version bootstrap shim already in place"
    return
  fi
  if [[ -f "$target" ]] && ! grep -q 'Offline stand-in for the pip bootstrap script' "$target"; then
    say "ansible-test: keeping the downloaded pip $pip_version bootstrap script at $target"
    return
  fi
  mkdir -p "$(dirname "$target")"
  cp "$REPO_ROOT/scripts/get_pip_shim.py" "$target"
  say "ansible-test: installed pip $pip_version bootstrap shim at $target"
}

install_apt_packages
setup_venv
expose_collection
install_pip_bootstrap_shim
# Galaxy's import checks, for the build stage of scripts/test.sh.
setup_tool_venv galaxy-importer
# The documentation site's toolchain (scripts/docs.sh, the docs stage).
setup_tool_venv docs
setup_ansible_core_lines
say "ready: $VENV ($("$VENV/bin/python" -V 2>&1)), ansible-core $("$VENV/bin/python" -c 'import ansible; print(ansible.__version__)')"
