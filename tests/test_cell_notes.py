"""Cell names, trimmed tracebacks and diagnoses, on the text IPython really produces (fast: no kernel)."""

from __future__ import annotations

import pytest

from grader.cell_names import cell_label, first_line, source_sha256
from grader.engine.diagnose import Diagnostician, install_lines
from grader.engine.tracebacks import path_names, trim

ENV = "/cache/envs/py3.11-abc"
BASE = "/opt/pythons/3.11.7"
TRACEBACK = f"""---------------------------------------------------------------------------
FileNotFoundError                         Traceback (most recent call last)
Cell In[7], line 2
      1 import pandas as pd
----> 2 pd.read_csv('weather.csv')

File {ENV}/lib/python3.11/site-packages/pandas/io/parsers/readers.py:1026, in read_csv(filepath_or_buffer)
-> 1026 return _read(filepath_or_buffer, kwds)

File {ENV}/lib/python3.11/site-packages/pandas/io/common.py:873, in get_handle(path_or_buf)
--> 873 handle = open(handle)

File /home/student/helpers.py:3, in load(name)
----> 3 return open(name)

File {BASE}/lib/python3.11/codecs.py:3, in decode(x)
----> 3 raise

FileNotFoundError: [Errno 2] No such file or directory: '{ENV}/data/weather.csv'"""


def test_library_frames_fold_own_frames_stay_and_host_paths_go() -> None:
    names = path_names(env_prefixes=[ENV], base_prefixes=[BASE], python_version="3.11")
    text = trim(TRACEBACK, names, {7: "code cell 3 [12]"})
    assert "code cell 3 [12], line 2" in text and "Cell In[" not in text
    assert "----> 2 pd.read_csv('weather.csv')" in text
    assert "[... 2 frames in library code (pandas) not shown ...]" in text
    assert "File /home/student/helpers.py:3, in load(name)" in text  # the student's own module
    assert "[... 1 frame in library code (codecs) not shown ...]" in text
    assert ENV not in text and BASE not in text
    assert text.endswith("No such file or directory: '<environment>/data/weather.csv'")


def test_cells_are_named_as_the_student_sees_them() -> None:
    cell = {"index": 9, "code_cell": 4, "execution_count": 12, "first_line": "import seaborn as sns"}
    assert cell_label(cell) == "code cell 4 [12]: import seaborn as sns"
    assert cell_label({"index": 9, "code_cell": 4, "first_line": "x = 1"}) == "code cell 4: x = 1"
    assert cell_label({"index": 9}) == "cell 10"  # a record from before cells were named
    assert first_line("\n\n   # load\nx = 1") == "# load"
    assert len(first_line("y = " + "1" * 200)) == 80
    assert source_sha256("x = 1  \n") == source_sha256("x = 1")


@pytest.mark.parametrize(
    ("source", "found"),
    [
        ("!pip install seaborn", ["seaborn"]),
        ("%pip install -q torch torchvision", ["-q torch torchvision"]),
        ("x = 1\n!python -m pip install --user keras==3\n", ["--user keras==3"]),
        ("!conda install -y cv2", ["-y cv2"]),
        ("!pip list\nprint('pip install x')", []),
    ],
)
def test_install_lines(source: str, found: list[str]) -> None:
    assert install_lines(source) == found


def _doctor() -> Diagnostician:
    return Diagnostician(
        environment="hw2's grading environment",
        inventory=lambda: (
            frozenset({"torch", "sklearn", "PIL", "matplotlib", "seaborn"}),
            {"seaborn": "0.13.2"},
        ),
    )


def _error(ename: str, evalue: str, traceback: str = "") -> dict:
    return {"status": "error", "error": {"ename": ename, "evalue": evalue, "traceback": traceback}}


def test_diagnoses() -> None:
    doctor = _doctor()
    keras = doctor.diagnose(_error("ModuleNotFoundError", "No module named 'keras'"), "import keras")
    assert keras is not None and keras["module"] == "keras" and "`torch`" in keras["message"]
    typo = doctor.diagnose(_error("ModuleNotFoundError", "No module named 'sklean'"), "import sklean")
    assert typo is not None and "Close alternatives that are installed: `sklearn`" in typo["message"]
    sub = doctor.diagnose(_error("ModuleNotFoundError", "No module named 'sklearn.externals'"), "")
    assert sub is not None and "`sklearn` is installed" in sub["message"]
    colab = doctor.diagnose(
        _error("ModuleNotFoundError", "No module named 'google'"), "from google.colab import drive"
    )
    assert colab is not None and colab["cause"] == "colab"
    for error in (
        _error("URLError", "<urlopen error [Errno -3] Temporary failure in name resolution>"),
        _error("RuntimeError", "Error downloading train-images-idx3-ubyte.gz"),
        _error("ConnectionError", "HTTPSConnectionPool: Max retries exceeded with url: /x"),
        _error("OSError", "x", "socket.gaierror: [Errno -3] Temporary failure in name resolution"),
    ):
        diagnosis = doctor.diagnose(error, "")
        assert diagnosis is not None and diagnosis["cause"] == "no_network", error
    assert doctor.diagnose(_error("ValueError", "shapes (3,) and (4,) not aligned"), "") is None
    assert doctor.diagnose({"status": "ok"}, "x = 1") is None
    pip = doctor.diagnose({"status": "ok"}, "!pip install seaborn keras")
    assert pip is not None and pip["message"].endswith(
        "Already installed: seaborn. Not in hw2's grading environment: keras."
    )
