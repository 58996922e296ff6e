"""What an importer reads from another grader's assignment, and how it becomes a folder of ours.

Shared by the importers (grader.authoring.import_otter): questions with points and tests, the
master's cells already in our marker format, and the notes on what could not be carried over.
A test is classified by its code: a comparison of a function's result on literal arguments (or a
call whose recorded output is the expected value) becomes a function item, ``name == literal`` an
answer check, anything else an in-kernel test item.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import yaml

IDENTIFIER = re.compile(r"[^A-Za-z0-9_-]")


@dataclass
class TestCase:
    name: str
    code: str
    hidden: bool = False
    points: float | None = None
    output: str | None = None  # the recorded output of the test cell in the master, if any
    kind: str = "kernel_test"  # function | answer | kernel_test (set by classify_test)
    function: str = ""
    args: list[Any] = field(default_factory=list)
    calls: list[list[Any]] = field(default_factory=list)  # several calls of `function` (nbgrader cells)
    answer: str = ""
    equals: Any = None


@dataclass
class Question:
    name: str
    points: float | list[Any] | None = None
    manual: bool = False
    heading: str = ""
    answered: bool = False
    tests: list[TestCase] = field(default_factory=list)


@dataclass
class ImportedAssignment:
    name: str
    questions: list[Question] = field(default_factory=list)
    cells: list[Any] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _literal(node: ast.AST) -> tuple[bool, Any]:
    try:
        return True, ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False, None


def _plain(value: Any) -> bool:
    """A literal YAML (and JSON) can hold: tuples and sets are not."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return True
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return False


def _literal_call(node: ast.AST) -> tuple[str, list[Any]] | None:
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name) or node.keywords:
        return None
    args = []
    for arg in node.args:
        ok, value = _literal(arg)
        if not ok or not _plain(value):
            return None
        args.append(value)
    return node.func.id, args


NOSE_EQUAL = ("assert_equal", "assert_equals", "assertEqual")
NOSE_RAISES = ("assert_raises", "assertRaises")


def _checked_call(statement: ast.stmt) -> tuple[str, list[Any]] | None:
    """The call one test statement checks: ``assert f(lits) == lit``, ``assert_equal(f(lits), lit)``
    (either order) or ``assert_raises(Error, f, lits)``; the master's outcome is what is compared."""
    pair: tuple[ast.AST, ast.AST] | None = None
    if isinstance(statement, ast.Assert) and isinstance(statement.test, ast.Compare):
        compare = statement.test
        if len(compare.ops) == 1 and isinstance(compare.ops[0], ast.Eq):
            pair = (compare.left, compare.comparators[0])
    elif isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call):
        call = statement.value
        name = call.func.id if isinstance(call.func, ast.Name) else ""
        if name in NOSE_EQUAL and len(call.args) == 2 and not call.keywords:
            pair = (call.args[0], call.args[1])
        elif name in NOSE_RAISES and len(call.args) >= 2 and isinstance(call.args[1], ast.Name):
            fake = ast.Call(func=call.args[1], args=call.args[2:], keywords=call.keywords)
            return _literal_call(fake)
    if pair is None:
        return None
    for side, other in (pair, pair[::-1]):
        ok, value = _literal(other)
        call_of = _literal_call(side) if ok and _plain(value) else None
        if call_of is not None:
            return call_of
    return None


def _is_docstring(statement: ast.stmt) -> bool:
    return (
        isinstance(statement, ast.Expr)
        and isinstance(statement.value, ast.Constant)
        and isinstance(statement.value.value, str)
    )


def _function_calls(tree: ast.Module) -> tuple[str, list[list[Any]]] | None:
    """Several checked calls of one function (imports of test helpers aside), or None."""
    function, calls = "", []
    for statement in tree.body:
        if isinstance(statement, (ast.Import, ast.ImportFrom)) or _is_docstring(statement):
            continue
        checked = _checked_call(statement)
        if checked is None or (function and checked[0] != function):
            return None
        function = checked[0]
        calls.append(checked[1])
    return (function, calls) if calls else None


