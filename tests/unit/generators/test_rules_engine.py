"""The rule-based engine: distributions, rules, labels, event times, conditions, examples."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sosie.errors import ConditionError, SosieWarning, SpecError
from sosie.generators.rules._engine import generate
from sosie.generators.rules._spec import example_path, load_spec, spec_columns_summary

N = 20_000


def one(column: dict, n: int = N, seed: int = 0, **top) -> pd.Series:
    """Generate one column ``x`` from its definition."""
    spec = load_spec({"columns": {"x": column}, **top})
    return generate(spec, n, rng=seed)["x"]


# -- distributions -------------------------------------------------------------------------
def test_normal_matches_its_parameters():
    x = one({"distribution": "normal", "mean": 10.0, "std": 2.0})
    assert x.dtype == np.float64
    assert abs(x.mean() - 10.0) < 0.06
    assert abs(x.std() - 2.0) < 0.05
    assert stats.kstest(x, "norm", args=(10.0, 2.0)).pvalue > 0.001


def test_lognormal_matches_its_parameters():
    x = one({"distribution": "lognormal", "mu": 1.0, "sigma": 0.5})
    logs = np.log(x)
    assert abs(logs.mean() - 1.0) < 0.015
    assert abs(logs.std() - 0.5) < 0.015
    assert stats.kstest(x, "lognorm", args=(0.5, 0, np.exp(1.0))).pvalue > 0.001


def test_exponential_rate_and_scale_agree():
    by_rate = one({"distribution": "exponential", "rate": 0.5})
    by_scale = one({"distribution": "exponential", "scale": 2.0})
    for x in (by_rate, by_scale):
        assert abs(x.mean() - 2.0) < 0.06
        assert stats.kstest(x, "expon", args=(0, 2.0)).pvalue > 0.001


def test_poisson_is_int_with_matching_mean_and_variance():
    x = one({"distribution": "poisson", "lam": 4.0})
    assert x.dtype == np.int64
    assert abs(x.mean() - 4.0) < 0.06
    assert abs(x.var() - 4.0) < 0.15


def test_uniform_and_integer_ranges():
    u = one({"distribution": "uniform", "low": -1.0, "high": 3.0})
    assert u.min() >= -1.0 and u.max() < 3.0
    assert abs(u.mean() - 1.0) < 0.03
    assert abs(u.var() - 16 / 12) < 0.04
    k = one({"distribution": "integer", "low": 1, "high": 6})
    assert k.dtype == np.int64
    assert set(k.unique()) == {1, 2, 3, 4, 5, 6}
    assert abs(k.mean() - 3.5) < 0.05


def test_gamma_and_beta_means():
    g = one({"distribution": "gamma", "shape": 2.0, "scale": 3.0})
    assert abs(g.mean() - 6.0) < 0.15 and abs(g.var() - 18.0) < 1.0
    b = one({"distribution": "beta", "a": 2.0, "b": 5.0})
    assert abs(b.mean() - 2 / 7) < 0.005


def test_bernoulli_rate():
    x = one({"distribution": "bernoulli", "p": 0.3})
    assert x.dtype == bool
    assert abs(x.mean() - 0.3) < 0.015


def test_categorical_weights_are_respected():
    x = one({"distribution": "categorical", "categories": {"a": 0.6, "b": 0.3, "c": 0.1}})
    shares = x.value_counts(normalize=True)
    assert abs(shares["a"] - 0.6) < 0.015
    assert abs(shares["b"] - 0.3) < 0.015
    assert abs(shares["c"] - 0.1) < 0.01


def test_categorical_weights_by_lookup_depend_on_the_earlier_column():
    spec = load_spec(
        {
            "columns": {
                "g": {"distribution": "categorical", "categories": ["p", "q"]},
                "x": {
                    "distribution": "categorical",
                    "categories": ["a", "b"],
                    "weights": {"by": "g", "values": {"p": [0.9, 0.1], "q": [0.2, 0.8]}},
                },
            }
        }
    )
    df = generate(spec, N, rng=1)
    share_a = df.groupby("g").x.apply(lambda s: (s == "a").mean())
    assert abs(share_a["p"] - 0.9) < 0.015
    assert abs(share_a["q"] - 0.2) < 0.015


def test_lookup_parameter_gives_per_category_means():
    spec = load_spec(
        {
            "columns": {
                "k": {"distribution": "categorical", "categories": ["lo", "hi"]},
                "x": {
                    "distribution": "normal",
                    "mean": {"by": "k", "values": {"lo": 0.0, "hi": 100.0}},
                    "std": 1.0,
                },
            }
        }
    )
    df = generate(spec, N, rng=2)
    means = df.groupby("k").x.mean()
    assert abs(means["lo"]) < 0.05 and abs(means["hi"] - 100) < 0.05


def test_datetime_range_hours_and_timezone():
    hw = [0.0] * 24
    hw[9] = 1.0
    hw[17] = 3.0
    spec = load_spec(
        {
            "columns": {
                "t": {
                    "distribution": "datetime",
                    "start": "2024-01-01",
                    "end": "2024-03-01",
                    "tz": "Europe/Paris",
                    "hour_weights": hw,
                }
            }
        }
    )
    t = generate(spec, N, rng=0)["t"]
    assert str(t.dtype) == "datetime64[ns, Europe/Paris]"
    assert t.min() >= pd.Timestamp("2024-01-01", tz="Europe/Paris")
    assert t.max() < pd.Timestamp("2024-03-01", tz="Europe/Paris")
    hours = t.dt.hour.value_counts(normalize=True)
    assert set(hours.index) == {9, 17}
    assert abs(hours[17] - 0.75) < 0.015
    # uniform days: about as many rows in January (31 days) as 31/60 of all
    assert abs((t.dt.month == 1).mean() - 31 / 60) < 0.015


def test_datetime_without_weights_is_uniform_and_naive():
    t = one({"distribution": "datetime", "start": "2020-01-01", "end": "2020-01-11"})
    assert t.dtype == "datetime64[ns]"
    days = (t - pd.Timestamp("2020-01-01")) / pd.Timedelta(days=1)
    assert stats.kstest(days, "uniform", args=(0, 10)).pvalue > 0.001
    assert (t.dt.microsecond == 0).all()  # resolution: seconds by default


def test_sequence_entity_and_uuid_ids():
    spec = load_spec(
        {
            "columns": {
                "row": {"distribution": "sequence", "start": 100, "step": 2},
                "tx": {"distribution": "sequence", "format": "TX-{:05d}"},
                "cust": {"distribution": "entity", "count": 50, "format": "C{:03d}", "skew": 1.0},
                "k": {"distribution": "sequence", "by": "cust"},
                "u": {"distribution": "uuid"},
            },
            "order_by": ["cust"],
        }
    )
    df = generate(spec, 1000, rng=0)
    assert df.row.tolist() == list(range(100, 2100, 2))
    assert df.tx.iloc[0] == "TX-00001" and df.tx.iloc[-1] == "TX-01000"
    assert df.cust.nunique() <= 50 and df.cust.str.fullmatch(r"C\d{3}").all()
    assert df.cust.is_monotonic_increasing
    # per-customer counter: 1, 2, 3, ... within each customer
    assert (df.groupby("cust").k.transform(lambda s: s.diff().fillna(1)) == 1).all()
    assert (df.groupby("cust").k.min() == 1).all()
    assert (
        df.u.is_unique
        and df.u.str.fullmatch(
            r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
        ).all()
    )
    # skew: the busiest customer has many more rows than the quietest
    counts = df.cust.value_counts()
    assert counts.iloc[0] > 5 * counts.iloc[-1]


def test_per_entity_attributes_are_constant_within_an_entity():
    spec = load_spec(
        {
            "columns": {
                "cust": {"distribution": "entity", "count": 30},
                "tier": {"distribution": "categorical", "per": "cust", "categories": ["a", "b"]},
                "limit": {"distribution": "uniform", "per": "cust", "low": 0, "high": 1},
                "spend": {"expr": "limit * 2"},
            }
        }
    )
    df = generate(spec, 3000, rng=0)
    assert df.cust.dtype == np.int64
    assert (df.groupby("cust")[["tier", "limit"]].nunique() == 1).all().all()
    assert np.allclose(df.spend, df.limit * 2)


def test_faker_pool_is_seeded_and_respects_pool_size(global_rng_guard):
    col = {"distribution": "faker", "provider": "name", "locale": "fr_FR", "pool_size": 50}
    a = one(col, n=2000, seed=5)
    b = one(col, n=2000, seed=5)
    c = one(col, n=2000, seed=6)
    assert a.equals(b)
    assert not a.equals(c)
    assert a.nunique() <= 50
    uniq = one({**col, "unique": True, "pool_size": 10}, n=300, seed=1)
    assert uniq.is_unique


def test_null_rate_blanks_a_share_with_nullable_dtypes():
    spec = load_spec(
        {
            "columns": {
                "i": {"distribution": "poisson", "lam": 3, "null_rate": 0.2},
                "f": {"distribution": "normal", "mean": 0, "std": 1, "null_rate": 0.1},
                "s": {"distribution": "categorical", "categories": ["a"], "null_rate": 0.1},
            }
        }
    )
    df = generate(spec, N, rng=0)
    assert str(df.i.dtype) == "Int64"
    assert abs(df.i.isna().mean() - 0.2) < 0.015
    assert abs(df.f.isna().mean() - 0.1) < 0.01
    assert abs(df.s.isna().mean() - 0.1) < 0.01


# -- rules -----------------------------------------------------------------------------------
def test_bounds_truncate_instead_of_clipping():
    x = one({"distribution": "normal", "mean": 0, "std": 1, "min": -1, "max": 2})
    assert x.min() >= -1 and x.max() <= 2
    # truncated, not clipped: no pile-up at the bounds
    assert (x == -1).sum() == 0 and (x == 2).sum() == 0
    assert stats.kstest(x, stats.truncnorm(-1, 2).cdf).pvalue > 0.001
    clipped = one({"distribution": "normal", "mean": 0, "std": 1, "min": -1, "bounds": "clip"})
    assert (clipped == -1).mean() > 0.1


def test_constraints_hold_on_every_row():
    spec = load_spec(
        {
            "columns": {
                "kind": {"distribution": "categorical", "categories": {"shop": 0.7, "atm": 0.3}},
                "amount": {"distribution": "lognormal", "mu": 4, "sigma": 1, "decimals": 2},
                "qty": {"distribution": "poisson", "lam": 1.0},
                "ratio": {"distribution": "normal", "mean": 0.5, "std": 0.5},
            },
            "rules": [
                "amount > 0",
                {"when": "kind == 'atm'", "check": "amount % 20 == 0"},
                {"when": "kind == 'atm'", "check": "amount <= 500"},
                "qty >= 1",
                "0 <= ratio <= 1",
                {"when": "kind == 'shop'", "check": "amount + qty > 5"},
            ],
        }
    )
    df = generate(spec, N, rng=3)
    atm = df[df.kind == "atm"]
    assert (df.amount > 0).all()
    assert (atm.amount % 20 == 0).all() and (atm.amount <= 500).all()
    assert (df.qty >= 1).all()
    assert df.ratio.between(0, 1).all()
    shop = df[df.kind == "shop"]
    assert (shop.amount + shop.qty > 5).all()
    # the conditional rules did not leak onto the other rows
    assert (df[df.kind == "shop"].amount > 500).any()
    # truncated poisson: P(X = k | X >= 1) is the poisson pmf rescaled
    expected = stats.poisson.pmf(1, 1.0) / stats.poisson.sf(0, 1.0)
    assert abs((df.qty == 1).mean() - expected) < 0.015


def test_rule_enforced_by_resampling_keeps_the_conditional_distribution():
    # the rule involves two columns: only resampling can enforce it
    spec = load_spec(
        {
            "columns": {
                "a": {"distribution": "uniform", "low": 0, "high": 1},
                "b": {"distribution": "uniform", "low": 0, "high": 1},
            },
            "rules": ["a + b < 1"],
        }
    )
    df = generate(spec, N, rng=0)
    assert (df.a + df.b < 1).all()
    assert abs(df.a.mean() - 1 / 3) < 0.01  # mean of a on the triangle


def test_impossible_rule_raises_with_counts_and_rule_name():
    spec = load_spec(
        {
            "columns": {
                "a": {"distribution": "uniform", "low": 0, "high": 1},
                "b": {"distribution": "uniform", "low": 0, "high": 1},
            },
            "rules": [{"name": "never", "check": "a + b > 3"}],
            "max_rounds": 3,
        }
    )
    with pytest.raises(SpecError) as e:
        generate(spec, 100, rng=0)
    msg = str(e.value)
    assert "only 0 of 100 rows" in msg and "'never'" in msg and "rounds" in msg


def test_rare_rule_reports_how_many_rows_could_be_made_and_can_warn():
    spec = {
        "columns": {"a": {"distribution": "uniform", "low": 0, "high": 1}},
        "rules": [{"name": "rare", "check": "a * 1000 % 1 < 0.0005"}],  # ~1 in 2000
        "max_rounds": 1,
    }
    with pytest.raises(
        SpecError, match=r"only \d+ of 5000 rows could be made in 1 resampling rounds"
    ):
        generate(load_spec(spec), 5000, rng=0)
    with pytest.warns(SosieWarning, match="'rare'"):
        df = generate(load_spec({**spec, "on_failure": "warn"}), 5000, rng=0)
    assert 0 < len(df) < 5000


def test_label_rule_and_noise_rate():
    spec = load_spec(
        {
            "columns": {
                "x": {"distribution": "normal", "mean": 0, "std": 1},
                "flag": {"label": "x > 1", "noise": 0.1},
                "clean": {"label": "x > 1"},
            }
        }
    )
    df = generate(spec, N, rng=0)
    assert df.flag.dtype == bool
    assert (df.clean == (df.x > 1)).all()
    flipped = (df.flag != (df.x > 1)).mean()
    assert abs(flipped - 0.1) < 0.01


# -- event times -----------------------------------------------------------------------------
def test_event_time_is_a_poisson_process_per_host():
    spec = load_spec(
        {
            "columns": {
                "host": {"distribution": "categorical", "categories": ["h1", "h2", "h3"]},
                "rate": {
                    "expr": {"by": "host", "values": {"h1": 0.5, "h2": 2.0, "h3": 10.0}},
                    "hidden": True,
                },
                "t": {
                    "distribution": "event_time",
                    "by": "host",
                    "rate": "rate",
                    "unit": "s",
                    "start": "2024-01-01",
                    "resolution": "ns",
                },
            },
            "order_by": ["host", "t"],
        }
    )
    df = generate(spec, 30_000, rng=0)
    assert df.t.dtype == "datetime64[ns]"
    for host, rate in {"h1": 0.5, "h2": 2.0, "h3": 10.0}.items():
        t = df.t[df.host == host]
        assert t.is_monotonic_increasing  # ordered by host then time
        first = (t.iloc[0] - pd.Timestamp("2024-01-01")).total_seconds()
        gaps = np.r_[first, t.diff().dt.total_seconds().to_numpy()[1:]]
        assert abs(gaps.mean() - 1 / rate) < 0.05 / rate
        assert stats.kstest(gaps, "expon", args=(0, 1 / rate)).pvalue > 0.001


def test_event_time_rate_drawn_per_entity_and_derived_columns_after_it():
    spec = load_spec(
        {
            "columns": {
                "host": {
                    "distribution": "entity",
                    "count": 20,
                    "format": "h{:02d}",
                    "weights": "rate",
                },
                "rate": {"distribution": "lognormal", "per": "host", "mu": 0, "sigma": 1},
                "t": {
                    "distribution": "event_time",
                    "by": "host",
                    "rate": "rate",
                    "start": "2024-01-01",
                    "tz": "UTC",
                },
                "night": {"expr": "hour(t) < 6"},
                "bytes": {"distribution": "poisson", "lam": "where(night, 1.0, 50.0)"},
            },
            "rules": [{"when": "night", "check": "bytes < 3"}],
            "order_by": ["host", "t"],
        }
    )
    df = generate(spec, 20_000, rng=4)
    assert str(df.t.dtype) == "datetime64[ns, UTC]"
    assert (df.night == (df.t.dt.hour < 6)).all()
    assert (df.bytes[df.night] < 3).all()
    # rows per host proportional to the host's rate: every host spans a similar time
    spans = df.groupby("host").t.max() - pd.Timestamp("2024-01-01", tz="UTC")
    assert spans.max() / spans.min() < 1.5
    per_host = df.groupby("host").t.apply(lambda s: s.diff().dt.total_seconds().mean())
    assert (per_host.sort_index().to_numpy() > 0).all()


# -- determinism and conditions --------------------------------------------------------------
@pytest.fixture(scope="module")
def card_spec():
    return load_spec(example_path("card_transactions"))


def test_same_seed_same_frame_different_seed_different(card_spec):
    a = generate(card_spec, 3000, rng=11)
    b = generate(card_spec, 3000, rng=np.random.default_rng(11))
    c = generate(card_spec, 3000, rng=11)
    d = generate(card_spec, 3000, rng=12)
    pd.testing.assert_frame_equal(a, c)
    assert not a.equals(d)
    assert isinstance(b, pd.DataFrame) and len(b) == 3000


def test_conditions_fix_drawn_columns_and_derived_columns_follow():
    spec = load_spec(
        {
            "columns": {
                "kind": {"distribution": "categorical", "categories": ["a", "b"]},
                "x": {"distribution": "normal", "mean": 0, "std": 1},
                "y": {"expr": "x * 10 if kind == 'a' else x"},
                "big": {"label": "y > 5"},
            }
        }
    )
    free = generate(spec, 500, rng=0)
    df = generate(spec, 500, rng=0, conditions={"kind": "a", "x": 0.7})
    assert (df.kind == "a").all() and (df.x == 0.7).all()
    assert np.allclose(df.y, 7.0) and df.big.all()
    # the other columns' draws do not move when a column is fixed
    only_kind = generate(spec, 500, rng=0, conditions={"kind": "b"})
    assert np.array_equal(only_kind.x, free.x)


def test_conditions_on_labels_use_bounded_rejection(card_spec):
    df = generate(card_spec, 200, rng=0, conditions={"is_fraud": True})
    assert len(df) == 200 and df.is_fraud.all()
    df = generate(card_spec, 100, rng=0, conditions={"merchant_category": "atm"})
    assert (df.merchant_category == "atm").all() and (df.amount % 20 == 0).all()
    assert (df.channel == "chip").all()  # follows the lookup weights for atm


def test_impossible_conditions_raise_condition_error(card_spec):
    with pytest.raises(ConditionError, match="no such column"):
        generate(card_spec, 10, rng=0, conditions={"amout": 3})
    with pytest.raises(ConditionError, match="grocery"):
        generate(card_spec, 10, rng=0, conditions={"merchant_category": "casino"})
    with pytest.raises(ConditionError, match="a value in"):
        generate(card_spec, 10, rng=0, conditions={"amount": 50_000})
    with pytest.raises(ConditionError, match="sequence"):
        generate(card_spec, 10, rng=0, conditions={"transaction_id": "TX000000001"})
    # a derived column that can never take the value: bounded, says how many rows
    with pytest.raises(ConditionError, match=r"only 0 of 10 rows"):
        generate(card_spec, 10, rng=0, conditions={"currency": "EUR"})
    # a drawn value that contradicts a rule
    with pytest.raises(ConditionError, match="atm_multiples_of_20"):
        generate(card_spec, 10, rng=0, conditions={"merchant_category": "atm", "amount": 15.5})


# -- the bundled examples ----------------------------------------------------------------------
def test_card_transactions_example(card_spec):
    df = generate(card_spec, 20_000, rng=1)
    assert list(df.columns) == card_spec.output_columns
    assert df.transaction_id.is_unique
    assert (df.amount >= 1).all()
    atm = df[df.merchant_category == "atm"]
    assert (atm.amount % 20 == 0).all() and (atm.amount <= 800).all()
    assert (df.channel[df.merchant_category == "online_retail"] == "online").all()
    # rule-based fraud (plus noise) is rare; injected episodes add bursts and sprees
    assert 0.005 < (df.fraud_pattern == "rule-based").mean() < 0.025
    assert 0.005 < (df.is_fraud & (df.fraud_pattern != "rule-based")).mean() < 0.03
    assert (
        (df.groupby("customer_id")[["customer_name", "spending_profile"]].nunique() == 1)
        .all()
        .all()
    )
    keys = list(zip(df.customer_id, df.timestamp, strict=True))
    assert keys == sorted(keys)
    assert df.timestamp.dtype == "datetime64[ns]" and df.amount.dtype == np.float64
    summary = {s.name: s for s in spec_columns_summary(card_spec)}
    assert summary["customer_name"].semantic_type == "pii"
    assert summary["amount"].facts["max"] == 20000


def test_network_logs_example():
    spec = load_spec(example_path("network_logs"))
    df = generate(spec, 20_000, rng=2)
    assert "host_rate" not in df.columns and "exfiltration" not in df.columns
    ports = {"https": 443, "http": 80, "dns": 53, "ssh": 22, "smtp": 25, "ntp": 123}
    scans = df.anomaly_kind == "port_scan"  # injected: ports of their own
    assert (df.dst_port[~scans] == df.protocol[~scans].map(ports)).all()
    assert df.dst_port.dtype == np.int64 and df.bytes_sent.dtype == np.int64
    assert (df.bytes_sent >= 40).all()
    assert (df.bytes_sent[df.protocol == "dns"] <= 4096).mean() > 0.99
    assert 0.001 < (df.anomaly_kind.isin(["exfiltration", "rule-based"])).mean() < 0.02
    assert df.is_anomaly[df.anomaly_kind.isin(["port_scan", "beaconing"])].all()
    assert df.groupby("host").timestamp.apply(lambda s: s.is_monotonic_increasing).all()
    assert (df.groupby("host")[["host_role", "src_ip"]].nunique() == 1).all().all()
    assert str(df.timestamp.dtype) == "datetime64[ns, UTC]"


def test_zero_rows_keeps_columns_and_dtypes(card_spec):
    df = generate(card_spec, 0, rng=0)
    assert list(df.columns) == card_spec.output_columns and len(df) == 0
    assert df.amount.dtype == np.float64 and df.is_fraud.dtype == bool


def test_bad_n_rows():
    spec = load_spec({"columns": {"x": {"distribution": "uuid"}}})
    with pytest.raises(ValueError, match="n_rows"):
        generate(spec, -1, rng=0)


def test_unique_faker_values_stay_unique_across_resampling_rounds():
    spec = load_spec(
        {
            "columns": {
                "x": {"distribution": "uniform", "low": 0, "high": 1},
                "email": {"distribution": "faker", "provider": "email", "unique": True},
            },
            "rules": ["x + x * x < 1"],  # rejects ~40 % of rows: the pool has to grow
        }
    )
    df = generate(spec, 400, rng=0)
    assert len(df) == 400 and df.email.is_unique
    assert (df.x + df.x**2 < 1).all()


def test_failure_names_the_rule_with_its_yaml_line():
    text = (
        "columns:\n"
        "  a: {distribution: uniform, low: 0, high: 1}\n"
        "rules:\n"
        "  - check: 'a > 0'\n"
        "  - {name: too_big, check: 'a * a > 2'}\n"
        "max_rounds: 2\n"
    )
    with pytest.raises(SpecError, match=r"line 5, rules\[1\].*rule 'too_big'.*100\.0%"):
        generate(load_spec(text), 50, rng=0)


def test_sorting_helper_matches_numpy_lexsort():
    from sosie.generators.rules._engine import _lexsort

    rng = np.random.default_rng(0)
    n = 5000
    small = rng.integers(0, 30, n)  # category ranks: radix-sorted
    big = rng.integers(0, 10, n) * 10**15  # ties on purpose
    floats = np.where(rng.random(n) < 0.1, np.nan, rng.normal(size=n).round(1))
    flags = rng.random(n) < 0.5
    for keys in ([small, big], [big, small, floats], [flags, small], [floats], [small]):
        assert np.array_equal(_lexsort(keys), np.lexsort(keys[::-1]))
