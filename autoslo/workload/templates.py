"""Template suites (data/templates/<suite>/): SQL per template plus metadata in suite.yml."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from autoslo.config import load_model
from autoslo.config.suite import SuiteMeta
from autoslo.datatree import DataTree, display_path
from autoslo.errors import InputError


@dataclass(frozen=True)
class Suite:
    """A loaded suite: metadata plus the SQL text of each template that has a file."""

    meta: SuiteMeta
    folder: Path
    sql: dict[str, str]

    @property
    def template_ids(self) -> list[str]:
        return list(self.meta.templates)


def load_suite(name: str, tree: DataTree) -> Suite:
    """Load data/templates/<name>/suite.yml and its SQL files; errors name the file."""
    folder = tree.template_suite_dir(name)
    meta_path = folder / "suite.yml"
    if not meta_path.is_file():
        raise InputError(f"template suite {name!r} does not exist (no {display_path(meta_path)})")
    meta = load_model(meta_path, SuiteMeta)
    sql = {}
    for template_id, template in meta.templates.items():
        if template.file is None:
            continue
        path = folder / template.file
        if not path.is_file() or path.parent.resolve() != folder.resolve():
            raise InputError(f"templates.{template_id}.file: {display_path(path)} does not exist "
                             "in the suite folder", source=display_path(meta_path))
        text = path.read_text(encoding="utf-8").strip()
        if not text:
            raise InputError("is empty", source=display_path(path))
        sql[template_id] = text
    return Suite(meta=meta, folder=folder, sql=sql)
