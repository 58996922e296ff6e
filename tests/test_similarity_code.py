"""Code similarity: normalised tokens, winnowed fingerprints, the class index, matching regions."""

from __future__ import annotations

import numpy as np

from grader.similarity import fingerprints as fp
from grader.similarity.tokens import CodeCell, imported_names, normalise_cell, token_stream

ORIGINAL = '''
import numpy as np
from sklearn.tree import DecisionTreeRegressor as Tree

def fit_depths(features, target, depths):
    """Fit one tree per depth and return the training errors."""
    errors = []
    for depth in depths:  # every depth
        model = Tree(max_depth=depth, random_state=0).fit(features, target)
        errors.append(float(np.mean((model.predict(features) - target) ** 2)))
    return errors

scores = fit_depths(X_train, y_train, [1, 2, 4, 8, 16])
print(f"best depth: {np.argmin(scores)}", scores)
'''

# the copier's version: every own name renamed, comments and docstring changed, other numbers
RENAMED = """
import numpy as np
from sklearn.tree import DecisionTreeRegressor as Tree

def train_all(X, y, levels):
    # loop over the levels
    out = []
    for lvl in levels:
        clf = Tree(max_depth=lvl, random_state=42).fit(X, y)
        out.append(float(np.mean((clf.predict(X) - y) ** 2)))
    return out

result = train_all(X_train, y_train, [2, 4, 6, 8, 10])
print(f"my best: {np.argmin(result)}", result)
"""


def _stream(*sources: str):
    cells = [CodeCell(index=i, part=None, source=s) for i, s in enumerate(sources)]
    keep = imported_names(list(sources))
    return token_stream(cells, keep)


def test_renaming_comments_docstrings_and_numbers_do_not_change_the_tokens():
    assert _stream(ORIGINAL).texts == _stream(RENAMED).texts


def test_what_copiers_keep_stays_as_written():
    keep = imported_names([ORIGINAL])
    assert {"np", "Tree"} <= keep
    texts = [t for t, _, _ in normalise_cell("model = Tree(max_depth=d).fit(X)\nprint(len(X))", keep)]
    assert texts == ["V", "=", "Tree", "(", "max_depth", "=", "V", ")", ".", "fit", "(", "V", ")", ";"] + [
        "print",
        "(",
        "len",
        "(",
        "V",
        ")",
        ")",
        ";",
    ]


def test_a_def_parameter_is_a_name_but_a_keyword_argument_is_not():
    texts = [t for t, _, _ in normalise_cell("def f(hidden=3):\n    return g(hidden=hidden)", set())]
    assert texts[:6] == ["def", "V", "(", "V", "=", "N"]
    assert texts[-6:] == ["(", "hidden", "=", "V", ")", ";"]


def test_magics_and_broken_cells_are_read_as_far_as_they_go():
    texts = [t for t, _, _ in normalise_cell("%matplotlib inline\n!pip install x\nx = 1\ny = (2,", set())]
    assert texts[:4] == ["V", "=", "N", ";"]
    assert normalise_cell('s = """never closed', set()) is not None  # no exception


def test_imports_bind_the_names_python_binds():
    names = imported_names(["import os.path, numpy as np\nfrom a.b import (c as d, e)\nfrom f import *"])
    assert names == {"os", "np", "d", "e"}


def test_tokens_remember_their_cell_and_lines():
    stream = _stream("a = 1\n\nb = 2", "c = 3")
    assert list(stream.cell) == [0] * 8 + [1] * 4
    assert stream.first_line[4] == 3  # `b` is on the third line of the first cell
    assert stream.cell_ranges() == [(0, 8), (8, 12)]


def test_winnowing_finds_every_shared_run_of_the_guaranteed_length():
    rng = np.random.default_rng(0)
    shared = [f"tok{int(i)}" for i in rng.integers(0, 50, fp.K_TOKENS + fp.WINDOW - 1)]
    for trial in range(30):
        before = [f"a{int(i)}" for i in rng.integers(0, 50, int(rng.integers(0, 40)))]
        after = [f"b{int(i)}" for i in rng.integers(0, 50, int(rng.integers(0, 40)))]
        other = [f"c{int(i)}" for i in rng.integers(0, 50, int(rng.integers(0, 40)))]
        left = _stream(" ".join(before + shared + after))
        right = _stream(" ".join(other + shared))
        a, b = fp.fingerprint(left), fp.fingerprint(right)
        assert len(np.intersect1d(a.hashes, b.hashes)) >= 1, trial


def test_hashes_are_stable_across_runs():
    """Fingerprints do not depend on Python's per-process string hashing."""
    hashes, _ = fp.kgram_hashes(_stream(ORIGINAL))
    assert int(hashes[0]) == int(fp.kgram_hashes(_stream(ORIGINAL))[0][0])
    assert len(set(hashes.tolist())) > 0.9 * len(hashes)


