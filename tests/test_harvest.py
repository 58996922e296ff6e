"""Unit tests of the harvest: the in-kernel converter and adapters (run in-process here), the
outside reader's strict parsing and file checks, the staging of input files, and the mapping of
cells to parts and free-text answers."""

from __future__ import annotations

import json
import os
import runpy
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest
import torch
from nbformat.v4 import new_code_cell, new_markdown_cell, new_output

from grader import notebook_parts
from grader.assignment import load_assignment
from grader.engine import harvest_plan as harvest
from grader.engine import harvest_read
from grader.free_text import assignment_template_text, free_text_answers

FIXTURE = Path(__file__).parent / "fixtures" / "exec"
KERNEL = runpy.run_path(str(harvest.KERNEL_SOURCE_PATH))


def convert(value, max_items=10_000):
    return KERNEL["plain"](value, KERNEL["_Budget"](max_items))


# -- in-kernel conversion ------------------------------------------------------------------------


def test_plain_values_convert_exactly():
    assert convert([1, 2.5, "a", True, None, (3, 4)]) == [1, 2.5, "a", True, None, [3, 4]]
    assert convert({"k": np.float32(0.5)}) == {"k": 0.5}
    assert convert(np.arange(6).reshape(2, 3)) == [[0, 1, 2], [3, 4, 5]]
    assert convert(np.int64(7)) == 7 and type(convert(np.int64(7))) is int
    assert convert(torch.tensor([[1.0, 2.0]], requires_grad=True)) == [[1.0, 2.0]]


class LyingFloat(float):
    def __eq__(self, other):
        return True

    __hash__ = float.__hash__


class EvilRepr:
    def __repr__(self):
        raise RuntimeError("boom")

    def __str__(self):
        while True:
            pass


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (LyingFloat(1.0), "type LyingFloat is not a plain value"),
        (EvilRepr(), "type EvilRepr is not a plain value"),
        ([1, EvilRepr()], "type EvilRepr is not a plain value"),
        (np.array([EvilRepr()], dtype=object), "type EvilRepr is not a plain value"),
        (float("nan"), "non-finite"),
        (np.array([1.0, np.inf]), "non-finite"),
        (np.array([object()], dtype=object), "type object is not a plain value"),
        ({1: 2}, "dict keys must be strings"),
        (list(range(20_000)), "too large"),
        (np.zeros(20_000), "too large"),
        (2**100, "integer too large"),
        (pd.DataFrame({"a": [1], "b": [2]}), "DataFrame with 2 columns .* list\\(df\\['column'\\]\\)"),
        ({1, 2}, "type set is not a plain value: .*sorted"),
    ],
)
def test_plain_refuses_what_is_not_plain(value, reason):
    with pytest.raises(KERNEL["Refused"], match=reason):
        convert(value)


def test_plain_refuses_self_reference():
    loop: list = []
    loop.append(loop)
    with pytest.raises(KERNEL["Refused"], match="nested too deeply"):
        convert(loop)


def test_harvest_answers_statuses():
    user_ns = {"a": 1.5, "b": None, "c": LyingFloat(2.0), "f": lambda df: df}
    config = {"names": ["a", "b", "c", "d", "f"], "max_items": 100}
    answers = KERNEL["harvest_answers"](user_ns, config)["answers"]
    assert answers["a"] == {"status": "ok", "value": 1.5}
    assert answers["b"]["status"] == "none"
    assert answers["c"]["status"] == "refused"
    assert answers["d"]["status"] == "missing"
    assert answers["f"]["status"] == "refused" and "type function" in answers["f"]["message"]


def test_harvest_answers_refuses_answers_over_the_byte_limit():
    config = {"names": ["long", "short"], "max_items": 10_000, "max_bytes": 100}
    answers = KERNEL["harvest_answers"]({"long": "x" * 200, "short": [1.5] * 10}, config)["answers"]
    assert answers["long"]["status"] == "refused" and "too large (202 bytes" in answers["long"]["message"]
    assert answers["short"] == {"status": "ok", "value": [1.5] * 10}


# -- in-kernel adapters --------------------------------------------------------------------------


def _model_config(tmp_path: Path, adapter: str, path: Path, fmt: str, **extra) -> dict:
    model = {"variable": "m", "adapter": adapter, "features_variable": extra.pop("features", None)}
    model.update(extra)
    return {"model": model, "input": {"path": str(path), "format": fmt, "key": None}, "max_items": 10_000}


