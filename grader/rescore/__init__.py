"""Harvest once, score many: score stored run records again after a rubric edit, run nothing.

``one`` rescores one stored run (checking first that it was harvested for the current plan),
``many`` streams a class through a local process pool and publishes, ``marks`` keeps manual
marks, ``diff`` says who moved. ``grader rescore`` and ``grader grade`` (for submissions whose
scoring key alone changed) use them; grader.reuse decides which submissions qualify.
"""
