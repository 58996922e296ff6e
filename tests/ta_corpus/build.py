#!/usr/bin/env python3
"""Write the labelled corpus's notebooks (``tests/ta_corpus/hw2/<id>.ipynb``) from ``students.py``.

Run ``.venv/bin/python tests/ta_corpus/build.py`` after the template or a student changes;
``--check`` exits 1 when the committed notebooks differ from what this script writes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from students import CORPUS  # noqa: E402

sys.path.insert(0, str(HERE.parents[1] / "examples"))
from make_examples import TEMPLATE, render  # noqa: E402

OUT_DIR = HERE / "hw2"


def notebooks() -> dict[str, str]:
    """Each student's notebook as the text written to disk."""
    template = nbformat.read(TEMPLATE, as_version=4)
    return {s.id: nbformat.writes(render(s, template)) + "\n" for s in CORPUS}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if the notebooks on disk are out of date"
    )
    args = parser.parse_args(argv)
    wanted = notebooks()
    if args.check:
        on_disk = {p.stem for p in OUT_DIR.glob("*.ipynb")}
        stale = sorted(
            sid
            for sid, text in wanted.items()
            if not (OUT_DIR / f"{sid}.ipynb").is_file()
            or (OUT_DIR / f"{sid}.ipynb").read_text(encoding="utf-8") != text
        )
        stale += sorted(on_disk - set(wanted))
        if stale:
            print("out of date (run tests/ta_corpus/build.py): " + ", ".join(stale), file=sys.stderr)
            return 1
        return 0
    OUT_DIR.mkdir(exist_ok=True)
    for sid, text in wanted.items():
        (OUT_DIR / f"{sid}.ipynb").write_text(text, encoding="utf-8")
    print(f"wrote {len(wanted)} notebooks into {OUT_DIR.relative_to(HERE.parents[1])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
