"""Every registered generator, three ways (registry, class, after save/load), on the same checks.

A generator registered without a case here fails ``test_every_generator_has_a_case``,
so no family can skip the contract.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import sosie
from sosie.generators import get_generator, list_generators, make_generator
from sosie.schema import SemanticType


def kitchen_sink(adult: pd.DataFrame) -> pd.DataFrame:
    """Real Adult rows plus columns of every semantic type, derived deterministically."""
    df = adult.sample(1500, random_state=0).reset_index(drop=True)
    n = len(df)
    rng = np.random.default_rng(0)
    base = pd.Timestamp("2020-01-01", tz="Europe/Paris")
    df["signup"] = base + pd.to_timedelta(df["age"] * 3 + rng.integers(0, 24, n), unit="h")
    df["birth_date"] = (
        pd.Timestamp("2024-01-01") - pd.to_timedelta(df["age"] * 365, unit="D")
    ).dt.strftime("%d/%m/%Y")
    df["customer_id"] = [f"C-{i:06d}" for i in rng.permutation(n)]
    df["email"] = [f"user{i}@example.org" for i in range(n)]
    df["source"] = "census"
    df["is_rich"] = df["income"] == ">50K"
    df["score"] = np.round(df["education_num"] * 1.5 + rng.normal(0, 1, n), 2)
    df.loc[df["workclass"].isna(), "score"] = np.nan  # nulls that depend on another column
    # columns for the declared constraints (SINK_CONSTRAINTS)
    df["hours_per_year"] = df["hours_per_week"] * 52
    df["hours_max"] = df["hours_per_week"] + rng.integers(0, 10, n)
    df["pledge"] = 5 + 20 * rng.integers(0, 40, n)
    return df


def sink_constraints(sink: pd.DataFrame) -> list:
    """Declared constraints of every kind on the kitchen sink; every generator must keep them.

    The learned kinds list their tables (public knowledge: the census's education coding,
    the relationship/sex pairs), so the differentially private families can use them too.
    """
    from sosie.constraints import (
        Check,
        Combinations,
        Determines,
        Formula,
        Grid,
        Inequality,
        NullIff,
    )

    edu = sink[["education", "education_num"]].drop_duplicates().sort_values("education_num")
    pairs = sink[["relationship", "sex"]].drop_duplicates().sort_values(["relationship", "sex"])
    return [
        Formula("hours_per_year", "hours_per_week * 52"),
        Determines(["education"], "education_num", mapping=edu.values.tolist()),
        Combinations(["relationship", "sex"], allowed=pairs.values.tolist()),
        Inequality("hours_per_week", "hours_max"),
        Grid("pledge", 20, offset=5),
        NullIff("score", "isnull(workclass)"),
        Check("age - education_num >= 8", name="schooling ends before age"),
    ]


def sink_schema(sink: pd.DataFrame):
    """The kitchen sink's inferred schema with the declared constraints."""
    from sosie.schema import infer_schema

    schema = infer_schema(sink)
    schema.constraints = sink_constraints(sink)
    return schema


def _fit_declared(gen: sosie.Generator, data: pd.DataFrame) -> sosie.Generator:
    return gen.fit(data, schema=sink_schema(data))


@dataclass
class Case:
    params: dict[str, Any]
    fit: Callable[[sosie.Generator, pd.DataFrame], sosie.Generator] = _fit_declared
    data: bool = True
    conditions: list[dict[str, Any]] = field(default_factory=list)
    #: an optional package the family needs (its cases skip when it is not installed)
    requires: str | None = None


def public_sink_schema():
    """The kitchen sink's schema from public knowledge only, for the DP generators."""
    from sosie.datasets import adult_public_schema
    from sosie.privacy import declare_public
    from sosie.schema import ColumnSpec, TableSchema

    extra = TableSchema(
        [
            ColumnSpec(
                "signup",
                "datetime",
                timezone="Europe/Paris",
                resolution="h",
                min="2020-01-01T00:00:00",
                max="2020-02-01T00:00:00",
            ),
            ColumnSpec(
                "birth_date",
                "datetime",
                datetime_format="%d/%m/%Y",
                resolution="D",
                min="1930-01-01",
                max="2010-12-31",
            ),
            ColumnSpec("email", "pii", pii_kind="email"),
            ColumnSpec("source", "constant", value="census"),
            ColumnSpec("is_rich", "boolean"),
            ColumnSpec(
                "score", "numerical", dtype="float", min=-5.0, max=30.0, decimals=2, nullable=True
            ),
            ColumnSpec("hours_per_year", "numerical", dtype="int", min=52, max=99 * 52),
            ColumnSpec("hours_max", "numerical", dtype="int", min=1, max=108),
            ColumnSpec("pledge", "numerical", dtype="int", min=5, max=785),
        ]
    )
    return TableSchema([*adult_public_schema().columns, *declare_public(extra).columns])


