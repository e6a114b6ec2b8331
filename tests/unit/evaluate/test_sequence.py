"""Sequence metrics: known answers on real panel data (NLS women, 1968-88) and on Markov chains."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from sosie.errors import InvalidDataError
from sosie.evaluate import Evaluation, evaluate_sequences, sequence_features
from sosie.schema import infer_sequence_schema

FIDELITY = (
    "sequence_length",
    "inter_arrival",
    "autocorrelation",
    "transitions",
    "entity_aggregates",
    "static_shapes",
)
P = np.array([[0.8, 0.15, 0.05], [0.1, 0.7, 0.2], [0.3, 0.1, 0.6]])
STATES = np.array(["browse", "cart", "buy"])


# ------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def nls() -> pd.DataFrame:
    """The NLS panel: 28,534 yearly interviews of 4,711 women (real data)."""
    from sosie.datasets import load_rdataset

    df = load_rdataset("sampleSelection", "nlswork")
    m = df.groupby("idcode")["ln_wage"].transform("mean")
    df["high_wage"] = np.where(m > m.median(), "high", "low")  # a label of each sequence
    return df


@pytest.fixture(scope="module")
def nls_schema(nls):
    return infer_sequence_schema(nls, entity="idcode", time="year")


@pytest.fixture(scope="module")
def nls_parts(nls):
    """Disjoint train and holdout women (700 and 500) for the model-based metrics."""
    ids = nls["idcode"].drop_duplicates().sample(frac=1.0, random_state=0).to_numpy()
    train = nls[nls["idcode"].isin(ids[:700])].reset_index(drop=True)
    hold = nls[nls["idcode"].isin(ids[700:1200])].reset_index(drop=True)
    return train, hold


def shuffle_within(df: pd.DataFrame, entity: str, time: str, cols, seed: int) -> pd.DataFrame:
    """The same entities, times and multiset of events per entity, in a random order."""
    g = np.random.default_rng(seed)
    out = df.sort_values([entity, time], kind="stable").reset_index(drop=True)
    perm = np.lexsort((g.random(len(out)), out[entity].to_numpy()))
    for c in cols:
        out[c] = out[c].to_numpy()[perm]
    return out


def markov_events(n_entities: int, seed: int, matrix=P, max_len: int = 30) -> pd.DataFrame:
    """Click streams: pages follow a Markov chain with a known transition matrix, gaps are
    exponential (mean one hour), ``level`` is an AR(1) series (phi 0.7), ``amount`` has nulls."""
    g = np.random.default_rng(seed)
    lens = g.integers(2, max_len + 1, n_entities)
    s = np.empty((n_entities, max_len), dtype=np.int64)
    s[:, 0] = g.integers(0, 3, n_entities)
    cum = np.asarray(matrix).cumsum(1)
    u = g.random((n_entities, max_len))
    level = np.empty((n_entities, max_len))
    level[:, 0] = g.normal(size=n_entities)
    for t in range(1, max_len):  # vectorised over entities
        s[:, t] = np.minimum((u[:, t, None] > cum[s[:, t - 1]]).sum(1), 2)
        level[:, t] = 0.7 * level[:, t - 1] + g.normal(size=n_entities)
    mask = np.arange(max_len) < lens[:, None]
    gaps = g.exponential(3600.0, (n_entities, max_len))
    gaps[:, 0] = 0.0
    secs = g.integers(0, 30 * 86_400, n_entities)[:, None] + gaps.cumsum(1)
    amount = np.round(g.lognormal(3.0, 1.0, mask.sum()), 2)
    amount[g.random(amount.size) < 0.05] = np.nan
    return pd.DataFrame(
        {
            "user": np.repeat(np.arange(n_entities), lens),
            "ts": pd.Timestamp("2024-01-01") + pd.to_timedelta(secs[mask], unit="s"),
            "segment": np.repeat(g.choice(["basic", "gold"], n_entities), lens),
            "page": STATES[s[mask]],
            "level": level[mask],
            "amount": amount,
        }
    )


@pytest.fixture(scope="module")
def clicks():
    real = markov_events(400, 0)
    return real, markov_events(400, 1), infer_sequence_schema(real, entity="user", time="ts")


def _ks(a: np.ndarray, b: np.ndarray) -> float:
    grid = np.union1d(a, b)
    fa = np.searchsorted(np.sort(a), grid, side="right") / a.size
    fb = np.searchsorted(np.sort(b), grid, side="right") / b.size
    return float(np.abs(fa - fb).max())


# ------------------------------------------------------------------ features
def test_sequence_features_known_values_with_datetimes_nulls_and_one_event_sequences():
    # Setup: entity "b" has one event; entity "a" has a null amount and a category change
    df = pd.DataFrame(
        {
            "id": ["a", "b", "a", "a"],
            "when": pd.to_datetime(
                ["2024-01-01 00:00", "2024-01-05 00:00", "2024-01-01 00:01", "2024-01-01 00:04"]
            ),
            "kind": ["x", "y", "x", "y"],
            "amount": [1.0, 7.0, np.nan, 5.0],
        }
    )
    s = infer_sequence_schema(df, entity="id", time="when", static=[])
    # Run
    f = sequence_features(df, s)
    # Assert
    assert f.index.tolist() == ["a", "b"] and f.index.name == "id"
    a, b = f.loc["a"], f.loc["b"]
    assert a["n_events"] == 3 and b["n_events"] == 1
    assert a["duration"] == 240.0 and a["mean_gap"] == 120.0  # seconds
    assert a["std_gap"] == pytest.approx(np.std([60.0, 180.0], ddof=1))
    assert (a["mean(amount)"], a["first(amount)"], a["last(amount)"]) == (3.0, 1.0, 5.0)
    assert a["missing(amount)"] == pytest.approx(1 / 3)
    assert a["share(kind=y)"] == pytest.approx(1 / 3) and a["switches(kind)"] == 0.5
    assert b["duration"] == 0.0
    assert math.isnan(b["mean_gap"]) and math.isnan(b["std(amount)"])
    assert math.isnan(b["switches(kind)"])
    assert f["start"].dtype.kind == "M" and f.loc["a", "start"] == pd.Timestamp("2024-01-01")


def test_sequence_features_match_a_pandas_reference_on_real_panel_data(nls, nls_schema):
    # Run
    f = sequence_features(nls, nls_schema)
    # Assert
    ref = nls.sort_values(["idcode", "year"]).groupby("idcode", sort=False)
    assert len(f) == 4711 and f.index.is_unique
    assert f["n_events"].to_numpy() == pytest.approx(ref.size().loc[f.index].to_numpy())
    for stat in ("mean", "min", "max", "last"):
        want = getattr(ref["ln_wage"], stat)().loc[f.index].to_numpy()
        assert f[f"{stat}(ln_wage)"].to_numpy() == pytest.approx(want), stat
    gaps = nls.sort_values(["idcode", "year"]).groupby("idcode")["year"].diff()
    want = gaps.groupby(nls.sort_values(["idcode", "year"])["idcode"]).mean().loc[f.index]
    np.testing.assert_allclose(f["mean_gap"].to_numpy(), want.to_numpy())
    assert f[["birth_yr", "race", "grade", "collgrad", "high_wage"]].notna().any().all()


def test_sequence_features_without_time_use_row_order_and_shared_categories(clicks):
    # Setup
    real = clicks[0]
    data = real.drop(columns="ts")
    s = infer_sequence_schema(data, entity="user")
    # Run
    f = sequence_features(data, s, categories={"page": ["cart", "buy"]})
    # Assert
    assert "duration" not in f and "mean_gap" not in f
    assert [c for c in f if c.startswith("share(page")] == ["share(page=buy)"]  # two levels
    assert f["n_events"].sum() == len(data)


# ------------------------------------------------------------------ the evaluation
def test_synthetic_equal_to_real_scores_perfectly(nls_parts, nls_schema):
    # Setup
    train, _ = nls_parts
    # Run
    ev = evaluate_sequences(train, None, train, schema=nls_schema, rng=0)
    # Assert
    for name in FIDELITY:
        m = ev[name]
        assert m.family == "fidelity" and m.value == pytest.approx(1.0), name
        assert m.ci is not None and m.ci[0] > 0.95, name
    det = ev["detection_auc"]
    assert abs(det.value - 0.5) < 0.03 and det.ci[0] < 0.5 < det.ci[1]
    assert "utility" in ev.meta["skipped"]
    seqs = ev.meta["sequences"]
    assert seqs["entity"] == "idcode" and seqs["time"] == "year"
    assert seqs["n_entities"]["real_train"] == 700
    assert seqs["n_events"]["real_train"] == len(train)
    assert set(FIDELITY) | {"detection_auc"} <= set(ev.summary)


def test_shuffling_events_within_entities_destroys_autocorrelation_and_transitions(nls, nls_schema):
    # Setup: same women, same interview years, same values per woman, in random order
    shuffled = shuffle_within(nls, "idcode", "year", nls_schema.events, seed=1)
    # Run
    ev = evaluate_sequences(
        nls,
        None,
        shuffled,
        schema=nls_schema,
        rng=0,
        metrics=("sequence_length", "inter_arrival", "autocorrelation", "transitions"),
    )
    # Assert: order-free metrics do not move, order metrics do
    assert ev["sequence_length"].value == 1.0 and ev["inter_arrival"].value == 1.0
    auto = ev["autocorrelation"]
    assert auto.ci[1] < 0.9
    assert auto.breakdown["ttl_exp"] < 0.7  # total experience grows every year: lag-1 r ~ 0.9
    acf = auto.details["acf"]["ttl_exp"]
    assert acf["real"][0] > 0.8 and acf["synthetic"][0] < 0.0
    trans = ev["transitions"]
    assert trans.ci[1] < 0.96
    assert trans.breakdown["msp"] < 0.92  # marriage status is sticky from year to year


def test_autocorrelation_recovers_a_known_ar1_coefficient():
    # Setup: AR(1) with phi 0.7, 100 events per entity, against white noise
    g = np.random.default_rng(0)
    n, t = 150, 100
    x = np.empty((n, t))
    x[:, 0] = g.normal(size=n)
    for k in range(1, t):
        x[:, k] = 0.7 * x[:, k - 1] + g.normal(size=n)
    ids, steps = np.repeat(np.arange(n), t), np.tile(np.arange(t), n)
    real = pd.DataFrame({"id": ids, "t": steps, "x": x.ravel()})
    noise = pd.DataFrame({"id": ids, "t": steps, "x": g.normal(size=n * t)})
    s = infer_sequence_schema(real, entity="id", time="t")
    # Run
    ev = evaluate_sequences(real, None, noise, schema=s, rng=0, metrics=("autocorrelation",))
    # Assert: r(lag) ~ 0.7 ** lag (less the small bias of demeaning), white noise ~ 0
    m = ev["autocorrelation"]
    r = np.array(m.details["acf"]["x"]["real"])
    assert r == pytest.approx([0.7, 0.49, 0.343], abs=0.06)
    assert np.abs(m.details["acf"]["x"]["synthetic"]).max() < 0.05
    expected = 1 - np.mean(np.abs(r - np.array(m.details["acf"]["x"]["synthetic"]))) / 2
    assert m.value == pytest.approx(expected, abs=1e-4)
    assert m.value == pytest.approx(1 - (0.7 + 0.49 + 0.343) / 3 / 2, abs=0.04)


def test_transitions_of_a_markov_chain_with_a_known_matrix(clicks):
    # Setup
    real, same_chain, s = clicks
    other = np.array([[0.4, 0.3, 0.3], [0.3, 0.4, 0.3], [0.3, 0.3, 0.4]])
    different = markov_events(400, 2, matrix=other)
    shuffled = shuffle_within(real, "user", "ts", ["page"], seed=3)
    # Run
    res = {
        name: evaluate_sequences(real, None, syn, schema=s, rng=0, metrics=("transitions",))[
            "transitions"
        ]
        for name, syn in (("same", same_chain), ("different", different), ("shuffled", shuffled))
    }
    # Assert: the estimated matrix is the known one
    d = res["same"].details["transitions"]["page"]
    order = [list(STATES).index(v) for v in d["states"]]
    assert np.array(d["real"]) == pytest.approx(P[np.ix_(order, order)], abs=0.04)
    assert res["same"].value > 0.95 and res["same"].ci[0] > 0.93
    # against a known other matrix: 1 - sum_a w_a TV(P_a, Q_a), w the real row frequencies
    w = np.array(d["real_counts"]) / np.sum(d["real_counts"])
    tv = 0.5 * np.abs(P[np.ix_(order, order)] - other[np.ix_(order, order)]).sum(1)
    assert res["different"].value == pytest.approx(1 - (w * tv).sum(), abs=0.04)
    assert res["shuffled"].value < 0.8 and res["shuffled"].ci[1] < res["same"].ci[0]


def test_doubling_the_gaps_moves_inter_arrival_by_the_known_ks(nls, nls_schema, clicks):
    # Setup: interview years stretched twice as far apart
    first = nls.groupby("idcode")["year"].transform("min")
    doubled = nls.assign(year=first + 2 * (nls["year"] - first))
    ordered = nls.sort_values(["idcode", "year"])
    gaps = ordered.groupby("idcode")["year"].diff().dropna().to_numpy(dtype=float)
    # Run
    ev = evaluate_sequences(
        nls, None, doubled, schema=nls_schema, rng=0, metrics=("inter_arrival", "sequence_length")
    )
    # Assert
    m = ev["inter_arrival"]
    assert m.value == pytest.approx(1 - _ks(gaps, 2 * gaps))
    assert m.value < 0.6 and m.ci[1] < 0.65
    assert ev["sequence_length"].value == 1.0
    assert m.details["unit"] == "units of 'year'"
    h = m.details["histogram"]
    assert len(h["edges"]) == len(h["real"]) + 1 == len(h["synthetic"]) + 1
    # datetimes: gaps in seconds, spread over decades -> a log-scale histogram
    real, _, s = clicks
    f = real.groupby("user")["ts"].transform("min")
    ev2 = evaluate_sequences(
        real, None, real.assign(ts=f + 2 * (real["ts"] - f)), schema=s, rng=0,
        metrics=("inter_arrival",),
    )  # fmt: skip
    m2 = ev2["inter_arrival"]
    assert m2.details["unit"] == "seconds" and m2.details["histogram"]["log10"]
    assert m2.details["quantiles"]["synthetic"]["q50"] == pytest.approx(
        2 * m2.details["quantiles"]["real"]["q50"], rel=1e-3
    )
    assert m2.value < 0.85


def test_sequence_length_is_one_minus_the_ks_of_events_per_entity(nls, nls_schema):
    # Setup: the last interview of every woman lost
    ordered = nls.sort_values(["idcode", "year"])
    truncated = ordered[ordered.groupby("idcode").cumcount(ascending=False) > 0]
    lens = nls.groupby("idcode").size().to_numpy(dtype=float)
    short = truncated.groupby("idcode").size().to_numpy(dtype=float)
    # Run
    m = evaluate_sequences(nls, None, truncated, schema=nls_schema, metrics=("sequence_length",))[
        "sequence_length"
    ]
    # Assert
    assert m.value == pytest.approx(1 - _ks(lens, short))
    assert m.ci[0] <= m.value <= m.ci[1]
    h = m.details["histogram"]
    assert sum(np.diff(h["edges"]) * np.array(h["real"])) == pytest.approx(1.0, abs=1e-3)


def test_iid_rows_regrouped_into_entities_fail_detection(nls_parts, nls_schema):
    # Setup: every woman keeps her static columns and her number of interviews, but the
    # interviews are drawn from the whole panel (i.i.d. rows regrouped at random)
    train, _ = nls_parts
    g = np.random.default_rng(4)
    regrouped = train.sort_values(["idcode", "year"]).reset_index(drop=True)
    perm = g.permutation(len(regrouped))
    for c in nls_schema.events:
        regrouped[c] = regrouped[c].to_numpy()[perm]
    # Run
    ev = evaluate_sequences(
        train,
        None,
        regrouped,
        schema=nls_schema,
        rng=0,
        metrics=("entity_aggregates", "static_shapes", "detection_auc"),
    )
    # Assert
    det = ev["detection_auc"]
    assert det.value > 0.85 and det.ci[0] > 0.8
    assert det.details["roc"]["fpr"] and det.details["top_features"]
    assert ev["static_shapes"].value == pytest.approx(1.0)
    agg = ev["entity_aggregates"]
    assert agg.value < 0.93
    assert agg.breakdown["std(age)"] < 0.75  # ages of different women in one sequence
    assert agg.breakdown["n_events"] == 1.0


def test_static_shapes_see_a_shifted_static_column(clicks):
    # Setup
    real, _, s = clicks
    flipped = real.assign(segment=real["segment"].map({"basic": "gold", "gold": "basic"}))
    # Run
    m = evaluate_sequences(real, None, flipped, schema=s, rng=0, metrics=("static_shapes",))[
        "static_shapes"
    ]
    # Assert: the share of gold flips; 1 - TV = 1 - |p - (1 - p)|
    p = (real.groupby("user")["segment"].first() == "gold").mean()
    assert m.value == pytest.approx(1 - abs(2 * p - 1), abs=1e-9)
    assert m.details["columns"]["segment"]["kind"] == "categorical"


def test_tstr_on_a_sequence_level_task(nls_parts, nls_schema):
    # Setup: a label that depends on the sequence (mean log wage above the median)
    train, hold = nls_parts
    shuffled = train.copy()
    labels = shuffled.groupby("idcode")["high_wage"].first()
    labels[:] = np.random.default_rng(0).permutation(labels.to_numpy())
    shuffled["high_wage"] = shuffled["idcode"].map(labels)
    # Run
    same = evaluate_sequences(
        train, hold, train, schema=nls_schema, target="high_wage", rng=0, metrics=("utility",)
    )
    noise = evaluate_sequences(
        train, hold, shuffled, schema=nls_schema, target="high_wage", rng=0, metrics=("utility",)
    )
    # Assert: TSTR = TRTR when the synthetic data is the training data...
    auc = same["utility_roc_auc"]
    assert auc.family == "utility" and auc.value == pytest.approx(auc.baseline)
    assert auc.baseline > 0.9 and same["tstr_ratio"].value == pytest.approx(1.0)
    assert set(auc.details["models"]["linear"]) == {"trtr", "tstr", "augmented"}
    assert same.summary["tstr_roc_auc"] == same.summary["trtr_roc_auc"]
    # ...and chance when the synthetic labels no longer depend on the sequence
    bad = noise["utility_roc_auc"]
    assert abs(bad.value - 0.5) < 0.08 and bad.baseline > 0.9
    assert noise["tstr_ratio"].value < 0.65
    assert "real_holdout" in same.meta["holdout"] and same.meta["task"] == "classification"


def test_without_a_holdout_tstr_uses_a_stated_split_of_real_train(clicks):
    # Setup: the segment is the label; gold users spend more
    real, _, s = clicks
    gold = real["segment"] == "gold"
    real = real.assign(amount=real["amount"] * np.where(gold, 3.0, 1.0))
    # Run
    ev = evaluate_sequences(
        real, None, real, schema=s, target="segment", rng=0, metrics=("utility",)
    )
    # Assert
    assert "30%" in ev.meta["holdout"] and "optimistic" in ev["tstr_ratio"].description
    n = ev["utility_roc_auc"].details["n_entities"]
    assert n["train_real"] + n["test_real"] == 400 and n["train_synthetic"] == 400
    assert ev["utility_roc_auc"].baseline > 0.8


def test_no_time_column_and_no_numeric_or_categorical_columns_give_stated_nans():
    # Setup: only a categorical event column, no time column
    df = pd.DataFrame({"id": np.repeat([1, 2, 3], 4), "c": list("abab" * 3)})
    s = infer_sequence_schema(df, entity="id")
    # Run
    ev = evaluate_sequences(
        df, None, df, schema=s, rng=0, metrics=("inter_arrival", "autocorrelation", "transitions")
    )
    # Assert
    for name in ("inter_arrival", "autocorrelation"):
        assert math.isnan(ev[name].value) and ev[name].details["reason"]
    assert ev["transitions"].value == 1.0
    assert ev.summary["inter_arrival"] is None
    json.loads(ev.to_json())  # NaN stored as null


def test_errors_name_the_table_and_say_how_to_fix(clicks):
    real, syn, s = clicks
    bad = syn.copy()
    bad.loc[bad.index[1], "segment"] = "platinum"  # a static column varies within an entity
    with pytest.raises(InvalidDataError, match="synthetic: static column 'segment'"):
        evaluate_sequences(real, None, bad, schema=s)
    with pytest.raises(InvalidDataError, match="real_train: event column 'page'"):
        evaluate_sequences(real.drop(columns="page"), None, syn, schema=s)
    with pytest.raises(InvalidDataError, match=r"target 'page'.*static column"):
        evaluate_sequences(real, None, syn, schema=s, target="page")
    with pytest.raises(InvalidDataError, match="at least two entities"):
        evaluate_sequences(real[real["user"] == 0], None, syn, schema=s)
    with pytest.raises(ValueError, match="unknown metrics"):
        evaluate_sequences(real, None, syn, schema=s, metrics=("lengths",))
    with pytest.raises(TypeError, match="SequenceSchema"):
        evaluate_sequences(real, None, syn, schema=s.table)


def test_reproducible_json_round_trip_and_no_global_rng(clicks, global_rng_guard):
    # Setup
    real, syn, s = clicks
    kw = dict(schema=s, rng=7, metrics=("sequence_length", "transitions", "autocorrelation"))
    # Run
    a = evaluate_sequences(real, None, syn, **kw)
    b = evaluate_sequences(real, None, syn, **kw)
    # Assert
    assert [m.to_dict() for m in a] == [m.to_dict() for m in b]
    back = Evaluation.from_json(a.to_json())
    assert back["transitions"].details == a["transitions"].details
    assert back.meta["sequences"]["time_kind"] == "datetime"
