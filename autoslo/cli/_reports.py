"""What `autoslo validate` checks and prints: the files named on the command line, one line each."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from autoslo.errors import AutosloError

if TYPE_CHECKING:
    from autoslo.config import FileKind, FileReport


def expand(paths: list[Path], kind: FileKind | None) -> list[tuple[Path, FileKind | None]]:
    """Files and folders as given to (file, kind) pairs; folders hold inputs found by their place."""
    from autoslo.config import infer_kind
    from autoslo.datatree import display_path

    targets: list[tuple[Path, FileKind | None]] = []
    for path in paths:
        if not path.exists():
            raise AutosloError(f"{display_path(path)}: does not exist")
        if path.is_dir() and not (path / "workload.yml").is_file():
            found = [p for p in sorted(path.rglob("*")) if
                     (p.suffix == ".yml" and p.name != "workload.yml") or
                     (p.is_dir() and (p / "workload.yml").is_file())]
            targets.extend((p, kind or infer_kind(p)) for p in found)
        else:
            targets.append((path, kind))
    return targets


def print_reports(reports: list[FileReport]) -> None:
    """Problems on stderr; one aligned line per file (status, kind, path, summary); a total."""
    from autoslo.datatree import display_path

    counts = {"ok": 0, "template": 0, "pending": 0, "error": 0}
    rows = []
    for report in reports:
        counts[report.status] += 1
        if report.status == "error":
            for line in report.problems:
                typer.echo(line, err=True)
            continue
        detail = report.summary
        if report.status == "template":
            detail = f"template, needs {', '.join('${' + n + '}' for n in report.needs)}"
        elif report.status == "pending":
            detail = f"{detail}; pending: {'; '.join(report.problems)}"
        rows.append((report.status, report.kind or "?", display_path(report.path), detail))
    if rows:
        width_kind = max(len(r[1]) for r in rows)
        width_path = max(len(r[2]) for r in rows)
        for status, kind, path, detail in rows:
            typer.echo(f"{status:<8}  {kind:<{width_kind}}  {path:<{width_path}}  {detail}")
    typer.echo(f"{len(reports)} file(s): {counts['ok']} ok, {counts['template']} template(s), "
               f"{counts['pending']} pending, {counts['error']} error(s)")