def classify_test(test: TestCase) -> None:
    """Set the test's kind (function, answer or kernel_test) from its code and recorded output."""
    try:
        tree = ast.parse(test.code)
    except SyntaxError:
        return
    tree.body = [statement for statement in tree.body if not _is_docstring(statement)]
    if len(tree.body) != 1:
        several = _function_calls(tree)
        if several is not None:
            test.kind, (test.function, test.calls) = "function", several
        return
    statement = tree.body[0]
    node: ast.AST | None = (
        statement.test if isinstance(statement, ast.Assert) else getattr(statement, "value", None)
    )
    if not isinstance(statement, (ast.Assert, ast.Expr)) or node is None:
        return
    expects_true = isinstance(statement, ast.Assert) or (test.output or "True").strip() == "True"
    if (
        isinstance(node, ast.Compare)
        and len(node.ops) == 1
        and isinstance(node.ops[0], ast.Eq)
        and expects_true
    ):
        left, right = node.left, node.comparators[0]
        for side, other in ((left, right), (right, left)):
            ok, value = _literal(other)
            if not ok or not _plain(value):
                continue
            call = _literal_call(side)
            if call is not None:
                test.kind, (test.function, test.args) = "function", call
                return
            if isinstance(side, ast.Name):
                test.kind, test.answer, test.equals = "answer", side.id, value
                return
    call = _literal_call(node)
    if isinstance(statement, ast.Expr) and call is not None and test.output is not None:
        test.kind, (test.function, test.args) = "function", call


NOSE_IMPORT = re.compile(r"^from nose\.tools import [^\n]*$", re.MULTILINE)
NOSE_STANDIN = (
    "import unittest as __grader_unittest\n"
    "__grader_case = __grader_unittest.TestCase()\n"
    "assert_equal = assert_equals = __grader_case.assertEqual\n"
    "assert_not_equal = __grader_case.assertNotEqual\n"
    "assert_true, assert_false = __grader_case.assertTrue, __grader_case.assertFalse\n"
    "assert_raises = __grader_case.assertRaises\n"
    "assert_almost_equal = __grader_case.assertAlmostEqual\n"
    "assert_in, assert_is_none = __grader_case.assertIn, __grader_case.assertIsNone\n"
)


def kernel_test_code(test: TestCase) -> str:
    """The test file: the cell's code, and when the master recorded an output, a check that the
    last expression prints the same (the way the original grader compared them). nose is gone
    from current Pythons, so its assertion helpers that nbgrader tests import are stood in for
    by unittest's."""
    if NOSE_IMPORT.search(test.code):
        test = TestCase(
            name=test.name, code=NOSE_IMPORT.sub(NOSE_STANDIN.rstrip("\n"), test.code), output=test.output
        )
    if test.output is None:
        return test.code + "\n"
    try:
        tree = ast.parse(test.code)
    except SyntaxError:
        return test.code + "\n"
    if not tree.body or not isinstance(tree.body[-1], ast.Expr):
        return test.code + "\n"
    last = tree.body[-1]
    lines = test.code.splitlines()
    head = "\n".join(lines[: last.lineno - 1])
    expression = ast.get_source_segment(test.code, last) or ""
    return (
        (head + "\n" if head.strip() else "")
        + f"__grader_seen = repr({expression})\n"
        + f"assert __grader_seen == {test.output.strip()!r}, 'printed ' + __grader_seen + ', expected ' + {test.output.strip()!r}\n"
    )


def _points(question: Question) -> list[float]:
    tests = question.tests
    if isinstance(question.points, list):
        return [float(p) for p in question.points[: len(tests)]] + [0.0] * max(
            0, len(tests) - len(question.points)
        )
    fixed = sum(t.points for t in tests if t.points is not None)
    free = [t for t in tests if t.points is None]
    total = float(question.points) if question.points is not None else float(len(tests))
    share = (total - fixed) / len(free) if free else 0.0
    return [t.points if t.points is not None else share for t in tests]


