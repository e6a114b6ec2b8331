"""The learned sequence generator (sequence_gru): contract, learning, conditioning, time windows.

Known-answer fixture: two kinds of customers whose event chains differ in a way the model
must learn (sticky vs alternating channel; short vs long gaps; night-time cash), plus the
real nlswork panel (4,711 women, 1968-1988) for lengths, types and autocorrelation.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import sosie
from sosie.errors import ConditionError, InvalidDataError, SosieWarning
from sosie.generators import get_generator, make_generator

pytest.importorskip("torch")

FAST = {"hidden": 48, "epochs": 40, "patience": 6, "batch_size": 16, "n_threads": 1}


def markov_customers(n: int = 240, seed: int = 0) -> pd.DataFrame:
    """Sticky customers keep their channel (p=0.9) and wait ~1 day; switchers alternate
    (p=0.9) and wait ~1 hour. Events at night (hour < 6) are 'atm' for everyone."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        kind = "sticky" if i % 2 == 0 else "switcher"
        length = int(rng.integers(4, 16))
        t = pd.Timestamp("2024-01-01") + pd.Timedelta(hours=float(rng.uniform(0, 24 * 30)))
        state = int(rng.integers(0, 2))
        for _ in range(length):
            keep = rng.random() < 0.9
            state = state if (kind == "sticky") == keep else 1 - state
            channel = "atm" if t.hour < 6 else ("online", "shop")[state]
            amount = round(float(rng.lognormal(3.0 if channel == "shop" else 4.0, 0.3)), 2)
            rows.append((f"C{i:04d}", kind, t, channel, amount))
            scale = 24.0 if kind == "sticky" else 1.0
            t = t + pd.Timedelta(hours=float(rng.exponential(scale)))
    return pd.DataFrame(rows, columns=["customer", "kind", "when", "channel", "amount"])


def switch_rate(df: pd.DataFrame) -> float:
    d = df[df["channel"] != "atm"]
    prev = d.groupby("customer")["channel"].shift(1)
    m = prev.notna()
    return float((d["channel"][m] != prev[m]).mean())


@pytest.fixture(scope="module")
def customers() -> pd.DataFrame:
    return markov_customers()


@pytest.fixture(scope="module")
def fitted(customers):
    return make_generator("sequence_gru", rng=0, **FAST).fit(
        customers, entity="customer", time="when"
    )


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    from sosie.datasets import load_rdataset

    df = load_rdataset("sampleSelection", "nlswork")
    cols = ["idcode", "year", "race", "collgrad", "age", "union", "hours", "ln_wage"]
    keep = df["idcode"].drop_duplicates().sample(600, random_state=0)
    return df[df["idcode"].isin(keep)][cols].reset_index(drop=True)


@pytest.fixture(scope="module")
def panel_model(panel):
    params = {**FAST, "hidden": 64, "epochs": 60, "patience": 10}
    return make_generator("sequence_gru", rng=0, **params).fit(panel, entity="idcode", time="year")


def test_output_has_the_training_columns_types_and_order(fitted, customers):
    syn = fitted.sample(50, rng=1)
    assert list(syn.columns) == list(customers.columns)
    assert dict(syn.dtypes) == dict(customers.dtypes)
    assert syn["customer"].nunique() == 50
    assert not set(syn["customer"]) & set(customers["customer"])  # ids are new
    assert set(syn["channel"]) <= set(customers["channel"])
    # ordered per entity by time; the static column is constant per entity
    assert (syn.groupby("customer", sort=False)["when"].diff().dropna() >= pd.Timedelta(0)).all()
    assert (syn.groupby("customer")["kind"].nunique() == 1).all()
    firsts = syn.drop_duplicates("customer").index
    assert (np.diff(firsts) > 0).all()
    assert (syn["customer"].iloc[firsts].to_numpy() == syn["customer"].unique()).all()


