"""Write the feedback corpus: small notebooks that each reproduce one failure a student hits.

Each notebook is saved the way Jupyter saves a run notebook (execution counts, no outputs), so the
feedback can name cells as the student saw them. ``tests/test_feedback_corpus.py`` grades them
against hw2 (in hw2's kernel environment) and the toy assignment (in the grader's own
interpreter) and asserts the messages word by word. Run ``python tests/feedback_corpus/build.py``
after editing; the test checks the committed files match.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent
SETUP = "import os\nfrom pathlib import Path\nDATA_DIR = Path(os.environ.get('ASSIGNMENT_DATA', 'data'))"


def code(source: str, count: int | None) -> nbformat.NotebookNode:
    cell = new_code_cell(source)
    cell.execution_count = count
    return cell


# name -> (graded against, cells). hw2 notebooks keep one answer variable and the part headings
# (so they are "on the template") unless the case is the opposite.
CORPUS: dict[str, tuple[str, list[nbformat.NotebookNode]]] = {
    "missing_module": (
        "hw2",
        [
            new_markdown_cell("## Part 1: Temperature regression with trees"),
            code(SETUP, 1),
            code("import keras\nmodel = keras.Sequential()", 3),
            code("depths = [1, 2, 4, 8, 16]", 4),
        ],
    ),
    "url_fetch": (
        "hw2",
        [
            new_markdown_cell("## Part 3: Palmer penguins"),
            code(SETUP, 1),
            code(
                "import pandas as pd\n"
                "penguins = pd.read_csv('https://raw.githubusercontent.com/allisonhorst/palmerpenguins/main/inst/extdata/penguins.csv')",
                2,
            ),
            code("scatter_features = ['bill_length_mm', 'bill_depth_mm']", 3),
        ],
    ),
    "pip_install": (
        "hw2",
        [
            new_markdown_cell("## Part 2: MNIST with a PyTorch MLP"),
            code("!pip install keras seaborn", 1),
            code("sgd_val_error = 0.37", 2),
        ],
    ),
    "colab": (
        "hw2",
        [
            new_markdown_cell("## Part 1: Temperature regression with trees"),
            code("from google.colab import drive\ndrive.mount('/content/drive')", 1),
            code("depths = [1, 2, 4, 8, 16]", 2),
        ],
    ),
    "not_on_template": (
        "hw2",
        [
            new_markdown_cell("# My own penguin analysis"),
            code("import numpy as np\nweights = np.array([3750.0, 3800.0, 3250.0])", 1),
            code("print(weights.mean())", 2),
        ],
    ),
    "figures_outside_parts": (
        "hw2",
        [
            code(
                "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\nplt.show()\nplt.plot([3, 2, 1])\nplt.show()",
                1,
            ),
            new_markdown_cell("## Part 1: Temperature regression with trees"),
            code("depths = [1, 2, 4, 8, 16]", 2),
        ],
    ),
    "timeout": (
        "hw2",
        [
            new_markdown_cell("## Part 2: MNIST with a PyTorch MLP"),
            code("sgd_val_error = 0.37", 1),
            code("while True:\n    pass", 2),
        ],
    ),
    "library_traceback": (
        "hw2",
        [
            new_markdown_cell("## Part 1: Temperature regression with trees"),
            code("import pandas as pd\nweather = pd.read_csv('seattle-weather.csv')", 5),
            code("depths = [1, 2, 4, 8, 16]", 6),
        ],
    ),
    "grader_venv_traceback": (
        "toy",
        [
            code("import pandas as pd\nframe = pd.read_csv('points.csv')", 2),
        ],
    ),
}


def notebooks() -> dict[str, str]:
    """File name -> notebook text for every case."""
    out = {}
    for name, (_, cells) in CORPUS.items():
        nb = new_notebook(cells=cells)
        for index, cell in enumerate(nb.cells):
            cell["id"] = f"{name}-{index}"
        nb.metadata = {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}}
        nbformat.validate(nb)
        out[f"{name}.ipynb"] = nbformat.writes(nb) + "\n"
    return out


def main() -> int:
    for file_name, text in notebooks().items():
        assignment = CORPUS[file_name.removesuffix(".ipynb")][0]
        path = HERE / assignment / file_name
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path.relative_to(HERE.parents[1])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
