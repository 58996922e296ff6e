"""Normalised token streams of notebook code cells, with where each token came from.

Each cell is read into Python's token classes (names, numbers, strings, operators, comments,
logical line ends); comments, docstrings, blank lines and indentation are dropped, numbers become
``N``, strings ``S``, and the names a copier renames (variables, functions, parameters) become
``V``. What a copier does not rename stays as written: keywords, builtins, attribute names after a
dot, keyword-argument names in calls, and names bound by an import (``np``,
``DecisionTreeClassifier``). Every kept token remembers its cell and lines, so a matching region
can be shown in the original source.

The cells are read with one compiled regular expression for Python's token classes rather than
the standard library's ``tokenize``: on Python 3.11 ``tokenize`` is pure Python and reads about
120,000 tokens a second here, and a class of 500 notebooks holds some 700,000 tokens of its own;
the expression reads them about eight times faster. tests/test_similarity_code.py holds the two
together: on every code cell of the bundled notebooks both give the same normalised tokens.
"""

from __future__ import annotations

import builtins
import keyword
import re
from dataclasses import dataclass

import numpy as np

NAME_TOKEN = "V"
NUMBER_TOKEN = "N"
STRING_TOKEN = "S"
NEWLINE_TOKEN = ";"
_BUILTINS = frozenset(dir(builtins))
_KEYWORDS = frozenset(keyword.kwlist)
_OPEN, _CLOSE = frozenset("([{"), frozenset(")]}")
_Q3 = "'" * 3  # a triple quote, spelled out so this module's own strings stay simple
_D3 = '"' * 3
_STRING = (
    r"(?:[rRbBuUfF]{1,2})?(?:"
    + _Q3
    + r"(?:[^\\]|\\.)*?(?:"
    + _Q3
    + r"|\Z)"  # triple-quoted, to its end or the cell's
    + "|"
    + _D3
    + r"(?:[^\\]|\\.)*?(?:"
    + _D3
    + r"|\Z)"
    + r"|'(?:[^'\\\r\n]|\\.)*(?:'|$)"  # one line, to its end or the line's
    + r'|"(?:[^"\\\r\n]|\\.)*(?:"|$))'
)
_NUMBER = r"0[xXoObB][0-9a-fA-F_]+|(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE][+-]?\d[\d_]*)?[jJ]?"
_OPERATOR = r"\*\*=|//=|>>=|<<=|\.\.\.|->|:=|[-+*/%&|^@=!<>]=|\*\*|//|<<|>>|[-+*/%&|^~@<>=.,:;()\[\]{}]"
_TOKEN = re.compile(  # blanks before a token are part of its match (fewer matches, faster)
    rf"[ \t\f]*(?:(?P<space>\\\r?\n)|(?P<nl>\r?\n)|(?P<comment>#[^\r\n]*)|(?P<string>{_STRING})"
    rf"|(?P<name>[^\W\d]\w*)|(?P<number>{_NUMBER})|(?P<op>{_OPERATOR})|(?P<other>\S)|(?P<end>\Z))",
    re.DOTALL | re.MULTILINE,
)


@dataclass(frozen=True)
class CodeCell:
    """One code cell of a notebook: its position, the rubric part it sits in, its source."""

    index: int
    part: str | None
    source: str


@dataclass
class TokenStream:
    """The normalised tokens of a notebook's code cells, in cell order, with their origin."""

    texts: list[str]
    cell: np.ndarray  # int32: the CodeCell's position in the notebook's list of code cells
    first_line: np.ndarray  # int32: 1-based line in that cell where the token starts
    last_line: np.ndarray  # int32: ... and where it ends

    def __len__(self) -> int:
        return len(self.texts)

    def cell_ranges(self) -> list[tuple[int, int]]:
        """``(start, stop)`` token ranges of each run of tokens from one cell."""
        if not len(self.cell):
            return []
        cuts = np.flatnonzero(np.diff(self.cell)) + 1
        starts = np.concatenate([[0], cuts])
        stops = np.concatenate([cuts, [len(self.cell)]])
        return [(int(a), int(b)) for a, b in zip(starts, stops, strict=True)]


def _without_magics(source: str) -> str:
    """IPython magics and shell escapes (``%timeit``, ``!pip``) become blank lines (same numbering)."""
    lines = source.split("\n")
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in lines)


_IMPORT = re.compile(
    r"^[ \t]*(?:from[ \t]+[\w.]+[ \t]+import[ \t]*(?:\([^)]*\)|[^\n#;]*)|import[ \t]+[^\n#;]*)",
    re.MULTILINE,
)
_IMPORT_WORD = re.compile(r"[^\W\d]\w*|[(),.*]")


def imported_names(sources: list[str]) -> set[str]:
    """Names bound by ``import`` statements in these sources (module aliases and imported names)."""
    names: set[str] = set()
    for source in sources:
        for statement in _IMPORT.findall(_without_magics(source)):
            names |= _bound_by_import(_IMPORT_WORD.findall(statement))
    return names