def _fit_dp(gen: sosie.Generator, data: pd.DataFrame) -> sosie.Generator:
    # A DP generator draws ids without looking at the real ones (their range would leak), so
    # "no real id is copied" cannot be promised for them: the id column is left out here and
    # covered by the family's unit tests.
    schema = public_sink_schema()
    schema.constraints = sink_constraints(data)
    return gen.fit(data.drop(columns=["customer_id"]), schema=schema)


_DP_CONDITIONS = [{"income": ">50K"}, {"sex": "Female", "age": 41}, {"workclass": None}]


CASES: dict[str, Case] = {
    # "auto" picks a family for the table and budget (here arf) and then *is* that family
    "auto": Case(
        params={"time_budget": 60},
        conditions=[{"income": ">50K"}, {"sex": "Female", "age": 41}, {"workclass": None}],
    ),
    "arf": Case(
        params={"n_estimators": 20, "max_iters": 3},
        conditions=[{"income": ">50K"}, {"sex": "Female", "age": 41}, {"workclass": None}],
    ),
    # no time_budget here: a clock-capped fit is not reproducible under varying load
    "ctgan": Case(
        params={"max_epochs": 30, "check_every": 5, "patience": 3},
        conditions=[{"income": ">50K"}, {"sex": "Female", "age": 41}, {"workclass": None}],
    ),
    "tabddpm": Case(
        params={"max_epochs": 30, "width": 128, "depth": 2, "sample_steps": 20},
        conditions=[{"income": ">50K"}, {"sex": "Female", "age": 41}, {"workclass": None}],
    ),
    "gaussian_copula": Case(
        params={},
        conditions=[{"income": ">50K"}, {"sex": "Female", "age": 41}, {"workclass": None}],
    ),
    # differentially private: a large epsilon so that the contract's statistical checks hold
    "mst": Case(
        params={"epsilon": 1000.0, "delta": 1e-6, "n_bins": 16, "iters": 2000},
        fit=_fit_dp,
        conditions=_DP_CONDITIONS,
        requires="mbi",
    ),
    "dp_tabddpm": Case(
        params={
            "epsilon": 1e6,
            "delta": 1e-6,
            "max_epochs": 30,
            "batch_size": 256,
            "width": 128,
            "sample_steps": 20,
            # one full-suite run saw float-level differences (fnlwgt +-1) between two fits with
            # the same seed; not reproduced in isolation. One thread rules out the reduction
            # order of multi-threaded kernels as a source.
            "n_threads": 1,
        },
        fit=_fit_dp,
        conditions=_DP_CONDITIONS,
        requires="opacus",
    ),
    "dp_ctgan": Case(
        params={
            "epsilon": 1e6,
            "delta": 1e-6,
            "max_epochs": 10,
            "batch_size": 500,
            "embedding_dim": 32,
            "generator_dim": 64,
            "discriminator_dim": 64,
        },
        fit=_fit_dp,
        conditions=_DP_CONDITIONS,
        requires="opacus",
    ),
    "aim": Case(
        params={
            "epsilon": 1000.0,
            "delta": 1e-6,
            "n_bins": 16,
            "iters": 1000,
            "max_rounds": 8,
            # the marginals that matter here (a model file stores parameters as JSON lists)
            "workload": [["workclass", "occupation", "score"], ["income", "is_rich"]],
        },
        fit=_fit_dp,
        conditions=_DP_CONDITIONS,
        requires="mbi",
    ),
}


RULES_NULL_RATE = 0.05


def _rules_case() -> Case:
    import yaml

    path = Path(sosie.__file__).parent / "examples" / "card_transactions.yaml"
    spec = yaml.safe_load(path.read_text())
    spec["columns"]["distance_from_home_km"]["null_rate"] = RULES_NULL_RATE
    # declared constraints in the spec, in the same vocabulary as a schema's
    categories = spec["columns"]["merchant_category"]["categories"]
    channels = ["chip", "contactless", "swipe", "online"]
    allowed = [["online_retail", "online"], ["atm", "chip"]] + [
        [c, ch] for c in categories if c not in ("online_retail", "atm") for ch in channels
    ]
    spec["constraints"] = [
        {"kind": "combinations", "columns": ["merchant_category", "channel"], "allowed": allowed},
        {"kind": "grid", "column": "amount", "step": 0.01},
        {"kind": "check", "expression": "amount <= 20000"},
    ]
    return Case(
        params={"spec": spec},
        fit=lambda g, d: g.fit(),
        data=False,
        conditions=[{"merchant_category": "grocery"}],
    )


