# -*- coding: utf-8 -*-
# Copyright: contributors to the localzones.failover collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a Python file imports, read from its syntax tree (nothing is executed)."""

from __future__ import annotations

import ast


def imported_names(path, package=None):
    """Every dotted name an import in ``path`` may load, at any depth (also inside functions).

    ``a.b`` for ``import a.b``; ``a`` and ``a.c`` for ``from a import c``.  Relative imports
    are resolved against ``package`` (the file's own package), or left out without one.
    """
    with open(path, encoding="utf-8") as handle:
        tree = ast.parse(handle.read(), path)
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                if package is None:
                    continue
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = anchor + ("." + node.module if node.module else "")
            names.append(base)
            names += [base + "." + alias.name for alias in node.names]
    return names