def test_learns_transitions_gaps_and_time_of_day_by_static_attribute(fitted, customers):
    syn = fitted.sample(400, rng=2)
    for kind in ("sticky", "switcher"):
        real = switch_rate(customers[customers["kind"] == kind])
        fake = switch_rate(syn[syn["kind"] == kind])
        assert abs(real - fake) < 0.12, (kind, real, fake)
    gaps = syn.groupby("customer")["when"].diff().dt.total_seconds() / 3600
    by_kind = gaps.groupby(syn["kind"]).median()
    assert by_kind["sticky"] > 5 * by_kind["switcher"]  # real: ~16.6 h vs ~0.7 h
    night = syn["when"].dt.hour < 6
    assert (syn.loc[night, "channel"] == "atm").mean() > 0.7
    assert (syn.loc[~night, "channel"] == "atm").mean() < 0.08


def test_lengths_match_the_training_distribution(fitted, customers):
    real = customers.groupby("customer").size()
    syn = fitted.sample(400, rng=3).groupby("customer").size()
    assert syn.min() >= 1 and syn.max() <= real.max() + 1
    assert abs(syn.mean() - real.mean()) < 1.0


def test_conditions_on_a_static_attribute(fitted):
    syn = fitted.sample(60, conditions={"kind": "switcher"}, rng=4)
    assert (syn["kind"] == "switcher").all() and syn["customer"].nunique() == 60
    assert switch_rate(syn) > 0.7
    per_row = pd.DataFrame({"kind": ["sticky"] * 30 + ["switcher"] * 30})
    syn = fitted.sample(60, conditions=per_row, rng=5)
    assert syn.drop_duplicates("customer")["kind"].value_counts().to_dict() == {
        "sticky": 30,
        "switcher": 30,
    }


def test_conditions_on_events_are_refused_with_the_static_columns(fitted):
    with pytest.raises(ConditionError, match=r"'channel'.*static column \('kind'\).*event column"):
        fitted.sample(5, conditions={"channel": "atm"})
    with pytest.raises(ConditionError, match="no such column"):
        fitted.sample(5, conditions={"nope": 1})


def test_longer_sequences_than_seen(fitted, customers):
    syn = fitted.sample(20, length=40, rng=6)
    assert (syn.groupby("customer").size() == 40).all()
    assert customers.groupby("customer").size().max() < 40


def test_a_date_range_beyond_the_training_window(fitted, customers):
    assert customers["when"].max() < pd.Timestamp("2024-06-01")
    syn = fitted.sample(30, start="2025-01-01", end="2025-03-01", max_length=2000, rng=7)
    assert syn["when"].min() >= pd.Timestamp("2025-01-01")
    assert syn["when"].max() <= pd.Timestamp("2025-03-01")
    # sticky customers wait ~1 day: two months hold far more events than their drawn lengths
    assert syn.groupby("customer").size().max() > customers.groupby("customer").size().max()
    with pytest.warns(SosieWarning, match="max_length=5"):
        fitted.sample(10, start="2025-01-01", end="2026-01-01", max_length=5, rng=8)
    with pytest.raises(ValueError, match="expected a date"):
        fitted.sample(3, end="not a date")


def test_same_seed_same_model_and_samples_and_global_state_untouched(customers, global_rng_guard):
    small = customers[customers["customer"] < "C0060"]
    params = {**FAST, "epochs": 2}
    a = make_generator("sequence_gru", rng=3, **params).fit(small, entity="customer", time="when")
    b = get_generator("sequence_gru")(rng=3, **params).fit(small, entity="customer", time="when")
    pd.testing.assert_frame_equal(a.sample(15, rng=1), b.sample(15, rng=1))
    pd.testing.assert_frame_equal(a.sample(15), b.sample(15))  # the default stream too
    assert not a.sample(15).equals(a.sample(15))


def test_save_load_gives_the_same_samples(fitted, tmp_path):
    path = fitted.save(tmp_path / "seq.sosie")
    loaded = sosie.load(path)
    assert type(loaded).__name__ == "SequenceGRUGenerator"
    pd.testing.assert_frame_equal(loaded.sample(25, rng=9), fitted.sample(25, rng=9))
    pd.testing.assert_frame_equal(
        loaded.sample(5, conditions={"kind": "sticky"}, rng=1),
        fitted.sample(5, conditions={"kind": "sticky"}, rng=1),
    )