if "rules" in list_generators():
    CASES["rules"] = _rules_case()

MODES = ("registry", "class", "loaded")


def _require(case: Case) -> None:
    if case.requires is not None:
        pytest.importorskip(case.requires, reason=f"needs the optional package {case.requires!r}")


def test_every_generator_has_a_case():
    generators = list_generators()
    missing = sorted(
        n
        for n, cls in generators.items()
        if n not in CASES
        and not cls.experimental
        # sequence generators have their own contract: tests/unit/generators/test_sequence.py
        and getattr(cls, "modality", "table") == "table"
    )
    assert not missing, f"generators without a conformance case: {missing}"


@pytest.fixture(scope="module")
def sink(adult_train) -> pd.DataFrame:
    return kitchen_sink(adult_train)


_fitted: dict[tuple[str, str], sosie.Generator] = {}
_fit_rng_changes: dict[tuple[str, str], list[str]] = {}
_pristine: dict[tuple[str, str], sosie.Generator] = {}


def _make(
    name: str, mode: str, data: pd.DataFrame, tmp_dir: Path, rng_tools: tuple
) -> sosie.Generator:
    key = (name, mode)
    if key in _fitted:
        return _fitted[key]
    case = CASES[name]
    _require(case)
    if mode == "loaded":
        # the registry fit, untouched, through save and load: a third fit with the same seed
        # would give the same model and cost as much as the other two
        _make(name, "registry", data, tmp_dir, rng_tools)
        path = tmp_dir / f"{name}.sosie"
        copy.deepcopy(_pristine[(name, "registry")]).save(path)
        _fitted[key] = sosie.load(path)
        return _fitted[key]
    params = {**case.params, "rng": 11}
    if mode == "class":  # fitted second: the first fit's imports cannot count against it
        _make(name, "registry", data, tmp_dir, rng_tools)
    if mode == "class":
        gen = get_generator(name)(**params)
    else:
        gen = make_generator(name, **params)
    state, changes = rng_tools
    before = state()
    gen = case.fit(gen, data)
    # test_global_random_state_untouched reads this: the fit is guarded where it happens
    _fit_rng_changes[key] = changes(before, state())
    # an untouched copy, its default stream not yet drawn from: registry and class fits use
    # the same seed, so test_default_stream_is_reproducible compares the two without refitting
    _pristine[key] = copy.deepcopy(gen)
    _fitted[key] = gen
    return gen


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(
    params=[(n, m) for n in sorted(CASES) for m in MODES], ids=lambda p: f"{p[0]}-{p[1]}"
)
def fitted(request, sink, model_dir, global_rng_tools):
    name, mode = request.param
    return name, mode, _make(name, mode, sink, model_dir, global_rng_tools)


def test_types_formats_categories_bounds(fitted, sink):
    name, _, gen = fitted
    out = gen.sample(800, rng=1)
    schema = gen.schema_
    assert list(out.columns) == schema.names
    assert len(out) == 800
    for spec in schema:
        col = out[spec.name]
        nn = col.dropna()
        if CASES[name].data:
            assert str(col.dtype) == str(sink[spec.name].dtype) or col.isna().any(), spec.name
        if spec.type is SemanticType.CATEGORICAL and spec.categories is not None:
            assert set(nn.unique()) <= set(spec.categories), spec.name
        if spec.type is SemanticType.NUMERICAL and spec.min is not None:
            x = pd.to_numeric(nn)
            assert x.min() >= spec.min and x.max() <= spec.max, spec.name
            if spec.dtype == "int":
                assert (x % 1 == 0).all(), spec.name
            if spec.decimals is not None:
                assert np.allclose(x, np.round(x, spec.decimals)), spec.name
        if spec.type is SemanticType.DATETIME and spec.datetime_format:
            parsed = pd.to_datetime(
                nn.astype(str), format=spec.datetime_format.replace("%:z", "%z")
            )
            assert parsed.notna().all(), spec.name
        if spec.type is SemanticType.ID:
            assert nn.is_unique, spec.name
            if CASES[name].data:
                assert not nn.isin(sink[spec.name]).any(), f"{spec.name}: real ids copied"
        if spec.type is SemanticType.PII and CASES[name].data:
            assert not nn.isin(sink[spec.name]).any(), f"{spec.name}: real PII copied"
        if spec.type is SemanticType.CONSTANT:
            assert (nn.astype(str) == str(spec.value)).all(), spec.name


