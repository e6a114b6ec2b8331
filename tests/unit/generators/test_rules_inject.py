"""Injected temporal patterns of rule-based specs: episodes, labels, rules, examples."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from sosie.errors import ConditionError, SosieWarning, SpecError
from sosie.generators.rules import RulesGenerator
from sosie.generators.rules._engine import generate
from sosie.generators.rules._spec import example_path, load_spec


def shop(**pattern) -> dict:
    """A small spec: 400 users, a per-user tier and name, purchases over January."""
    base = {
        "name": "burst",
        "entity": "user",
        "time": "t",
        "entities": 0.1,
        "events": {"distribution": "integer", "low": 3, "high": 10},
        "gap": {"scale": 30, "unit": "s"},
        "set": {"kind": "web", "amount": {"distribution": "uniform", "low": 1, "high": 5}},
        "label": {"flag": True, "pattern": "burst"},
    }
    base.update(pattern)
    return {
        "columns": {
            "user": {"distribution": "entity", "count": 400, "format": "U{:04d}"},
            "tier": {
                "distribution": "categorical",
                "per": "user",
                "categories": {"basic": 0.7, "gold": 0.3},
            },
            "name": {"distribution": "faker", "provider": "name", "per": "user"},
            "t": {
                "distribution": "datetime",
                "start": "2024-01-01",
                "end": "2024-02-01",
                "tz": "Europe/Paris",
            },
            "kind": {"distribution": "categorical", "categories": {"shop": 0.9, "web": 0.1}},
            "log_mean": {"expr": {"by": "kind", "values": {"shop": 3.0, "web": 5.0}}},
            "amount": {"distribution": "lognormal", "mu": "log_mean", "sigma": 0.5},
            "night": {"expr": "hour(t) < 6"},
            "flag": {"label": "amount > 400"},
        },
        "rules": [{"name": "positive", "check": "amount >= 2"}],
        "inject": [base],
        "order_by": ["user", "t"],
    }


def episodes_of(df: pd.DataFrame, column: str = "pattern", value: str = "burst") -> pd.DataFrame:
    return df[df[column] == value]


# -- how many episodes, how big ----------------------------------------------------------------
def test_share_of_entities_and_episode_sizes_match_the_spec():
    df = generate(shop(), 20_000, rng=0)
    assert len(df) == 20_000
    inj = episodes_of(df)
    sizes = inj.groupby("user").size()
    assert len(sizes) == 40  # 10 % of the 400 users, one episode each
    assert sizes.between(3, 10).all()
    assert abs(sizes.mean() - 6.5) < 1.2  # integer 3..10: mean 6.5, sd 2.3, 40 episodes
    assert (df.pattern == "none").sum() == 20_000 - len(inj)


def test_episodes_per_entity_and_constant_event_counts():
    df = generate(shop(entities=0.05, episodes=3, events=1), 10_000, rng=1)
    sizes = episodes_of(df).groupby("user").size()
    assert len(sizes) == 20 and (sizes == 3).all()


def test_rate_gives_episodes_in_proportion_to_the_rows():
    spec = shop(entities=None, rate=0.002, events=4)
    del spec["inject"][0]["entities"]
    counts = [len(episodes_of(generate(spec, 20_000, rng=s))) / 4 for s in range(3)]
    # Poisson(0.002 * 20000 = 40) episodes each time: the mean of 3 within ~3 sd
    assert abs(np.mean(counts) - 40) < 11


def test_max_share_caps_the_injected_rows_of_small_tables():
    df = generate(shop(max_share=0.05), 400, rng=2)
    assert len(df) == 400
    assert 0 < len(episodes_of(df)) <= 20


# -- time ----------------------------------------------------------------------------------------
def spec_events() -> dict:
    """Hosts as Poisson processes (a rate per host), with bursts of fast events."""
    return {
        "columns": {
            "host": {"distribution": "entity", "count": 50, "weights": "rate"},
            "rate": {"distribution": "lognormal", "per": "host", "mu": -4, "sigma": 0.3},
            "ts": {
                "distribution": "event_time",
                "by": "host",
                "rate": "rate",
                "start": "2024-03-01",
                "tz": "UTC",
            },
            "port": {"distribution": "categorical", "categories": {"443": 0.8, "53": 0.2}},
            "off_hours": {"expr": "hour(ts) < 7"},
        },
        "inject": [
            {
                "name": "scan",
                "entities": 0.2,
                "events": 50,
                "gap": {"scale": 0.05, "unit": "s"},
                "set": {"port": {"distribution": "categorical", "categories": ["443", "53"]}},
                "label": {"kind": "scan"},
            }
        ],
    }


def test_bursts_are_fast_next_to_the_entity_s_ordinary_gaps_and_sorted_per_entity():
    df = generate(spec_events(), 20_000, rng=3)
    assert len(df) == 20_000 and df.columns[-1] == "kind"
    # order_by defaults to [entity, time] of the first pattern
    assert df.groupby("host").ts.apply(lambda s: s.is_monotonic_increasing).all()
    assert df.host.is_monotonic_increasing
    scanned = df[df.kind == "scan"].host.unique()
    assert len(scanned) == 10
    gaps = df[df.host.isin(scanned)].groupby("host").ts.diff().dt.total_seconds()
    both = df.kind.eq(df.kind.shift()) & df.host.eq(df.host.shift())
    inside = gaps[both & (df.kind == "scan")]
    ordinary = gaps[both & (df.kind == "none")]
    assert inside.median() < 0.2 and ordinary.median() > 20  # 0.05 s vs ~55 s mean gaps
    assert inside.median() < ordinary.median() / 100
    # each burst falls inside its host's own span of ordinary events
    span = df[df.kind == "none"].groupby("host").ts.agg(["min", "max"])
    first = df[df.kind == "scan"].groupby("host").ts.min()
    assert (first >= span["min"].loc[first.index]).all()
    assert (first <= span["max"].loc[first.index]).all()
    assert (df.off_hours == (df.ts.dt.hour < 7)).all()  # recomputed from the new times


def test_episode_start_hours_are_local_times():
    df = generate(shop(at={"hours": [1, 3]}, gap={"scale": 1, "unit": "s"}), 20_000, rng=4)
    inj = episodes_of(df)
    first = inj.groupby("user").t.min()
    assert str(df.t.dtype) == "datetime64[ns, Europe/Paris]"
    assert first.dt.hour.isin([1, 2]).all()
    assert inj.night.all()  # night = hour(t) < 6, recomputed on the episode's rows
    assert (df.night == (df.t.dt.hour < 6)).all()
    assert (df.t >= pd.Timestamp("2024-01-01", tz="Europe/Paris")).all()
    assert (df.t < pd.Timestamp("2024-02-01", tz="Europe/Paris")).all()


def test_near_periodic_gaps():
    spec = shop(events=30, gap={"distribution": "normal", "mean": 300, "std": 2, "unit": "s"})
    inj = episodes_of(generate(spec, 20_000, rng=5))
    gaps = inj.groupby("user").t.diff().dt.total_seconds().dropna()
    assert abs(gaps.mean() - 300) < 1 and gaps.std() < 3


# -- what the rows carry ------------------------------------------------------------------------
def test_episode_rows_keep_the_entity_s_attributes_and_recompute_what_follows():
    df = generate(shop(), 20_000, rng=6)
    inj = episodes_of(df)
    assert (df.groupby("user")[["tier", "name"]].nunique() == 1).all().all()
    assert (inj.kind == "web").all()
    assert (inj.log_mean == 5.0).all()  # the lookup follows the new kind
    ordinary = df[df.pattern == "none"]
    assert (ordinary.log_mean == ordinary.kind.map({"shop": 3.0, "web": 5.0})).all()
    assert inj.amount.between(2, 5).all()  # the pattern's draw, truncated by the rule
    assert inj.flag.all()  # labelled by the pattern
    assert (ordinary.flag == (ordinary.amount > 400)).all()  # the label rule elsewhere


def test_set_draws_follow_the_columns_they_read_and_per_episode_draws_are_shared():
    spec = shop(
        set={
            "kind": "web",
            "amount": {"distribution": "lognormal", "mu": "log_mean + 1", "sigma": 0.1},
        },
        label={"pattern": {"value": "burst", "default": "normal"}},
    )
    spec["columns"]["ip"] = {"distribution": "faker", "provider": "ipv4_public"}
    spec["inject"][0]["set"]["ip"] = {
        "distribution": "faker",
        "provider": "ipv4_private",
        "per": "episode",
    }
    df = generate(spec, 10_000, rng=7)
    inj = episodes_of(df)
    assert abs(np.log(inj.amount).median() - 6.0) < 0.1  # mu = 5 + 1 for web
    assert (inj.groupby("user").ip.nunique() == 1).all()  # one value per episode
    assert inj.ip.nunique() == inj.user.nunique()
    assert set(df.pattern) == {"normal", "burst"}
    assert df.flag[df.pattern == "burst"].mean() > 0.5  # not labelled: the rule decides
    assert (inj.flag == (inj.amount > 400)).all()


def test_new_label_columns_get_defaults_and_join_the_summary():
    spec = load_spec(shop(label={"flag": True, "pattern": "burst", "severity": 3, "alert": True}))
    assert spec.output_columns[-3:] == ["pattern", "severity", "alert"]
    df = generate(spec, 5_000, rng=8)
    inj = df.pattern == "burst"
    assert (df.severity[inj] == 3).all() and (df.severity[~inj] == 0).all()
    assert df.alert.dtype == bool and (df.alert == inj).all()
    summary = {s.name: s for s in spec.summary()}
    assert summary["pattern"].facts["categories"] == ["none", "burst"]
    assert summary["alert"].semantic_type == "boolean"
    schema = RulesGenerator(spec=shop(), rng=0).fit().schema_
    assert schema["pattern"].categories == ["none", "burst"]


# -- rules, conditions, failures -----------------------------------------------------------------
def test_rules_hold_on_injected_rows_unless_skipped():
    tiny = {"amount": {"distribution": "uniform", "low": 0.5, "high": 3}}
    kept = episodes_of(generate(shop(set=tiny), 10_000, rng=9))
    assert (kept.amount >= 2).all()
    skipped = episodes_of(generate(shop(set=tiny, skip_rules=["positive"]), 10_000, rng=9))
    assert (skipped.amount < 2).mean() > 0.4


def test_a_pattern_that_breaks_a_rule_names_itself_and_the_rule():
    bad = shop(set={"amount": 1.0})
    spec = load_spec({**bad, "max_rounds": 2})
    with pytest.raises(SpecError, match=r"inject\[0\] \(pattern 'burst'\).*rule 'positive'"):
        generate(spec, 2_000, rng=0)
    spec = load_spec({**bad, "max_rounds": 2, "on_failure": "warn"})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        df = generate(spec, 2_000, rng=0)
    assert any(issubclass(w.category, SosieWarning) for w in caught)
    assert len(df) < 2_000 and (df.pattern == "none").all()


def test_conditions_leave_out_patterns_that_cannot_match():
    spec = load_spec(shop())
    web = generate(spec, 3_000, rng=10, conditions={"kind": "web"})
    assert (web.kind == "web").all() and (web.pattern == "burst").any()
    shop_only = generate(spec, 3_000, rng=10, conditions={"kind": "shop"})
    assert (shop_only.kind == "shop").all() and (shop_only.pattern == "none").all()
    flagged = generate(spec, 500, rng=10, conditions={"flag": True})
    assert flagged.flag.all() and (flagged.pattern == "burst").any()
    with pytest.raises(ConditionError, match="only injected patterns set"):
        generate(spec, 10, rng=0, conditions={"pattern": "burst"})


def test_same_seed_same_output():
    spec = load_spec(spec_events())
    a = generate(spec, 5_000, rng=11)
    pd.testing.assert_frame_equal(a, generate(spec, 5_000, rng=11))
    assert not a.equals(generate(spec, 5_000, rng=12))


# -- the bundled examples ------------------------------------------------------------------------
def test_card_example_injects_card_testing_and_unusual_merchant_sprees():
    spec = load_spec(example_path("card_transactions"))
    df = generate(spec, 50_000, rng=13)
    assert len(df) == 50_000
    keys = list(zip(df.customer_id, df.timestamp, strict=True))
    assert keys == sorted(keys)
    assert set(df.fraud_pattern) == {"none", "rule-based", "burst", "unusual_merchant"}
    assert (df.is_fraud == (df.fraud_pattern != "none")).all()
    burst = df[df.fraud_pattern == "burst"]
    assert burst.customer_id.nunique() == 50  # 1 % of 5,000 customers
    assert burst.groupby("customer_id").size().between(3, 10).all()
    assert (burst.merchant_category == "online_retail").all() and burst.amount.le(5).all()
    gap = burst.groupby("customer_id").timestamp.diff().dt.total_seconds().median()
    assert 60 < gap < 600  # minutes apart
    spree = df[df.fraud_pattern == "unusual_merchant"]
    assert spree.customer_id.nunique() == 25
    assert spree.merchant_category.isin(["jewelry", "electronics", "travel"]).all()
    assert spree.is_night.mean() > 0.8
    assert spree.distance_from_home_km.median() > 100
    assert (spree.groupby("customer_id").distance_from_home_km.nunique() == 1).all()
    statics = ["customer_name", "spending_profile"]
    assert (df.groupby("customer_id")[statics].nunique() == 1).all().all()
    assert (df.is_night == (df.timestamp.dt.hour < 6)).all()


def test_network_example_injects_port_scans_and_beaconing():
    spec = load_spec(example_path("network_logs"))
    df = generate(spec, 50_000, rng=14)
    assert len(df) == 50_000
    assert df.groupby("host").timestamp.apply(lambda s: s.is_monotonic_increasing).all()
    kinds = set(df.anomaly_kind)
    assert {"none", "port_scan", "beaconing", "exfiltration"} <= kinds
    assert (df.is_anomaly[df.anomaly_kind.isin(["port_scan", "beaconing"])]).all()
    scan = df[df.anomaly_kind == "port_scan"]
    per_host = scan.groupby("host")
    assert (per_host.dst_port.nunique() > 50).all()  # many ports
    assert (per_host.dst_ip.nunique() == 1).all()  # one target
    spans = per_host.timestamp.agg(lambda s: (s.max() - s.min()).total_seconds())
    assert (spans < 30).all()  # within seconds
    assert (scan.protocol == "tcp").all() and scan.bytes_sent.le(80).all()
    beacon = df[df.anomaly_kind == "beaconing"]
    gaps = beacon.groupby("host").timestamp.diff().dt.total_seconds().dropna()
    assert abs(gaps.median() - 300) < 5 and gaps.std() < 10  # near-constant intervals
    assert (beacon.groupby("host").dst_ip.nunique() == 1).all()
    assert (beacon.dst_port == 443).all()  # the port follows the protocol
    assert (df.groupby("host")[["host_role", "src_ip"]].nunique() == 1).all().all()
    ordinary = df[~df.anomaly_kind.isin(["port_scan", "beaconing"])]
    ports = {"https": 443, "http": 80, "dns": 53, "ssh": 22, "smtp": 25, "ntp": 123}
    assert (ordinary.dst_port == ordinary.protocol.map(ports)).all()
