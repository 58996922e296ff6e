"""Say why a cell failed and what to do about it, in words a student can act on.

Every failed cell keeps its exception; the causes a student cannot see from a traceback alone
also get a ``diagnosis`` (a cause and a message) in the cell record, which every report and
export shows the same way and the class summary groups:

* ``missing_module``: the module is not in this assignment's grading environment; the close
  alternatives that are installed are named;
* ``colab``: ``google.colab`` exists only on Colab;
* ``no_network``: the cell reached for the internet, which the sandbox does not have (not a
  temporary failure: resubmitting will not help); the data is in ASSIGNMENT_DATA;
* ``missing_file``: a file that was beside the notebook on the student's machine; the data is in
  ASSIGNMENT_DATA;
* ``pip_install``: a ``!pip install`` / ``%pip install`` cell. pip fails without a network, but
  the cell itself "succeeds"; it is recorded as failed, with this reason.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from grader.records import CellDiagnosis
from grader.sandbox.base import SANDBOX_DATA

# Well-known substitutes: a module students reach for -> installed modules that do the job.
SUBSTITUTES: dict[str, tuple[str, ...]] = {
    "cv2": ("PIL", "skimage", "torchvision"),
    "keras": ("torch",),
    "tensorflow": ("torch",),
    "tf_keras": ("torch",),
    "jax": ("torch", "numpy"),
    "statsmodels": ("scipy", "sklearn"),
    "xgboost": ("sklearn",),
    "lightgbm": ("sklearn",),
    "catboost": ("sklearn",),
    "plotly": ("matplotlib", "seaborn"),
    "bokeh": ("matplotlib", "seaborn"),
    "altair": ("matplotlib", "seaborn"),
    "pydot": ("sklearn",),
    "graphviz": ("sklearn",),
    "imageio": ("PIL", "matplotlib"),
    "skimage": ("PIL", "scipy"),
    "torchvision": ("torch",),
    "seaborn": ("matplotlib",),
    "tqdm": (),
    "six": (),
}
NETWORK_NAMES = frozenset(
    {
        "URLError",
        "HTTPError",
        "gaierror",
        "ConnectionError",
        "NewConnectionError",
        "MaxRetryError",
        "NameResolutionError",
        "ConnectTimeout",
        "ConnectTimeoutError",
        "ReadTimeout",
    }
)
NETWORK_TEXT = (
    "temporary failure in name resolution",
    "name or service not known",
    "no address associated with hostname",
    "network is unreachable",
    "address family not supported by protocol",
    "getaddrinfo failed",
    "failed to establish a new connection",
    "max retries exceeded with url",
    "urlopen error",
    "failed to resolve",
    "error downloading",
)
_MISSING = re.compile(r"No module named '([^']+)'")
_NO_FILE = re.compile(r"No such file or directory: '([^']+)'")
_INSTALL = re.compile(
    r"^\s*(?:[!%]\s*(?:pip3?|conda|mamba|micromamba|uv\s+pip)|!\s*\S*python[\d.]*\s+-m\s+pip)\s+install\b(.*)$",
    re.MULTILINE,
)
MAX_FILES = 8


Inventory = Callable[[], tuple[frozenset[str], dict[str, str]]]


@dataclass
class Diagnostician:
    """What the messages need to know: the environment's importable modules and installed
    packages (asked for only when a message needs them: listing an environment takes a moment),
    its name, the public data files (names only)."""

    environment: str  # "<assignment>'s grading environment"
    inventory: Inventory = lambda: (frozenset(), {})
    data_files: tuple[str, ...] = ()
    _listed: tuple[frozenset[str], dict[str, str]] | None = field(default=None, repr=False)

    @property
    def modules(self) -> frozenset[str]:
        return self._inventory()[0]

    @property
    def packages(self) -> dict[str, str]:
        return self._inventory()[1]

    def _inventory(self) -> tuple[frozenset[str], dict[str, str]]:
        if self._listed is None:
            self._listed = self.inventory()
        return self._listed

    # -- pieces --------------------------------------------------------------------------------
    def _data(self) -> str:
        where = f'the folder named by the ASSIGNMENT_DATA environment variable (`os.environ["ASSIGNMENT_DATA"]`, {SANDBOX_DATA})'
        if not self.data_files:
            return where
        files = ", ".join(self.data_files[:MAX_FILES]) + (", …" if len(self.data_files) > MAX_FILES else "")
        return f"{where}, which holds {files}"

    def alternatives(self, module: str) -> list[str]:
        """Installed modules a student could use instead: known substitutes, then similar names."""
        found = [m for m in SUBSTITUTES.get(module, ()) if m in self.modules]
        lowered = {m.lower(): m for m in self.modules}
        for close in difflib.get_close_matches(module.lower(), list(lowered), n=3, cutoff=0.75):
            if lowered[close] not in found and lowered[close] != module:
                found.append(lowered[close])
        return found

    # -- causes ----------------------------------------------------------------------------------
    def missing_module(self, module: str) -> CellDiagnosis:
        top = module.split(".")[0]
        if top in self.modules and top != module:
            return {
                "cause": "missing_module",
                "module": module,
                "message": f"`{module}` cannot be imported: `{top}` is installed in {self.environment}, "
                f"but this version has no `{module[len(top) + 1 :]}`. Check the spelling, or use what "
                f"the installed version offers.",
            }
        options = self.alternatives(top)
        text = f"`{top}` is not installed in {self.environment}, so this import fails when your notebook is graded. "
        if options:
            text += "Close alternatives that are installed: " + ", ".join(f"`{m}`" for m in options) + ". "
        else:
            text += "Nothing similar is installed. "
        text += "The packages you can use are listed in the template's first cell."
        return {"cause": "missing_module", "module": top, "message": text}

    def colab(self) -> CellDiagnosis:
        return {
            "cause": "colab",
            "module": "google.colab",
            "message": "`google.colab` exists only on Google Colab. The grading sandbox is not Colab: it has no "
            "internet and no Google Drive. Remove the Colab-only lines (such as `drive.mount(...)`) and read "
            f"the assignment's files from {self._data()}.",
        }

    def no_network(self) -> CellDiagnosis:
        return {
            "cause": "no_network",
            "message": "This cell tried to reach the internet, but the grading sandbox has no network access. "
            "This is not a temporary failure: resubmitting will not help. Read the assignment's data from "
            f"{self._data()}, instead of downloading it.",
        }

    def missing_file(self, name: str) -> CellDiagnosis:
        base = name.rstrip("/").rsplit("/", 1)[-1]
        hint = (
            f' `{base}` is there: read it as `os.path.join(os.environ["ASSIGNMENT_DATA"], "{base}")`.'
            if base in self.data_files
            else ""
        )
        return {
            "cause": "missing_file",
            "module": name,
            "message": f"`{name}` does not exist where your notebook is graded: only the notebook itself is "
            f"there, not the files beside it on your machine. The assignment's data is in {self._data()}.{hint}",
        }

    def pip_install(self, lines: list[str]) -> CellDiagnosis:
        wanted = []
        for line in lines:
            wanted += [t for t in line.split() if not t.startswith("-") and not t.startswith("$")]
        names = [re.split(r"[<>=!~\[;]", w, maxsplit=1)[0] for w in wanted]
        known = {re.sub(r"[-_.]+", "-", p).lower() for p in self.packages}
        have = [n for n in names if re.sub(r"[-_.]+", "-", n).lower() in known]
        lack = [n for n in names if n not in have]
        text = (
            "This cell installs packages, but the grading sandbox has no internet, so nothing can be "
            "installed while your notebook is graded; the cell is counted as failed. Remove the install "
            "line: the packages you can use are already installed and listed in the template's first cell."
        )
        if have:
            text += " Already installed: " + ", ".join(have) + "."
        if lack:
            text += f" Not in {self.environment}: " + ", ".join(lack) + "."
        return {"cause": "pip_install", "message": text}

    # -- one cell ----------------------------------------------------------------------------------
    def diagnose(self, cell: Mapping[str, Any], source: str) -> CellDiagnosis | None:
        """The diagnosis of one cell record, or None when the exception says it all."""
        error = cell.get("error") if isinstance(cell.get("error"), dict) else None
        if cell.get("status") in ("ok", "output_truncated") and error is None:
            installs = install_lines(source)
            return self.pip_install(installs) if installs else None
        if error is None:
            return None
        ename, evalue = str(error.get("ename", "")), str(error.get("evalue", ""))
        missing = _MISSING.search(evalue) if ename in ("ModuleNotFoundError", "ImportError") else None
        if missing:
            module = missing.group(1)
            if module == "google" or module.startswith("google.colab"):
                return self.colab()
            return self.missing_module(module)
        missing_file = _NO_FILE.search(evalue) if ename == "FileNotFoundError" else None
        if missing_file:
            return self.missing_file(missing_file.group(1))
        text = f"{evalue}\n{error.get('traceback', '')}".lower()
        if ename in NETWORK_NAMES or any(marker in text for marker in NETWORK_TEXT):
            return self.no_network()
        return None


def install_lines(source: str) -> list[str]:
    """The package arguments of every ``!pip install`` / ``%pip install`` (conda, uv) line."""
    return [match.group(1).strip() for match in _INSTALL.finditer(source)]
