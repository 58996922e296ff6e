"""Grade paths with the corpus limits through the public batch API, as a separate process.

Used by tests/test_corpus.py only when ``grader grade`` cannot take the corpus limits on its
command line (the limits must be small, or the batch takes an hour). It behaves like the CLI:
prints the batch summary and exits with ``BatchSummary.exit_code`` (0, or 3 when some
submissions could not be graded).

    python tests/corpus/run_batch.py RUBRIC OUT DATA PATH... [--workers N]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

LIMITS = {
    "cell_timeout": 10.0,
    "notebook_timeout": 150.0,
    "memory_mb": 1024,
    "max_processes": 64,
    "file_size_mb": 100,
    "harvest_timeout": 20.0,
    "output_bytes": 1_000_000,
}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("rubric")
    parser.add_argument("out", type=Path)
    parser.add_argument("data", type=Path)
    parser.add_argument("paths", nargs="+", type=Path)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--backend", default="auto")
    args = parser.parse_args()

    from grader.assignment import load_assignment
    from grader.batch import BatchError, grade_batch
    from grader.grading import GradeOptions
    from grader.limits import Limits

    options = GradeOptions(
        assignment=load_assignment(args.rubric),
        out_dir=args.out,
        data_dir=args.data,
        backend=args.backend,
        limits=Limits(**LIMITS),
    )
    try:
        summary = grade_batch(args.paths, options, workers=args.workers, progress=False)
    except BatchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(summary.describe())
    return summary.exit_code


if __name__ == "__main__":
    sys.exit(main())
