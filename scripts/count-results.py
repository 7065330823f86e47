#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Sums meson's test logs into passed/failed/skipped counts.

GoogleTest binaries run with protocol 'gtest', so each TEST is one testcase
(from testlog.junit.xml); other tests (fuzz smokes, integration scripts) count
as one each. A test program that failed without a failing testcase in the
JUnit log (a crash, a sanitizer abort, a timeout) counts as one more failure,
so nothing that went wrong can vanish from the total.
Usage: count-results.py LABEL=BUILD_DIR ...
Prints one line per failed or skipped test, and "P F S" on the last line.
"""
import json
import os
import sys
import xml.etree.ElementTree as ET

passed = failed = skipped = 0
for arg in sys.argv[1:]:
    label, _, build = arg.partition("=")
    junit = os.path.join(build, "meson-logs", "testlog.junit.xml")
    jlog = os.path.join(build, "meson-logs", "testlog.json")
    failing_suites = set()
    failing_cases = set()  # a non-gtest test is its own testcase: count it once
    try:
        root = ET.parse(junit).getroot()
    except (OSError, ET.ParseError) as e:
        print(f"FAILED {label}: no test results ({e})")
        failed += 1
        continue
    for suite in root.iter("testsuite"):
        for case in suite.iter("testcase"):
            name = f"{label}: {case.get('classname', '')}.{case.get('name', '')}"
            if case.find("failure") is not None or case.find("error") is not None:
                failed += 1
                failing_suites.add(suite.get("name", ""))
                failing_cases.add(case.get("name", ""))
                print(f"FAILED {name}")
            elif case.find("skipped") is not None:
                skipped += 1
                print(f"SKIPPED {name}")
            else:
                passed += 1
    try:
        with open(jlog) as f:
            runs = [json.loads(line) for line in f if line.strip()]
    except OSError:
        runs = []
    for run in runs:
        if run.get("result") in ("OK", "SKIP", "EXPECTEDFAIL"):
            continue
        name = run.get("name", "?")
        if name in failing_cases:
            continue
        if any(s.split(".")[1:2] == [name] or s.endswith("." + name) for s in failing_suites):
            continue
        failed += 1
        print(f"FAILED {label}: {name} ({run.get('result')}, exit {run.get('returncode')})")
print(passed, failed, skipped)
