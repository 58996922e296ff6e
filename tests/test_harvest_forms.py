"""Honest values in the forms the ML stack produces are harvested (issue 11): numpy scalars of every
kind, numpy arrays of numbers, booleans and strings, pandas Series / Index / one-column DataFrames,
tuples and 0-d tensors; what is refused says what was found and what to write instead. The kernel
side runs in-process here; the end-to-end test grades a notebook through the real sandboxed kernel."""

from __future__ import annotations

import runpy
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from grader.engine import harvest_plan

KERNEL = runpy.run_path(str(harvest_plan.KERNEL_SOURCE_PATH))


def convert(value):
    return KERNEL["plain"](value, KERNEL["_Budget"](100_000))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (np.array(["dt", "rf", "gb"])[1], "rf"),  # np.str_: what indexing an array of names gives
        (np.bool_(True), True),
        (np.float16(0.5), 0.5),
        (np.uint8(3), 3),
        (np.array([True, False]), [True, False]),
        (np.array(["a", "b"]), ["a", "b"]),
        (np.array(["a", 1.5], dtype=object), ["a", 1.5]),
        (pd.Series([3.5, 2.25], name="val_rmse"), [3.5, 2.25]),
        (pd.DataFrame({"val_rmse": [1.0, 2.0]}), [1.0, 2.0]),
        (pd.Index(["bill_length_mm", "flipper_length_mm"]), ["bill_length_mm", "flipper_length_mm"]),
        (pd.RangeIndex(3), [0, 1, 2]),
        (pd.Series(["Adelie", "Gentoo"], dtype="string").astype(object), ["Adelie", "Gentoo"]),
        ((np.float64(1.5), np.int64(2)), [1.5, 2]),
        (torch.tensor(0.25), 0.25),
        (torch.tensor(3), 3),
    ],
)
def test_honest_forms_are_harvested_as_plain_values(value, expected):
    converted = convert(value)
    assert converted == expected
    assert type(converted) is type(expected)  # exactly: np.str_ becomes str, np.bool_ bool


def test_a_results_dataframe_column_is_a_curve():
    results = pd.DataFrame({"depth": [1, 2, 4], "train": [3.1, 2.5, 1.2], "val": [3.3, 2.9, 3.0]})
    assert convert(results["val"]) == [3.3, 2.9, 3.0]
    assert convert(results.loc[results["val"].idxmin(), "depth"]) == 2  # a numpy int64


@pytest.mark.parametrize(
    ("value", "found", "instead"),
    [
        (pd.DataFrame({"a": [1], "b": [2]}), "DataFrame with 2 columns", "list(df['column'])"),
        ({0.1, 0.2}, "type set", "sorted(...)"),
        ((x for x in [1]), "type generator", "list(...)"),
        (pd.Series([1.0, float("nan")]), "non-finite", ""),
        (pd.MultiIndex.from_tuples([("a", 1)]), "type MultiIndex", "a list"),
    ],
)
def test_refusals_say_what_was_found_and_what_to_write(value, found, instead):
    with pytest.raises(KERNEL["Refused"]) as refused:
        convert(value)
    assert found in str(refused.value) and instead in str(refused.value)


class Names(list):
    """A list subclass: its methods are the student's, so it is not read."""


@pytest.mark.parametrize(
    "columns",
    [
        pd.Index(["bill_length_mm", "flipper_length_mm"]),
        np.array(["bill_length_mm", "flipper_length_mm"]),
        ("bill_length_mm", "flipper_length_mm"),
        pd.Series(["bill_length_mm", "flipper_length_mm"]),
    ],
)
def test_model_features_in_every_common_form(columns):
    features = KERNEL["_features"]({"feats": columns}, {"features_variable": "feats"})
    assert features == ["bill_length_mm", "flipper_length_mm"]


def test_model_features_refusal_names_the_variable_and_what_it_holds():
    with pytest.raises(KERNEL["Refused"], match="feats must hold the column names .*type Names"):
        KERNEL["_features"]({"feats": Names(["a"])}, {"features_variable": "feats"})
    with pytest.raises(KERNEL["Refused"], match="feats must be a non-empty list of column names"):
        KERNEL["_features"]({"feats": [1, 2]}, {"features_variable": "feats"})
    with pytest.raises(KERNEL["Refused"], match="feats is still None"):
        KERNEL["_features"]({"feats": None}, {"features_variable": "feats"})


def test_sklearn_model_predicts_with_features_given_as_an_index(tmp_path: Path):
    from sklearn.tree import DecisionTreeClassifier

    frame = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0], "y": [1.0, 0.0, 1.0, 0.0], "label": list("aabb")})
    model = DecisionTreeClassifier(random_state=0).fit(frame[["x", "y"]], frame["label"])
    path = tmp_path / "in.csv"
    frame.drop(columns=["label"]).to_csv(path, index=False)
    config = {
        "model": {"variable": "m", "adapter": "sklearn_predict", "features_variable": "cols"},
        "input": {"path": str(path), "format": "csv"},
        "max_items": 1000,
    }
    user_ns = {"m": model, "cols": frame.columns.drop("label")}
    assert KERNEL["run_model"](user_ns, config) == {"status": "ok", "value": ["a", "a", "b", "b"]}


def test_the_hidden_data_item_gives_the_real_reason_when_the_columns_are_unusable():
    from grader.engine.harvest_read import HIDDEN_MESSAGES, explain_withheld

    stage = harvest_plan.Stage(
        name="penguin_clf/penguins_test",
        config={"model": {"variable": "penguin_model", "features_variable": "penguin_model_features"}},
        out_file="x.json",
        model="penguin_clf",
        input="penguins_test",
        adapter="sklearn_predict",
        hidden=True,
    )
    result = {
        "answers": {
            "penguin_model_features": {
                "status": "refused",
                "message": "a value of type MultiIndex is not a plain value: give a number, a string, or a list of them",
            }
        },
        "predictions": {
            "penguin_clf": {"penguins_test": {"status": "refused", "message": HIDDEN_MESSAGES["refused"]}}
        },
    }
    explain_withheld(result, [stage])
    message = result["predictions"]["penguin_clf"]["penguins_test"]["message"]
    assert "penguin_model_features" in message and "MultiIndex" in message
    assert "output type and length" not in message
    # columns that are fine leave the withheld message as it was (the reason is then the model's own)
    result["answers"]["penguin_model_features"] = {"status": "ok", "value": ["bill_length_mm"]}
    result["predictions"]["penguin_clf"]["penguins_test"]["message"] = HIDDEN_MESSAGES["refused"]
    explain_withheld(result, [stage])
    assert result["predictions"]["penguin_clf"]["penguins_test"]["message"] == HIDDEN_MESSAGES["refused"]