def _index(sources: dict[str, str], instructor: str = "", boilerplate_min: int = 3):
    ids = list(sources)
    prints = [fp.fingerprint(_stream(sources[i])) for i in ids]
    given = fp.instructor_hashes([_stream(instructor)]) if instructor else np.zeros(0, dtype=np.uint64)
    return fp.build_index(ids, prints, given, boilerplate_min)


OTHER = """
total = 0
for value in readings:
    if value > threshold:
        total += value * weight
    else:
        total -= penalty
average = total / len(readings)
print("average", average, sorted(readings)[len(readings) // 2])
"""


def test_the_index_pairs_a_copy_and_not_unrelated_code():
    index = _index({"alice": ORIGINAL, "bob": RENAMED, "carol": OTHER})
    assert index.shared_counts.get((0, 1), 0) >= 5
    assert index.shared_counts.get((0, 2), 0) == 0 and index.shared_counts.get((1, 2), 0) == 0


def test_instructor_code_is_left_out():
    index = _index({"alice": ORIGINAL, "bob": RENAMED}, instructor=ORIGINAL)
    assert index.shared_counts.get((0, 1), 0) == 0
    assert index.prints[0].excluded_instructor > 0 and len(index.prints[0].hashes) == 0


def test_code_many_share_is_boilerplate():
    sources = {f"s{i}": OTHER + f"\nextra_{i} = {i}" for i in range(3)}
    sources["alice"], sources["bob"] = ORIGINAL, RENAMED
    index = _index(sources, boilerplate_min=3)
    assert index.shared_counts.get((0, 1), 0) == 0  # OTHER is in three submissions
    assert index.shared_counts.get((3, 4), 0) >= 5
    assert index.prints[0].excluded_boilerplate > 0


def test_regions_line_up_the_matching_lines_on_both_sides():
    left = _stream("x = 1", ORIGINAL)
    right = _stream(RENAMED)
    a, b = fp.fingerprint(left), fp.fingerprint(right)
    regions = fp.matching_regions(a, b, left.cell, right.cell)
    assert regions and regions[0].tokens >= 0.8 * len(right)
    top = regions[0]
    assert set(left.cell[top.a_start : top.a_stop]) == {1} and set(right.cell[top.b_start : top.b_stop]) == {
        0
    }


# ------------------------------------------------------------------ the lexer against Python's own
def _tokenize_normalised(source: str, keep: set[str]) -> list[str]:
    """The same normalisation written on the standard library's tokenize (the oracle)."""
    import builtins
    import io
    import keyword
    import tokenize

    lines = source.split("\n")
    source = "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in lines)
    raw = []
    try:
        raw.extend(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    skip = {
        tokenize.COMMENT,
        tokenize.NL,
        tokenize.INDENT,
        tokenize.DEDENT,
        tokenize.ENCODING,
        tokenize.ENDMARKER,
    }
    tokens = [t for t in raw if t.type not in skip]
    out: list[str] = []
    brackets: list[bool] = []
    for i, tok in enumerate(tokens):
        previous = tokens[i - 1] if i else None
        following = tokens[i + 1] if i + 1 < len(tokens) else None
        if tok.type == tokenize.OP and tok.string != ";":
            if tok.string in "([{":
                brackets.append(i >= 2 and tokens[i - 2].string == "def")
            elif tok.string in ")]}" and brackets:
                brackets.pop()
            out.append(tok.string)
        elif tok.type == tokenize.NAME:
            kept = (
                keyword.iskeyword(tok.string)
                or tok.string in dir(builtins)
                or tok.string in keep
                or (previous is not None and previous.string == ".")
                or (following is not None and following.string == "=" and brackets and not brackets[-1])
            )
            out.append(tok.string if kept else "V")
        elif tok.type == tokenize.NUMBER:
            out.append("N")
        elif tok.type == tokenize.STRING:
            starts = previous is None or previous.type == tokenize.NEWLINE or previous.string == ";"
            ends = following is None or following.type == tokenize.NEWLINE or following.string == ";"
            if not (starts and ends):
                out.append("S")
        elif tok.type == tokenize.NEWLINE or tok.string == ";":
            if out and out[-1] != ";":
                out.append(";")
        elif tok.string.strip():
            out.append(tok.string)
    if out and out[-1] != ";":
        out.append(";")
    return out


def test_the_lexer_agrees_with_pythons_tokenize_on_every_bundled_cell():
    import json
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    paths = sorted((repo / "examples" / "submissions" / "hw2").glob("*.ipynb"))
    paths += [
        repo / "student_template" / "hw2" / "hw2.ipynb",
        repo / "reference" / "hw2" / "hw2_reference.ipynb",
    ]
    checked = 0
    for path in paths:
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        sources = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
        keep = imported_names(sources)
        for source in sources:
            ours = [t for t, _, _ in normalise_cell(source, keep)]
            assert ours == _tokenize_normalised(source, keep), (path.name, source[:200])
            checked += 1
    assert checked > 150
