#!/usr/bin/env bash
# Build, or reuse, the Debian 12 (bookworm) root filesystem that lab test hosts
# boot from with systemd-nspawn (see lab/nspawn.py).
#
# The image carries every package the collection's roles install, so a role
# converges on a lab host without any network access.  It is cached on disk:
#
#   lab/images/bookworm            symlink to the current tree (what nspawn boots)
#   lab/images/bookworm.<key>/     the tree; <key> hashes the package list and this script
#
# A build happens only when the key changes (or with --force).  It runs in a
# temporary directory next to the trees and is published by renaming a symlink,
# so a half-built tree is never booted and a running container keeps its tree.
#
# Usage: lab/image.sh [build] [--force]   build when missing or stale, print the path
#        lab/image.sh path                print the path of the current tree (exit 1 if stale)
#        lab/image.sh key                 print the cache key
#
# Environment:
#   LAB_IMAGES_DIR   where trees are kept (default: lab/images next to this script)
#   LAB_MIRROR       Debian mirror URL (default: the one apt uses on this machine)
set -euo pipefail

LAB_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SCRIPT="$LAB_DIR/$(basename "${BASH_SOURCE[0]}")"
IMAGES_DIR="${LAB_IMAGES_DIR:-$LAB_DIR/images}"
SUITE=bookworm
IMAGE_LINK="$IMAGES_DIR/$SUITE"
STATE_DIR=/run/lzlab
FALLBACK_MIRROR=http://deb.debian.org/debian
FALLBACK_SECURITY_MIRROR=http://deb.debian.org/debian-security

# Everything the roles need on a host, installed at build time.
PACKAGES=(
  bird2
  ca-certificates
  charon-systemd
  dbus
  iproute2
  iputils-ping
  keepalived
  libcharon-extra-plugins
  libstrongswan-standard-plugins
  nftables
  procps
  python3
  python3-apt
  python3-venv
  strongswan-swanctl
  sudo
  systemd
  systemd-sysv
  tcpdump
)

# Units that cannot succeed in a container: waiting for networkd (not used,
# the lab configures interfaces from outside) and the first-boot wizard (an
# empty machine-id would otherwise make it prompt on the console).
MASKED_UNITS=(
  systemd-networkd-wait-online.service
  systemd-firstboot.service
)

# Daemons whose Debian packages enable them at install time.  Unconfigured
# they fail or do nothing useful; the roles that configure them enable them.
# The apt timers would only try to reach mirrors a lab host has no route to.
DISABLED_UNITS=(
  apt-daily-upgrade.timer
  apt-daily.timer
  bird.service
  keepalived.service
  strongswan.service
)

say() { printf '[image] %s\n' "$*" >&2; }

cache_key() {
  { printf '%s\n' "${PACKAGES[@]}"; cat "$SCRIPT"; } | sha256sum | cut -c1-16
}

# --- mirrors -------------------------------------------------------------------
# The URI apt on this machine uses for suite $1 of Debian, from deb822
# .sources files first, then one-line .list files; empty when none.
apt_mirror_for_suite() {
  local suite="$1" file
  for file in /etc/apt/sources.list.d/*.sources; do
    [[ -f "$file" ]] || continue
    awk -v suite="$suite" '
      function flush() {
        if (types ~ /(^| )deb( |$)/ && (" " suites " ") ~ (" " suite " ") && uris != "") { split(uris, u, " "); print u[1]; found = 1; exit }
        types = ""; suites = ""; uris = ""
      }
      /^[[:space:]]*$/ { flush(); next }
      /^Types:/ { sub(/^Types:[[:space:]]*/, ""); types = $0 }
      /^Suites:/ { sub(/^Suites:[[:space:]]*/, ""); suites = $0 }
      /^URIs:/ { sub(/^URIs:[[:space:]]*/, ""); uris = $0 }
      END { if (!found) flush() }
    ' "$file"
  done
  for file in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -f "$file" ]] || continue
    awk -v suite="$suite" '
      $1 == "deb" {
        i = 2
        if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
        if ($(i + 1) == suite) { print $i; exit }
      }
    ' "$file"
  done
}

first_line() { head -n 1; }

main_mirror() {
  local mirror="${LAB_MIRROR:-}"
  [[ -n "$mirror" ]] || mirror="$(apt_mirror_for_suite "$SUITE" | first_line)"
  printf '%s\n' "${mirror:-$FALLBACK_MIRROR}"
}

security_mirror() {
  local mirror
  mirror="$(apt_mirror_for_suite "$SUITE-security" | first_line)"
  printf '%s\n' "${mirror:-$FALLBACK_SECURITY_MIRROR}"
}

