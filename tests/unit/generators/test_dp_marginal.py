"""The marginal-based DP generators (mst, aim) on real Adult rows with a public schema.

They learn at a large epsilon and are noisy at a tiny one, refuse facts learned from the data
and missing budgets, record what they spend, save and load exactly, are reproducible with a
seed, never touch global random state, and sample conditionally without rejection.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest

import sosie
from sosie.card import build_card, render_card_markdown
from sosie.datasets import adult_public_schema
from sosie.errors import InvalidDataError, MissingDependencyError, PrivacyError, SosieWarning
from sosie.generators import AIMGenerator, MSTGenerator, make_generator
from sosie.schema import ColumnSpec, TableSchema, infer_schema

pytest.importorskip("mbi")
pytest.importorskip("dp_accounting")

COLS = ["age", "workclass", "education", "sex", "hours_per_week", "income"]
SMALL = ["age", "workclass", "income"]  # quick fits that share one compiled structure


@pytest.fixture(scope="module")
def real(adult_train) -> pd.DataFrame:
    return adult_train[COLS].sample(2000, random_state=1).reset_index(drop=True)


@pytest.fixture(scope="module")
def schema() -> TableSchema:
    return adult_public_schema().select(COLS)


def _fit(gen, data, schema):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gen.fit(data, schema=schema)
    gen.test_warnings_ = [w for w in caught if issubclass(w.category, SosieWarning)]
    return gen


@pytest.fixture(scope="module")
def mst(real, schema):
    return _fit(MSTGenerator(epsilon=10.0, delta=1e-6, rng=0), real, schema)


@pytest.fixture(scope="module")
def aim(real, schema):
    return _fit(
        AIMGenerator(epsilon=10.0, delta=1e-6, max_rounds=6, iters=300, rng=0), real, schema
    )


@pytest.fixture(scope="module")
def small_mst(real, schema):
    return _fit(
        MSTGenerator(epsilon=3.0, delta=1e-6, iters=300, rng=7), real[SMALL], schema.select(SMALL)
    )


def _tvd(a: pd.Series, b: pd.Series) -> float:
    pa = a.value_counts(normalize=True, dropna=False)
    pb = b.value_counts(normalize=True, dropna=False)
    return 0.5 * float(pa.sub(pb, fill_value=0).abs().sum())


_COARSE = {"age": [16, 25, 35, 45, 55, 65, 90], "hours_per_week": [0, 20, 35, 40, 45, 60, 99]}


def _coarse(df: pd.DataFrame, *cols: str) -> pd.Series:
    """Joint values of ``cols`` as one string (numbers in a few fixed bins)."""
    parts = [
        pd.cut(df[c], _COARSE[c]).astype(str) if c in _COARSE else df[c].astype(str) for c in cols
    ]
    out = parts[0]
    for p in parts[1:]:
        out = out + "|" + p
    return out


# -- learning ----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["mst", "aim"])
def test_one_way_marginals_are_close_at_epsilon_10(name, request, real):
    gen = request.getfixturevalue(name)
    out = gen.sample(4000, rng=1)
    for col in ["workclass", "education", "sex", "income"]:
        assert _tvd(real[col], out[col]) < 0.06, col
    assert abs(out["age"].mean() - real["age"].mean()) < 1.5
    assert out["age"].between(17, 90).all() and out["age"].dtype == np.int64
    assert abs(out["workclass"].isna().mean() - real["workclass"].isna().mean()) < 0.02
    # and the 2-way marginals the algorithm measured (MST's tree, AIM's selections)
    pairs = gen.fit_info_["tree"] if name == "mst" else gen.fit_info_["selected"]
    pairs = [p for p in pairs if len(p) == 2]
    assert pairs
    for a, b in pairs:
        assert _tvd(_coarse(real, a, b), _coarse(out, a, b)) < 0.1, (a, b)


def test_tiny_epsilon_is_noisy(real, schema, mst):
    noisy = _fit(MSTGenerator(epsilon=0.01, delta=1e-6, rng=0), real, schema)
    out_noisy, out_good = noisy.sample(4000, rng=1), mst.sample(4000, rng=1)
    for col in ["education", "workclass"]:
        assert _tvd(real[col], out_noisy[col]) > 3 * _tvd(real[col], out_good[col]), col
    assert _tvd(real["education"], out_noisy["education"]) > 0.15
    assert noisy.privacy_spent_["spent"]["epsilon"] <= 0.01


# -- the privacy contract ------------------------------------------------------------------------
@pytest.mark.parametrize("cls", [MSTGenerator, AIMGenerator])
def test_inferred_facts_are_refused_naming_columns_and_fix(cls, real):
    gen = cls(epsilon=1.0, delta=1e-6, rng=0)
    for schema in (None, infer_schema(real)):
        with pytest.raises(PrivacyError) as e:
            gen.fit(real, schema=schema)
        assert [p.where for p in e.value.errors] == [f"column {c!r}" for c in COLS]
        assert "public" in str(e.value) and "fix:" in str(e.value)
    assert not gen.is_fitted
    partly = infer_schema(real).update("age", min=17, max=90, dtype="int")
    with pytest.raises(PrivacyError) as e:
        gen.fit(real, schema=partly)
    assert "column 'age'" not in [p.where for p in e.value.errors]


@pytest.mark.parametrize("name", ["mst", "aim"])
def test_epsilon_and_delta_are_required(name, real, schema):
    with pytest.raises(TypeError, match="epsilon"):
        make_generator(name, delta=1e-6)
    with pytest.raises(TypeError, match="delta"):
        make_generator(name, epsilon=1.0)
    for eps, dlt, bad in [
        (None, 1e-6, ["epsilon"]),
        (0, 0, ["epsilon", "delta"]),
        (1, 2, ["delta"]),
    ]:
        with pytest.raises(PrivacyError) as e:
            make_generator(name, epsilon=eps, delta=dlt).fit(real, schema=schema)
        assert [p.where for p in e.value.errors] == [f"parameter {b!r}" for b in bad]


def test_secure_mode_refuses_a_seed_and_warns_nothing(real, schema):
    with pytest.raises(PrivacyError, match="rng"):
        MSTGenerator(epsilon=1.0, delta=1e-6, secure_mode=True, rng=3).fit(
            real[SMALL], schema=schema.select(SMALL)
        )
    gen = _fit(
        MSTGenerator(epsilon=1.0, delta=1e-6, iters=300, secure_mode=True),
        real[SMALL],
        schema.select(SMALL),
    )
    assert gen.test_warnings_ == []
    assert "urandom" in gen.privacy_spent_["noise_source"]
    assert gen.sample(10).shape == (10, 3)


@pytest.mark.parametrize("name", ["mst", "aim"])
def test_seeded_noise_warns_exactly_once(name, request):
    gen = request.getfixturevalue(name)
    assert len(gen.test_warnings_) == 1
    msg = str(gen.test_warnings_[0].message)
    assert "seeded PRNG" in msg and "secure_mode=True" in msg and "recorded" in msg
    assert gen.test_warnings_[0].filename == __file__  # points at the user's fit call


@pytest.mark.parametrize("name", ["mst", "aim"])
def test_the_ledger_records_every_step_within_budget(name, request):
    gen = request.getfixturevalue(name)
    spent = gen.privacy_spent_
    json.dumps(spent, allow_nan=False)
    assert spent["target"] == {"epsilon": 10.0, "delta": 1e-6, "rho": pytest.approx(1.5392, 1e-3)}
    assert 9.99 <= spent["spent"]["epsilon"] <= 10.0
    rhos = [s["rho"] for s in spent["steps"]]
    assert math.fsum(rhos) == pytest.approx(spent["spent"]["rho"], rel=1e-12)
    assert spent["spent"]["rho"] <= spent["target"]["rho"] * (1 + 1e-12)
    mechanisms = [s["mechanism"] for s in spent["steps"]]
    d = len(COLS)
    assert mechanisms[:d] == ["gaussian"] * d  # every 1-way marginal first
    if name == "mst":
        assert (
            mechanisms.count("exponential") == d - 1 and mechanisms.count("gaussian") == 2 * d - 1
        )
        assert len(gen.fit_info_["tree"]) == d - 1
    else:
        rounds = gen.fit_info_["rounds"]
        assert mechanisms.count("exponential") == rounds and len(mechanisms) == d + 2 * rounds
        assert spent["steps"][-1]["details"]["round"] == rounds


def test_sampling_spends_nothing(mst):
    before = json.dumps(mst.privacy_spent_)
    mst.sample(100, conditions={"income": ">50K"})
    assert json.dumps(mst.privacy_spent_) == before


# -- save / load, seeds, global state ------------------------------------------------------------
@pytest.mark.parametrize("name", ["mst", "aim"])
def test_save_load_identical(name, request, tmp_path):
    gen = request.getfixturevalue(name)
    path = gen.save(tmp_path / "m.sosie")
    back = sosie.load(path)
    assert type(back) is type(gen) and back.get_params() == gen.get_params()
    pd.testing.assert_frame_equal(back.sample(300, rng=4), gen.sample(300, rng=4))
    cond = {"income": ">50K", "sex": "Female"}
    pd.testing.assert_frame_equal(
        back.sample(50, conditions=cond, rng=5), gen.sample(50, conditions=cond, rng=5)
    )
    assert back.privacy_spent_ == gen.privacy_spent_
    assert back.privacy_ledger_.epsilon_spent == gen.privacy_ledger_.epsilon_spent
    assert back.fingerprint_["sha256"] is None and "withheld" in back.fingerprint_


def test_same_seed_same_model_and_global_state_untouched(real, schema, small_mst, global_rng_guard):
    again = _fit(
        MSTGenerator(epsilon=3.0, delta=1e-6, iters=300, rng=7), real[SMALL], schema.select(SMALL)
    )
    pd.testing.assert_frame_equal(again.sample(200, rng=1), small_mst.sample(200, rng=1))
    other = _fit(
        MSTGenerator(epsilon=3.0, delta=1e-6, iters=300, rng=8), real[SMALL], schema.select(SMALL)
    )
    assert not other.sample(200, rng=1).equals(small_mst.sample(200, rng=1))
    small_mst.sample(100, conditions={"workclass": None})


def test_no_seed_noise_is_not_derived_from_the_saved_entropy(real, schema):
    # without rng, the entropy recorded in the model file must not reproduce the noise
    a = _fit(MSTGenerator(epsilon=3.0, delta=1e-6, iters=300), real[SMALL], schema.select(SMALL))
    b = MSTGenerator(epsilon=3.0, delta=1e-6, iters=300, rng=np.random.SeedSequence(a._entropy_))
    b = _fit(b, real[SMALL], schema.select(SMALL))
    same = all(
        p.shape == q.shape and np.allclose(p, q)
        for p, q in zip(a.model_.potentials, b.model_.potentials, strict=False)
    )
    assert not same


# -- conditions ---------------------------------------------------------------------------------
def test_conditional_sampling_is_native_and_exact(mst, real):
    out = mst.sample(4000, conditions={"income": ">50K"}, rng=3)
    assert (out["income"] == ">50K").all()
    # the sampled conditional is the model's exact conditional (inference, not rejection)
    names = mst.discretizer_.names
    assert mst.compression_[names.index("sex")] is None
    income = mst.compression_[names.index("income")]
    allowed = np.array([True, False])  # code 0 is ">50K" (the public schema's order)
    if income is not None:  # pragma: no cover - two large classes are never merged
        allowed = income.mask(allowed)
    exact = mst.model_._eliminate(("sex",), {"income": np.where(allowed, 0.0, -np.inf)})
    female = mst.schema_["sex"].categories.index("Female")
    assert abs((out["sex"] == "Female").mean() - exact[female]) < 0.025
    assert out["workclass"].isna().mean() < real["workclass"].isna().mean() + 0.03
    out = mst.sample(300, conditions={"workclass": None, "age": 41}, rng=3)
    assert out["workclass"].isna().all() and (out["age"] == 41).all()
    rows = pd.DataFrame({"sex": ["Female", "Male"] * 50, "education": ["Doctorate"] * 100})
    out = mst.sample(100, conditions=rows, rng=3)
    assert out["sex"].tolist() == rows["sex"].tolist()
    assert (out["education"] == "Doctorate").all()


# -- public facts only ---------------------------------------------------------------------------
def test_values_beyond_public_bounds_are_clipped_and_nulls_must_be_declared(real, schema):
    data = real[SMALL].copy()
    data.loc[0, "age"] = 97  # beyond the public maximum 90
    gen = _fit(MSTGenerator(epsilon=3.0, delta=1e-6, iters=300, rng=7), data, schema.select(SMALL))
    assert gen.sample(500, rng=0)["age"].max() <= 90
    strict = schema.select(SMALL).update("workclass", nullable=False)
    with pytest.raises(InvalidDataError, match="nullable"):
        MSTGenerator(epsilon=3.0, delta=1e-6, rng=0).fit(real[SMALL], schema=strict)


def test_nothing_learned_from_the_rows_is_saved(adult_train):
    # datetimes, ids, floats with inferred decimals: only public facts end up in the model
    df = adult_train[["age", "income"]].head(1500).copy()
    df["signup"] = pd.Timestamp("2021-03-01") + pd.to_timedelta(df["age"] * 5, unit="D")
    df["customer"] = [f"K-{i:05d}" for i in range(len(df))]
    df["score"] = np.round(df["age"] / 7, 2)
    schema = adult_public_schema().select(["age", "income"])
    extra = sosie.privacy.declare_public(
        TableSchema(
            [
                ColumnSpec(
                    "signup", "datetime", resolution="D", min="2020-01-01", max="2023-12-31"
                ),
                ColumnSpec("customer", "id", id_format="K-{d5}"),
                ColumnSpec("score", "numerical", dtype="float", min=0.0, max=20.0),
            ]
        )
    )
    schema = TableSchema([*schema.columns, *extra.columns])
    gen = _fit(MSTGenerator(epsilon=5.0, delta=1e-6, iters=300, rng=0), df, schema)
    fitted = gen.schema_
    assert fitted["score"].decimals is None  # not read from the rows
    assert fitted["signup"].evidence == [] and fitted["score"].evidence == []
    enc = gen.preprocessor_.encoders_
    assert enc["customer"].number_range is None
    mid = pd.Timestamp("2022-01-01")  # the public range's middle (day), not the data's
    assert abs(enc["signup"].origin_ns - mid.value) <= 86_400 * 10**9
    out = gen.sample(1000, rng=0)
    assert out["signup"].between(pd.Timestamp("2020-01-01"), pd.Timestamp("2023-12-31")).all()
    assert out["score"].between(0, 20).all() and out["customer"].is_unique
    # older rows (larger age) signed up later: the dependence goes through the bins
    assert np.corrcoef(out["age"], out["signup"].astype("int64"))[0, 1] > 0.5
    card = build_card(gen, n_rows=1000)
    assert card["input"]["fingerprint_sha256"] is None and card["input"]["n_rows"] is None


# -- card, report, CLI ---------------------------------------------------------------------------
def test_card_and_report_show_the_budget(mst):
    card = build_card(mst, n_rows=10)
    assert card["privacy"]["differentially_private"] is True
    assert card["privacy"]["budget_spent"] == mst.privacy_spent_
    assert "(10, 1e-06)-differentially private" in card["privacy"]["note"]
    md = render_card_markdown(card)
    assert "| step | mechanism | measured | cost (zCDP rho) |" in md and "withheld" in md
    from sosie.evaluate._core import Evaluation, MetricResult
    from sosie.report import render_html

    ev = Evaluation([MetricResult("column_shapes", "fidelity", "maximize", (0, 1), 0.9, 0.9, "x")])
    page = render_html(ev, card=card)
    assert "differentially private" in page and "1-way marginal" in page


def test_cli_fit_with_a_budget_and_a_public_schema(capsys, tmp_path, real, schema):
    from sosie.cli import main

    data, public = tmp_path / "data.csv", tmp_path / "public_schema.json"
    real[SMALL].to_csv(data, index=False)
    schema.select(SMALL).to_json(public)
    model = tmp_path / "m.sosie"
    args = ["--quiet", "fit", str(data), "--generator", "aim", "-o", str(model)]
    budget = ["--epsilon", "1", "--delta", "1e-6"]
    quick = ["--param", "max_rounds=2", "--param", "iters=200", "--seed", "0"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SosieWarning)
        assert main([*args, *budget, "--schema", str(public), *quick]) == 0
        gen = sosie.load(model)
        assert gen.get_params()["epsilon"] == 1.0
        assert gen.privacy_spent_["spent"]["epsilon"] <= 1.0
        capsys.readouterr()
        assert main([*args, "--schema", str(public), *quick]) == 2  # no budget
        err = capsys.readouterr().err
        assert "--epsilon" in err and "--delta" in err
        assert main([*args, *budget, *quick]) == 2  # no public schema
        err = capsys.readouterr().err
        assert "public schema" in err and "column 'age'" in err
        assert main(["--quiet", "fit", str(data), "-o", str(model), *budget]) == 2  # not DP
        assert "no privacy budget" in capsys.readouterr().err


# -- internals against known answers -------------------------------------------------------------
def test_inference_matches_mbi_and_sampling_matches_the_model():
    from mbi import marginal_oracles

    from sosie.generators.dp._mbi import MarkovModel, load_mbi, x64

    rng = np.random.default_rng(0)
    attrs, sizes = ["a", "b", "c", "d", "e"], [3, 4, 2, 5, 3]
    size = dict(zip(attrs, sizes, strict=True))
    cliques = [("a", "b"), ("b", "c"), ("c", "d"), ("a", "e"), ("d",)]
    pots = [rng.normal(size=[size[x] for x in cl]) for cl in cliques]
    model = MarkovModel(attrs, sizes, cliques, pots, 100.0)
    mbi = load_mbi()
    for q in [("a", "d"), ("e", "c"), ("b", "e", "d"), ("d", "a")]:
        with x64():
            ref = marginal_oracles.variable_elimination(model._potentials(mbi), q, 100.0)
        np.testing.assert_allclose(model.project(q), np.asarray(ref.values), atol=1e-10)
    mask = {"a": np.array([True, False, True])}
    x = model.sample(40000, np.random.default_rng(1), mask)
    assert set(np.unique(x[:, 0])) <= {0, 2}
    emp = np.zeros((3, 4, 3))
    np.add.at(emp, (x[:, 0], x[:, 1], x[:, 4]), 1)
    exact = model._eliminate(("a", "b", "e"), {"a": np.where(mask["a"], 0.0, -np.inf)})
    assert np.abs(emp / emp.sum() - exact).max() < 0.01


def test_importing_sosie_does_not_import_jax_and_a_missing_extra_is_named(monkeypatch):
    code = "import sys, sosie; sosie.list_generators(); print('jax' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    from sosie.generators.dp import _mbi

    monkeypatch.setitem(sys.modules, "jax", None)
    with pytest.raises(MissingDependencyError, match=r"sosie\[dp\]"):
        _mbi.load_mbi()


def test_aim_workload_is_checked(real, schema):
    gen = AIMGenerator(epsilon=1.0, delta=1e-6, workload=[["age", "nope"]], rng=0)
    with pytest.raises(sosie.errors.SchemaError, match="nope"):
        _fit(gen, real[SMALL], schema.select(SMALL))


def test_infinite_epsilon_is_a_non_private_baseline(real, schema):
    gen = _fit(
        MSTGenerator(epsilon=math.inf, delta=1e-6, iters=300, rng=0),
        real[SMALL],
        schema.select(SMALL),
    )
    card = build_card(gen)
    assert card["privacy"]["differentially_private"] is False
    assert "no privacy guarantee" in card["privacy"]["note"]
    out = gen.sample(4000, rng=0)
    assert _tvd(real["workclass"], out["workclass"]) < 0.03
