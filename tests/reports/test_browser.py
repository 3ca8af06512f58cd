"""The report in a real browser: opens offline, no console errors, every chart drawn."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from reports import build
from tests.support.synthetic import Fault, Scenario, generate

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.mark.browser
@pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="Debian's chromium is not installed (bash scripts/ensure-chromium.sh installs it)",
)
def test_report_opens_with_charts_and_no_console_errors(tmp_path):
    from playwright.sync_api import sync_playwright

    run = tmp_path / "run"
    generate(
        run,
        Scenario(
            messages=3000,
            partitions=4,
            consumers=3,
            faults=(Fault("kill", 0.3), Fault("add-partitions", 0.6, count=2)),
            unknown_sends=3,
            poison=2,
            inject="redelivered",
        ),
    )
    summary = build(run)
    assert summary.verdict == "fail"
    html = summary.paths["report_html"]
    # Self-contained: no reference to anything outside the file.
    text = html.read_text()
    assert "<script src=" not in text and "<link " not in text

    errors: list[str] = []
    requests: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1366, "height": 850})
            # A plotly page on a busy 2-core machine can take longer than the default 30 s.
            page.set_default_timeout(120_000)
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("request", lambda r: requests.append(r.url))
            page.goto(html.as_uri())
            page.wait_for_function(
                "document.querySelectorAll('.js-plotly-plot .main-svg').length >= 6",
                timeout=120_000,
            )
            drawn = page.evaluate(
                """() => ['chart-timeline', 'chart-ownership', 'chart-latency'].map(id => {
                    const el = document.getElementById(id);
                    return el && el.querySelectorAll('.main-svg').length > 0
                        && el.querySelectorAll('.trace, .bars, .point').length > 0;
                })"""
            )
            verdict = page.inner_text("#verdict")
            failing = page.eval_on_selector_all(
                "tr[data-status=fail]", "rows => rows.map(r => r.dataset.check)"
            )
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=False)
            page.screenshot(path=str(ARTIFACTS / "report-full.png"), full_page=True)
        finally:
            browser.close()
    shutil.copy(html, ARTIFACTS / "report.html")
    assert errors == []
    assert drawn == [True, True, True]
    assert verdict.strip().lower() == "fail"
    assert failing == ["redelivered"]
    # Opened offline: nothing but the file itself was requested.
    assert all(u.startswith("file://") or u.startswith("data:") for u in requests), requests


@pytest.mark.browser
@pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="Debian's chromium is not installed (bash scripts/ensure-chromium.sh installs it)",
)
def test_an_output_topic_report_says_what_its_verdicts_rest_on(tmp_path):
    from playwright.sync_api import sync_playwright

    from tests.reports.test_strengths import output_run

    summary = build(output_run().write(tmp_path / "run"))
    assert summary.verdict == "pass"
    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1366, "height": 850})
            # A plotly page on a busy 2-core machine can take longer than the default 30 s.
            page.set_default_timeout(120_000)
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(summary.paths["report_html"].as_uri())
            strength = page.inner_text("#evidence-strength")
            box = page.locator("#evidence-strength").bounding_box()
            not_applicable = page.eval_on_selector_all(
                "tr[data-status='n/a']", "rows => rows.map(r => r.dataset.check)"
            )
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "report-output-topic.png"), full_page=False)
        finally:
            browser.close()
    assert errors == []
    assert "Evidence strength: output-topic" in strength
    assert "Cannot prove: processing order inside the service" in strength
    assert box is not None and box["y"] < 850  # above the fold, under the verdict
    assert not_applicable == ["partition-order", "invalid-handling"]


def render_compare_in_chromium(page_path: Path, screenshot: str) -> dict[str, object]:
    """Open compare.html offline in headless Chromium; what it drew and what it complained of."""
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    requests: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1366, "height": 850})
            # A plotly page on a busy 2-core machine can take longer than the default 30 s.
            page.set_default_timeout(120_000)
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("request", lambda r: requests.append(r.url))
            page.goto(page_path.as_uri())
            page.wait_for_function(
                "document.querySelectorAll('.js-plotly-plot .main-svg').length >= 4",
                timeout=120_000,
            )
            drawn = page.evaluate(
                """() => ['chart-processed', 'chart-lag'].map(id => {
                    const el = document.getElementById(id);
                    return !!el && el.querySelectorAll('.main-svg').length > 0
                        && el.querySelectorAll('.trace').length;
                })"""
            )
            differing = page.eval_on_selector_all(
                "#settings-table tr.differs", "rows => rows.map(r => r.dataset.setting)"
            )
            kept = page.eval_on_selector_all(
                "tr[data-metric='kept_consuming'] td",
                "cells => cells.slice(1).map(c => c.textContent.trim())",
            )
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / screenshot), full_page=True)
        finally:
            browser.close()
    return {
        "errors": errors,
        "requests": requests,
        "drawn": drawn,
        "differing": differing,
        "kept": kept,
    }


@pytest.mark.browser
@pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="Debian's chromium is not installed (bash scripts/ensure-chromium.sh installs it)",
)
def test_a_comparison_of_a_classic_and_a_consumer_protocol_run_renders(tmp_path):
    from reports.compare import compare, load_run
    from reports.render.compare_html import write_comparison
    from tests.reports.test_incremental import kill_run

    runs = []
    for name, incremental in (("classic", False), ("consumer", True)):
        r = kill_run(incremental)
        r.spec["run_id"] = name
        runs.append(load_run(r.write(tmp_path / name)))
    paths = write_comparison(compare(runs), tmp_path / "cmp")
    seen = render_compare_in_chromium(paths["compare_html"], "compare.png")
    shutil.copy(paths["compare_html"], ARTIFACTS / "compare.html")
    assert seen["errors"] == []
    assert seen["drawn"] == [2, 2]  # one trace per run in each chart
    assert seen["differing"] == ["client", "group_protocol", "assignor"]
    assert seen["kept"] == ["0 of 2", "2 of 2"]
    requests = seen["requests"]
    assert isinstance(requests, list)
    assert all(u.startswith("file://") or u.startswith("data:") for u in requests), requests
