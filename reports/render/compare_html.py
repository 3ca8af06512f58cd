"""compare.html: runs side by side on one self-contained page (plotly.js inlined).

Top: the runs (verdict, label), the settings where they differ, the verdicts per
check; then per fault the rebalance figures side by side; then the timelines
(processed messages per second, lag) of every run on one time axis, seconds
since each run's first fault, with each run's fault windows shaded in its colour.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from reports.render.html import PALETTE, _base_layout, _env, _fmt, _script_json, plotly_js


def _rgba(hex_color: str, alpha: float) -> str:
    h = hex_color.lstrip("#")
    r, g, b = (int(h[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def _fault_shapes(timelines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    shapes: list[dict[str, Any]] = [
        {
            "type": "line",
            "xref": "x",
            "yref": "paper",
            "x0": 0,
            "x1": 0,
            "y0": 0,
            "y1": 1,
            "line": {"color": "#b03030", "width": 1, "dash": "dot"},
        }
    ]
    for i, tl in enumerate(timelines):
        color = PALETTE[i % len(PALETTE)]
        for f in tl["faults"]:
            shapes.append(
                {
                    "type": "rect",
                    "xref": "x",
                    "yref": "paper",
                    "x0": f["start"],
                    "x1": max(f["end"], f["start"] + 0.5),
                    "y0": 0,
                    "y1": 1,
                    "fillcolor": _rgba(color, 0.12),
                    "line": {"width": 0},
                    "layer": "below",
                }
            )
    return shapes


def _series_figure(
    timelines: list[dict[str, Any]], labels: list[str], part: str, key: str, title: str, unit: str
) -> dict[str, Any] | None:
    data = []
    for i, tl in enumerate(timelines):
        series = tl[part]
        if not series.get("t"):
            continue
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": labels[i],
                "x": series["t"],
                "y": series[key],
                "line": {"color": PALETTE[i % len(PALETTE)], "width": 1.5},
            }
        )
    if not data:
        return None
    layout = _base_layout(title, 360)
    layout["margin"] = {"l": 60, "r": 30, "t": 40, "b": 45}
    layout["legend"] = {"orientation": "h", "y": -0.25}
    layout.update(
        {
            "xaxis": {"title": {"text": "seconds since the run's first fault"}, "zeroline": False},
            "yaxis": {"title": {"text": unit}, "rangemode": "tozero"},
            "shapes": _fault_shapes(timelines),
        }
    )
    return {"data": data, "layout": layout}


def compare_figures(comparison: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The page's charts (plotly figure dicts), by name."""
    timelines = comparison["timelines"]
    labels = [r["label"] for r in comparison["runs"]]
    figures = {
        "processed": _series_figure(
            timelines,
            labels,
            "rates",
            "processed",
            "Processed messages per second (each run's fault windows shaded in its colour)",
            "messages / s",
        ),
        "lag": _series_figure(
            timelines, labels, "lag", "lag", "Consumer lag (records behind)", "records"
        ),
    }
    return {k: v for k, v in figures.items() if v is not None}


def compare_html(comparison: dict[str, Any]) -> str:
    template = _env().get_template("compare.html.j2")
    figures = compare_figures(comparison)
    return template.render(
        c=comparison,
        colors=[PALETTE[i % len(PALETTE)] for i in range(len(comparison["runs"]))],
        figures={k: _script_json(v) for k, v in figures.items()},
        fmt=_fmt,
        plotly_js=plotly_js(),
    )


def write_comparison(comparison: dict[str, Any], out: Path) -> dict[str, Path]:
    """Write compare.html and compare.json into ``out``; returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {"compare_html": out / "compare.html", "compare_json": out / "compare.json"}
    for key, text in (
        ("compare_json", json.dumps(comparison, indent=2, default=str) + "\n"),
        ("compare_html", compare_html(comparison)),
    ):
        tmp = paths[key].with_name(paths[key].name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(paths[key])
    return paths
