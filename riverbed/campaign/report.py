"""A campaign's matrix: runs × checks, as campaign.json, campaign.html and junit.xml.

Each row is one run: its verdict, its fault schedule (what, whom, when, how
long), the status of every check, a few counts and a link to its own report.
Rewritten after every run, so an interrupted campaign says what ran.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any
from xml.etree import ElementTree as ET

from reports.exit_codes import OUTCOMES
from reports.registry import CHECK_NAMES

if TYPE_CHECKING:
    from riverbed.campaign.runner import RunRecord

#: The checks in the report's order (columns of the matrix).
CHECK_ORDER = CHECK_NAMES
#: Counts shown per run.
COUNTS = ("acknowledged", "never-processed", "redelivered", "indeterminate", "zombie_overlaps")


def campaign_dict(
    root: Path,
    records: list[RunRecord],
    settings: dict[str, Any],
    t_start: float,
    interrupted: bool,
) -> dict[str, Any]:
    from riverbed.campaign.runner import exit_code

    ran = [r for r in records if r.verdict != "not-run"]
    tally: dict[str, int] = {}
    for r in records:
        tally[r.verdict] = tally.get(r.verdict, 0) + 1
    code = exit_code(ran, interrupted) if ran else 2
    verdict = OUTCOMES.get(code, "inconclusive")
    if interrupted:
        verdict = "interrupted"
    checks = [c for c in CHECK_ORDER if any(c in r.checks for r in records)]
    checks += sorted({c for r in records for c in r.checks} - set(checks))
    walls = [r.wall_s for r in ran if r.wall_s is not None]
    return {
        "v": 1,
        "type": "campaign",
        "seed": settings.get("seed"),
        "runs": len(records),
        "ran": len(ran),
        "settings": settings,
        "t_start": t_start,
        "t_end": time.time(),
        "interrupted": interrupted,
        "verdict": verdict,
        "exit_code": code,
        "tally": tally,
        "wall_s": {
            "total": round(sum(walls), 1),
            "mean": round(sum(walls) / len(walls), 1) if walls else None,
            "max": round(max(walls), 1) if walls else None,
        },
        "checks": checks,
        "matrix": [r.to_dict(root) for r in records],
    }


def write_campaign(
    root: Path,
    records: list[RunRecord],
    settings: dict[str, Any],
    t_start: float,
    interrupted: bool,
) -> dict[str, Any]:
    """Write campaign.json, campaign.html and junit.xml into ``root``; returns the JSON."""
    root.mkdir(parents=True, exist_ok=True)
    data = campaign_dict(root, records, settings, t_start, interrupted)
    _atomic(root / "campaign.json", json.dumps(data, indent=2) + "\n")
    _atomic(root / "campaign.html", campaign_html(data))
    _atomic(root / "junit.xml", campaign_junit(data))
    return data


def _atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def campaign_junit(data: dict[str, Any]) -> str:
    """One test suite per run, one test case per check (failed, skipped when inconclusive)."""
    suites = ET.Element("testsuites", {"name": f"riverbed campaign seed {data['seed']}"})
    for row in data["matrix"]:
        checks = row["checks"]
        suite = ET.SubElement(
            suites,
            "testsuite",
            {
                "name": f"{row['run']}: {row['schedule']['describe']}",
                "tests": str(max(1, len(checks))),
                "failures": str(sum(1 for s in checks.values() if s == "fail")),
                "errors": "1" if row["verdict"] == "error" else "0",
                "skipped": str(
                    sum(1 for s in checks.values() if s in ("inconclusive", "n/a"))
                    + (1 if not checks and row["verdict"] != "error" else 0)
                ),
                "time": str(row["wall_s"] or 0),
            },
        )
        props = ET.SubElement(suite, "properties")
        ET.SubElement(props, "property", {"name": "verdict", "value": row["verdict"]})
        ET.SubElement(props, "property", {"name": "run_dir", "value": row["run_dir"]})
        if not checks:
            case = ET.SubElement(suite, "testcase", {"classname": row["run"], "name": "run"})
            why = "; ".join(row["reasons"]) or row["verdict"]
            if row["verdict"] == "error":
                ET.SubElement(case, "error", {"message": why})
            else:
                ET.SubElement(case, "skipped", {"message": why})
            continue
        for name, status in checks.items():
            case = ET.SubElement(suite, "testcase", {"classname": row["run"], "name": name})
            if status == "fail":
                ET.SubElement(case, "failure", {"message": f"{name} failed; see {row['report']}"})
            elif status in ("inconclusive", "n/a"):
                ET.SubElement(case, "skipped", {"message": f"{name}: {status}"})
    ET.indent(suites)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
    )


_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>riverbed campaign — seed {{ d.seed }}</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.4em; margin-bottom: .2em; }
.verdict { font-weight: bold; padding: .1em .5em; border-radius: .3em; }
.pass { background: #d7f5dc; } .fail { background: #fbd3d0; }
.inconclusive, .interrupted, .error { background: #fff1c2; } .not-run { background: #eee; color: #777; }
.na { background: #f4f4f4; color: #888; }
table { border-collapse: collapse; margin-top: 1em; }
th, td { border: 1px solid #ccc; padding: .25em .5em; text-align: left; vertical-align: top; }
th.rot { writing-mode: vertical-rl; transform: rotate(180deg); font-weight: normal; }
td.s { text-align: center; font-size: .85em; }
.sched { max-width: 32em; font-size: .9em; }
.small { color: #666; font-size: .9em; }
</style></head><body>
<h1>riverbed campaign: <span class="verdict {{ d.verdict }}">{{ d.verdict | upper }}</span></h1>
<p class="small">seed {{ d.seed }} · {{ d.ran }} of {{ d.runs }} runs ran ·
{% for k, v in d.tally | dictsort %}{{ v }} {{ k }}{% if not loop.last %}, {% endif %}{% endfor %} ·
wall time {{ d.wall_s.total }} s (mean {{ d.wall_s.mean }} s per run) ·
faults: {{ d.settings.faults | join(", ") }} · commit mode {{ d.settings.commit_mode }}</p>
<p class="small">Same seed, same schedules: <code>riverbed campaign --runs {{ d.runs }} --seed {{ d.seed }}
--faults {{ d.settings.faults | join(",") }} --max-faults {{ d.settings.max_faults }}</code> (with the same
run settings).</p>
<table>
<tr><th>run</th><th>verdict</th><th>fault schedule</th>
{% for c in d.checks %}<th class="rot">{{ c }}</th>{% endfor %}
<th>acked</th><th>never-processed</th><th>redelivered</th><th>zombie overlaps</th><th>wall</th></tr>
{% for r in d.matrix %}
<tr>
<td>{% if r.report %}<a href="{{ r.report }}">{{ r.run }}</a>{% else %}{{ r.run }}{% endif %}</td>
<td class="{{ r.verdict }}">{{ r.verdict }}</td>
<td class="sched">{{ r.schedule.describe }}{% if r.reasons %}<br><span class="small">{{ r.reasons | join("; ") }}</span>{% endif %}</td>
{% for c in d.checks %}{% set s = r.checks.get(c, "") %}
<td class="s {{ 'na' if s == 'n/a' else s }}">{{ {"pass": "✓", "fail": "✗", "inconclusive": "?", "n/a": "–"}.get(s, "") }}</td>
{% endfor %}
<td>{{ r.counts.get("acknowledged", "") }}</td><td>{{ r.counts.get("never-processed", "") }}</td>
<td>{{ r.counts.get("redelivered", "") }}</td><td>{{ r.counts.get("zombie_overlaps", "") if r.counts.get("zombie_overlaps") is not none else "" }}</td>
<td>{{ r.wall_s if r.wall_s is not none else "" }}{% if r.wall_s is not none %} s{% endif %}</td>
</tr>
{% endfor %}
</table>
<p class="small">✓ pass · ✗ fail · ? inconclusive · – not applicable. Each run is an ordinary run directory
(<code>runs/rNN/</code>) with its generated experiments in <code>experiments/</code>; re-check one with
<code>riverbed report runs/rNN</code>.</p>
</body></html>
"""


def campaign_html(data: dict[str, Any]) -> str:
    import jinja2

    env = jinja2.Environment(autoescape=True)
    return env.from_string(_HTML).render(d=data)
