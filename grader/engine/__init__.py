"""The execution engine: one notebook, one sandbox, one kernel; cells, then the harvest.

``run_notebook`` (grader.engine.run) is the one entry point. The stages live in their own
modules and hand each other typed objects: ``notebook`` (load), ``session`` (the kernel and
its client), ``runner`` (cells, replay, limits, watchdog), ``harvest_plan`` and
``harvest_driver`` (the answers and models, read after the cells), ``record`` (the RunRecord).
"""

from __future__ import annotations

from grader.engine.notebook import InvalidNotebook, load_notebook
from grader.engine.run import DEFAULT_ENV, run_notebook

__all__ = ["DEFAULT_ENV", "InvalidNotebook", "load_notebook", "run_notebook"]
