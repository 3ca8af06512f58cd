"""Every page a reviewer opens — report, compare, campaign — fits a 1280 px window: no horizontal
page scrolling, measured in Chromium; a wide table wraps or scrolls inside its own box."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from reports import build
from tests.reports.test_browser import ARGS, ARTIFACTS, CHROMIUM
from tests.support.synthetic import Fault, Scenario, generate

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="Debian's chromium is not installed (bash scripts/ensure-chromium.sh installs it)",
    ),
]

WIDTH = 1280
#: A plotly page on a busy 2-core machine can take longer than Playwright's default 30 s.
LOAD_TIMEOUT_MS = 120_000

#: What sticks out: how far the page scrolls sideways, every element whose right edge is
#: past the window and that no scrolling box of its own contains (content the window cuts
#: off), and the boxes that scroll sideways inside the page (allowed: "scroll in its box").
MEASURE = """() => {
  const width = document.documentElement.clientWidth;
  const scrolls = el => {
    for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
      const x = getComputedStyle(a).overflowX;
      if (x === 'auto' || x === 'scroll' || x === 'hidden') return true;
    }
    return false;
  };
  const cut = [], boxes = [];
  for (const el of document.body.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (r.width > 0 && r.right > width + 1 && !scrolls(el))
      cut.push(el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + ' → ' + Math.round(r.right));
    const x = getComputedStyle(el).overflowX;
    if ((x === 'auto' || x === 'scroll') && el.scrollWidth > el.clientWidth + 1) {
      const t = el.querySelector('table');
      boxes.push((t && t.id) || (el.previousElementSibling || {}).id || el.tagName.toLowerCase());
    }
  }
  return {overflow: document.documentElement.scrollWidth - width, cut: cut.slice(0, 10), boxes};
}"""

#: A table far wider than the window, not in a box of its own: what the measure must catch.
WIDE_TABLE = """() => {
  const t = document.createElement('table');
  t.id = 'too-wide';
  t.innerHTML = '<tr>' + '<td style="white-space:nowrap">partition-0-owned-by-consumer</td>'.repeat(12) + '</tr>';
  document.body.appendChild(t);
}"""


def measure(page_path: Path, screenshot: str, wait_for: str | None = None) -> dict[str, Any]:
    """Open a page offline at 1280 px; what sticks out, then the same with a too-wide table
    added (the control: the measure must see it)."""
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": WIDTH, "height": 900})
            page.set_default_timeout(LOAD_TIMEOUT_MS)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(page_path.as_uri())
            if wait_for:
                page.wait_for_function(wait_for, timeout=LOAD_TIMEOUT_MS)
            seen = page.evaluate(MEASURE)
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / screenshot), full_page=True)
            page.evaluate(WIDE_TABLE)
            control = page.evaluate(MEASURE)
        finally:
            browser.close()
    return {**seen, "errors": errors, "control": control}


def assert_fits(seen: dict[str, Any]) -> None:
    assert seen["errors"] == []
    assert seen["overflow"] <= 0, seen
    assert seen["cut"] == [], seen
    # The control: a table too wide for the window is seen, so a pass above means something.
    assert seen["control"]["overflow"] > 0
    assert any("table#too-wide" in c for c in seen["control"]["cut"])


def wide_run(root: Path) -> Path:
    """A run whose report has wide content: many partitions and faults, long campaign-style
    experiment names, a user's consumer with a long command line."""
    generate(
        root,
        Scenario(
            messages=3000,
            partitions=12,
            consumers=4,
            faults=(
                Fault("kill", 0.2),
                Fault("lost", 0.4, member=1),
                Fault("add-partitions", 0.6, count=6),
                Fault("stop", 0.8, member=2),
            ),
            unknown_sends=3,
            inject="redelivered",
        ),
    )
    faults = root / "evidence" / "faults.jsonl"
    lines = [json.loads(x) for x in faults.read_text().splitlines()]
    for line in lines:
        line["experiment"] = f"campaign-2026-r03-{line['experiment']}-network-partition-coordinator"
    faults.write_text("".join(json.dumps(x) + "\n" for x in lines))
    # A fenced member whose commits the coordinator rejected: Kafka's error names, one word
    # each, in the rebalance table (the zombie of a pause or a partition).
    member = sorted((root / "evidence" / "consumed").glob("consumer-1-*.jsonl"))[0]
    t_fault = next(x["t_start"] for x in lines if x["kind"] == "action")
    extra = [
        {"type": "fenced", "error": "FENCED_MEMBER_EPOCH", "t": t_fault + 0.2},
        {"type": "committed", "offsets": {}, "ok": False, "t": t_fault + 0.3,
         "error": "UNKNOWN_MEMBER_ID: the coordinator is not aware of this member"},
        {"type": "committed", "offsets": {}, "ok": False, "t": t_fault + 0.4,
         "error": "ILLEGAL_GENERATION: the generation is not the group's"},
        {"type": "committed", "offsets": {}, "ok": False, "t": t_fault + 0.5,
         "error": "REBALANCE_IN_PROGRESS: the group is rebalancing"},
    ]  # fmt: skip
    with member.open("a") as out:
        for line in extra:
            out.write(json.dumps({"v": 1, "member": member.stem, **line}) + "\n")
    spec = json.loads((root / "spec.json").read_text())
    spec["consumer_cmd"] = "python services/orders/consumer.py --config config/staging.toml"
    (root / "spec.json").write_text(json.dumps(spec))
    return root


