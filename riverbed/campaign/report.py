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
    stopped: str | None = None,
) -> dict[str, Any]:
    from riverbed.campaign.runner import exit_code
    from riverbed.campaign.summary import summary

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
    matrix = [r.to_dict(root) for r in records]
    return {
        "v": 1,
        "type": "campaign",
        "seed": settings.get("seed"),
        "runs": len(records),
        "ran": len(ran),
        "settings": settings,
        "consumer": settings.get("consumer"),
        "evidence_strength": settings.get("evidence_strength"),
        "t_start": t_start,
        "t_end": time.time(),
        "interrupted": interrupted,
        "stopped": stopped,
        "verdict": verdict,
        "exit_code": code,
        "tally": tally,
        "wall_s": {
            "total": round(sum(walls), 1),
            "mean": round(sum(walls) / len(walls), 1) if walls else None,
            "max": round(max(walls), 1) if walls else None,
        },
        "summary": summary(matrix, settings.get("faults") or ()),
        "checks": checks,
        "matrix": matrix,
    }


def write_campaign(
    root: Path,
    records: list[RunRecord],
    settings: dict[str, Any],
    t_start: float,
    interrupted: bool,
    stopped: str | None = None,
) -> dict[str, Any]:
    """Write campaign.json, campaign.html and junit.xml into ``root``; returns the JSON."""
    root.mkdir(parents=True, exist_ok=True)
    data = campaign_dict(root, records, settings, t_start, interrupted, stopped)
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
            if row.get("error") and row["error"].get("fix"):
                why += f" (fix: {row['error']['fix']})"
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
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>riverbed campaign · seed {{ d.seed }} · {{ d.verdict }}</title>
<style>
:root { --pass:#1f7a3a; --fail:#b3261e; --inc:#a05a00; --muted:#5f6368; --line:#e3e3e3; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       color: #202124; background: #f6f7f9; }
main { max-width: 1240px; margin: 0 auto; padding: 18px 22px 60px; }
h1 { font-size: 20px; margin: 0 0 6px; }
h2 { font-size: 16px; margin: 26px 0 10px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
.card { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 14px 16px; margin: 10px 0; }
.badge { display: inline-block; font-weight: 700; letter-spacing: .04em; padding: 3px 12px;
         border-radius: 6px; color: #fff; text-transform: uppercase; vertical-align: middle; }
.badge.pass { background: var(--pass); } .badge.fail { background: var(--fail); }
.badge.inconclusive, .badge.interrupted { background: var(--inc); }
.answer { font-size: 17px; margin: 6px 0 10px; }
.strength { margin-top: 10px; padding: 8px 12px; border-left: 4px solid #1a57b5; background: #f3f6fc; border-radius: 4px; }
.strength.weak { border-left-color: var(--inc); background: #fdf6ec; }
.strength div { margin-top: 3px; }
.warn { color: var(--inc); font-weight: 600; }
.muted, .small { color: var(--muted); } .small { font-size: .9em; }
code, pre { font: 12.5px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
code { overflow-wrap: anywhere; }
pre.cmd { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 10px;
          margin: 8px 0; white-space: pre-wrap; overflow-wrap: anywhere; }
table { border-collapse: collapse; background: #fff; }
th, td { border: 1px solid var(--line); padding: 4px 8px; text-align: left; vertical-align: top;
         overflow-wrap: anywhere; }
th { font-weight: 600; font-size: 12px; color: var(--muted); background: #fafafa; }
td.num { text-align: right; font-variant-numeric: tabular-nums; overflow-wrap: normal; white-space: nowrap; }
td.zero { color: #b0b0b0; }
.scroll { overflow-x: auto; max-width: 100%; }
td.v.pass, td.s.pass { background: #d7f5dc; } td.v.fail, td.s.fail { background: #fbd3d0; }
td.v.inconclusive, td.v.error, td.s.inconclusive { background: #fff1c2; }
td.v.not-run { background: #eee; color: #777; } td.s.na { background: #f1f1f1; color: #666; }
th.rot { writing-mode: vertical-rl; transform: rotate(180deg); font-weight: normal; white-space: nowrap; }
td.s { text-align: center; }
td.sched { min-width: 14em; max-width: 30em; font-size: .92em; overflow-wrap: anywhere; }
a { color: #1a57b5; }
</style></head><body><main>
{% set sm = d.summary %}{% set es = d.evidence_strength or {} %}{% set cu = d.consumer or {} %}
<header class="card" id="answer-card">
<h1>riverbed campaign · seed {{ d.seed }} <span class="badge {{ d.verdict }}" id="verdict">{{ d.verdict | upper }}</span></h1>
<p class="answer" id="answer">{{ sm.headline }}</p>
{% if d.stopped %}<p class="warn">Stopped early: {{ d.stopped }}.</p>{% endif %}
{% if d.interrupted %}<p class="warn">Interrupted: the runs after the one in progress did not run.</p>{% endif %}
<div class="strength{% if es.get('name') in ('output-topic', 'offsets') %} weak{% endif %}" id="consumer-under-test" data-strength="{{ es.get('name', 'reference') }}">
<div><b>Consumer under test:</b> {% if cu.get('kind') == 'command' %}your consumer <code>{{ cu.cmd }}</code>{% if cu.get('cwd_given') %} in <code>{{ cu.cwd }}</code>{% endif %}{% if cu.get('output_topic') %}, writing to a fresh output topic per run (<code>{{ cu.output_topic }}-…</code>){% endif %}{% else %}{{ cu.get('describe', "riverbed's reference consumer") }}{% endif %}.</div>
<div><b>Evidence strength: {{ es.get('name', 'reference') }}</b> — the verdicts rest on {{ es.get('title', 'consumer events') }}.</div>
<div><b>Can prove:</b> {{ es.get('proves', '') }}.</div>
{% if es.get('cannot') %}<div><b>Cannot prove:</b> {{ es.get('cannot') }}.</div>{% endif %}
{% if es.get('assumption') %}<div><b>Assumption:</b> {{ es.get('assumption') }}.</div>{% endif %}
</div>
<p class="small">platform {{ d.settings.get('platform', 'local') }} · {{ d.ran }} of {{ d.runs }} runs ran ·
wall time {{ d.wall_s.total }} s{% if d.wall_s.mean is not none %} (mean {{ d.wall_s.mean }} s per run){% endif %} ·
faults drawn from: {{ d.settings.faults | join(", ") }}, 1 to {{ d.settings.max_faults }} per schedule.
Same seed, same schedules: <code>riverbed campaign{% if d.settings.get('platform', 'local') != 'local' %} --platform {{ d.settings.platform }}{% endif %} --runs {{ d.runs }} --seed {{ d.seed }} --faults {{ d.settings.faults | join(",") }} --max-faults {{ d.settings.max_faults }}</code> (with the same run settings).</p>
</header>

<h2 id="shortest">Shortest failing schedule</h2>
{% set sf = sm.shortest_failing %}
{% if sf %}
<div class="card" id="shortest-failing" data-run="{{ sf.run }}">
<div><b>{{ sf.run }}</b> ({{ sf.steps }} fault{% if sf.steps != 1 %}s{% endif %}): {{ sf.describe }}</div>
<div>failed: {{ sf.checks | join(", ") or "(see its report)" }}{% if sf.report %} · <a href="{{ sf.report }}">its report</a>{% endif %}</div>
{% if sf.replay %}<pre class="cmd" id="replay">{{ sf.replay }}</pre>
<p class="small">Runs this schedule again on its own, from the directory the campaign ran in and with the same environment (your consumer's own variables included).</p>{% endif %}
</div>
{% elif sm.outcomes.get('fail') == 0 %}<p class="muted">No schedule found a problem.</p>{% endif %}

<h2 id="faults">Faults × outcome</h2>
{% if sm.faults %}
<div class="scroll"><table id="fault-outcomes">
<tr><th>fault</th><th>runs with it</th><th>found a problem</th><th>passed</th><th>cannot tell</th><th>harness error</th><th>failing runs</th></tr>
{% for f in sm.faults %}
<tr data-fault="{{ f.fault }}"><td>{{ f.fault }}</td><td class="num">{{ f.runs }}</td>
{% for k in ("fail", "pass", "inconclusive", "error") %}<td class="num{% if not f[k] %} zero{% endif %}" data-outcome="{{ k }}">{{ f[k] }}</td>{% endfor %}
<td>{{ f.failed_runs | join(", ") or "–" }}</td></tr>
{% endfor %}
</table></div>
<p class="small">A run counts under every fault of its schedule; "cannot tell": the run was inconclusive (its report says why).</p>
{% else %}<p class="muted">No run has finished yet.</p>{% endif %}

{% if sm.failures %}
<h2 id="failures">Failures</h2>
<div class="scroll"><table id="failure-list">
<tr><th>run</th><th>faults involved</th><th>checks failed</th><th>schedule</th></tr>
{% for f in sm.failures %}
<tr data-run="{{ f.run }}"><td>{% if f.report %}<a href="{{ f.report }}">{{ f.run }}</a>{% else %}{{ f.run }}{% endif %}</td>
<td>{{ f.faults | join(", ") }}</td><td>{{ f.checks | join(", ") or "–" }}</td><td class="sched">{{ f.describe }}</td></tr>
{% endfor %}
</table></div>
{% endif %}

{% set errored = d.matrix | selectattr("error") | list %}
{% if errored %}
<h2 id="errors">Harness errors</h2>
{% for r in errored %}
<div class="card" data-run="{{ r.run }}"><b>{{ r.run }}</b>: {{ r.error.message }}{% if r.error.fix %}<div><b>fix:</b> {{ r.error.fix }}</div>{% endif %}</div>
{% endfor %}
{% endif %}

<h2 id="matrix">Every run × check</h2>
<div class="scroll"><table id="matrix-table">
<tr><th>run</th><th>verdict</th><th>fault schedule</th>
{% for c in d.checks %}<th class="rot">{{ c }}</th>{% endfor %}
<th>acked</th><th>never-processed</th><th>redelivered</th><th>zombie overlaps</th><th>wall</th></tr>
{% for r in d.matrix %}
<tr data-run="{{ r.run }}">
<td>{% if r.report %}<a href="{{ r.report }}">{{ r.run }}</a>{% else %}{{ r.run }}{% endif %}</td>
<td class="v {{ r.verdict }}">{{ labels.get(r.verdict, r.verdict) }}</td>
<td class="sched">{{ r.schedule.describe }}{% if r.reasons %}<br><span class="small">{{ r.reasons | join("; ") }}</span>{% endif %}</td>
{% for c in d.checks %}{% set s = r.checks.get(c, "") %}
<td class="s {{ 'na' if s == 'n/a' else s }}" data-check="{{ c }}" data-status="{{ s }}" title="{{ c }}: {{ cell_titles.get(s, s) }}">{{ cells.get(s, "") }}</td>
{% endfor %}
<td class="num">{{ count(r.counts.get("acknowledged")) }}</td><td class="num">{{ count(r.counts.get("never-processed")) }}</td>
<td class="num">{{ count(r.counts.get("redelivered")) }}</td><td class="num">{{ count(r.counts.get("zombie_overlaps")) }}</td>
<td class="num">{% if r.wall_s is not none %}{{ r.wall_s }} s{% endif %}</td>
</tr>
{% endfor %}
</table></div>
<p class="small">✓ pass · ✗ fail · ? cannot tell: the evidence was incomplete (inconclusive) · – cannot tell at this
evidence strength (n/a: the evidence cannot see what the check judges) · a blank count: not known at this strength.
Each run is an ordinary run directory (<code>runs/rNN/</code>) with its generated experiments in
<code>experiments/</code>; re-check one with <code>riverbed report runs/rNN</code>.</p>
</main></body></html>
"""

#: A run's verdict in the matrix.
VERDICT_LABELS = {
    "pass": "pass",
    "fail": "fail",
    "inconclusive": "cannot tell",
    "error": "harness error",
    "not-run": "not run",
}
#: How a check's status shows in a matrix cell, and its tooltip.
CELLS = {"pass": "✓", "fail": "✗", "inconclusive": "?", "n/a": "–"}
CELL_TITLES = {
    "pass": "pass",
    "fail": "fail",
    "inconclusive": "cannot tell: the evidence was incomplete",
    "n/a": "cannot tell at this evidence strength",
    "": "not run",
}


def campaign_html(data: dict[str, Any]) -> str:
    import jinja2

    env = jinja2.Environment(autoescape=True)
    return env.from_string(_HTML).render(
        d=data,
        labels=VERDICT_LABELS,
        cells=CELLS,
        cell_titles=CELL_TITLES,
        count=lambda v: "" if v is None else v,
    )