def test_torch_classifier_adapter_argmax_in_eval_mode(tmp_path):
    x = np.eye(4, dtype=np.float32)[[0, 1, 2, 3, 1]]
    np.save(tmp_path / "x.npy", x)
    net = torch.nn.Sequential(torch.nn.Dropout(0.9), torch.nn.Linear(4, 4, bias=False))
    with torch.no_grad():
        net[1].weight.copy_(torch.eye(4))
    net.train()
    result = KERNEL["run_model"](
        {"m": net}, _model_config(tmp_path, "torch_classifier", tmp_path / "x.npy", "npy")
    )
    assert result == {"status": "ok", "value": [0, 1, 2, 3, 1]}  # dropout off: eval mode was set


def test_sklearn_adapters_and_errors(tmp_path):
    from sklearn.tree import DecisionTreeClassifier

    train = pd.read_csv(FIXTURE / "data" / "public" / "points_train.csv")
    model = DecisionTreeClassifier(random_state=0).fit(train[["a", "b"]], train["y"])
    path = FIXTURE / "data" / "public" / "points.csv"
    ns = {"m": model, "cols": ["a", "b"]}
    out = KERNEL["run_model"](ns, _model_config(tmp_path, "sklearn_predict", path, "csv", features="cols"))
    assert out["status"] == "ok" and set(out["value"]) <= {"pos", "neg"} and len(out["value"]) == 40

    cv_cfg = _model_config(
        tmp_path,
        "sklearn_cv",
        FIXTURE / "data" / "public" / "points_train.csv",
        "csv",
        features="cols",
        label_column="y",
    )
    fitted_tree = model.tree_
    cv = KERNEL["run_model"](ns, cv_cfg)
    assert cv["status"] == "ok" and 0.5 < cv["value"] <= 1.0
    assert model.tree_ is fitted_tree  # clone(): the student's fitted model is not refitted

    ns_bad = {"m": model, "cols": ["a", "nope"]}
    bad = KERNEL["run_model"](
        ns_bad, _model_config(tmp_path, "sklearn_predict", path, "csv", features="cols")
    )
    assert bad["status"] == "refused" and "unknown columns" in bad["message"]


def test_row_predicate_adapter_checks_length_and_type(tmp_path):
    path = FIXTURE / "data" / "public" / "points.csv"
    good = KERNEL["run_model"](
        {"m": lambda df: df["a"] > 0}, _model_config(tmp_path, "row_predicate", path, "csv")
    )
    assert good["status"] == "ok" and len(good["value"]) == 40 and all(type(v) is bool for v in good["value"])
    short = KERNEL["run_model"](
        {"m": lambda df: [True]}, _model_config(tmp_path, "row_predicate", path, "csv")
    )
    assert short["status"] == "refused" and "expected 40" in short["message"]
    floats = KERNEL["run_model"](
        {"m": lambda df: df["a"]}, _model_config(tmp_path, "row_predicate", path, "csv")
    )
    assert floats["status"] == "refused"
    raising = KERNEL["run_model"](
        {"m": lambda df: 1 / 0}, _model_config(tmp_path, "row_predicate", path, "csv")
    )
    assert raising == {"status": "error", "message": "ZeroDivisionError: division by zero"}


def test_kernel_code_leaves_no_names_behind(tmp_path):
    out = tmp_path / "answers.json"
    user_ns = {"__name__": "__main__", "x": 3}
    code = harvest.kernel_code({"kind": "answers", "names": ["x"], "max_items": 10, "out": str(out)})
    exec(code, user_ns)
    assert set(user_ns) == {"__name__", "x", "__builtins__"}
    assert json.loads(out.read_text()) == {"answers": {"x": {"status": "ok", "value": 3}}}


# -- outside reader ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b'{"a": NaN}', "NaN"),
        (b'{"a": 1, "a": 2}', "repeats the key"),
        (b"[1, 2]", "not a JSON object"),
        (b"\xff\xfe", "not UTF-8"),
        (b"{" * 100_000, "nested too deeply|not valid JSON"),
        (b"{'a': 1}", "not valid JSON"),
    ],
)
def test_parse_strict_refuses(data, reason):
    with pytest.raises(harvest.HarvestError, match=reason):
        harvest_read.parse_strict(data)