# --- build steps -----------------------------------------------------------------
# Unmount whatever an interrupted debootstrap left mounted below $1, so that
# removing the tree can never reach into the host's /proc, /sys or /dev.
unmount_below() {
  local root mount
  root="$(realpath -m "$1")"
  awk '{ print $2 }' /proc/mounts | sort -r | while read -r mount; do
    if [[ "$mount" == "$root"/* ]]; then
      umount -l "$mount" || true
    fi
  done
}

remove_tree() {
  [[ -e "$1" ]] || return 0
  unmount_below "$1"
  rm -rf --one-file-system "$1"
}

# Run a shell script inside the tree with the host's network (package downloads).
# systemd-nspawn warns on exit that it will not clean a directory under /run
# when /run is not a tmpfs; that line is noise, everything else is shown.
run_in_tree() {
  local tree="$1" script="$2"
  systemd-nspawn --quiet --register=no --keep-unit --console=pipe --directory="$tree" \
    --setenv=DEBIAN_FRONTEND=noninteractive --setenv=LC_ALL=C.UTF-8 \
    /bin/sh -euc "$script" 2> >(grep -v -e 'Attempted to remove disk file system' -e 'delaying package configuration' >&2)
}

write_apt_sources() {
  local tree="$1" mirror="$2" security="$3"
  rm -f "$tree/etc/apt/sources.list"
  cat >"$tree/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security
Suites: $SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
}

install_packages() {
  local tree="$1"
  # No service may start inside the build tree.
  printf '#!/bin/sh\nexit 101\n' >"$tree/usr/sbin/policy-rc.d"
  chmod 0755 "$tree/usr/sbin/policy-rc.d"
  run_in_tree "$tree" "
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends ${PACKAGES[*]} >/dev/null
    apt-get clean
  "
  rm -f "$tree/usr/sbin/policy-rc.d"
}

configure_tree() {
  local tree="$1" key="$2"
  run_in_tree "$tree" "
    passwd --lock root >/dev/null
    systemctl mask --quiet ${MASKED_UNITS[*]}
    for unit in ${DISABLED_UNITS[*]}; do
      if [ -e \"/lib/systemd/system/\$unit\" ]; then systemctl disable --quiet \"\$unit\"; fi
    done
    command -v python3 >/dev/null
  "
  # Each boot names itself after the machine (--machine) and gets a fresh
  # machine-id: the tree is booted read-only underneath an overlay.
  rm -f "$tree/etc/hostname"
  : >"$tree/etc/machine-id"
  printf 'key=%s\nsuite=%s\nbuilt=%s\n' "$key" "$SUITE" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$tree/etc/lzlab-image"
}

# Trees no state file of a running lab container refers to.
unused_old_trees() {
  local keep="$1" tree
  for tree in "$IMAGES_DIR/$SUITE".*; do
    [[ -d "$tree" && "$tree" != "$keep" && "$tree" != *.build.* ]] || continue
    if [[ -d "$STATE_DIR" ]] && grep -qsF "\"$tree\"" "$STATE_DIR"/*.json; then
      continue
    fi
    printf '%s\n' "$tree"
  done
}

publish() {
  local tree="$1" link_tmp="$IMAGE_LINK.link.$$"
  ln -sfn "$(basename "$tree")" "$link_tmp"
  mv -T "$link_tmp" "$IMAGE_LINK"
}

build() {
  local key="$1" tree="$IMAGES_DIR/$SUITE.$1" mirror security started step
  mirror="$(main_mirror)"
  security="$(security_mirror)"
  BUILD_TMP="$(mktemp -d "$IMAGES_DIR/$SUITE.build.XXXXXX")"
  trap 'remove_tree "$BUILD_TMP"' EXIT
  chmod 0755 "$BUILD_TMP"
  say "building $SUITE image $key from $mirror"
  started=$SECONDS

  step=$SECONDS
  debootstrap --variant=minbase "$SUITE" "$BUILD_TMP" "$mirror" >"$BUILD_TMP.log" 2>&1 || {
    tail -n 20 "$BUILD_TMP.log" >&2
    rm -f "$BUILD_TMP.log"
    return 1
  }
  rm -f "$BUILD_TMP.log"
  say "debootstrap: $((SECONDS - step)) s"

  step=$SECONDS
  write_apt_sources "$BUILD_TMP" "$mirror" "$security"
  install_packages "$BUILD_TMP"
  say "packages (${#PACKAGES[@]} requested): $((SECONDS - step)) s"

  configure_tree "$BUILD_TMP" "$key"
  remove_tree "$tree"
  mv -T "$BUILD_TMP" "$tree"
  trap - EXIT
  publish "$tree"
  say "image ready in $((SECONDS - started)) s: $tree ($(du -sh "$tree" | cut -f1))"
}

current_tree_if_fresh() {
  local key="$1"
  if [[ -L "$IMAGE_LINK" && "$(readlink "$IMAGE_LINK")" == "$SUITE.$key" && -f "$IMAGE_LINK/etc/lzlab-image" ]]; then
    realpath "$IMAGE_LINK"
    return 0
  fi
  return 1
}

cmd_build() {
  local force="$1" key tree old
  key="$(cache_key)"
  mkdir -p "$IMAGES_DIR"
  exec 9>"$IMAGES_DIR/.lock"
  # One build at a time; a second caller waits and then finds the image ready.
  flock 9
  if [[ "$force" != 1 ]] && tree="$(current_tree_if_fresh "$key")"; then
    say "cached image $key is current"
  else
    build "$key"
    tree="$(realpath "$IMAGE_LINK")"
  fi
  while read -r old; do
    [[ -n "$old" ]] || continue
    say "removing unused old image $(basename "$old")"
    remove_tree "$old"
  done < <(unused_old_trees "$tree")
  printf '%s\n' "$tree"
}

main() {
  local command=build force=0 arg
  for arg in "$@"; do
    case "$arg" in
      build | path | key) command="$arg" ;;
      --force) force=1 ;;
      -h | --help) sed -n '2,21p' "$SCRIPT" | sed 's/^# \{0,1\}//'; return 0 ;;
      *) say "unknown argument: $arg"; return 2 ;;
    esac
  done
  case "$command" in
    key) cache_key ;;
    path) current_tree_if_fresh "$(cache_key)" ;;
    build)
      if [[ "$(id -u)" != 0 ]]; then
        say "needs root (debootstrap, systemd-nspawn)"
        return 1
      fi
      cmd_build "$force"
      ;;
  esac
}

main "$@"
