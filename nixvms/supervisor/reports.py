"""How a test script went, for people and for CI: the summary, JUnit XML."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO
from xml.etree import ElementTree

from .errors import SupervisorError


@dataclass
class SubtestResult:
    name: str
    seconds: float
    failure: str | None = None


@dataclass
class ScriptResult:
    """How a test script went: passed, its subtests, the failure if any."""

    script: Path
    seconds: float
    subtests: list[SubtestResult] = field(default_factory=list)
    failure: str | None = None     # one paragraph naming the failing line
    details: str = ""               # the script's own traceback lines
    exit_code: int = 1              # the status of a failed run (sys.exit(n): n)

    @property
    def passed(self) -> bool:
        return self.failure is None


# --- reports -------------------------------------------------------------------


def junit_xml(result: ScriptResult) -> str:
    """The result as JUnit XML: a test case per subtest, and one for the
    script when it failed outside a subtest (or had none)."""
    suite_name = result.script.name
    classname = re.sub(r"\W", "_", result.script.stem)
    cases: list[ElementTree.Element] = []
    for sub in result.subtests:
        case = ElementTree.Element("testcase", name=sub.name, classname=classname,
                                   time=f"{sub.seconds:.3f}")
        if sub.failure is not None:
            failure = ElementTree.SubElement(case, "failure", message=sub.failure,
                                             type="AssertionError")
            failure.text = result.failure or sub.failure
        cases.append(case)
    failed_inside = any(s.failure is not None for s in result.subtests)
    if not result.subtests or (result.failure and not failed_inside):
        case = ElementTree.Element("testcase", name=suite_name, classname=classname,
                                   time=f"{result.seconds:.3f}")
        if result.failure:
            failure = ElementTree.SubElement(case, "failure",
                                             message=result.failure.split("\n")[-1][:500],
                                             type="AssertionError")
            failure.text = result.failure + ("\n" + result.details if result.details else "")
        cases.append(case)
    failures = sum(1 for c in cases if c.find("failure") is not None)
    suites = ElementTree.Element("testsuites", tests=str(len(cases)), failures=str(failures),
                                 errors="0", time=f"{result.seconds:.3f}")
    suite = ElementTree.SubElement(suites, "testsuite", name=suite_name, tests=str(len(cases)),
                                   failures=str(failures), errors="0", skipped="0",
                                   time=f"{result.seconds:.3f}")
    suite.extend(cases)
    ElementTree.indent(suites)
    return ElementTree.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


def summary(result: ScriptResult) -> list[str]:
    """The lines a terminal shows at the end of a test run."""
    lines = [f"  {'ok  ' if s.failure is None else 'FAIL'} {s.name} ({s.seconds:.1f} s)"
             for s in result.subtests]
    if result.passed:
        lines.append(f"passed: {result.script} in {result.seconds:.1f} s")
    else:
        lines.append(f"failed: {result.script} after {result.seconds:.1f} s")
    return lines


def report(result: ScriptResult, junit: str | os.PathLike[str] | None, out: TextIO,
           err: TextIO | None = None) -> int:
    """Print how a script went (the failure on err, the summary on out),
    write JUnit XML; the exit status (0: passed)."""
    err = err or out
    if result.failure:
        err.write("error: " + result.failure.replace("\n", "\n  ") + "\n")
        err.flush()
    for line in summary(result):
        out.write(line + "\n")
    out.flush()
    if junit is not None:
        path = Path(junit)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(junit_xml(result))
        except OSError as error:
            raise SupervisorError(f"cannot write the JUnit XML report {path}: "
                                  f"{error.strerror}") from None
    return 0 if result.passed else result.exit_code