def test_read_stage_output_refuses_links_fifos_and_big_files(tmp_path):
    secret = tmp_path / "secret.json"
    secret.write_text('{"answers": {}}')
    (tmp_path / "link.json").symlink_to(secret)
    with pytest.raises(harvest.HarvestError, match="symbolic link"):
        harvest_read.read_stage_output(tmp_path, "link.json", 1000)
    os.mkfifo(tmp_path / "fifo.json")
    with pytest.raises(harvest.HarvestError, match="not a regular file"):
        harvest_read.read_stage_output(tmp_path, "fifo.json", 1000)
    (tmp_path / "big.json").write_text('{"a": "' + "x" * 5000 + '"}')
    with pytest.raises(harvest.HarvestError, match="over the 1000-byte limit"):
        harvest_read.read_stage_output(tmp_path, "big.json", 1000)
    with pytest.raises(harvest.HarvestError, match="wrote no harvest output"):
        harvest_read.read_stage_output(tmp_path, "absent.json", 1000)
    assert harvest_read.read_stage_output(tmp_path, "secret.json", 1000) == {"answers": {}}


def test_validate_answers_keeps_only_known_shapes():
    document = {
        "answers": {
            "a": {"status": "ok", "value": [1, 2]},
            "b": {"status": "weird"},
            "c": {"status": "refused", "message": "x" * 5000},
            "extra": {"status": "ok", "value": 1},
        }
    }
    result = harvest_read.validate_answers(document, ["a", "b", "c", "d"])
    assert result["a"] == {"status": "ok", "value": [1, 2]}
    assert result["b"]["status"] == "refused" and result["d"]["status"] == "refused"
    assert len(result["c"]["message"]) == harvest_read.MESSAGE_CHARS
    assert "extra" not in result
    with pytest.raises(harvest.HarvestError):
        harvest_read.validate_prediction({"prediction": {"status": "weird"}}, _stage("row_predicate", False))


# -- staging -------------------------------------------------------------------------------------


def test_plan_orders_stages_and_stages_inputs_late_without_hidden_labels(tmp_path):
    assignment = load_assignment(FIXTURE / "exec.yaml")
    plan = harvest.plan_harvest(assignment, FIXTURE / "data", tmp_path, "/home/student")
    names = [s.name for s in plan.stages]
    assert names[0] == "answers"
    hidden_flags = [s.hidden for s in plan.stages[1:]]
    assert hidden_flags == sorted(hidden_flags) and any(hidden_flags)  # public stages first
    assert list(plan.inputs_dir.iterdir()) == []  # nothing is in the sandbox before its stage
    for stage in plan.stages:
        plan.prepare(stage)
    staged = sorted(p.name for p in plan.inputs_dir.iterdir())
    assert "pts_hidden.csv" in staged and "vec_hidden.npy" in staged
    assert "pts_public-labels.csv" in staged  # public labels may enter the sandbox
    assert not any("hidden-labels" in name for name in staged)  # hidden labels never do
    hidden_labels = (FIXTURE / "data" / "hidden" / "points_y.csv").read_bytes()
    assert all((plan.inputs_dir / n).read_bytes() != hidden_labels for n in staged)
    by_name = {s.name: s for s in plan.stages}
    assert by_name["clf/pts_hidden"].rows == 20 and by_name["net/vec_hidden"].rows == 30
    assert all(s.config["out"].startswith(f"/home/student/{plan.outputs_dir.name}/") for s in plan.stages)
    plan.cleanup()
    assert not plan.inputs_dir.exists() and not plan.outputs_dir.exists()

    public = harvest.plan_harvest(assignment, FIXTURE / "data", tmp_path, "/home/student", public_only=True)
    assert [s.name for s in public.stages] == ["answers", "clf/pts_public", "cv/pts_train"]
    assert public.skipped["net"]["vec_hidden"]["status"] == "skipped"
    public.cleanup()


def test_staging_never_follows_a_planted_link(tmp_path):
    assignment = load_assignment(FIXTURE / "exec.yaml")
    plan = harvest.plan_harvest(assignment, FIXTURE / "data", tmp_path, "/home/student")
    victim = tmp_path / "victim.txt"
    victim.write_text("host file")
    (plan.inputs_dir / "pts_hidden.csv").symlink_to(victim)
    stage = next(s for s in plan.stages if s.input == "pts_hidden")
    with pytest.raises(FileExistsError):
        plan.prepare(stage)
    assert victim.read_text() == "host file"
    # renaming the directory away and putting a link in its place does not redirect the copy
    moved = tmp_path / "moved"
    plan.inputs_dir.rename(moved)
    plan.inputs_dir.symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    (tmp_path / "elsewhere").mkdir()
    plan.prepare(next(s for s in plan.stages if s.input == "vec_hidden"))
    assert (moved / "vec_hidden.npy").is_file() and not any((tmp_path / "elsewhere").iterdir())
    plan.cleanup()


