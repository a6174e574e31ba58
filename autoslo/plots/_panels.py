"""The panel types: each turns its resolved points into a table (saved as CSV) and a Drawing.

A Drawing is free of page geometry: axes are named by their slot in the panel (row and column of
a small sub-grid) and traces, shapes and annotations refer to their axis by index. `_export`
places the drawings on the manifest's grid.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from autoslo.plots._manifest import ResolvedPanel
from autoslo.plots._style import DASHES, FEASIBLE_FILL, MUTED, PALETTE, THRESHOLD, translucent
from autoslo.results import (
    latency_quantiles,
    per_run,
    scored_queries,
    timeline,
)

# size classes of clusters: never the queue line's vermilion
CLUSTER_COLOURS = ("#009E73", "#CC79A7", "#56B4E9", "#E69F00", "#8C6D1F", "#0072B2")
CDF_FRACTIONS = tuple(np.round(np.concatenate([np.arange(0.0, 0.99, 0.005),
                                               np.arange(0.99, 1.0, 0.001), [1.0]]), 4))


@dataclass
class Axis:
    """One axis pair of a panel: its slot in the panel's sub-grid and its two axis styles."""

    x_title: str
    y_title: str
    row: int = 0
    rows: int = 1
    col: int = 0
    cols: int = 1
    x: dict[str, Any] = field(default_factory=dict)
    y: dict[str, Any] = field(default_factory=dict)


@dataclass
class Drawing:
    """What a panel draws, on axes named by index; shapes use xref 'x'/'x domain' placeholders."""

    title: str
    subtitle: str = ""
    axes: list[Axis] = field(default_factory=list)
    traces: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    shapes: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    annotations: list[tuple[int, dict[str, Any]]] = field(default_factory=list)

    def legend_labels(self) -> list[str]:
        """The legend entries, in order (traces shown in the legend, once per legend group)."""
        seen: list[str] = []
        for _, trace in self.traces:
            name = trace.get("name")
            if trace.get("showlegend", True) and name and name not in seen:
                seen.append(name)
        return seen


Builder = Callable[[ResolvedPanel], tuple[Drawing, pl.DataFrame]]


def _pct(value: float) -> str:
    """A share as a short percentage (0.1 -> '10 %')."""
    return f"{100 * value:.3g} %"


def _tau_subtitle(panel: ResolvedPanel) -> str:
    """The subtitle naming the panel's SLO spec and its tau."""
    assert panel.spec is not None
    return f"SLO {panel.spec_ref}: tau = {_pct(panel.spec.tau)} of queries may miss their target"


def _feasible_region(axis: int, tau_pct: float, label: str
                     ) -> tuple[list[tuple[int, dict[str, Any]]], list[tuple[int, dict[str, Any]]]]:
    """The feasible side (violation <= tau) shaded, and tau as a dashed line with its label."""
    return [
        (axis, {"type": "rect", "xref": "x", "yref": "y domain", "x0": 0, "x1": tau_pct,
                "y0": 0, "y1": 1, "fillcolor": FEASIBLE_FILL, "line": {"width": 0},
                "layer": "below"}),
        (axis, {"type": "line", "xref": "x", "yref": "y domain", "x0": tau_pct, "x1": tau_pct,
                "y0": 0, "y1": 1, "line": {"color": THRESHOLD, "width": 2, "dash": "dash"}}),
    ], [(axis, {"xref": "x", "yref": "y domain", "x": tau_pct, "y": 1, "text": label,
                "showarrow": False, "xanchor": "left", "yanchor": "top", "xshift": 4,
                "font": {"color": THRESHOLD, "size": 11}})]


