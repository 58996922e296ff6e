"""Harvest code that runs INSIDE the student's kernel, after the student's cells.

This file is sent as source text (``grader.engine.harvest_plan`` appends a call to ``main``); it must stay
self-contained: the grader package is not visible inside the sandbox. It reads the answer
variables the rubric names and runs the student's models on input files, and writes one JSON
document to the path it is given. Nothing here is trusted by the grader: the file is read back
outside with size limits and strict parsing. The checks here exist so that honest values come
out as plain JSON and dishonest objects (a float subclass that lies in comparisons, a repr that
never returns) are refused without running their code: every conversion checks the *exact* type
and never calls ``repr``/``str``/``__eq__`` on a student object.
"""

import json
import math
import sys

_MAX_DEPTH = 8
_NUMPY_NUMERIC_KINDS = "biuf"
_BATCH = 1024


class Refused(Exception):
    """A value that is not a plain JSON value (or is too large)."""


def _type_name(value):
    # The C-level name of the type: a metaclass cannot override what this returns.
    return type.__dict__["__name__"].__get__(type(value), type)


class _Budget:
    def __init__(self, max_items):
        self.left = max_items

    def take(self, n=1):
        self.left -= n
        if self.left < 0:
            raise Refused("too large")


def _finite(x):
    if not math.isfinite(x):
        raise Refused("contains a non-finite number (nan or inf)")
    return x


def _numpy_scalar_types(np):
    names = (
        "bool_ int8 int16 int32 int64 uint8 uint16 uint32 uint64 float16 float32 float64 longlong ulonglong"
    ).split()
    return {getattr(np, n) for n in names if hasattr(np, n)}


# What to write instead, for the containers students reach for (said in every refusal message).
_INSTEAD = {
    "set": "a set has no order; give a sorted list: sorted(...)",
    "frozenset": "a set has no order; give a sorted list: sorted(...)",
    "generator": "a generator is consumed once; give a list: list(...)",
    "map": "give a list: list(...)",
    "filter": "give a list: list(...)",
    "zip": "give a list: list(...)",
    "range": "give a list: list(range(...))",
    "dict_values": "give a list: list(d.values())",
    "dict_keys": "give a list: list(d.keys())",
    "DataFrame": "give one column as a list: list(df['column'])",
    "Series": "give a list: list(series) or series.tolist()",
    "function": "give the value it computes, not the function",
    "method": "give the value it computes, not the method",
}


def _refuse_type(value):
    name = _type_name(value)
    hint = _INSTEAD.get(name, "give a number, a string, or a list of them")
    return Refused(f"a value of type {name} is not a plain value: {hint}")


