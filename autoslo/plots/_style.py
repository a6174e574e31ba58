"""One look for every panel: colours, fonts, axis styling, and the grid geometry of a manifest.

Panels are laid out by hand on paper coordinates (not `make_subplots`) so that each panel can
hold several axes (the timeline stacks three, the tuner panel has two side by side) and its own
legend, placed under its plot area where it cannot cover data.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

# Okabe-Ito: distinguishable with every common colour-vision deficiency
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#8C6D1F", "#000000")
FEASIBLE_FILL = "rgba(0, 158, 115, 0.10)"
THRESHOLD = "#C0392B"
GRID = "#E5E5E5"
MUTED = "#9A9A9A"
FONT = {"family": "DejaVu Sans, Arial, sans-serif", "size": 13, "color": "#222222"}
DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")

# pixels reserved around each panel's plot area
TITLE_PX = 46
AXIS_LEFT_PX = 78
AXIS_RIGHT_PX = 24
AXIS_BOTTOM_PX = 52
LEGEND_ROW_PX = 24
FIGURE_TITLE_PX = 56
GAP_PX = 26
BOTTOM_PX = 12


def colour_map(labels: Iterable[str], given: dict[str, str]) -> dict[str, str]:
    """A colour per label, the same in every panel: the one given, else the next palette colour."""
    colours: dict[str, str] = {}
    free = iter(c for c in PALETTE * 8 if c not in given.values())
    for label in labels:
        if label not in colours:
            colours[label] = given.get(label) or next(free)
    return colours


def translucent(colour: str, alpha: float) -> str:
    """A '#rrggbb' colour as rgba() with the given opacity (for filled areas)."""
    red, green, blue = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({red}, {green}, {blue}, {alpha})"


def check_colour(value: str) -> bool:
    """Whether Plotly accepts `value` as a colour (hex, rgb(), or a CSS name)."""
    import plotly.graph_objects as go

    try:
        go.scatter.Marker(color=value)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class Rect:
    """A rectangle in paper coordinates (0..1 both ways, y upwards)."""

    x0: float
    x1: float
    y0: float
    y1: float

    def split_rows(self, n: int, gap: float) -> list[Rect]:
        """`n` stacked rectangles, top first, separated by `gap` (paper units)."""
        height = (self.y1 - self.y0 - gap * (n - 1)) / n
        return [Rect(self.x0, self.x1, self.y1 - (i + 1) * height - i * gap,
                     self.y1 - i * (height + gap)) for i in range(n)]

    def split_columns(self, n: int, gap: float) -> list[Rect]:
        """`n` side-by-side rectangles, left first, separated by `gap` (paper units)."""
        width = (self.x1 - self.x0 - gap * (n - 1)) / n
        return [Rect(self.x0 + i * (width + gap), self.x0 + i * (width + gap) + width,
                     self.y0, self.y1) for i in range(n)]


@dataclass(frozen=True)
class Cell:
    """One panel's place: its whole cell, its plot area, and where its title and legend go."""

    cell: Rect
    plot: Rect
    legend_y: float
    px_x: float  # paper units per pixel
    px_y: float


@dataclass(frozen=True)
class Grid:
    """The figure size and one Cell per panel, row by row."""

    width_px: int
    height_px: int
    cells: list[Cell]


def grid(n_panels: int, columns: int, width_px: int, height_px_per_row: int,
         legend_rows: list[int]) -> Grid:
    """Lay out `n_panels` in `columns`; each panel keeps room under it for its legend rows."""
    columns = min(columns, n_panels)
    rows = -(-n_panels // columns)
    height = rows * height_px_per_row + FIGURE_TITLE_PX + BOTTOM_PX
    px_x, px_y = 1 / width_px, 1 / height
    cell_w = (width_px - GAP_PX * (columns - 1)) / columns
    cells = []
    for index in range(n_panels):
        row, col = divmod(index, columns)
        x0 = col * (cell_w + GAP_PX)
        top = FIGURE_TITLE_PX + row * height_px_per_row
        bottom = top + height_px_per_row
        legend_px = LEGEND_ROW_PX * legend_rows[index]
        cell = Rect(x0 * px_x, (x0 + cell_w) * px_x, 1 - bottom * px_y, 1 - top * px_y)
        plot = Rect((x0 + AXIS_LEFT_PX) * px_x, (x0 + cell_w - AXIS_RIGHT_PX) * px_x,
                    1 - (bottom - AXIS_BOTTOM_PX - legend_px - 8) * px_y,
                    1 - (top + TITLE_PX) * px_y)
        cells.append(Cell(cell, plot, 1 - (bottom - legend_px - 4) * px_y, px_x, px_y))
    return Grid(width_px, height, cells)


def axis_style(title: str, **extra: Any) -> dict[str, Any]:
    """The common look of an axis: light grid, outside ticks, a title with its unit."""
    style: dict[str, Any] = {
        "title": {"text": title, "standoff": 6, "font": {"size": 12}},
        "showgrid": True, "gridcolor": GRID, "zeroline": False, "showline": True,
        "linecolor": "#888888", "ticks": "outside", "ticklen": 4, "tickcolor": "#888888",
        "tickfont": {"size": 11}, "automargin": False,
    }
    style.update(extra)
    return style


def legend_style(x: float, y: float) -> dict[str, Any]:
    """A horizontal legend anchored at (x, y) in paper coordinates, under a panel's plot."""
    return {"x": x, "y": y, "xanchor": "left", "yanchor": "top", "orientation": "h",
            "font": {"size": 11}, "bgcolor": "rgba(255,255,255,0)", "itemwidth": 30,
            "tracegroupgap": 0, "traceorder": "normal"}


def layout_base(title: str, width_px: int, height_px: int) -> dict[str, Any]:
    """The figure-wide layout: size, fonts, white background, the title on top."""
    return {
        "width": width_px, "height": height_px, "font": FONT, "paper_bgcolor": "white",
        "plot_bgcolor": "white", "margin": {"l": 0, "r": 0, "t": 0, "b": 0, "autoexpand": False},
        "title": {"text": title, "x": 0.5, "xanchor": "center", "y": 1 - 14 / height_px,
                  "yanchor": "top", "font": {"size": 20}},
        "hoverlabel": {"font": {"size": 12}}, "showlegend": True,
    }
