"""Plots of SLO performance: a plotting manifest's panels drawn with Plotly, exported by Kaleido.

`plot_manifests` renders manifests to `data/plots/<plot_name>.png` and `.html`, with the table
behind each panel as `<plot_name>.panel<k>-<type>.csv` beside them. Every point is resolved and
every table computed before any file is written, and the files of one plot are renamed into
place together, so a failed plot leaves the previous one untouched.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from autoslo.atomic import one_writer
from autoslo.config import PlottingManifest, load_model
from autoslo.datatree import DataTree, display_path
from autoslo.ids import check_name
from autoslo.plots._export import PngRenderer, csv_text, figure, html, staged, validated
from autoslo.plots._manifest import resolve_panels
from autoslo.plots._panels import BUILDERS, Drawing
from autoslo.results import target_coverage

WRITER_WAIT_S = 600.0  # how long a second plot of the same name waits for the first

__all__ = ["PlotOutcome", "PngRenderer", "PreparedPlot", "assemble_plot", "build_plot", "draw_panel",
           "plot_manifests", "prepare_plot", "render_plot", "validated"]

Warn = Callable[[str], None]


@dataclass(frozen=True)
class BuiltPlot:
    """A plot ready to write: its name, the figure dict and each panel's table."""

    name: str
    figure: dict[str, Any]
    tables: list[tuple[str, pl.DataFrame]]


@dataclass(frozen=True)
class PlotOutcome:
    """What one manifest produced (paths) and how long its PNG took to render."""

    name: str
    png: Path | None
    html: Path
    tables: list[Path]
    png_s: float


@dataclass(frozen=True)
class PreparedPlot:
    """A manifest with its points resolved: the panels still to draw."""

    name: str
    manifest: PlottingManifest
    panels: list[Any]
    live: bool


def prepare_plot(manifest_path: Path, tree: DataTree, *, live: bool = False,
                 warn: Warn | None = None) -> PreparedPlot:
    """Resolve a plotting manifest's points (and warn about SLO targets that match nothing)."""
    source = display_path(manifest_path)
    name = check_name(manifest_path.stem, "plot name (the manifest's file name)")
    manifest = load_model(manifest_path, PlottingManifest)
    panels = resolve_panels(manifest, tree, live=live, source=source)
    say = warn or (lambda _: None)
    checked: set[tuple[str, tuple[str, ...]]] = set()
    for panel in panels:
        if panel.spec is None or not panel.sources:
            continue
        key = (str(panel.spec_ref), tuple(str(s.folder) for s in panel.sources))
        if key in checked:
            continue
        checked.add(key)
        for line in target_coverage(panel.sources, panel.spec):
            say(f"warning: {source}: panels[{panel.index}].slo ({panel.spec_ref}): {line}")
    return PreparedPlot(name, manifest, list(panels), live)


def draw_panel(panel: Any) -> tuple[Drawing, tuple[str, pl.DataFrame]]:
    """One panel's figure parts and the table behind it (independent of the other panels)."""
    drawing, table = BUILDERS[panel.panel.type](panel)
    return drawing, (panel.panel.type, table)


def assemble_plot(prepared: PreparedPlot,
                  drawn: Sequence[tuple[Drawing, tuple[str, pl.DataFrame]]]) -> BuiltPlot:
    """The grid figure from the drawn panels, in manifest order."""
    manifest = prepared.manifest
    title = (manifest.title or prepared.name) + (" (live runs)" if prepared.live else "")
    return BuiltPlot(prepared.name, validated(figure(
        title, [d for d, _ in drawn], manifest.columns, manifest.width_px,
        manifest.height_px_per_row)), [t for _, t in drawn])


def build_plot(manifest_path: Path, tree: DataTree, *, live: bool = False,
               warn: Warn | None = None) -> BuiltPlot:
    """Resolve a plotting manifest's points, compute every panel's table and the figure."""
    prepared = prepare_plot(manifest_path, tree, live=live, warn=warn)
    return assemble_plot(prepared, [draw_panel(panel) for panel in prepared.panels])


def render_plot(built: BuiltPlot, tree: DataTree, renderer: PngRenderer | None) -> PlotOutcome:
    """Write the plot's PNG (when a renderer is given), HTML and CSV files, all or none."""
    import time

    png_path, html_path = tree.plot_png(built.name), tree.plot_html(built.name)
    csv_paths = [tree.plot_table(built.name, i + 1, kind) for i, (kind, _) in enumerate(built.tables)]
    began = time.perf_counter()
    png = renderer.png(built.figure) if renderer is not None else None
    png_s = time.perf_counter() - began
    page = html(built.figure)
    targets = [*([png_path] if png is not None else []), html_path, *csv_paths]
    # one process at a time writes a plot name: a second one waits for the first, then rewrites it
    with one_writer(html_path.with_name(built.name), f"plot {built.name}", wait_s=WRITER_WAIT_S):
        with staged(targets) as temps:
            if png is not None:
                temps[png_path].write_bytes(png)
            temps[html_path].write_text(page, encoding="utf-8")
            for path, (_, table) in zip(csv_paths, built.tables, strict=True):
                temps[path].write_text(csv_text(table), encoding="utf-8")
        # what an earlier version of this plot wrote and this one did not must not sit beside it
        stale = [p for p in tree.plots_dir().glob(f"{built.name}.panel*.csv")
                 if p not in csv_paths]
        for path in [*stale, *([png_path] if png is None else [])]:
            path.unlink(missing_ok=True)
    return PlotOutcome(built.name, png_path if png is not None else None, html_path, csv_paths,
                       png_s)


def plot_manifests(paths: Sequence[Path], tree: DataTree, *, live: bool = False, png: bool = True,
                   warn: Warn | None = None) -> list[PlotOutcome]:
    """Build every manifest first (so a bad one writes nothing), then render them with one browser."""
    built = [build_plot(path, tree, live=live, warn=warn) for path in paths]
    if not png:
        return [render_plot(b, tree, None) for b in built]
    with PngRenderer() as renderer:
        return [render_plot(b, tree, renderer) for b in built]