def test_nulls_modelled(fitted, sink):
    name, _, gen = fitted
    out = gen.sample(3000, rng=2)
    if not CASES[name].data:  # rule-based: nulls come from the spec's null_rate
        assert abs(out["distance_from_home_km"].isna().mean() - RULES_NULL_RATE) < 0.015
        assert gen.schema_["distance_from_home_km"].nullable
        assert out.drop(columns="distance_from_home_km").notna().all().all()
        return
    for spec in gen.schema_:
        real = sink[spec.name].isna().mean()
        syn = out[spec.name].isna().mean()
        if real == 0:
            assert syn == 0, spec.name
        else:
            assert abs(real - syn) < 0.04, (spec.name, real, syn)
    # missingness that depends on another column survives
    assert out.loc[out["workclass"].isna(), "score"].isna().mean() > 0.8


def test_same_rng_same_output(fitted, sink, model_dir, global_rng_tools):
    name, mode, gen = fitted
    a = gen.sample(200, rng=5)
    b = gen.sample(200, rng=5)
    pd.testing.assert_frame_equal(a, b)
    c = gen.sample(200, rng=6)
    assert not a.equals(c)
    if mode == "registry":  # the same seed at fit gives the same model (the class-mode fit)
        other = _make(name, "class", sink, model_dir, global_rng_tools)
        pd.testing.assert_frame_equal(other.sample(200, rng=5), a)


@pytest.mark.parametrize("name", sorted(CASES))
def test_default_stream_is_reproducible(name, sink, model_dir, global_rng_tools):
    _require(CASES[name])
    # two separate fits with the same seed (registry and class), before any default-stream draw
    _make(name, "registry", sink, model_dir, global_rng_tools)
    _make(name, "class", sink, model_dir, global_rng_tools)
    fresh = copy.deepcopy(_pristine[(name, "registry")])
    again = copy.deepcopy(_pristine[(name, "class")])
    first, second = fresh.sample(100), fresh.sample(100)
    assert not first.equals(second)  # repeated calls differ...
    pd.testing.assert_frame_equal(again.sample(100), first)  # ...as a reproducible sequence
    pd.testing.assert_frame_equal(again.sample(100), second)


def test_save_load_identical(fitted, tmp_path):
    _name, _mode, gen = fitted
    path = tmp_path / "m.sosie"
    gen.save(path)
    loaded = sosie.load(path)
    family = getattr(gen, "chosen_", gen)  # "auto" saves the family it chose
    assert type(loaded) is type(family)
    pd.testing.assert_frame_equal(loaded.sample(300, rng=9), gen.sample(300, rng=9))
    # the default stream continues where the saved model was
    pd.testing.assert_frame_equal(loaded.sample(50), gen.sample(50))
    assert loaded.get_params() == family.get_params()


def test_global_random_state_untouched(fitted, global_rng_guard):
    name, mode, gen = fitted
    case = CASES[name]
    # fitting: guarded where the fixture fitted the class-mode model, a family's second fit
    # (the first one imports scikit-learn, joblib... whose import-time draws are not ours)
    if mode == "class":
        assert not _fit_rng_changes[(name, mode)], _fit_rng_changes[(name, mode)]
    gen.sample(100, conditions=case.conditions[0] if case.conditions else None)


def test_declared_constraints_kept(fitted, sink):
    """Every generator keeps every declared constraint on 100 % of its rows."""
    from sosie.constraints import constraint_validity

    name, _mode, gen = fitted
    out = gen.sample(500, rng=3)
    assert len(out) == 500
    declared = gen.schema_.constraints
    assert declared and all(c.provenance == "user" for c in declared)
    rows = constraint_validity(sink if CASES[name].data else out, out, declared)
    broken = {r["constraint"]: r["synthetic"] for r in rows if r["synthetic"] < 1.0}
    assert not broken, broken
    # conditions are honoured together with the constraints
    cond = CASES[name].conditions[0]
    out = gen.sample(100, conditions=cond, rng=4)
    rows = constraint_validity(sink if CASES[name].data else out, out, declared)
    assert all(r["synthetic"] == 1.0 for r in rows), rows


def test_conditions_honoured(fitted):
    name, _mode, gen = fitted
    for cond in CASES[name].conditions:
        out = gen.sample(300, conditions=cond, rng=4)
        for col, value in cond.items():
            if value is None:
                assert out[col].isna().all(), col
            else:
                assert (out[col] == value).all(), (col, out[col].unique()[:5])