def _part_id(name: str) -> str:
    cleaned = IDENTIFIER.sub("_", name)
    return cleaned if cleaned[:1].isalpha() else f"q{cleaned}"


def build_rubric(imported: ImportedAssignment) -> tuple[dict[str, Any], dict[str, str]]:
    """The rubric and the test files (relative path -> code) of an imported assignment."""
    name = _part_id(imported.name)
    parts: list[dict[str, Any]] = []
    items: list[dict[str, Any]] = []
    free_text: list[dict[str, Any]] = []
    tests: dict[str, str] = {}
    for question in imported.questions:
        part = _part_id(question.name)
        entry: dict[str, Any] = {"id": part, "title": question.name}
        if question.heading:
            entry["heading"] = question.heading
        parts.append(entry)
        if question.manual:
            points = float(question.points) if isinstance(question.points, (int, float)) else 1.0
            free_text.append({"id": part, "part": part})
            items.append(
                {"id": f"{part}_answer", "part": part, "kind": "free_text", "points": points, "text": part}
            )
            continue
        for test, points in zip(question.tests, _points(question), strict=True):
            item_id = _part_id(test.name)
            if points <= 0:
                imported.notes.append(f"{test.name}: a test worth 0 points is not carried over")
                continue
            item: dict[str, Any] = {"id": item_id, "part": part, "points": round(points, 4)}
            if test.hidden:
                item["visibility"] = "hidden"
            if test.kind == "function":
                calls = test.calls or [test.args]
                item.update(kind="function", function=test.function, calls=[{"args": a} for a in calls])
                if len(calls) > 1:
                    item["partial"] = {"function": "step"}  # the original test passed or failed as a whole
            elif test.kind == "answer":
                item.update(kind="answer_check", checks=[{"answer": test.answer, "equals": test.equals}])
            else:
                path = f"tests/{item_id}.py"
                tests[path] = kernel_test_code(test)
                item.update(kind="kernel_test", test=path)
            items.append(item)
    total = sum(float(i["points"]) for i in items)
    rubric: dict[str, Any] = {
        "schema_version": 1,
        "assignment": name,
        "title": imported.name,
        "total_points": round(total, 4),
        "master": "master.ipynb",
        "template": f"student/{name}.ipynb",
        "reference": f"reference/{name}_reference.ipynb",
        "expected": "reference/expected.json",
        "data": {"static": {"dir": "data"}},
        "parts": parts,
        "answers": {},
    }
    if free_text:
        rubric["free_text"] = free_text
    rubric["items"] = items
    return rubric, tests


def write_folder(imported: ImportedAssignment, out: Path) -> list[Path]:
    """Write the assignment folder; refuses a folder that already holds a rubric."""
    if (out / "rubric.yaml").exists():
        raise ValueError(f"{out} already holds a rubric.yaml; choose another --out")
    rubric, tests = build_rubric(imported)
    if not rubric["items"]:
        raise ValueError("nothing to grade was found (no tests and no manually graded questions)")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    text = "# Imported by `grader import`; see docs/AUTHORING.md. Review it, then run `grader assign` on this folder.\n"
    text += yaml.safe_dump(rubric, sort_keys=False, width=100, default_flow_style=None)
    (out / "rubric.yaml").write_text(text, encoding="utf-8")
    written.append(out / "rubric.yaml")
    notebook = nbformat.v4.new_notebook(cells=imported.cells)
    notebook.metadata = {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}}
    (out / "master.ipynb").write_text(nbformat.writes(notebook) + "\n", encoding="utf-8")
    written.append(out / "master.ipynb")
    for relative, code in tests.items():
        (out / relative).parent.mkdir(parents=True, exist_ok=True)
        (out / relative).write_text(code, encoding="utf-8")
        written.append(out / relative)
    public = out / "data" / "public"
    public.mkdir(parents=True, exist_ok=True)
    (public / "README.txt").write_text("Data files for students go here (the sandbox mounts this folder).\n")
    (out / "data" / "hidden").mkdir(exist_ok=True)
    written.append(public / "README.txt")
    return written
