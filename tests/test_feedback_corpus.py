"""The feedback corpus: each notebook reproduces one failure real students hit, and the messages
it gets say what happened and what to do, word for word the same in the HTML page, the Markdown
page and the Gradescope results.json.

tests/feedback_corpus/ holds the notebooks (built by its build.py). They are graded by the real
`grader grade` command: the hw2 ones in hw2's kernel environment (bwrap where it runs), the toy
one in the grader's own interpreter (the toy rubric declares no environment), so a traceback
through the grader's own venv is covered too.
"""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "tests" / "feedback_corpus"
TOY = REPO / "tests" / "assignments" / "toy" / "toy.yaml"
sys.path.insert(0, str(CORPUS))

import build  # noqa: E402

pytestmark = pytest.mark.slow

HW2_DATA = (
    "the folder named by the ASSIGNMENT_DATA environment variable "
    '(`os.environ["ASSIGNMENT_DATA"]`, /assignment/data), which holds image.npy, image.png, '
    "mnist_train.npz, mnist_val.npz, penguins_train.csv, temperature_train.csv, temperature_val.csv"
)
# submission id -> (the failed cell's name, what the student is told) — word for word.
CELL_MESSAGES = {
    "missing_module": (
        "code cell 2 [3]: import keras",
        "`keras` is not installed in hw2's grading environment, so this import fails when your notebook is "
        "graded. Close alternatives that are installed: `torch`. The packages you can use are listed in the "
        "template's first cell.",
    ),
    "url_fetch": (
        "code cell 2 [2]: import pandas as pd",
        "This cell tried to reach the internet, but the grading sandbox has no network access. This is not a "
        "temporary failure: resubmitting will not help. Read the assignment's data from "
        + HW2_DATA
        + ", instead of downloading it.",
    ),
    "pip_install": (
        "code cell 1 [1]: !pip install keras seaborn",
        "This cell installs packages, but the grading sandbox has no internet, so nothing can be installed "
        "while your notebook is graded; the cell is counted as failed. Remove the install line: the packages "
        "you can use are already installed and listed in the template's first cell. Already installed: "
        "seaborn. Not in hw2's grading environment: keras.",
    ),
    "colab": (
        "code cell 1 [1]: from google.colab import drive",
        "`google.colab` exists only on Google Colab. The grading sandbox is not Colab: it has no internet and "
        "no Google Drive. Remove the Colab-only lines (such as `drive.mount(...)`) and read the assignment's "
        "files from " + HW2_DATA + ".",
    ),
    "library_traceback": (
        "code cell 1 [5]: import pandas as pd",
        "`seattle-weather.csv` does not exist where your notebook is graded: only the notebook itself is "
        "there, not the files beside it on your machine. The assignment's data is in " + HW2_DATA + ".",
    ),
}
TOY_CELL = (
    "code cell 1 [2]: import pandas as pd",
    "`points.csv` does not exist where your notebook is graded: only the notebook itself is there, not the "
    "files beside it on your machine. The assignment's data is in the folder named by the ASSIGNMENT_DATA "
    'environment variable (`os.environ["ASSIGNMENT_DATA"]`, /assignment/data), which holds train.csv, val.csv.',
)
OFF_TEMPLATE_TITLE = "This notebook is not built on the template"
OFF_TEMPLATE_TEXT = (
    "0 of 100 points. This notebook was not built on the hw2 template: none of its answer variables "
    "(`depths`, `dt_train_rmse`, `dt_val_rmse`, `rf_train_rmse`, …) and none of its part headings (Part 1, "
    "Part 2, Part 3, Stretch) are in it, so none of the answers could be found. Download the template "
    "(hw2.ipynb), copy your work into its cells, keep its variable names and headings, and submit it again."
)
# The two plots drawn before Part 1's heading count for no part; hw2's figure items say what a plot
# must show, so the message names the answers it is checked against (none is set in this notebook).
FIGURE_MESSAGES = (
    "Part 1: what a plot shows is checked against `dt_train_rmse`, `dt_val_rmse`, `rf_train_rmse`, "
    "`rf_val_rmse`, `gb_train_rmse`, `gb_val_rmse`, and none of them holds numbers; set them and draw a plot "
    "of training and validation RMSE against max_depth",
    "Part 2: what a plot shows is checked against `sgd_train_losses`, `sgd_val_losses`, `tuned_train_losses`, "
    "`tuned_val_losses`, and none of them holds numbers; set them and draw a plot of training and validation "
    "loss per epoch",
)
TIMEOUT_LIMIT = "Limit reached: time limit of a cell in code cell 2 [2]: while True:"
SUMMARY_CAUSES = {
    "missing module keras": ["missing_module"],
    "no network": ["url_fetch"],
    "installs packages (pip)": ["pip_install"],
    "Google Colab only (google.colab)": ["colab"],
    "not built on the template": ["not_on_template"],
    "timeout in part part2": ["timeout"],
    "reads a file that is not there": ["library_traceback"],
}
LIBRARY_FOLD = re.compile(r"\[\.\.\. \d+ frames? in library code \(pandas\) not shown \.\.\.\]")


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def words(text: str) -> str:
    """Text as a reader sees it: code-span backticks and Markdown escapes gone, spaces folded."""
    text = re.sub(r"\\(.)", r"\1", text).replace("`", "")
    return " ".join(text.split())