def test_the_report_fits_1280px_and_its_rebalance_table_needs_no_sideways_scrolling(tmp_path):
    summary = build(wide_run(tmp_path / "run"))
    assert len(summary.rebalances) >= 4
    seen = measure(
        summary.paths["report_html"],
        "report-1280.png",
        "document.querySelectorAll('.js-plotly-plot .main-svg').length >= 6",
    )
    shutil.copy(summary.paths["report_html"], ARTIFACTS / "report-1280.html")
    assert_fits(seen)
    # The reviewer's complaint: the rebalance table's last columns hidden at the right.
    assert "rebalances" not in seen["boxes"], seen["boxes"]


def test_the_compare_page_fits_1280px(tmp_path):
    from reports.compare import compare, load_run
    from reports.render.compare_html import write_comparison
    from tests.reports.test_incremental import kill_run

    runs = []
    for name, incremental in (
        ("campaign-2026-r03-classic-protocol-range-assignor", False),
        ("campaign-2026-r03-consumer-protocol-uniform-assignor", True),
        ("campaign-2026-r04-classic-protocol-cooperative-sticky", False),
    ):
        r = kill_run(incremental)
        r.spec["run_id"] = name
        runs.append(load_run(r.write(tmp_path / name)))
    paths = write_comparison(compare(runs), tmp_path / "cmp")
    seen = measure(
        paths["compare_html"],
        "compare-1280.png",
        "document.querySelectorAll('.js-plotly-plot .main-svg').length >= 4",
    )
    assert_fits(seen)


def test_the_campaign_page_fits_1280px(tmp_path):
    from riverbed.campaign.report import campaign_dict, campaign_html
    from riverbed.campaign.schedule import FAULTS
    from riverbed.campaign.schedule import generate as schedules
    from tests.campaign.test_report import SETTINGS
    from tests.campaign.test_summary import MATRIX

    # Twelve fault kinds, two faults per schedule, every outcome, a long consumer command.
    records = []
    from riverbed.campaign.runner import RunRecord

    drawn = schedules(2026, 6, FAULTS, max_faults=2)
    checks = [
        "lost-from-log", "never-processed", "indeterminate", "duplicate-in-log", "redelivered",
        "partition-order", "key-order", "corruption", "invalid-handling", "rebalance", "vacuity",
    ]  # fmt: skip
    for schedule, row in zip(drawn, MATRIX, strict=False):
        r = RunRecord(schedule, tmp_path / "runs" / schedule.name, verdict=row["verdict"])
        r.wall_s = 312.4
        if row["verdict"] not in ("not-run", "error"):
            r.checks = {c: "pass" for c in checks}
            r.checks["partition-order"] = "n/a"
            r.checks["never-processed"] = "fail" if row["verdict"] == "fail" else "pass"
            r.counts = {"acknowledged": 123456, "never-processed": 37, "redelivered": 1200}
            r.replay = (
                "riverbed run "
                + " ".join(f"--experiment runs/campaign-2026/runs/{schedule.name}/experiments/"
                           f"{i}-{s.kind}.json" for i, s in enumerate(schedule.steps, 1))
                + " --duration 97s --consumer-cmd 'python services/orders/consumer.py'"
            )  # fmt: skip
        if row["verdict"] == "error":
            r.error = {"message": "The local Kafka cluster lacks the listeners.", "fix": "down"}
        records.append(r)
    settings = {
        **SETTINGS,
        "faults": list(FAULTS),
        "consumer": {
            "kind": "command",
            "cmd": "python services/orders/consumer.py --config config/staging-eu-west-1.toml",
            "describe": "your consumer",
        },
        "evidence_strength": {"name": "instrumented", "title": "…", "proves": "…"},
    }
    page = tmp_path / "campaign.html"
    page.write_text(campaign_html(campaign_dict(tmp_path, records, settings, 0.0, False)))
    seen = measure(page, "campaign-1280.png")
    shutil.copy(page, ARTIFACTS / "campaign-1280.html")
    assert_fits(seen)
    assert "matrix-table" not in seen["boxes"], seen["boxes"]
