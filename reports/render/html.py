"""report.html: one self-contained page (plotly.js inlined), readable on a laptop.

Top: the verdict and one line per check. Then the timeline (rates and lag,
faults shaded, rebalances marked), partition ownership, rebalances per
fault, latency, the anomalies with examples, the allowances applied (what
the checks found and let pass, and why), the Chaos Toolkit and Locust
summaries, the evidence read and the run spec.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

import jinja2

from reports.evidence import Evidence
from reports.extras import chaos_journals, locust_summary
from reports.metrics import Metrics
from reports.model import Summary
from reports.registry import CHECKS

PALETTE = (
    "#4c78a8",
    "#f58518",
    "#54a24b",
    "#b279a2",
    "#e45756",
    "#72b7b2",
    "#eeca3b",
    "#ff9da6",
    "#9d755d",
    "#bab0ac",
    "#2f4b7c",
    "#a05195",
    "#d45087",
    "#665191",
)
FAULT_FILL = "rgba(228,87,86,0.18)"


@lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("reports", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )


@lru_cache(maxsize=1)
def plotly_js() -> str:
    """plotly.js, inlined so the report opens offline."""
    from plotly.offline import get_plotlyjs

    return str(get_plotlyjs())


def report_html(summary: Summary, ev: Evidence, metrics: Metrics) -> str:
    journals, chaos_notes = chaos_journals(ev.run_dir)
    locust, locust_notes = locust_summary(ev.run_dir, summary.out_dir)
    figures = {
        "timeline": timeline_figure(metrics),
        "ownership": ownership_figure(metrics),
        "latency": latency_figure(metrics),
    }
    template = _env().get_template("report.html.j2")
    return template.render(
        s=summary,
        ev=ev,
        m=metrics,
        checks=summary.checks,
        anomalies=[v for v in summary.checks if v.examples],
        proves={c.name: c.proves for c in CHECKS},
        journals=journals,
        chaos_notes=chaos_notes,
        locust=locust,
        locust_notes=locust_notes,
        figures={k: _script_json(v) for k, v in figures.items() if v is not None},
        spec_json=json.dumps(ev.spec, indent=2, sort_keys=True, default=str),
        sources=ev.sources,
        columns=_columns,
        fmt=_fmt,
        cell=lambda col, v: _cell(col, v, metrics.t0),
        plotly_js=plotly_js(),
    )


def _script_json(fig: dict[str, Any]) -> str:
    # Inside <script>, "</" would end the element: escape it.
    return json.dumps(fig, separators=(",", ":"), default=str).replace("</", "<\\/")


def _columns(rows: tuple[dict[str, Any], ...] | list[dict[str, Any]]) -> list[str]:
    """The union of the rows' keys, in a readable order."""
    first = ("partition", "offset", "producer", "key", "seq", "member", "t", "detail")
    seen: list[str] = []
    for r in rows:
        for k in r:
            if k not in seen:
                seen.append(k)
    lead = [c for c in first if c in seen and c != "detail"]
    rest = [c for c in seen if c not in first]
    return lead + rest + (["detail"] if "detail" in seen else [])


def _fmt(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:,.3f}".rstrip("0").rstrip(".") if abs(v) < 1e9 else f"{v:.3f}"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, dict | list):
        return json.dumps(v, separators=(", ", ": "))
    return str(v)


TIME_COLUMNS = frozenset({"t", "t_ack", "t_send", "prev_t", "t_fault"})


def _cell(col: str, v: Any, t0: float) -> str:
    """A table cell; epoch times are shown relative to the run start."""
    if col in TIME_COLUMNS and isinstance(v, int | float) and not isinstance(v, bool):
        return f"+{v - t0:,.3f} s"
    return _fmt(v)


def _base_layout(title: str, height: int) -> dict[str, Any]:
    return {
        "title": {"text": title, "x": 0, "font": {"size": 14}},
        "height": height,
        "margin": {"l": 60, "r": 60, "t": 40, "b": 45},
        "paper_bgcolor": "#ffffff",
        "plot_bgcolor": "#ffffff",
        "font": {"family": "system-ui, sans-serif", "size": 12},
        "legend": {"orientation": "h", "y": -0.18},
        "hovermode": "x unified",
    }


def _fault_shapes(metrics: Metrics, with_rounds: bool) -> list[dict[str, Any]]:
    shapes: list[dict[str, Any]] = []
    for f in metrics.faults:
        if not f["landed"]:
            continue
        x1 = max(f["end"], f["start"] + 0.5)
        shapes.append(
            {
                "type": "rect",
                "xref": "x",
                "yref": "paper",
                "x0": f["start"],
                "x1": x1,
                "y0": 0,
                "y1": 1,
                "fillcolor": FAULT_FILL,
                "line": {"width": 0},
                "layer": "below",
            }
        )
    if with_rounds:
        spurious = set(metrics.spurious)
        for r in metrics.rounds:
            shapes.append(
                {
                    "type": "line",
                    "xref": "x",
                    "yref": "paper",
                    "x0": r,
                    "x1": r,
                    "y0": 0,
                    "y1": 1,
                    "line": {
                        "color": "#e45756" if r in spurious else "#888",
                        "width": 1,
                        "dash": "dot",
                    },
                }
            )
    return shapes