def _numpy_array(array, np, budget, depth):
    """A numpy array of numbers, booleans or strings as nested lists (object arrays element by element)."""
    kind = array.dtype.kind
    if array.dtype.names is not None:
        raise Refused("a structured numpy array is not a plain value: give a list of numbers")
    if kind == "O":
        budget.take(int(array.size))
        return (
            [plain(v, budget, depth + 1) for v in array.reshape(-1).tolist()]
            if array.ndim == 1
            else [_numpy_array(row, np, budget, depth + 1) for row in array]
        )
    if kind == "U":
        budget.take(int(array.size) + int(array.dtype.itemsize) * int(array.size) // 32)
        return array.tolist()
    if kind not in _NUMPY_NUMERIC_KINDS:
        raise Refused(
            f"a numpy array of dtype {array.dtype.str} is not a plain value: give numbers or strings"
        )
    budget.take(int(array.size))
    if kind == "f" and not bool(np.isfinite(array).all()):
        raise Refused("contains a non-finite number (nan or inf)")
    return array.tolist()


def _pandas(value, t, pd, np, budget, depth):
    """Series, Index and one-column DataFrames by their values; None when ``t`` is no pandas type."""
    index_types = tuple(
        getattr(pd, n) for n in ("Index", "RangeIndex") if isinstance(getattr(pd, n, None), type)
    )
    if t is pd.Series or t in index_types:
        return _numpy_array(value.to_numpy(), np, budget, depth)
    if t is pd.DataFrame:
        columns = int(value.shape[1])
        if columns != 1:
            raise Refused(
                f"a pandas DataFrame with {columns} columns is not one answer: give one column as a list: "
                "list(df['column'])"
            )
        return _numpy_array(value.iloc[:, 0].to_numpy(), np, budget, depth)
    return None


def plain(value, budget, depth=0):
    """Convert ``value`` to plain JSON data, or raise Refused with a reason.

    Honest values come in the forms the ML stack produces: numpy scalars (``str_`` and ``bool_``
    included) and arrays, pandas Series / Index / one-column DataFrames, tuples, 0-d tensors. Each
    is recognised by its exact type and read through the library's own accessors, never through
    methods a student class could override.
    """
    if depth > _MAX_DEPTH:
        raise Refused("nested too deeply")
    t = type(value)
    if value is None:
        return None
    if t is bool:
        return value
    if t is int:
        if value.bit_length() > 64:
            raise Refused("integer too large")
        return value
    if t is float:
        return _finite(value)
    if t is str:
        budget.take(1 + len(value) // 8)
        return value
    if t is list or t is tuple:
        budget.take(len(value))
        return [plain(v, budget, depth + 1) for v in value]
    if t is dict:
        budget.take(len(value))
        out = {}
        for k, v in value.items():
            if type(k) is not str:
                raise Refused("dict keys must be strings")
            out[k] = plain(v, budget, depth + 1)
        return out
    np = sys.modules.get("numpy")
    if np is not None:
        if t is np.ndarray:
            return _numpy_array(value, np, budget, depth)
        if t is np.str_:
            text = str.__str__(value)
            budget.take(1 + len(text) // 8)
            return text
        if t in _numpy_scalar_types(np):
            item = value.item()
            return _finite(item) if type(item) is float else item
        pd = sys.modules.get("pandas")
        if pd is not None:
            converted = _pandas(value, t, pd, np, budget, depth)
            if converted is not None:
                return converted
    torch = sys.modules.get("torch")
    if torch is not None and t is torch.Tensor:
        array = value.detach().cpu()
        if array.is_complex() or array.dtype == torch.bfloat16:
            array = array.float()
        converted = plain(array.numpy(), budget, depth)
        return converted
    raise _refuse_type(value)


def _message(exc):
    """Exception summary without trusting the exception object much."""
    try:
        text = str(exc)
    except BaseException:
        text = "<message could not be read>"
    if type(text) is not str:
        text = "<message is not text>"
    return f"{_type_name(exc)}: {text[:500]}"


class _Silence:
    """Swap stdout/stderr for a sink while student code runs (its prints are not wanted)."""

    class _Sink:
        def write(self, s):
            return len(s) if type(s) is str else 0

        def flush(self):
            pass

    def __enter__(self):
        self.saved = sys.stdout, sys.stderr
        sys.stdout = sys.stderr = self._Sink()

    def __exit__(self, *exc):
        sys.stdout, sys.stderr = self.saved
        return False


def harvest_answers(user_ns, config):
    budget_items = int(config["max_items"])
    max_bytes = int(config.get("max_bytes") or 2_000_000)
    answers = {}
    for name in config["names"]:
        if name not in user_ns:
            answers[name] = {"status": "missing", "message": "not defined"}
            continue
        value = user_ns[name]
        if value is None:
            answers[name] = {"status": "none", "message": "still None"}
            continue
        try:
            converted = plain(value, _Budget(budget_items))
            size = len(json.dumps(converted, allow_nan=False))
            if size > max_bytes:
                raise Refused(f"too large ({size} bytes as JSON; the limit is {max_bytes})")
            answers[name] = {"status": "ok", "value": converted}
        except Refused as exc:
            answers[name] = {"status": "refused", "message": str(exc)}
        except RecursionError:
            answers[name] = {"status": "refused", "message": "nested too deeply"}
        except Exception as exc:
            answers[name] = {"status": "refused", "message": "conversion raised " + _message(exc)}
    document = {"answers": answers}
    if "models" in config:  # which model variables exist: stages of absent models need not run
        document["models"] = {
            name: "missing" if name not in user_ns else "none" if user_ns[name] is None else "present"
            for name in config["models"]
        }
    return document


def _load_input(spec):
    import numpy as np

    path = spec["path"]
    if spec["format"] == "csv":
        import pandas as pd

        return pd.read_csv(path)
    if spec["format"] == "npz":
        with np.load(path, allow_pickle=False) as archive:
            return archive[spec.get("key") or "X"]
    return np.load(path, allow_pickle=False)


def _as_predictions(result, n, budget):
    import numpy as np

    array = np.asarray(result)
    if array.ndim != 1 or array.shape[0] != n:
        raise Refused(f"expected {n} predictions, got shape {tuple(array.shape)}")
    if array.dtype.kind == "O":
        items = []
        for v in array.tolist():
            if type(v) not in (str, int, float, bool) and _type_name(v) not in ("str_", "bool_"):
                raise Refused(f"prediction of type {_type_name(v)} is not a plain value")
            items.append(v.item() if hasattr(v, "item") and type(v) not in (str, int, float, bool) else v)
        array = np.asarray(items)
    if array.dtype.kind == "U":
        budget.take(int(array.size))
        return [str(v) for v in array.tolist()]
    return plain(np.ascontiguousarray(array), budget)


def _torch_classifier(model, data, spec, budget):
    import numpy as np
    import torch

    if not isinstance(model, torch.nn.Module):
        raise Refused(f"{spec['variable']} is a {_type_name(model)}, not a torch.nn.Module")
    x = np.asarray(data, dtype=np.float32)
    model.eval()
    labels = []
    device = None
    for p in model.parameters():
        device = p.device
        break
    with torch.no_grad():
        for start in range(0, x.shape[0], _BATCH):
            xb = torch.from_numpy(x[start : start + _BATCH])
            if device is not None:
                xb = xb.to(device)
            logits = model(xb)
            if type(logits) is not torch.Tensor or logits.ndim != 2 or logits.shape[0] != xb.shape[0]:
                raise Refused("the model must return a 2-D tensor of logits (N, classes)")
            labels.extend(int(v) for v in logits.argmax(dim=1).cpu().tolist())
    budget.take(len(labels))
    return labels


def _features(user_ns, spec):
    """The model's input columns: a list, tuple, numpy array, pandas Index or Series of names."""
    name = spec.get("features_variable")
    if not name:
        return None
    if name not in user_ns:
        raise Refused(f"{name} is not defined")
    cols = user_ns[name]
    if cols is None:
        raise Refused(f"{name} is still None")
    try:
        names = plain(cols, _Budget(100_000))
    except Refused as exc:
        raise Refused(f"{name} must hold the column names as a list of strings; it is {exc}") from None
    if type(names) is not list or not names or any(type(c) is not str for c in names):
        raise Refused(
            f"{name} must be a non-empty list of column names (strings); it holds a {_type_name(cols)}"
            + (" of non-strings" if type(names) is list and names else "")
        )
    return names


def _sklearn_predict(model, df, spec, budget, user_ns):
    cols = _features(user_ns, spec)
    if cols is None:  # no features_variable: every column but the input's label column
        label = spec.get("label_column")
        cols = [c for c in df.columns if c != label] if label and label in df.columns else None
    if cols is not None:
        missing = [c for c in cols if c not in df.columns]
        if missing:
            raise Refused(f"unknown columns {missing[:5]}")
        df = df[cols]
    return _as_predictions(model.predict(df), len(df), budget)


def _row_predicate(rule, df, spec, budget):
    import numpy as np

    if not callable(rule):
        raise Refused(f"{spec['variable']} is not callable")
    array = np.asarray(rule(df.copy()))
    if array.ndim != 1 or array.shape[0] != len(df):
        raise Refused(f"expected {len(df)} booleans, got shape {tuple(array.shape)}")
    if array.dtype.kind == "b":
        values = array.tolist()
    elif array.dtype.kind in "iu" and bool(np.isin(array, (0, 1)).all()):
        values = [bool(v) for v in array.tolist()]
    else:
        raise Refused(f"the rule must return booleans, got dtype {array.dtype.str}")
    budget.take(len(values))
    return values


def _sklearn_cv(model, df, spec, user_ns):
    import numpy as np
    from sklearn.base import clone
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    label_column = spec.get("label_column")
    if spec.get("labels_path"):
        import pandas as pd

        labels = pd.read_csv(spec["labels_path"]).iloc[:, 0]
    elif label_column and label_column in df.columns:
        labels = df[label_column]
    else:
        raise Refused("sklearn_cv needs labels (an input 'labels' file or a 'label_column')")
    cols = _features(user_ns, spec)
    x = df[cols] if cols is not None else df.drop(columns=[label_column] if label_column else [])
    cv = StratifiedKFold(n_splits=int(spec.get("folds", 5)), shuffle=True, random_state=0)
    scores = cross_val_score(clone(model), x, labels, cv=cv)
    return _finite(float(np.mean(scores)))


def run_model(user_ns, config):
    spec = config["model"]
    name = spec["variable"]
    if name not in user_ns:
        return {"status": "missing", "message": f"{name} is not defined"}
    model = user_ns[name]
    if model is None:
        return {"status": "none", "message": f"{name} is still None"}
    budget = _Budget(int(config["max_items"]))
    adapter = spec["adapter"]
    try:
        with _Silence():
            data = _load_input(config["input"])
            if adapter == "torch_classifier":
                value = _torch_classifier(model, data, spec, budget)
            elif adapter == "sklearn_predict":
                value = _sklearn_predict(model, data, spec, budget, user_ns)
            elif adapter == "row_predicate":
                value = _row_predicate(model, data, spec, budget)
            elif adapter == "sklearn_cv":
                value = _sklearn_cv(model, data, spec, user_ns)
            else:
                return {"status": "error", "message": f"unknown adapter {adapter}"}
    except Refused as exc:
        return {"status": "refused", "message": str(exc)}
    except RecursionError:
        return {"status": "error", "message": "RecursionError"}
    except Exception as exc:
        return {"status": "error", "message": _message(exc)}
    return {"status": "ok", "value": value}


def main(user_ns, config):
    """Run one harvest stage and write its JSON document to ``config['out']``."""
    if config["kind"] == "answers":
        document = harvest_answers(user_ns, config)
    else:
        document = {"prediction": run_model(user_ns, config)}
    text = json.dumps(document, allow_nan=False, separators=(",", ":"))
    with open(config["out"], "w", encoding="utf-8") as handle:
        handle.write(text)