def cost_vs_violation(panel: ResolvedPanel) -> tuple[Drawing, pl.DataFrame]:
    """Cost against violation rate, a marker per point; tau as a line, the feasible side shaded."""
    assert panel.spec is not None
    table = per_run(panel.sources, panel.spec, panel.references)
    tau_pct = 100 * panel.spec.tau
    worst = max([tau_pct, *(100 * table["violation_rate"]).to_list()])
    drawing = Drawing(panel.title or "Cost vs SLO violation", _tau_subtitle(panel), [Axis(
        "SLO violation rate (% of queries)", "cost (USD)",
        x={"range": [-0.04 * worst, worst * 1.12 + 0.5], "ticksuffix": " %"},
        y={"rangemode": "tozero"})])
    for row in table.iter_rows(named=True):
        drawing.traces.append((0, {
            "type": "scatter", "mode": "markers", "name": row["label"],
            "x": [100 * row["violation_rate"]], "y": [row["cost_usd"]],
            "marker": {"size": 14, "color": panel.colours[row["label"]],
                       "line": {"width": 1, "color": "white"},
                       "symbol": "circle" if row["within_tau"] else "x"},
            "customdata": [[row["violations"], row["queries"], row["p95_s"]]],
            "hovertemplate": (f"<b>{row['label']}</b><br>cost %{{y:.4f}} USD<br>violation rate "
                              "%{x:.2f} % (%{customdata[0]} of %{customdata[1]} queries)<br>"
                              "p95 latency %{customdata[2]:.1f} s<extra></extra>")}))
    shapes, notes = _feasible_region(0, tau_pct, f"tau {_pct(panel.spec.tau)}")
    drawing.shapes += shapes
    drawing.annotations += notes
    drawing.annotations.append((0, {
        "xref": "x", "yref": "y domain", "x": 0, "y": 0.02, "text": "feasible", "showarrow": False,
        "xanchor": "left", "yanchor": "bottom", "font": {"color": "#00795A", "size": 11}}))
    return drawing, table.drop("run")


def violation_bars(panel: ResolvedPanel) -> tuple[Drawing, pl.DataFrame]:
    """Violation rate per point as bars (the counts behind each rate in the hover); tau as a line."""
    assert panel.spec is not None
    table = per_run(panel.sources, panel.spec, panel.references)
    tau_pct = 100 * panel.spec.tau
    worst = max([tau_pct, *(100 * table["violation_rate"]).to_list()])
    labels = [_wrap(label) for label in table["label"]]
    drawing = Drawing(panel.title or "SLO violation rate per config", _tau_subtitle(panel), [Axis(
        "", "SLO violation rate (% of queries)",
        x={"type": "category", "showgrid": False, "tickfont": {"size": 11}},
        y={"range": [0, worst * 1.18 + 0.5], "ticksuffix": " %"})])
    drawing.traces.append((0, {
        "type": "bar", "name": "violation rate", "showlegend": False, "x": labels,
        "y": (100 * table["violation_rate"]).to_list(),
        "marker": {"color": [panel.colours[label] for label in table["label"]]},
        "customdata": table.select("violations", "queries", "unfinished").rows(),
        "hovertemplate": ("<b>%{x}</b><br>%{y:.2f} % of queries missed their target<br>"
                          "%{customdata[0]} of %{customdata[1]} queries "
                          "(%{customdata[2]} unfinished)<extra></extra>")}))
    for label, rate in zip(labels, table["violation_rate"], strict=True):
        drawing.annotations.append((0, {
            "xref": "x", "yref": "y", "x": label, "y": 100 * rate, "text": f"{100 * rate:.1f} %",
            "showarrow": False, "yanchor": "bottom", "yshift": 2, "font": {"size": 12},
            "bgcolor": "rgba(255,255,255,0.85)"}))
    drawing.shapes.append((0, {"type": "line", "xref": "x domain", "yref": "y", "x0": 0, "x1": 1,
                               "y0": tau_pct, "y1": tau_pct,
                               "line": {"color": THRESHOLD, "width": 2, "dash": "dash"}}))
    drawing.annotations.append((0, {
        "xref": "x domain", "yref": "y", "x": 0, "y": tau_pct, "text": f"tau {_pct(panel.spec.tau)}",
        "showarrow": False, "xanchor": "left", "yanchor": "bottom", "xshift": 2,
        "font": {"color": THRESHOLD, "size": 11}, "bgcolor": "rgba(255,255,255,0.85)"}))
    return drawing, table.drop("run")