def _stage(adapter: str, hidden: bool, rows: int | None = 3) -> harvest.Stage:
    return harvest.Stage(
        name="m/i",
        config={"model": {"variable": "rule"}},
        out_file="x.json",
        model="m",
        input="i",
        adapter=adapter,
        hidden=hidden,
        rows=rows,
    )


def test_predictions_are_checked_per_adapter_and_hidden_messages_withheld():
    def check(value, adapter, hidden=False, status="ok", message=None):
        entry = (
            {"status": status, "value": value} if status == "ok" else {"status": status, "message": message}
        )
        return harvest_read.validate_prediction({"prediction": entry}, _stage(adapter, hidden))

    assert check([True, False, True], "row_predicate") == {"status": "ok", "value": [True, False, True]}
    assert check([1, 0, 1], "row_predicate")["status"] == "refused"
    assert check([True], "row_predicate")["message"] == "expected 3 predictions, got 1"
    assert check([1, 2, 3], "torch_classifier")["status"] == "ok"
    assert check(["Adelie", "x" * 500, "Gentoo"], "sklearn_predict")["status"] == "refused"
    assert check(0.93, "sklearn_cv") == {"status": "ok", "value": 0.93}
    assert check(1.5, "sklearn_cv")["status"] == "refused"
    leak = "hidden rows: 39.1,18.7,181"
    shown = check(None, "row_predicate", status="error", message=f"ValueError: {leak}")
    assert shown["message"] == f"ValueError: {leak}"  # public input: the student's own message helps
    withheld = check(None, "row_predicate", hidden=True, status="error", message=f"ValueError: {leak}")
    assert withheld["status"] == "error" and "39.1" not in withheld["message"]
    refused = check([True], "row_predicate", hidden=True)
    assert refused["status"] == "refused" and "withheld" in refused["message"]
    missing = check(None, "row_predicate", hidden=True, status="missing", message=leak)
    assert missing == {"status": "missing", "message": "rule is not defined"}


# -- parts and free text -------------------------------------------------------------------------


def test_parts_free_text_and_figures():
    png = new_output("display_data", data={"image/png": "iVBOR"})
    cells = [
        new_code_cell("import x"),
        new_markdown_cell("# Part 1: trees\ntext"),
        new_code_cell("a = 1", outputs=[png]),
        new_markdown_cell("**ANSWER why**\n_Write your answer here._"),
        new_markdown_cell("```\n# Part 2 inside a code fence\n```"),
        new_markdown_cell("## **Part 2** — networks"),
        new_code_cell("b = 2", outputs=[png, png]),
        new_markdown_cell("**ANSWER pair** Because bill length\nand depth separate them."),
        new_markdown_cell("**ANSWER pair**\nsecond attempt"),
    ]
    parts = [{"id": "p1", "heading": "Part 1"}, {"id": "p2", "heading": "Part 2"}]
    part_of = notebook_parts.assign_parts(cells, parts)
    assert part_of == [None, "p1", "p1", "p1", "p1", "p2", "p2", "p2", "p2"]
    free = free_text_answers(cells, [{"id": "why"}, {"id": "pair"}, {"id": "gone"}])
    # the fenced cell below the ANSWER cell is text the student wrote there: it is the answer
    assert free["why"]["status"] == "ok"
    assert free["why"]["value"] == "```\n# Part 2 inside a code fence\n```"
    assert free["pair"]["status"] == "ok"
    assert free["pair"]["value"] == "Because bill length\nand depth separate them."
    assert "2 answer cells" in free["pair"]["message"]
    assert free["gone"]["status"] == "missing"
    assert notebook_parts.figures_by_part(cells, part_of) == {"p1": 1, "p2": 2}


def test_template_placeholder_in_real_template_counts_as_unanswered():
    template = Path(__file__).parents[1] / "student_template" / "hw2" / "hw2.ipynb"
    if not template.exists():
        pytest.skip("the hw2 template is not in this checkout yet")
    assignment = load_assignment("hw2")
    nb = nbformat.read(template, as_version=4)
    free = free_text_answers(nb.cells, assignment.free_text, assignment_template_text(assignment))
    assert {a["status"] for a in free.values()} == {"none"}
    part_of = notebook_parts.assign_parts(nb.cells, assignment.parts)
    assert {p for p in part_of if p} == {p["id"] for p in assignment.parts}
