"""Data for the wine assignment: scikit-learn's bundled wine recognition data (178 wines, 13
chemical measurements, 3 cultivars), split once with a fixed seed.

public/train.csv and public/val.csv hold the measurements and the `cultivar` label; hidden/ holds
the test measurements and, apart, their labels. Needs nothing but scikit-learn and pandas, and
nothing from the grader: `grader data` lists the files and writes the manifest.
"""

from importlib.metadata import version
from pathlib import Path

import numpy as np
from sklearn.datasets import load_wine

SPLIT_SEED = 2026
FRACTIONS = (0.6, 0.2)  # train, validation; the rest is the hidden test set


def _write(frame, path):
    path.write_bytes(frame.to_csv(index=False, lineterminator="\n").encode())


def build(out_dir, source=None):
    if source is not None:
        raise ValueError("the wine assignment uses only scikit-learn's bundled data; --source does not apply")
    wine = load_wine(as_frame=True)
    frame = wine.frame.rename(columns={"target": "cultivar"})
    frame.columns = [c.replace("/", "_per_") for c in frame.columns]
    frame["cultivar"] = [f"cultivar_{int(v)}" for v in frame["cultivar"]]
    rng = np.random.default_rng(SPLIT_SEED)
    parts = {"train": [], "val": [], "test": []}
    for _, rows in frame.groupby("cultivar"):
        order = rng.permutation(rows.index.to_numpy())
        n_train, n_val = int(len(order) * FRACTIONS[0]), int(len(order) * FRACTIONS[1])
        parts["train"] += order[:n_train].tolist()
        parts["val"] += order[n_train : n_train + n_val].tolist()
        parts["test"] += order[n_train + n_val :].tolist()
    out = Path(out_dir)
    (out / "public").mkdir(parents=True, exist_ok=True)
    (out / "hidden").mkdir(parents=True, exist_ok=True)
    _write(frame.loc[sorted(parts["train"])], out / "public" / "train.csv")
    _write(frame.loc[sorted(parts["val"])], out / "public" / "val.csv")
    test = frame.loc[sorted(parts["test"])]
    _write(test.drop(columns=["cultivar"]), out / "hidden" / "test_X.csv")
    _write(test[["cultivar"]], out / "hidden" / "test_y.csv")
    return {"source": {"wine": f"scikit-learn {version('scikit-learn')}: sklearn.datasets.load_wine()"}}