def _wrap(label: str, width: int = 18) -> str:
    """Break a long category label into lines of about `width` characters."""
    words, lines, line = label.split(" "), [], ""
    for word in words:
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return "<br>".join([*lines, line])


def cdf_group_key(panel: ResolvedPanel) -> str:
    """The panel's grouping: as configured, else query groups when the runs have them."""
    if panel.panel.by is not None:
        return panel.panel.by
    assert panel.spec is not None
    names = [t.query_group for t in panel.spec.targets if t.query_group is not None]
    if not names:
        return "template_id"
    present = (scored_queries(panel.sources, panel.spec, panel.references)
               .select(pl.col("query_group").is_not_null().any()).collect().item())
    return "query_group" if present else "template_id"


def latency_cdf(panel: ResolvedPanel) -> tuple[Drawing, pl.DataFrame]:
    """Latency CDF per point and template (or query group), each group's SLO target marked.

    An absolute target is a vertical line; a kappa target differs per query (kappa x its isolated
    latency), so it is drawn as the CDF of the targets themselves (grey, dotted).
    """
    assert panel.spec is not None
    by = cdf_group_key(panel)
    scored = scored_queries(panel.sources, panel.spec, panel.references).with_columns(
        pl.when(pl.col("status") == "ok").then(pl.col("latency_s")).otherwise(math.inf)
        .alias("latency_s"), pl.col(by).fill_null("(none)"))
    fractions = pl.DataFrame({"fraction": CDF_FRACTIONS})
    latency = (scored.group_by("run", by).agg(
        pl.col("latency_s").sort().alias("values")).collect())
    targets = (scored.filter(pl.col("target_s").is_not_null()).group_by("run", by).agg(
        pl.col("target_s").sort().alias("values"), pl.col("target_s").n_unique().alias("distinct"))
        .collect())
    rows = []
    for series, frame in (("latency", latency), ("target", targets)):
        for item in frame.iter_rows(named=True):
            values = np.asarray(item["values"], dtype=float)
            # the inverted CDF: the smallest latency with at least that share of queries at or below
            rank = np.ceil(fractions["fraction"].to_numpy() * values.size - 1e-9).astype(int) - 1
            picks = values[np.clip(rank, 0, values.size - 1)]
            rows.append(pl.DataFrame({
                "run": item["run"], "group": item[by], "series": series,
                "fraction": fractions["fraction"], "latency_s": picks,
                "queries": values.size}))
    table = pl.concat(rows).with_columns(pl.col("run").cast(pl.Int32)).filter(
        pl.col("latency_s").is_finite())
    labels = {i: s.label for i, s in enumerate(panel.sources)}
    workloads = {i: s.workload_path for i, s in enumerate(panel.sources)}
    groups = sorted(table["group"].unique().to_list())
    finite = table.filter(pl.col("latency_s") > 0)["latency_s"]
    low, high = (float(finite.min()), float(finite.max())) if finite.len() else (0.1, 10.0)
    drawing = Drawing(panel.title or f"Latency distribution per {by.replace('_', ' ')}",
                      _tau_subtitle(panel), [Axis(
                          "latency (s, log scale)", "share of queries finished (%)",
                          x=log_axis(low, high),
                          y={"range": [0, 101], "ticksuffix": " %"})])
    # legend: a colour key per point and a dash key per group; the curves themselves stay out
    for label in labels.values():
        drawing.traces.append((0, _key(label, panel.colours[label], "solid", label)))
    if len(groups) > 1:
        for g_index, group in enumerate(groups):
            drawing.traces.append((0, _key(group, "#555555", DASHES[g_index % 6], None)))
    for run, label in labels.items():
        for g_index, group in enumerate(groups):
            part = table.filter((pl.col("run") == run) & (pl.col("group") == group)
                                & (pl.col("series") == "latency"))
            if part.is_empty():
                continue
            trace = _cdf_trace(part, f"{label} · {group}", panel.colours[label], DASHES[g_index % 6])
            drawing.traces.append((0, {**trace, "showlegend": False, "legendgroup": label}))
    drawn: set[tuple[str, str]] = set()
    lines: dict[float, list[str]] = {}
    kappa_key = False
    for g_index, group in enumerate(groups):
        for run in labels:
            part = table.filter((pl.col("run") == run) & (pl.col("group") == group)
                                & (pl.col("series") == "target"))
            key = (str(workloads[run]), group)
            if part.is_empty() or key in drawn:
                continue
            drawn.add(key)
            values = part["latency_s"]
            if values.min() == values.max():
                lines.setdefault(float(values[0]), []).append(group)
                continue
            trace = _cdf_trace(part, f"{group} targets", MUTED, DASHES[g_index % 6])
            trace["line"].update(width=2.5, dash="dot")
            drawing.traces.append((0, {**trace, "showlegend": False}))
            kappa_key = True
    if kappa_key:
        drawing.traces.append((0, _key("targets: kappa x isolated latency", MUTED, "dot", None)))
    for n, (value, names) in enumerate(sorted(lines.items())):
        drawing.shapes.append((0, {"type": "line", "xref": "x", "yref": "y domain", "x0": value,
                                   "x1": value, "y0": 0, "y1": 1,
                                   "line": {"color": THRESHOLD, "width": 2}}))
        shown = ", ".join(names[:4]) + (" ..." if len(names) > 4 else "")
        drawing.annotations.append((0, {
            "xref": "x", "yref": "y domain", "x": math.log10(value), "y": 0.02 + 0.09 * n,
            "text": f"{shown} target {value:g} s", "showarrow": False, "xanchor": "right",
            "yanchor": "bottom", "xshift": -3, "font": {"color": THRESHOLD, "size": 11},
            "bgcolor": "rgba(255,255,255,0.8)"}))
    out = table.join(pl.DataFrame({"run": pl.Series(list(labels), dtype=pl.Int32),
                                   "label": list(labels.values())}), on="run")
    return drawing, out.select("label", pl.col("group").alias(by), "series", "fraction",
                               "latency_s", "queries").sort("label", by, "series", "fraction")