def html_words(path: Path) -> str:
    parser = _Text()
    parser.feed(path.read_text(encoding="utf-8"))
    return words(html.unescape("".join(parser.parts)))


def md_words(path: Path) -> str:
    return words(path.read_text(encoding="utf-8"))


def gradescope(out: Path, rid: str) -> dict[str, Any]:
    return json.loads((out / "gradescope" / rid / "results.json").read_text(encoding="utf-8"))


def _grade(paths: list[Path], assignment: str, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "grader",
            "grade",
            *map(str, paths),
            "--assignment",
            assignment,
            "--out",
            str(out),
        ]
        + ["--workers", "2", "--timeout", "30"],
        capture_output=True,
        text=True,
        timeout=1200,
    )


@pytest.fixture(scope="module")
def hw2_out(tmp_path_factory: pytest.TempPathFactory, hw2_environment) -> Path:
    out = tmp_path_factory.mktemp("feedback-hw2")
    done = _grade([CORPUS / "hw2"], "hw2", out)
    assert done.returncode == 0, done.stdout + done.stderr  # every one is the student's doing: exit 0
    return out


@pytest.fixture(scope="module")
def toy_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("feedback-toy")
    done = _grade([CORPUS / "toy"], str(TOY), out)
    assert done.returncode == 0, done.stdout + done.stderr
    return out


def test_the_committed_corpus_is_what_build_py_writes() -> None:
    for file_name, text in build.notebooks().items():
        assignment = build.CORPUS[file_name.removesuffix(".ipynb")][0]
        assert (CORPUS / assignment / file_name).read_text(encoding="utf-8") == text, file_name


@pytest.mark.parametrize("rid", sorted(CELL_MESSAGES))
def test_a_failed_cell_is_named_and_explained_alike_everywhere(hw2_out: Path, rid: str) -> None:
    label, advice = CELL_MESSAGES[rid]
    page, md = html_words(hw2_out / "feedback" / f"{rid}.html"), md_words(hw2_out / "feedback" / f"{rid}.md")
    for text in (page, md):
        assert words(label) in text and words(advice) in text
    document = gradescope(hw2_out, rid)
    test = next(t for t in document["tests"] if t["name"] == f"Cell error: {label}")
    assert test["visibility"] == "visible" and test["status"] == "failed" and test["max_score"] == 0
    assert words(advice) in words(test["output"])
    assert words(f"- {label}: {advice}") in words(document["output"])


def test_an_install_cell_is_recorded_as_failed(hw2_out: Path) -> None:
    run = json.loads((hw2_out / "run" / "pip_install.json").read_text(encoding="utf-8"))
    cell = next(c for c in run["cells"] if c["first_line"].startswith("!pip"))
    assert cell["status"] == "error" and cell["diagnosis"]["cause"] == "pip_install"
    assert cell["message"] == "installing packages cannot work: the grading sandbox has no internet"