def test_real_panel_lengths_nulls_and_autocorrelation(panel, panel_model):
    syn = panel_model.sample(600, rng=10)
    assert list(syn.columns) == list(panel.columns)
    assert dict(syn.dtypes) == dict(panel.dtypes)
    real_len = panel.groupby("idcode").size()
    syn_len = syn.groupby("idcode").size()
    assert abs(syn_len.mean() - real_len.mean()) < 0.6
    # times are not clipped to the training window (sample(start=...) relies on it); the
    # model sees where the window is and how many events remain, so few events run past the
    # survey's last year (0 in the real data; ~6% here, from 600 women)
    assert syn["year"].min() >= 68 and (syn["year"] > 88).mean() < 0.08
    # union membership is missing in about a third of the interviews: modelled
    assert abs(syn["union"].isna().mean() - panel["union"].isna().mean()) < 0.08

    def lag1(d: pd.DataFrame) -> float:
        g = d.groupby("idcode")["ln_wage"]
        x, p = d["ln_wage"] - g.transform("mean"), g.shift(1) - g.transform("mean")
        m = p.notna()
        return float(np.corrcoef(x[m], p[m])[0, 1])

    real_ac = lag1(panel)
    shuffled = panel.assign(ln_wage=panel["ln_wage"].sample(frac=1, random_state=0).to_numpy())
    assert lag1(shuffled) < 0.02 < real_ac - 0.1  # the known answer: i.i.d. has none
    assert lag1(syn) > 0.5 * real_ac  # the model keeps most of it


def test_numeric_time_start_and_static_columns(panel_model):
    s = panel_model.sequence_schema_
    assert s.time == "year" and s.time_kind == "numeric"
    assert set(s.static) == {"race", "collgrad"}
    syn = panel_model.sample(10, start=100, length=3, rng=11)
    assert syn["year"].min() >= 100 and (syn.groupby("idcode").size() == 3).all()
    with pytest.raises(ValueError, match="must be a number"):
        panel_model.sample(2, start="2020-01-01")


def test_bad_input_is_named():
    df = pd.DataFrame({"id": [1, 1, 2], "t": [1, 2, 1], "grp": ["a", "b", "c"], "x": [1.0, 2, 3]})
    gen = make_generator("sequence_gru", epochs=1)
    with pytest.raises(InvalidDataError, match="entity"):
        gen.fit(df)
    with pytest.raises(InvalidDataError, match="entity column 'nope'"):
        gen.fit(df, entity="nope")
    with pytest.raises(InvalidDataError, match=r"static column 'grp'.*one value per entity"):
        gen.fit(df, entity="id", time="t", static=["grp"])
    with pytest.raises(InvalidDataError, match=r"time column 'grp'.*dates or numbers"):
        gen.fit(df, entity="id", time="grp")
    with pytest.raises(sosie.errors.SchemaError, match="'epochs'"):
        make_generator("sequence_gru", epochs=0).fit(df, entity="id", time="t")


def test_without_a_time_column_the_row_order_is_kept():
    rng = np.random.default_rng(0)
    ids = np.repeat(np.arange(40), 6)
    step = np.tile(np.arange(6), 40)
    df = pd.DataFrame({"id": ids, "x": step * 10.0 + rng.normal(0, 0.5, len(ids))})
    gen = make_generator("sequence_gru", rng=0, **{**FAST, "epochs": 40}).fit(df, entity="id")
    assert gen.sequence_schema_.time is None
    syn = gen.sample(30, rng=1)
    pos = syn.groupby("id").cumcount()
    # the model learned the position -> value trend (x ~ 10 * position)
    assert np.corrcoef(pos, syn["x"])[0, 1] > 0.9
    with pytest.raises(ValueError, match="need a time column"):
        gen.sample(2, end=5)


def test_sequence_schema_round_trips_and_is_saved(fitted):
    s = fitted.sequence_schema_
    assert s.entity == "customer" and s.static == ["kind"] and s.events == ["channel", "amount"]
    assert type(s).from_json(s.to_json()) == s
