# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Gather the wheels that install lz-failover-monitor on a host without package index access.

Runs on the Ansible controller (the monitor role calls it with delegate_to: localhost):

1. builds the daemon's wheel from the collection's own source (pyproject.toml), in a
   scratch copy so the collection directory is never written to, with a fixed
   SOURCE_DATE_EPOCH so an unchanged source gives a byte-identical wheel;
2. resolves the daemon's dependencies for the *target's* Python version and
   platforms from the cache directory alone (``pip install --dry-run --report``);
3. only when that fails, downloads the missing binary wheels (``pip download
   --only-binary=:all:``) and resolves again.

Prints one JSON object: ``changed`` (a wheel was added or replaced), ``daemon_wheel``,
``wheels`` (every file the target needs, daemon first) and ``downloaded``.
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

try:
    import tomllib
except ImportError:  # Python < 3.11 on the controller
    tomllib = None

# 1980-01-01, the earliest time a zip archive can record.
REPRODUCIBLE_EPOCH = "315532800"
FALLBACK_PACKAGE_DIRS = ("monitor", "plugins/module_utils")
COPY_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build")


class GatherError(Exception):
    """A step failed; the message says which and shows pip's output."""


def run_pip(python, args, env=None):
    argv = [python, "-m", "pip", "--disable-pip-version-check", "--no-input"] + args
    completed = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    return completed


def pip_or_fail(python, args, what, env=None):
    completed = run_pip(python, args, env)
    if completed.returncode != 0:
        raise GatherError("%s failed (exit %d): %s\n%s" % (what, completed.returncode, " ".join(args), (completed.stdout + completed.stderr).strip()))
    return completed


# --------------------------------------------------------------------------- daemon wheel


def package_dirs(source):
    """Source directories the distribution is built from (pyproject's package-dir)."""
    pyproject = os.path.join(source, "pyproject.toml")
    if tomllib is not None:
        with open(pyproject, "rb") as handle:
            config = tomllib.load(handle)
        mapping = config.get("tool", {}).get("setuptools", {}).get("package-dir", {})
        if mapping:
            return sorted(set(mapping.values()))
    return list(FALLBACK_PACKAGE_DIRS)


def copy_build_tree(source, scratch):
    """Copy pyproject.toml and the package directories; the build writes only into the copy."""
    tree = os.path.join(scratch, "src")
    os.makedirs(tree)
    shutil.copy2(os.path.join(source, "pyproject.toml"), tree)
    for relative in package_dirs(source):
        shutil.copytree(os.path.join(source, relative), os.path.join(tree, relative), ignore=COPY_IGNORE)
    return tree


def local_setuptools_is_usable(python):
    """True when the controller's Python has setuptools >= 68: build without fetching it."""
    probe = "import setuptools, sys; sys.exit(0 if int(setuptools.__version__.split('.')[0]) >= 68 else 1)"
    return subprocess.run([python, "-c", probe], capture_output=True, check=False).returncode == 0


def build_daemon_wheel(python, source, scratch, isolation):
    tree = copy_build_tree(source, scratch)
    out = os.path.join(scratch, "dist")
    args = ["wheel", "--no-deps", "--wheel-dir", out]
    if isolation == "no" or (isolation == "auto" and local_setuptools_is_usable(python)):
        args.append("--no-build-isolation")
    env = dict(os.environ, SOURCE_DATE_EPOCH=REPRODUCIBLE_EPOCH, PYTHONDONTWRITEBYTECODE="1")
    pip_or_fail(python, args + [tree], "building the daemon wheel", env)
    built = [name for name in os.listdir(out) if name.endswith(".whl")]
    if len(built) != 1:
        raise GatherError("expected one daemon wheel in %s, found %s" % (out, built))
    return os.path.join(out, built[0])


def place(path, cache):
    """Put ``path`` into ``cache`` unless an identical file is there; True when it changed."""
    target = os.path.join(cache, os.path.basename(path))
    if os.path.exists(target) and filecmp.cmp(path, target, shallow=False):
        return False
    temporary = target + ".part"
    shutil.copyfile(path, temporary)
    os.replace(temporary, target)
    return True


# --------------------------------------------------------------------------- dependencies


def target_args(python_version, platforms, implementation):
    args = ["--only-binary=:all:", "--python-version", python_version, "--implementation", implementation]
    for platform in platforms:
        args += ["--platform", platform]
    return args


def resolve_offline(python, wheel, cache, scratch, selection):
    """Names of the wheels (from ``cache`` only) that install ``wheel`` on the target, or None."""
    args = ["install", "--dry-run", "--ignore-installed", "--quiet", "--report", "-", "--no-index", "--find-links", cache]
    args += ["--target", os.path.join(scratch, "target")] + selection + [wheel]
    completed = run_pip(python, args)
    if completed.returncode != 0:
        return None
    report = json.loads(completed.stdout)
    names = []
    for item in report.get("install", []):
        url = item.get("download_info", {}).get("url", "")
        names.append(os.path.basename(re.sub(r"^file://", "", url)))
    return names


def download(python, wheel, cache, selection, index_args):
    before = set(os.listdir(cache))
    pip_or_fail(python, ["download", "--dest", cache, "--find-links", cache] + selection + index_args + [wheel], "downloading the dependency wheels")
    return sorted(set(os.listdir(cache)) - before)


# --------------------------------------------------------------------------- main


def gather(args):
    os.makedirs(args.cache, exist_ok=True)
    selection = target_args(args.python_version, args.platform, args.implementation)
    with tempfile.TemporaryDirectory(prefix="lz-monitor-wheels-") as scratch:
        built = build_daemon_wheel(args.python, os.path.abspath(args.source), scratch, args.build_isolation)
        changed = place(built, args.cache)
        daemon_wheel = os.path.join(args.cache, os.path.basename(built))
        downloaded = []
        wheels = resolve_offline(args.python, daemon_wheel, args.cache, scratch, selection)
        if wheels is None:
            downloaded = download(args.python, daemon_wheel, args.cache, selection, args.pip_arg)
            changed = changed or bool(downloaded)
            wheels = resolve_offline(args.python, daemon_wheel, args.cache, scratch, selection)
            if wheels is None:
                raise GatherError("the downloaded wheels still do not resolve for Python %s on %s" % (args.python_version, ", ".join(args.platform[:3])))
    name = os.path.basename(daemon_wheel)
    ordered = [name] + sorted(wheel for wheel in wheels if wheel != name)
    return {"changed": changed, "daemon_wheel": name, "wheels": ordered, "downloaded": downloaded}


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", required=True, help="directory holding the daemon's pyproject.toml")
    parser.add_argument("--cache", required=True, help="wheel directory on the controller (kept between runs)")
    parser.add_argument("--python-version", required=True, help="the target's Python, e.g. 3.11")
    parser.add_argument("--platform", action="append", required=True, help="a wheel platform tag the target accepts (repeat)")
    parser.add_argument("--implementation", default="cp")
    parser.add_argument("--python", default=sys.executable, help="the controller Python whose pip is used")
    parser.add_argument("--build-isolation", choices=("auto", "yes", "no"), default="auto")
    parser.add_argument("--pip-arg", action="append", default=[], help="extra argument for pip download, e.g. --index-url=URL (repeat)")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    try:
        result = gather(args)
    except (GatherError, OSError, ValueError) as error:
        print(json.dumps({"failed": True, "msg": str(error)}))
        return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
