"""Checks on the output paths commands replace whole, so a mistyped `--out` never removes data."""

from __future__ import annotations

from pathlib import Path

from autoslo.errors import InputError


def check_out_folder(out: Path, marker: str, what: str) -> None:
    """Refuse an `--out` that is a file, or a folder with contents but no `marker` (the file
    every `what` folder holds): the command replaces the folder atomically, contents and all."""
    from autoslo.datatree import display_path

    source = f"--out {display_path(out)}"
    if out.exists() and not out.is_dir():
        raise InputError(f"is a file; --out takes a folder for the {what}", source=source)
    if out.is_dir() and any(out.iterdir()) and not (out / marker).is_file():
        raise InputError(f"exists and is not a {what} folder (it has no {marker}), so it is not "
                         "replaced; give a new folder or an earlier one of its kind", source=source)


def check_out_file(out: Path) -> None:
    """Refuse an `--out` file path that names a folder."""
    from autoslo.datatree import display_path

    if out.is_dir():
        raise InputError("is a folder; --out takes the file to write",
                         source=f"--out {display_path(out)}")
