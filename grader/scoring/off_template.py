"""Recognise a notebook that was not built on the assignment's template.

Such a notebook (a student's own, or one from another course) has none of the answer variables
the rubric reads and none of the part headings. Every item would then say "`depths` is not
defined: keep the template's variable name..." dozens of times; one top-level message says what
happened and what to do instead, and the per-item messages stay available, folded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from grader.assignment import Assignment
    from grader.records import RunRecord

STATUS = "not_on_template"
SHOWN = 4


def off_template_message(run: RunRecord, assignment: Assignment) -> str | None:
    """The top-level message for a notebook not built on the template, else None.

    Only a notebook that ran to the harvest is judged: every answer variable must be reported
    missing (not None, not refused), and no code cell may sit under one of the part headings.
    """
    answers = (run.get("harvest") or {}).get("answers") or {}
    if not answers or any(a.get("status") != "missing" for a in answers.values()):
        return None
    cells = run.get("cells") or []
    if any(cell.get("part") for cell in cells):
        return None
    names = list(assignment.answers)
    headings = [str(p.get("heading") or p.get("title")) for p in assignment.parts]
    shown = ", ".join(f"`{n}`" for n in names[:SHOWN]) + (", …" if len(names) > SHOWN else "")
    template = assignment.template.name if assignment.template is not None else "the template"
    return (
        f"This notebook was not built on the {assignment.name} template: none of its answer variables "
        f"({shown}) and none of its part headings ({', '.join(headings)}) are in it, so none of "
        f"the answers could be found. Download the template ({template}), copy your work into its "
        "cells, keep its variable names and headings, and submit it again."
    )
