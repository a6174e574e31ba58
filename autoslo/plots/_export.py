"""Place panel drawings on the manifest's grid and write the PNG (Kaleido), HTML and CSV files.

PNG export needs a headless Chromium; `PngRenderer` starts one browser and reuses it for every
image rendered inside its `with` block (about 2 s to start, then a fraction of a second each).
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import polars as pl

from autoslo.errors import AutosloError
from autoslo.plots._panels import Drawing
from autoslo.plots._style import (
    AXIS_LEFT_PX,
    GAP_PX,
    LEGEND_ROW_PX,
    Grid,
    axis_style,
    grid,
    layout_base,
    legend_style,
)

SUB_GAP_PX = 14
SUB_COL_GAP_PX = 84
LEGEND_ENTRY_PX = 44
LEGEND_CHAR_PX = 5.8
LEGEND_INDENT_PX = 40  # a legend starts this far left of its plot area


def legend_rows(drawing: Drawing, width_px: float) -> list[list[str]]:
    """The panel's legend entries split into rows that fit `width_px` (estimated text widths).

    Plotly wraps a horizontal legend at the figure's width, not the panel's, so each row becomes
    a legend of its own.
    """
    rows: list[list[str]] = []
    used = math.inf
    for label in drawing.legend_labels():
        need = LEGEND_ENTRY_PX + LEGEND_CHAR_PX * len(label)
        if used + need > width_px:
            rows.append([])
            used = 0.0
        rows[-1].append(label)
        used += need
    return rows


def figure(title: str, drawings: list[Drawing], columns: int, width_px: int,
           height_px_per_row: int) -> dict[str, Any]:
    """The whole figure as a Plotly figure dict: every drawing in its grid cell."""
    cols = min(columns, len(drawings))
    cell_width = (width_px - GAP_PX * (cols - 1)) / cols - AXIS_LEFT_PX + LEGEND_INDENT_PX - 12
    rows_of = [legend_rows(d, cell_width) for d in drawings]
    layout_grid: Grid = grid(len(drawings), columns, width_px, height_px_per_row,
                             [len(rows) for rows in rows_of])
    layout = layout_base(title, layout_grid.width_px, layout_grid.height_px)
    data: list[dict[str, Any]] = []
    shapes: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    axis_count = legend_count = 0
    for drawing, cell, rows in zip(drawings, layout_grid.cells, rows_of, strict=True):
        legend_of: dict[str, str] = {}
        first_legend = ""
        for row_index, row in enumerate(rows or [[]]):
            legend_count += 1
            legend = "legend" if legend_count == 1 else f"legend{legend_count}"
            first_legend = first_legend or legend
            layout[legend] = legend_style(cell.plot.x0 - LEGEND_INDENT_PX * cell.px_x,
                                          cell.legend_y - row_index * LEGEND_ROW_PX * cell.px_y)
            legend_of |= dict.fromkeys(row, legend)
        annotations.append({"xref": "paper", "yref": "paper", "x": cell.plot.x0 - 60 * cell.px_x,
                            "y": cell.cell.y1, "xanchor": "left", "yanchor": "top",
                            "text": f"<b>{drawing.title}</b>", "showarrow": False,
                            "font": {"size": 15}})
        if drawing.subtitle:
            annotations.append({"xref": "paper", "yref": "paper",
                                "x": cell.plot.x0 - 60 * cell.px_x,
                                "y": cell.cell.y1 - 21 * cell.px_y, "xanchor": "left",
                                "yanchor": "top", "text": drawing.subtitle, "showarrow": False,
                                "font": {"size": 11, "color": "#555555"}})
        ids: list[tuple[str, str]] = []
        for axis in drawing.axes:
            axis_count += 1
            n = "" if axis_count == 1 else str(axis_count)
            rect = cell.plot.split_columns(axis.cols, SUB_COL_GAP_PX * cell.px_x)[axis.col]
            rect = rect.split_rows(axis.rows, SUB_GAP_PX * cell.px_y)[axis.row]
            ids.append((f"x{n}", f"y{n}"))
            layout[f"xaxis{n}"] = axis_style(axis.x_title, domain=[rect.x0, rect.x1],
                                             anchor=f"y{n}", **axis.x)
            layout[f"yaxis{n}"] = axis_style(axis.y_title, domain=[rect.y0, rect.y1],
                                             anchor=f"x{n}", **axis.y)
        first_x = ids[0][0]
        for axis, (x_id, _) in zip(drawing.axes, ids, strict=True):
            if axis.rows > 1 and x_id != first_x:  # stacked axes share their time axis
                layout[f"xaxis{x_id[1:]}"]["matches"] = first_x
        for axis_index, trace in drawing.traces:
            x_id, y_id = ids[axis_index]
            data.append({**trace, "xaxis": x_id, "yaxis": y_id,
                         "legend": legend_of.get(trace.get("name", ""), first_legend)})
        for axis_index, shape in drawing.shapes:
            shapes.append(_refer(shape, ids[axis_index]))
        for axis_index, note in drawing.annotations:
            annotations.append(_refer(note, ids[axis_index]))
    layout["shapes"] = shapes
    layout["annotations"] = annotations
    return {"data": data, "layout": layout}


def _refer(item: dict[str, Any], ids: tuple[str, str]) -> dict[str, Any]:
    """A shape or annotation with its axis placeholders replaced by the real axis ids."""
    out = dict(item)
    for key, axis_id in (("xref", ids[0]), ("yref", ids[1])):
        ref = out.get(key)
        if ref in ("x", "y"):
            out[key] = axis_id
        elif ref in ("x domain", "y domain"):
            out[key] = f"{axis_id} domain"
    return out


class PngRenderer:
    """Renders Plotly figures to PNG bytes with one Chromium kept open for all of them."""

    def __init__(self) -> None:
        self._started = False

    def __enter__(self) -> PngRenderer:
        import kaleido

        try:
            # no MathJax: the panels use no LaTeX, and loading it (from a CDN) slows every image
            kaleido.start_sync_server(silence_warnings=True, mathjax=False)
        except Exception as exc:  # kaleido raises its own types when no browser can start
            raise AutosloError(f"cannot start Chromium for PNG export ({type(exc).__name__}: "
                               f"{exc}); install it with `apt-get install -y chromium`") from None
        self._started = True
        return self

    def __exit__(self, *_: object) -> None:
        import kaleido

        if self._started:
            kaleido.stop_sync_server(silence_warnings=True)
            self._started = False

    def png(self, fig: dict[str, Any], scale: float = 1.0) -> bytes:
        """The figure (a validated dict, see `validated`) as PNG bytes at its own size."""
        import kaleido

        layout = fig["layout"]
        return bytes(kaleido.calc_fig_sync(fig, opts={
            "format": "png", "width": layout["width"], "height": layout["height"], "scale": scale}))


def validated(fig: dict[str, Any]) -> dict[str, Any]:
    """The figure checked by Plotly (a bad property is a bug here) with its template filled in."""
    import plotly.graph_objects as go

    return go.Figure(fig).to_dict()


def html(fig: dict[str, Any]) -> str:
    """A self-contained interactive HTML page (plotly.js inlined: it opens offline)."""
    import plotly.graph_objects as go

    return go.Figure(fig).to_html(include_plotlyjs=True, full_html=True,
                                  config={"displaylogo": False, "responsive": False})


@contextmanager
def staged(paths: list[Path]) -> Iterator[dict[Path, Path]]:
    """Temp files for `paths`, renamed into place together only if the block succeeds."""
    temps: dict[Path, Path] = {}
    umask = os.umask(0)
    os.umask(umask)
    try:
        for path in paths:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            os.close(fd)
            os.chmod(tmp, 0o666 & ~umask)  # plots are for sharing: the usual file mode, not 0600
            temps[path] = Path(tmp)
        yield temps
        for path, tmp in temps.items():
            os.replace(tmp, path)
    finally:
        for tmp in temps.values():
            tmp.unlink(missing_ok=True)


def csv_text(table: pl.DataFrame) -> str:
    """A panel's table as CSV text, floats at full precision."""
    return table.write_csv()

