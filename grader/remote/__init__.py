"""Grading on workers that share no file system with the coordinator (the Dask paths).

``wire``: the typed records a task carries and returns. ``coordinator``: packing the assignment
and data once per batch, wrapping a submission, writing what comes back into the output folder.
``provision``: a worker obtaining the assignment, the data (built and checked, or fetched) and
the kernel environment. ``worker``: ``grade_remote``, the function Dask runs. See docs/CLUSTER.md.
"""