def log_axis(low: float, high: float) -> dict[str, Any]:
    """A log axis spanning [low, high] seconds with readable ticks (1, 2, 5 per decade)."""
    low, high = max(low, 1e-3), max(high, low * 10)
    ticks = [m * 10.0 ** e for e in range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1)
             for m in (1, 2, 5) if low / 1.3 <= m * 10.0 ** e <= high * 1.3]
    return {"type": "log", "range": [math.log10(low) - 0.08, math.log10(high) + 0.15],
            "tickvals": ticks, "ticktext": [f"{t:g}" for t in ticks]}


def _key(name: str, colour: str, dash: str, group: str | None) -> dict[str, Any]:
    """A legend-only entry (no data): a colour or a dash style and what it stands for."""
    return {"type": "scatter", "mode": "lines", "name": name, "x": [None], "y": [None],
            "line": {"color": colour, "width": 2.5, "dash": dash}, "hoverinfo": "skip",
            **({"legendgroup": group} if group else {})}


def _cdf_trace(part: pl.DataFrame, name: str, colour: str, dash: str) -> dict[str, Any]:
    """A step line through a CDF table's (latency, share) points."""
    return {"type": "scatter", "mode": "lines", "name": name, "x": part["latency_s"].to_list(),
            "y": (100 * part["fraction"]).to_list(), "line": {"color": colour, "width": 2,
                                                              "dash": dash, "shape": "hv"},
            "hovertemplate": f"<b>{name}</b><br>%{{y:.1f}} % within %{{x:.2f}} s<extra></extra>"}


