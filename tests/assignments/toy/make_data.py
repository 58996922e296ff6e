"""Regenerate the toy assignment's static data from scikit-learn's bundled iris (offline).

Run once by hand (`python tests/assignments/toy/make_data.py`); the CSVs are committed. A fixed
seed gives a stratified 90/30/30 split: public train and validation, hidden test inputs and labels.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.datasets import load_iris

HERE = Path(__file__).resolve().parent
FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


def main() -> None:
    iris = load_iris()
    frame = pd.DataFrame(iris.data, columns=FEATURES)
    frame["species"] = np.asarray(iris.target_names)[iris.target]
    rng = np.random.default_rng(7)
    parts: dict[str, list[int]] = {"train": [], "val": [], "test": []}
    for _, rows in frame.groupby("species"):
        order = rng.permutation(rows.index.to_numpy())
        parts["train"] += order[:30].tolist()
        parts["val"] += order[30:40].tolist()
        parts["test"] += order[40:].tolist()
    public, hidden = HERE / "data" / "public", HERE / "data" / "hidden"
    public.mkdir(parents=True, exist_ok=True)
    hidden.mkdir(parents=True, exist_ok=True)

    def write(df: pd.DataFrame, path: Path) -> None:
        path.write_bytes(df.to_csv(index=False, lineterminator="\n").encode())

    write(frame.loc[sorted(parts["train"])], public / "train.csv")
    write(frame.loc[sorted(parts["val"])], public / "val.csv")
    test = frame.loc[sorted(parts["test"])]
    write(test[FEATURES], hidden / "test_X.csv")
    write(test[["species"]], hidden / "test_y.csv")


if __name__ == "__main__":
    main()
