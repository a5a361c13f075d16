# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fill in the parts of the docs site's pages that come from the collection itself.

A page of the site's extra docs (``docs/docsite/rst/*.rst``) marks each such part with a
comment line, ``.. docs-generate: <kind> [path]``, which keeps the page in git valid rst
for ``antsibull-docs lint-collection-docs``. At build time, in the site's copy of the page,
``expand_page`` replaces the line with:

* ``monitor-configuration``: every key of the monitor daemon's configuration file, from the
  one table of its defaults (``plugins/module_utils/policy/defaults.py``: key, type,
  default, in the table's order) and the monitor role's argument spec, which describes
  each key as ``monitor_config.<key>`` (tests/unit/plugins/module_utils/policy/test_defaults.py
  holds the spec to the table);
* ``playbooks``: ``site.yml`` and ``playbooks/*.yml``, each with its header comment and its plays;
* ``markdown <path>``: the Markdown file at ``<path>`` (a README), included with myst-parser,
  so the guide has one source that reads the same on the site and in the checkout.

Usage, from the checkout's root (``scripts/docs.sh`` runs it):
``python -m tools.docs.pages SITE_RST_DIR`` expands every page under that directory.
"""

from __future__ import annotations

import glob
import importlib.util
import json
import os
import re
import sys
import textwrap

import yaml
from antsibull_docs_parser import dom
from antsibull_docs_parser.parser import Context
from antsibull_docs_parser.parser import parse
from antsibull_docs_parser.rst import rst_escape
from antsibull_docs_parser.rst import to_rst

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULTS_FILE = os.path.join("plugins", "module_utils", "policy", "defaults.py")
MONITOR_ARGUMENT_SPEC = os.path.join("roles", "monitor", "meta", "argument_specs.yml")
MONITOR_ROLE = dom.PluginIdentifier(fqcn="localzones.failover.monitor", type="role")
PLAYBOOK_FILES = ("site.yml", os.path.join("playbooks", "*.yml"))
IMPORT_PLAYBOOK = ("ansible.builtin.import_playbook", "import_playbook")
MARKER = re.compile(r"^\.\. docs-generate: (?P<kind>[a-z-]+)(?: (?P<argument>\S+))?\s*$")


class PageError(Exception):
    """A marker the generator cannot fill in (unknown kind, missing file or description)."""


# --- the monitor daemon's configuration ------------------------------------------------
def load_settings(repo_root=REPO_ROOT):
    """``(SETTINGS, REQUIRED)`` of the daemon's defaults table, loaded from its file (it imports nothing of the collection)."""
    spec = importlib.util.spec_from_file_location("lz_failover_docs_defaults", os.path.join(repo_root, DEFAULTS_FILE))
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses looks the module up while it builds Setting
    spec.loader.exec_module(module)
    return module.SETTINGS, module.REQUIRED


def monitor_config_options(repo_root=REPO_ROOT):
    """``{dotted key: option}`` of every option under the monitor role's ``monitor_config``."""
    with open(os.path.join(repo_root, MONITOR_ARGUMENT_SPEC), encoding="utf-8") as handle:
        spec = yaml.safe_load(handle)
    options = spec["argument_specs"]["main"]["options"]["monitor_config"]["options"]
    return dict(_flat_options(options, ""))


def _flat_options(options, prefix):
    for name, option in options.items():
        key = prefix + name
        yield key, option
        yield from _flat_options(option.get("options") or {}, key + ".")


def default_rst(default, required):
    """A default as a reader of the YAML file writes it (``null`` for none)."""
    if default is required:
        return "required"
    return "``%s``" % json.dumps(default)


def markup_rst(description):
    """The argument spec's Ansible markup (O(), C(), V(), ...) as rst; O() links to the role's option."""
    paragraphs = parse(description, Context(current_plugin=MONITOR_ROLE, role_entrypoint="main"))
    return to_rst(paragraphs, current_plugin=MONITOR_ROLE)


def meaning_rst(option):
    """An option's description as rst, followed by its choices when it has some."""
    text = markup_rst(option["description"])
    if option.get("choices"):
        text += "\n\nOne of %s." % ", ".join("``%s``" % choice for choice in option["choices"])
    return text


def _indented(text, first, rest):
    lines = text.splitlines() or [""]
    return [first + lines[0]] + [(rest + line) if line else "" for line in lines[1:]]


def monitor_configuration_rst(repo_root=REPO_ROOT):
    """A list-table of every key of the daemon's file: key, type, default, description."""
    settings, required = load_settings(repo_root)
    options = monitor_config_options(repo_root)
    lines = [".. list-table::", "   :header-rows: 1", "   :widths: 25 8 20 47", "",
             "   * - Key", "     - Type", "     - Default", "     - Meaning"]
    for setting in settings:
        option = options.get(setting.key) or {}
        if not option.get("description"):
            raise PageError("monitor_config.%s has no description in %s" % (setting.key, MONITOR_ARGUMENT_SPEC))
        lines.append("   * - ``%s``" % setting.key)
        lines.append("     - %s" % setting.type)
        lines.append("     - %s" % default_rst(setting.default, required))
        lines.extend(_indented(meaning_rst(option), "     - ", "       "))
    return "\n".join(lines) + "\n"


# --- the playbooks ----------------------------------------------------------------------
def playbook_paths(repo_root=REPO_ROOT):
    """``site.yml`` first, then ``playbooks/*.yml`` by name, relative to the checkout."""
    paths = []
    for pattern in PLAYBOOK_FILES:
        paths.extend(sorted(glob.glob(os.path.join(repo_root, pattern))))
    return [os.path.relpath(path, repo_root) for path in paths]


def header_comment(text):
    """The comment lines at the top of a playbook (after ``---``), without their ``#``."""
    lines = []
    for line in text.splitlines():
        if line.strip() == "---" and not lines:
            continue
        if not line.startswith("#"):
            break
        lines.append(line[2:] if line.startswith("# ") else line[1:])
    return lines


def prose_rst(line):
    """One line of comment prose as rst: `code` spans literal, everything else escaped."""
    parts = line.split("`")
    if len(parts) % 2 == 0:  # an unpaired backtick: all of it is text
        return rst_escape(line)
    return "".join(("``%s``" % part) if index % 2 else rst_escape(part) for index, part in enumerate(parts))


def header_rst(lines):
    """A header comment as rst: paragraphs of prose, indented lines (commands) as shell code blocks."""
    out = []
    commands = []
    for line in lines + [""]:
        if line.startswith(" ") and line.strip():
            commands.append(line.rstrip())
            continue
        if commands:
            out.extend(["", ".. code-block:: shell", ""])
            out.extend("   " + command for command in textwrap.dedent("\n".join(commands)).splitlines())
            out.append("")
            commands = []
        out.append(prose_rst(line.strip()) if line.strip() else "")
    return re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip("\n")


def play_rst(play):
    """One play as a bullet: its name, then its hosts and roles, or the playbook it imports."""
    name = rst_escape(play.get("name", "(unnamed play)"))
    for key in IMPORT_PLAYBOOK:
        if key in play:
            return "* %s: imports ``%s``" % (name, play[key])
    text = "* %s: hosts ``%s``" % (name, play.get("hosts"))
    roles = [role["role"] if isinstance(role, dict) else role for role in play.get("roles") or []]
    if roles:
        text += "; roles " + ", ".join(":ansplugin:`%s#role`" % role for role in roles)
    return text


def playbook_rst(path, repo_root=REPO_ROOT):
    """A section for one playbook: its path as title, its header comment, its plays."""
    with open(os.path.join(repo_root, path), encoding="utf-8") as handle:
        text = handle.read()
    title = "``%s``" % path
    lines = [title, "-" * len(title), "", header_rst(header_comment(text)), "", "Plays:", ""]
    lines.extend(play_rst(play) for play in yaml.safe_load(text) or [])
    return "\n".join(lines) + "\n"


def playbooks_rst(repo_root=REPO_ROOT):
    return "\n".join(playbook_rst(path, repo_root) for path in playbook_paths(repo_root))


# --- Markdown guides -------------------------------------------------------------------
def markdown_include_rst(path, page_dir, repo_root=REPO_ROOT):
    """An include of the Markdown file ``path`` (relative to the checkout) into the page in ``page_dir``."""
    source = os.path.join(repo_root, path)
    if not os.path.isfile(source):
        raise PageError("no Markdown file %s" % path)
    return ".. include:: %s\n   :parser: myst_parser.sphinx_\n" % os.path.relpath(source, page_dir)


# --- pages -------------------------------------------------------------------------------
def generated_rst(kind, argument, page_dir, repo_root=REPO_ROOT):
    if kind == "monitor-configuration":
        return monitor_configuration_rst(repo_root)
    if kind == "playbooks":
        return playbooks_rst(repo_root)
    if kind == "markdown" and argument:
        return markdown_include_rst(argument, page_dir, repo_root)
    raise PageError("unknown marker: docs-generate: %s %s" % (kind, argument or ""))


def expand_page(text, page_dir, repo_root=REPO_ROOT):
    """The page with each ``.. docs-generate:`` line replaced by what it names."""
    out = []
    for line in text.splitlines(keepends=True):
        match = MARKER.match(line)
        out.append(generated_rst(match["kind"], match["argument"], page_dir, repo_root) if match else line)
    return "".join(out)


def expand_pages(site_rst_dir, repo_root=REPO_ROOT):
    """Expand every page under the site's rst directory in place; return those that changed."""
    changed = []
    for path in sorted(glob.glob(os.path.join(site_rst_dir, "**", "*.rst"), recursive=True)):
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
        expanded = expand_page(text, os.path.dirname(os.path.abspath(path)), repo_root)
        if expanded != text:
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(expanded)
            changed.append(path)
    return changed


def main(argv=None):
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m tools.docs.pages SITE_RST_DIR", file=sys.stderr)
        return 2
    try:
        changed = expand_pages(args[0])
    except PageError as error:
        print("docs: %s" % error, file=sys.stderr)
        return 1
    for path in changed:
        print("docs: generated parts of %s" % os.path.relpath(path, args[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
