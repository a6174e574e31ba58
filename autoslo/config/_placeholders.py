"""``${NAME}`` placeholders in config files: filling them, in one of two modes, and unused values.

- ``${NAME}`` fills a value from parameter values. A scalar that is exactly one placeholder
  takes the parameter's own type (``${SLOTS}`` with ``SLOTS=4`` is the int 4); a placeholder
  inside a longer string is replaced by its text.
- Resolving (simulate, execute, tune, ``validate --param``): every placeholder must be filled, or
  UnresolvedPlaceholderError names it. Checking (plain ``validate``): a file with placeholders is a
  *template*; everything that does not depend on them is still checked.
- A parameter value that no file uses is refused (usually a misspelt name).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autoslo.config._base import format_path
from autoslo.config._yaml import DataPath
from autoslo.datatree import display_path
from autoslo.errors import InputError, UnresolvedPlaceholderError

PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
PLACEHOLDER_ONLY = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")


@dataclass
class Substitution:
    """The outcome of filling placeholders: the data and what was used or left unresolved."""

    data: Any
    used: set[str] = field(default_factory=set)
    unresolved: dict[DataPath, list[str]] = field(default_factory=dict)

    @property
    def missing_names(self) -> list[str]:
        return sorted({name for names in self.unresolved.values() for name in names})


def find_placeholders(data: Any) -> dict[DataPath, list[str]]:
    """Every location holding a placeholder, with the names there."""
    return substitute(data, {}).unresolved


def substitute(data: Any, params: Mapping[str, Any]) -> Substitution:
    """Fill ``${NAME}`` placeholders from `params`; unknown names stay and are reported."""
    result = Substitution(data=None)

    def walk(node: Any, path: DataPath) -> Any:
        if isinstance(node, dict):
            return {k: walk(v, (*path, k)) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v, (*path, i)) for i, v in enumerate(node)]
        if not isinstance(node, str) or "${" not in node:
            return node
        whole = PLACEHOLDER_ONLY.match(node)
        if whole:
            name = whole.group(1)
            if name in params:
                result.used.add(name)
                return params[name]
            result.unresolved.setdefault(path, []).append(name)
            return node

        def fill(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in params:
                result.used.add(name)
                return str(params[name])
            result.unresolved.setdefault(path, []).append(name)
            return match.group(0)

        return PLACEHOLDER.sub(fill, node)

    result.data = walk(data, ())
    return result


def refuse_unresolved(sub: Substitution, source: str) -> None:
    """Resolving mode: the first placeholder left unfilled is an error naming it and its field."""
    if sub.unresolved:
        where, names = next(iter(sub.unresolved.items()))
        raise UnresolvedPlaceholderError(
            f"unresolved placeholder ${{{names[0]}}}; pass --param {names[0]}=VALUE",
            source=source, field=format_path(where) or None)


def near(path: DataPath, others: Iterable[DataPath]) -> bool:
    """Whether `path` lies inside, or contains, one of `others` (a placeholder's or override's)."""
    return any(path[: len(o)] == o or o[: len(path)] == path for o in others)


def check_params_used(params: Mapping[str, Any], used: set[str], sources: list[Path]) -> None:
    """Refuse parameter values that no file uses (usually a misspelt name)."""
    unused = sorted(set(params) - used)
    if unused:
        files = ", ".join(display_path(p) for p in sources)
        uses = ", ".join(sorted(used)) or "none"
        raise InputError(f"--param {unused[0]} is not used by {files} (placeholders used: {uses})")
