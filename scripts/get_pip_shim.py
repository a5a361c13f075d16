"""Offline stand-in for the pip bootstrap script that ansible-test downloads.

ansible-test creates its sanity-test virtual environments without pip and then
runs ``~/.ansible/test/cache/get_pip_<version>.py`` to put pip into them.  It
downloads that script from a host that is not reachable here, but it uses a
cached copy when one exists.  ``scripts/setup.sh`` installs this file under the
cached name.

Behaviour: install the pip bundled with the interpreter (``ensurepip``), then
run ``pip install`` with the arguments this script was given (normally the exact
``pip==<version>`` ansible-test asks for).  The bootstrap-only flags
``--no-setuptools`` and ``--no-wheel`` are honoured by leaving those packages
out of the environment.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys

BOOTSTRAP_FLAGS = {
    "--no-setuptools": "setuptools",
    "--no-wheel": "wheel",
}


def _run(*args: str, quiet: bool = False) -> None:
    result = subprocess.run(
        [sys.executable, *args],
        check=False,
        stdout=subprocess.PIPE if quiet else None,
        stderr=subprocess.STDOUT if quiet else None,
        text=True,
    )
    if result.returncode != 0:
        if quiet:
            sys.stdout.write(result.stdout)
        raise SystemExit(result.returncode)


def _installed(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


def main(argv: list[str]) -> int:
    """Bootstrap pip, then install the requested packages."""
    excluded = [BOOTSTRAP_FLAGS[arg] for arg in argv if arg in BOOTSTRAP_FLAGS]
    pip_args = [arg for arg in argv if arg not in BOOTSTRAP_FLAGS]
    had_before = {name: _installed(name) for name in excluded}

    _run("-m", "ensurepip", "--default-pip", quiet=True)

    if any(not arg.startswith("-") for arg in pip_args):
        _run("-m", "pip", "install", "--quiet", *pip_args)

    for name in excluded:
        if not had_before[name]:
            _run("-m", "pip", "uninstall", "--yes", name, quiet=True)

    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