def _per(window_s: float) -> str:
    """'minute', '5 min', '10 s', '0.1 s': how long one timeline window is."""
    if window_s == 60:
        return "minute"
    return f"{window_s / 60:g} min" if window_s > 60 else f"{window_s:g} s"


def timeline_panel(panel: ResolvedPanel) -> tuple[Drawing, pl.DataFrame]:
    """One run over time: arrivals per window and queue depth, clusters alive by size, cost."""
    source = panel.sources[0]
    table = timeline(source)
    window_s = float(table["window_s"][0])
    horizon_s = float(table["window_start_s"][-1]) + window_s
    unit, scale = ("min", 60.0) if horizon_s >= 600 else ("s", 1.0)
    starts = (table["window_start_s"] / scale).to_list()
    step = window_s / scale
    ends = [t + step for t in starts]
    per = _per(window_s)
    drawing = Drawing(panel.title or f"Timeline: {source.label}",
                      f"{source.kind} run {source.folder.name}; per {per}", [
                          Axis("", "queries", rows=3, row=0, x={"showticklabels": False},
                               y={"rangemode": "tozero"}),
                          Axis("", "clusters alive", rows=3, row=1, x={"showticklabels": False},
                               y={"rangemode": "tozero", "dtick": 1 if int(
                                   table["clusters_alive"].max() or 0) <= 6 else None}),
                          Axis(f"time since workload start ({unit})", "cost (USD)", rows=3, row=2,
                               y={"rangemode": "tozero"})])
    where = f"%{{x:.4g}} {unit}"
    # a filled step line, not bars: one SVG path instead of one per window (renders much faster)
    drawing.traces.append((0, {
        "type": "scatter", "mode": "lines", "name": f"arrivals per {per}",
        "x": [*starts, ends[-1]], "y": [*table["arrivals"].to_list(), table["arrivals"][-1]],
        "line": {"color": "#7FA3C6", "width": 1, "shape": "hv"}, "fill": "tozeroy",
        "fillcolor": "rgba(157, 185, 211, 0.6)",
        "hovertemplate": f"from {where}: %{{y}} arrivals<extra></extra>"}))
    drawing.traces.append((0, {
        "type": "scatter", "mode": "lines", "name": "max queue depth",
        "x": [*starts, ends[-1]],
        "y": [*table["queue_depth_max"].to_list(), table["queue_depth_max"][-1]],
        "line": {"color": PALETTE[3], "width": 2, "shape": "hv"},
        "hovertemplate": f"from {where}: up to %{{y}} queued<extra></extra>"}))
    classes = [c for c in table.columns if c.startswith("alive: ")]
    for index, name in enumerate(classes):
        colour = CLUSTER_COLOURS[index % len(CLUSTER_COLOURS)]
        drawing.traces.append((1, {
            "type": "scatter", "mode": "lines", "name": name.removeprefix("alive: "),
            "x": [*starts, ends[-1]], "y": [*table[name].to_list(), table[name][-1]],
            "stackgroup": "clusters", "line": {"shape": "hv", "width": 1.5, "color": colour},
            "fillcolor": translucent(colour, 0.35),
            "hovertemplate": f"{name.removeprefix('alive: ')}: %{{y}} alive<extra></extra>"}))
    drawing.traces.append((2, {
        "type": "scatter", "mode": "lines", "name": "cumulative cost",
        "x": [0.0, *ends], "y": [0.0, *table["cumulative_cost_usd"].to_list()],
        "line": {"color": panel.colours[source.label], "width": 2.5},
        "hovertemplate": f"by {where}: %{{y:.4f}} USD<extra></extra>"}))
    for axis in (0, 1, 2):
        drawing.axes[axis].x["range"] = [0, ends[-1]]
    return drawing, table