def test_tracebacks_show_the_students_frames_and_no_host_path(hw2_out: Path, toy_out: Path) -> None:
    import grader

    host = {sys.prefix, sys.base_prefix, str(REPO), str(Path(grader.__file__).parent), "/opt/kernel-env"}
    host |= {str(Path.home() / ".cache")}
    for out, rid in ((hw2_out, "library_traceback"), (toy_out, "grader_venv_traceback")):
        result = json.loads((out / "results" / f"{rid}.json").read_text(encoding="utf-8"))
        traceback = next(c for c in result["cells"] if c.get("error"))["error"]["traceback"]
        assert LIBRARY_FOLD.search(traceback), traceback
        assert "----> 2 " in traceback and "read_csv(" in traceback  # the student's own line is kept
        assert "Cell In[" not in traceback and "site-packages" not in traceback
        for path in (out / "feedback" / f"{rid}.html", out / "feedback" / f"{rid}.md"):
            text = path.read_text(encoding="utf-8")
            assert not [h for h in host if h in text], (path.name, [h for h in host if h in text])
        assert not [h for h in host if h in json.dumps(gradescope(out, rid))]


def test_the_toy_traceback_through_the_grader_venv_is_explained(toy_out: Path) -> None:
    label, advice = TOY_CELL
    for text in (
        html_words(toy_out / "feedback" / "grader_venv_traceback.html"),
        md_words(toy_out / "feedback" / "grader_venv_traceback.md"),
    ):
        assert words(label) in text and words(advice) in text


def test_a_notebook_not_built_on_the_template_gets_one_top_message(hw2_out: Path) -> None:
    result = json.loads((hw2_out / "results" / "not_on_template.json").read_text(encoding="utf-8"))
    assert result["status"] == "not_on_template"
    page = (hw2_out / "feedback" / "not_on_template.html").read_text(encoding="utf-8")
    top = html_words(hw2_out / "feedback" / "not_on_template.html")
    assert top.index(words(OFF_TEMPLATE_TITLE)) < top.index("Temperature regression with trees")
    assert words(OFF_TEMPLATE_TEXT) in top
    assert words(OFF_TEMPLATE_TEXT) in md_words(hw2_out / "feedback" / "not_on_template.md")
    # the per-item messages are still there, folded away (closed <details>), one fold per part
    assert page.count('<details class="folded">') == 4 and "depths is not defined" in top.replace("`", "")
    output = words(gradescope(hw2_out, "not_on_template")["output"])
    assert words(f"{OFF_TEMPLATE_TITLE}. {OFF_TEMPLATE_TEXT}") in output


def test_the_figure_message_counts_only_the_templates_own_cells(hw2_out: Path) -> None:
    result = json.loads((hw2_out / "results" / "figures_outside_parts.json").read_text(encoding="utf-8"))
    messages = [i["message"] for i in result["items"] if i["kind"] == "figure"]
    assert not [m for m in messages if "the template draws" in m], messages
    for expected in FIGURE_MESSAGES:
        assert expected in messages
        assert words(expected) in html_words(hw2_out / "feedback" / "figures_outside_parts.html")
        assert words(expected) in md_words(hw2_out / "feedback" / "figures_outside_parts.md")
        outputs = [words(t["output"]) for t in gradescope(hw2_out, "figures_outside_parts")["tests"]]
        assert words(expected) in outputs


def test_limits_reach_gradescope_with_the_cell_name(hw2_out: Path) -> None:
    document = gradescope(hw2_out, "timeout")
    limit = next(t for t in document["tests"] if t["name"].startswith("Limit reached"))
    assert limit["name"] == TIMEOUT_LIMIT and limit["visibility"] == "visible"
    assert "the cell passed its 30 s limit" in limit["output"]
    assert "Limit reached: time limit of a cell in code cell 2 [2]: while True:" in document["output"]


def test_the_class_summary_groups_causes_and_links_them(hw2_out: Path) -> None:
    page = (hw2_out / "summary.html").read_text(encoding="utf-8")
    for cause, ids in SUMMARY_CAUSES.items():
        row = re.search(rf'<tr data-cause="{re.escape(html.escape(cause))}">(.*?)</tr>', page, re.S)
        assert row, cause
        assert f'<td class="num">{len(ids)}</td>' in row.group(1)
        assert sorted(re.findall(r'href="feedback/([^"]+)\.html"', row.group(1))) == ids


def test_grader_run_prints_each_failed_cells_exception(tmp_path: Path, hw2_environment) -> None:
    from click.testing import CliRunner

    from grader.cli import main

    notebook = CORPUS / "hw2" / "missing_module.ipynb"
    result = CliRunner().invoke(main, ["run", str(notebook), "--assignment", "hw2", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert (
        "cell 2 [part1]: error ModuleNotFoundError: No module named 'keras'  (code cell 2 [3]: import keras)"
        in result.output
    )
    assert CELL_MESSAGES["missing_module"][1] in result.output
