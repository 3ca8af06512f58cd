"""junit.xml: one test case per check, so CI systems show the verdict per check.

A failed check is a ``<failure>``; an inconclusive one is ``<skipped>`` (the
run could not prove it either way) with the reason, and so is one not
applicable at the run's evidence strength; a passed one is empty.
"""

from __future__ import annotations

import json
from xml.etree import ElementTree as ET

from reports.model import FAIL, INCONCLUSIVE, NOT_APPLICABLE, Summary


def junit_xml(summary: Summary) -> str:
    failures = sum(1 for v in summary.checks if v.status == FAIL)
    skipped = sum(1 for v in summary.checks if v.status in (INCONCLUSIVE, NOT_APPLICABLE))
    suite = ET.Element(
        "testsuite",
        {
            "name": f"riverbed report {summary.run_id}",
            "tests": str(len(summary.checks)),
            "failures": str(failures),
            "errors": "0",
            "skipped": str(skipped),
        },
    )
    props = ET.SubElement(suite, "properties")
    ET.SubElement(props, "property", {"name": "verdict", "value": summary.verdict})
    ET.SubElement(props, "property", {"name": "exit_code", "value": str(summary.exit_code)})
    strength = summary.evidence_strength.get("name", "reference")
    ET.SubElement(props, "property", {"name": "evidence_strength", "value": strength})
    for v in summary.checks:
        case = ET.SubElement(
            suite, "testcase", {"classname": f"riverbed.{summary.run_id}", "name": v.name}
        )
        body = json.dumps({"counts": v.counts, "examples": list(v.examples)}, indent=2)
        if v.status == FAIL:
            el = ET.SubElement(case, "failure", {"message": v.explanation, "type": v.name})
            el.text = body
        elif v.status == INCONCLUSIVE:
            ET.SubElement(case, "skipped", {"message": f"inconclusive: {v.explanation}"})
        elif v.status == NOT_APPLICABLE:
            ET.SubElement(case, "skipped", {"message": v.explanation})
        out = ET.SubElement(case, "system-out")
        out.text = v.explanation
    ET.indent(suite)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suite, encoding="unicode") + "\n"
    )