def tuner_progress(panel: ResolvedPanel) -> tuple[Drawing, pl.DataFrame]:
    """Per tuner run: best feasible cost against trial, and the Pareto front of cost vs violation."""
    assert panel.spec is not None
    frames = []
    tau = panel.spec.tau
    tuner_taus = {run.tau for run in panel.tuner_runs if run.tau is not None}
    drawing = Drawing(panel.title or "Tuner progress", _tau_subtitle(panel) + (
        f"; tuner tau {', '.join(_pct(t) for t in sorted(tuner_taus))}"
        if tuner_taus - {tau} else ""), [
        Axis("trial (#)", "cost (USD)", cols=2, col=0),
        Axis("violation rate (% of queries)", "cost (USD)", cols=2, col=1,
             x={"ticksuffix": " %", "rangemode": "tozero"})])
    worst = 100 * max([tau, *tuner_taus])
    for run in panel.tuner_runs:
        trials = run.trials.with_columns(
            pl.col("trial").is_in(run.pareto["trial"].implode()).alias("on_pareto_front"))
        frames.append(trials.select(pl.lit(run.label).alias("label"), "trial", "status",
                                    "cost_usd", "violation", "feasible", "best_feasible_cost_usd",
                                    "on_pareto_front"))
        colour = panel.colours[run.label]
        scored = trials.filter(pl.col("cost_usd").is_not_null())
        drawing.traces.append((0, {
            "type": "scatter", "mode": "markers", "name": f"{run.label}: each trial",
            "x": scored["trial"].to_list(), "y": scored["cost_usd"].to_list(),
            "marker": {"size": 5, "color": [colour if f else "rgba(0,0,0,0)" for f in
                                            scored["feasible"]],
                       "line": {"width": 1, "color": colour}, "opacity": 0.5},
            "customdata": (100 * scored["violation"]).to_list(),
            "hovertemplate": ("trial %{x}: %{y:.4f} USD, violation %{customdata:.2f} %"
                              "<extra></extra>")}))
        best = trials.filter(pl.col("best_feasible_cost_usd").is_not_null())
        drawing.traces.append((0, {
            "type": "scatter", "mode": "lines", "name": f"{run.label}: best feasible",
            "x": best["trial"].to_list(), "y": best["best_feasible_cost_usd"].to_list(),
            "line": {"color": colour, "width": 2.5, "shape": "hv"},
            "hovertemplate": "after trial %{x}: best %{y:.4f} USD<extra></extra>"}))
        drawing.traces.append((1, {
            "type": "scatter", "mode": "markers", "name": f"{run.label}: each trial",
            "showlegend": False, "x": (100 * scored["violation"]).to_list(),
            "y": scored["cost_usd"].to_list(),
            "marker": {"size": 5, "color": MUTED, "opacity": 0.5},
            "hovertemplate": "%{x:.2f} %, %{y:.4f} USD<extra></extra>"}))
        front = run.pareto.sort("violation")
        drawing.traces.append((1, {
            "type": "scatter", "mode": "lines+markers", "name": f"{run.label}: Pareto front",
            "x": (100 * front["violation"]).to_list(), "y": front["cost_usd"].to_list(),
            "line": {"color": colour, "width": 2, "shape": "hv"}, "marker": {"size": 8},
            "customdata": front["trial"].to_list(),
            "hovertemplate": "trial %{customdata}: %{x:.2f} %, %{y:.4f} USD<extra></extra>"}))
        worst = max(worst, 100 * float(scored["violation"].max() or 0.0))
    drawing.axes[1].x["range"] = [-0.04 * worst, worst * 1.12 + 0.5]
    feasible_tau = min(tuner_taus) if len(tuner_taus) == 1 else tau
    shapes, notes = _feasible_region(1, 100 * feasible_tau, f"tau {_pct(feasible_tau)}")
    drawing.shapes += shapes
    drawing.annotations += notes
    if tuner_taus - {tau} and len(tuner_taus) == 1:
        drawing.shapes.append((1, {"type": "line", "xref": "x", "yref": "y domain",
                                   "x0": 100 * tau, "x1": 100 * tau, "y0": 0, "y1": 1,
                                   "line": {"color": THRESHOLD, "width": 1, "dash": "dot"}}))
        drawing.annotations.append((1, {
            "xref": "x", "yref": "y domain", "x": 100 * tau, "y": 0.88,
            "text": f"SLO tau {_pct(tau)}", "showarrow": False, "xanchor": "left", "xshift": 4,
            "font": {"color": THRESHOLD, "size": 11}}))
    return drawing, pl.concat(frames)


