"""One error base for the whole library, so the command line can tell user mistakes from bugs.

Messages follow one shape: ``<file>: <field path>: <rule>, got <value>``. The command line prints
an `AutosloError` as that single line and exits with code 2; anything else is a bug and keeps its
traceback.
"""

from __future__ import annotations

from collections.abc import Sequence


class AutosloError(Exception):
    """Base of every error autoslo raises on purpose (bad input, missing capability, ...)."""

    exit_code: int = 2


class InputError(AutosloError):
    """A user-supplied file, name or value breaks a rule; the message says which and why."""

    def __init__(self, message: str, *, source: str | None = None, field: str | None = None):
        self.source = source
        self.field = field
        self.rule = message
        parts = [p for p in (source, field) if p]
        super().__init__(": ".join([*parts, message]))


class ConfigValidationError(InputError):
    """A config file failed validation; carries every problem found, one line each."""

    def __init__(self, source: str, problems: Sequence[tuple[str, str]]):
        self.problems = list(problems)
        lines = [f"{source}: {path}: {rule}" if path else f"{source}: {rule}"
                 for path, rule in self.problems]
        AutosloError.__init__(self, "\n".join(lines))
        self.source = source
        self.field = self.problems[0][0] if self.problems else None
        self.rule = self.problems[0][1] if self.problems else ""


class UnresolvedPlaceholderError(InputError):
    """A file still holds ``${NAME}`` placeholders where a resolved value is required."""


class NotBuiltError(AutosloError):
    """A command whose capability has not been built yet; says so instead of faking output."""