def _bound_by_import(line: list[str]) -> set[str]:
    """``import a.b as c, d`` binds c and d; ``from m import (x as y, z)`` binds y and z."""
    if not line or line[0] not in ("import", "from"):
        return set()
    if line[0] == "from":
        if "import" not in line:
            return set()
        line = line[line.index("import") + 1 :]
        leading = False
    else:
        line = line[1:]
        leading = True  # `import a.b` binds a, the first name of the dotted path
    bound: set[str] = set()
    clause: list[str] = []
    for text in [*line, ","]:
        if text in ("(", ")"):
            continue
        if text != ",":
            clause.append(text)
            continue
        if "as" in clause and clause.index("as") + 1 < len(clause):
            bound.add(clause[clause.index("as") + 1])
        elif clause and clause[0] != "*":
            bound.add(clause[0] if leading else clause[-1])
        clause = []
    return bound


def normalise_cell(source: str, keep: frozenset[str] | set[str]) -> list[tuple[str, int, int]]:
    """``[(normalised text, first line, last line)]`` for one cell; ``keep`` are names kept as is."""
    texts: list[str] = []
    first: list[int] = []
    last: list[int] = []
    _normalise_into(source, keep, texts, first, last)
    return list(zip(texts, first, last, strict=True))


def _normalise_into(
    source: str, keep: frozenset[str] | set[str], texts: list[str], first: list[int], last: list[int]
) -> None:
    """Read one cell and append its normalised tokens (one pass; never raises: an unterminated
    string or bracket ends at the end of the cell). A name is decided when the next token shows
    whether it is a keyword argument; a string when the next token shows whether it stands alone."""
    start = len(texts)
    line, depth = 1, 0
    brackets: list[bool] = []  # per open bracket: is it a def's parameter list?
    previous, before_previous = ";", ";"
    lone_string = -1  # index of a string that opened a statement (a docstring if the statement ends)
    maybe_keyword = -1  # index of a `V` that is a keyword argument if `=` follows
    maybe_text = ""

    def end_statement() -> None:
        nonlocal lone_string, previous, before_previous
        if lone_string >= 0:
            del texts[lone_string:], first[lone_string:], last[lone_string:]
            lone_string = -1
        if len(texts) > start and texts[-1] != NEWLINE_TOKEN:
            texts.append(NEWLINE_TOKEN)
            first.append(line)
            last.append(line)
        previous, before_previous = ";", previous

    for match in _TOKEN.finditer(_without_magics(source)):
        kind, text = match.lastgroup, match.group(match.lastindex or 0)
        if kind == "space":
            line += text.count("\n")
            continue
        if kind == "comment" or kind == "end":
            continue
        if kind == "nl":
            if depth == 0:
                end_statement()
            line += 1
            continue
        if kind == "op" and text == ";":
            end_statement()
            continue
        lone_string = -1
        if maybe_keyword >= 0:
            if text == "=" and brackets and not brackets[-1]:
                texts[maybe_keyword] = maybe_text
            maybe_keyword = -1
        end = line
        if kind == "name":
            if text in _KEYWORDS or text in _BUILTINS or text in keep or previous == ".":
                out = text
            else:
                out = NAME_TOKEN
                if brackets and not brackets[-1]:
                    maybe_keyword, maybe_text = len(texts), text
        elif kind == "number":
            out = NUMBER_TOKEN
        elif kind == "string":
            out = STRING_TOKEN
            end = line + text.count("\n")
            if previous == ";":
                lone_string = len(texts)
        else:
            out = text
            if kind == "op":
                if text in _OPEN:
                    depth += 1
                    brackets.append(before_previous == "def")
                elif text in _CLOSE:
                    depth = max(0, depth - 1)
                    if brackets:
                        brackets.pop()
        texts.append(out)
        first.append(line)
        last.append(end)
        line = end
        previous, before_previous = text, previous
    end_statement()


def token_stream(cells: list[CodeCell], keep: frozenset[str] | set[str]) -> TokenStream:
    """The normalised tokens of ``cells`` in order (see the module docstring for the rules); names
    the cells themselves import are kept too."""
    keep = set(keep) | imported_names([cell.source for cell in cells])
    texts: list[str] = []
    cell_of: list[int] = []
    first: list[int] = []
    last: list[int] = []
    for position, cell in enumerate(cells):
        before = len(texts)
        _normalise_into(cell.source, keep, texts, first, last)
        cell_of.extend([position] * (len(texts) - before))
    return TokenStream(
        texts=texts,
        cell=np.asarray(cell_of, dtype=np.int32),
        first_line=np.asarray(first, dtype=np.int32),
        last_line=np.asarray(last, dtype=np.int32),
    )
