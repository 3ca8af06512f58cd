"""junit.xml: one test case per check, so CI systems show the verdict per check.

A failed check is a ``<failure>``; an inconclusive one is ``<skipped>`` (the
run could not prove it either way) with the reason; a passed one is empty.
"""

from __future__ import annotations

import json
from xml.etree import ElementTree as ET

from reports.model import FAIL, INCONCLUSIVE, Summary


def junit_xml(summary: Summary) -> str:
    failures = sum(1 for v in summary.checks if v.status == FAIL)
    skipped = sum(1 for v in summary.checks if v.status == INCONCLUSIVE)
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
        out = ET.SubElement(case, "system-out")
        out.text = v.explanation
    ET.indent(suite)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suite, encoding="unicode") + "\n"
    )