def timeline_figure(metrics: Metrics) -> dict[str, Any] | None:
    rates, lag = metrics.rates, metrics.lag
    if not rates and not lag:
        return None
    data: list[dict[str, Any]] = []
    if rates:
        for name, color in (("acknowledged", "#4c78a8"), ("processed", "#54a24b")):
            if name in rates:
                data.append(
                    {
                        "type": "scatter",
                        "mode": "lines",
                        "name": f"{name} /s",
                        "x": rates["t"],
                        "y": rates[name],
                        "line": {"color": color, "width": 1.5},
                    }
                )
    if lag:
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": "lag (records)",
                "x": lag["t"],
                "y": lag["lag"],
                "yaxis": "y2",
                "line": {"color": "#f58518", "width": 1.5},
            }
        )
    layout = _base_layout("Throughput and lag (faults shaded, rebalances dotted)", 370)
    layout["margin"] = {"l": 60, "r": 60, "t": 76, "b": 45}
    layout.update(
        {
            "xaxis": {"title": {"text": "seconds since run start"}, "zeroline": False},
            "yaxis": {"title": {"text": "messages / s"}, "rangemode": "tozero"},
            "yaxis2": {
                "title": {"text": "lag"},
                "overlaying": "y",
                "side": "right",
                "rangemode": "tozero",
                "showgrid": False,
            },
            "shapes": _fault_shapes(metrics, with_rounds=True),
            "annotations": [
                {
                    "x": f["start"],
                    "y": 1,
                    "xref": "x",
                    "yref": "paper",
                    "text": f["name"],
                    "showarrow": False,
                    "xanchor": "left",
                    "yanchor": "bottom",
                    # Stagger the labels: faults close in time would overwrite each other.
                    "yshift": 12 * (i % 3),
                    "font": {"size": 10, "color": "#b03030"},
                }
                for i, f in enumerate([f for f in metrics.faults if f["landed"]][:12])
            ],
        }
    )
    return {"data": data, "layout": layout}


def ownership_figure(metrics: Metrics) -> dict[str, Any] | None:
    bars = metrics.ownership
    if not bars:
        return None
    members = sorted({b["member"] for b in bars})
    partitions = sorted({b["partition"] for b in bars})
    data = []
    for i, member in enumerate(members):
        mine = [b for b in bars if b["member"] == member]
        data.append(
            {
                "type": "bar",
                "orientation": "h",
                "name": member,
                "y": [f"p{b['partition']}" for b in mine],
                "base": [b["start"] for b in mine],
                "x": [max(b["end"] - b["start"], 0.05) for b in mine],
                "marker": {
                    "color": PALETTE[i % len(PALETTE)],
                    "line": {"width": 0.5, "color": "#fff"},
                },
                "customdata": [[b["end_kind"], b["handled"], b["end"]] for b in mine],
                "hovertemplate": (
                    f"{member}<br>%{{y}} from %{{base:.2f}} s to %{{customdata[2]:.2f}} s"
                    "<br>ended: %{customdata[0]}, records: %{customdata[1]}<extra></extra>"
                ),
            }
        )
    layout = _base_layout(
        "Partition ownership (who owned which partition when)", 150 + 26 * len(partitions)
    )
    layout["legend"] = {"orientation": "h", "y": -0.35 if len(partitions) < 8 else -0.15}
    layout["margin"] = {"l": 60, "r": 60, "t": 40, "b": 70}
    layout.update(
        {
            "barmode": "overlay",
            "hovermode": "closest",
            "showlegend": len(members) <= 24,
            "xaxis": {"title": {"text": "seconds since run start"}},
            "yaxis": {
                "categoryorder": "array",
                "categoryarray": [f"p{p}" for p in reversed(partitions)],
            },
            "shapes": _fault_shapes(metrics, with_rounds=False),
        }
    )
    return {"data": data, "layout": layout}


def latency_figure(metrics: Metrics) -> dict[str, Any] | None:
    lat = metrics.latency
    if not lat:
        return None
    names = [n for n in ("p50", "p90", "p95", "p99", "p99.9", "max") if n in lat]
    data = [
        {
            "type": "bar",
            "x": names,
            "y": [lat[n] for n in names],
            "marker": {"color": "#4c78a8"},
            "text": [f"{lat[n]:.1f}" for n in names],
            "textposition": "outside",
            "name": "latency",
        }
    ]
    start = "append" if lat.get("basis") == "append" else "acknowledgement"
    layout = _base_layout(
        f"End-to-end latency, {start} to {lat.get('to', 'first processing')} (ms)", 300
    )
    layout.update({"hovermode": "closest", "showlegend": False, "yaxis": {"title": {"text": "ms"}}})
    return {"data": data, "layout": layout}