def sim_vs_live(panel: ResolvedPanel) -> tuple[Drawing, pl.DataFrame]:
    """Simulator against live for each combination: latency quantiles of one against the other."""
    sim = latency_quantiles(panel.sources)
    live = latency_quantiles(panel.live_sources)
    table = sim.select("run", "label", "quantile", pl.col("latency_s").alias("simulator_s"),
                       pl.col("folder").alias("simulator_folder")).join(
        live.select("run", "quantile", pl.col("latency_s").alias("live_s"),
                    pl.col("folder").alias("live_folder")), on=["run", "quantile"])
    values = pl.concat([table["simulator_s"], table["live_s"]]).filter(
        pl.concat([table["simulator_s"], table["live_s"]]) > 0)
    low, high = (float(values.min()), float(values.max())) if values.len() else (0.1, 10.0)
    axis = log_axis(low, high)
    span = axis["range"]
    drawing = Drawing(panel.title or "Simulator vs live: latency quantiles",
                      "p1 ... p99 of finished queries; on the diagonal the simulator is exact", [
                          Axis("simulator latency (s, log scale)", "live latency (s, log scale)",
                               x=axis, y=dict(axis))])
    drawing.traces.append((0, {
        "type": "scatter", "mode": "lines", "name": "simulator = live",
        "x": [10 ** span[0], 10 ** span[1]], "y": [10 ** span[0], 10 ** span[1]],
        "line": {"color": MUTED, "width": 1.5, "dash": "dash"}, "hoverinfo": "skip"}))
    for run, label in enumerate(s.label for s in panel.sources):
        part = table.filter(pl.col("run") == run)
        marks = part.filter(pl.col("quantile").is_in([0.5, 0.95, 0.99]))
        drawing.traces.append((0, {
            "type": "scatter", "mode": "lines", "name": label, "x": part["simulator_s"].to_list(),
            "y": part["live_s"].to_list(), "line": {"color": panel.colours[label], "width": 2},
            "customdata": (100 * part["quantile"]).to_list(),
            "hovertemplate": (f"<b>{label}</b><br>p%{{customdata:.0f}}: simulator %{{x:.2f}} s, "
                              "live %{y:.2f} s<extra></extra>")}))
        drawing.traces.append((0, {
            "type": "scatter", "mode": "markers+text", "name": f"{label} p50/p95/p99",
            "showlegend": False, "x": marks["simulator_s"].to_list(), "y": marks["live_s"].to_list(),
            "text": [f"p{100 * q:.0f}" for q in marks["quantile"]], "textposition": "top left",
            "cliponaxis": False,
            "textfont": {"size": 10, "color": panel.colours[label]},
            "marker": {"size": 8, "color": panel.colours[label]}, "hoverinfo": "skip"}))
    return drawing, table.drop("run")


BUILDERS: dict[str, Builder] = {
    "cost_vs_violation": cost_vs_violation,
    "latency_cdf": latency_cdf,
    "violation_bars": violation_bars,
    "timeline": timeline_panel,
    "tuner_progress": tuner_progress,
    "sim_vs_live": sim_vs_live,
}
