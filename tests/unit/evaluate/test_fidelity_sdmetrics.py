"""Column shapes and pair trends agree with SDMetrics' QualityReport on real data (Adult).

SDMetrics (MIT) needs pandas < 3, so it is not a test dependency: it runs in the throwaway
virtualenv that ``benchmarks/run_copula_vs_sdv.py`` creates (``benchmarks/.venv-sdv``), or
in the interpreter named by ``SOSIE_SDMETRICS_PYTHON``. The test skips when neither exists.
Tables travel as CSV (empty cell = null) with a metadata JSON.

Known, explained differences: SDMetrics cuts a number in a mixed (number x category) pair
into 10 equal-width bins computed separately on each table; sosie uses quantile bins of the
real column, applied to both tables, with atoms kept apart. Only mixed pairs differ, and
they differ a lot where the synthetic range differs from the real one: SDMetrics' bin k then
means different values in the two tables (Adult's ``fnlwgt``: real max 1.23M, copula max
0.75M, and every ``fnlwgt`` x category pair scores ~0.65 there against ~0.94 here). Mixed
pairs are compared only where both tables span the same range.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sosie.evaluate.fidelity import column_shapes, pair_trends
from sosie.generators.copula import GaussianCopulaGenerator
from sosie.schema import infer_schema

N = 4000

WORKER = r"""
import json, sys, warnings
warnings.filterwarnings("ignore")
try:
    import pandas as pd
    from sdmetrics.reports.single_table.quality_report import QualityReport
except Exception as e:  # noqa: BLE001
    print(json.dumps({"skip": f"{type(e).__name__}: {e}"}))
    sys.exit(0)
root = sys.argv[1]
meta = json.load(open(f"{root}/metadata.json"))
dtypes = {c: ("float64" if m["sdtype"] == "numerical" else object) for c, m in meta["columns"].items()}
out = {}
for label in sys.argv[2:]:
    read = lambda p: pd.read_csv(p, dtype=dtypes, keep_default_na=False, na_values=[""])
    real, syn = read(f"{root}/{label}_real.csv"), read(f"{root}/{label}_synthetic.csv")
    default = QualityReport()
    default.generate(real, syn, meta, verbose=False)
    every = QualityReport()  # SDMetrics >= 0.2x averages associated pairs only; this one all
    every.real_correlation_threshold = 0
    every.real_association_threshold = 0
    every.generate(real, syn, meta, verbose=False)
    shapes = default.get_details("Column Shapes")
    pairs = every.get_details("Column Pair Trends")
    thr = default.get_details("Column Pair Trends")
    key = lambda d: [f"{a}|{b}" for a, b in zip(d["Column 1"], d["Column 2"])]
    props = default.get_properties().set_index("Property")["Score"].to_dict()
    out[label] = {
        "shapes_score": props["Column Shapes"],
        "trends_score": props["Column Pair Trends"],
        "trends_all_pairs": every.get_properties().set_index("Property")["Score"].to_dict()["Column Pair Trends"],
        "shapes": dict(zip(shapes["Column"], shapes["Score"])),
        "pairs": dict(zip(key(pairs), pairs["Score"])),
        "metric": dict(zip(key(pairs), pairs["Metric"])),
        "associated": [k for k, m in zip(key(thr), thr["Meets Threshold?"]) if m],
    }
print(json.dumps(out))
"""


def _sdmetrics_python() -> Path | None:
    env = os.environ.get("SOSIE_SDMETRICS_PYTHON")
    if env:
        return Path(env)
    p = Path(__file__).resolve().parents[3] / "benchmarks" / ".venv-sdv" / "bin" / "python"
    return p if p.exists() else None


@pytest.fixture(scope="module")
def comparison(adult_train, tmp_path_factory):
    python = _sdmetrics_python()
    if python is None or not python.exists():
        pytest.skip(
            "SDMetrics interpreter not found (benchmarks/.venv-sdv or SOSIE_SDMETRICS_PYTHON)"
        )
    # Setup: a real sample against a copula sample and against independent marginals
    schema = infer_schema(adult_train)
    perm = np.random.default_rng(0).permutation(len(adult_train))
    real = adult_train.iloc[perm[:N]].reset_index(drop=True)
    g = np.random.default_rng(1)
    cases = {
        "copula": GaussianCopulaGenerator(rng=0).fit(real, schema=schema).sample(N, rng=1),
        "shuffled": pd.DataFrame({c: real[c].to_numpy()[g.permutation(N)] for c in real.columns}),
    }
    root = tmp_path_factory.mktemp("sdmetrics")
    sdtypes = {"numerical", "categorical", "boolean"}
    meta = {
        "columns": {c.name: {"sdtype": c.type.value} for c in schema if c.type.value in sdtypes}
    }
    (root / "metadata.json").write_text(json.dumps(meta))
    for label, syn in cases.items():
        real.to_csv(root / f"{label}_real.csv", index=False)
        syn.to_csv(root / f"{label}_synthetic.csv", index=False)
    # Run: SDMetrics in its own interpreter, sosie here
    proc = subprocess.run(
        [str(python), "-c", WORKER, str(root), *cases],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    theirs = json.loads(proc.stdout.strip().splitlines()[-1])
    if "skip" in theirs:
        pytest.skip(f"SDMetrics not importable: {theirs['skip']}")
    ours = {
        label: (
            column_shapes(real, syn, schema, n_boot=0),
            pair_trends(real, syn, schema, n_boot=0, rng=0),
        )
        for label, syn in cases.items()
    }
    return ours, theirs, schema, real, cases


@pytest.mark.parametrize("label", ["copula", "shuffled"])
def test_column_shapes_match_sdmetrics(comparison, label):
    ours, theirs, *_ = comparison
    shapes, sdm = ours[label][0], theirs[label]
    assert set(shapes.breakdown) == set(sdm["shapes"])
    for col, score in sdm["shapes"].items():
        assert shapes.breakdown[col] == pytest.approx(score, abs=1e-3), col
    assert shapes.value == pytest.approx(sdm["shapes_score"], abs=1e-3)


@pytest.mark.parametrize("label", ["copula", "shuffled"])
def test_pair_trends_match_sdmetrics(comparison, label):
    ours, theirs, schema, real, cases = comparison
    trends, sdm = ours[label][1], theirs[label]
    syn = cases[label]
    assert set(trends.breakdown) == set(sdm["pairs"])

    def numeric(c: str) -> bool:
        return schema[c].type.value == "numerical"

    def same_range(c: str) -> bool:
        return real[c].min() == syn[c].min() and real[c].max() == syn[c].max()

    compared, mixed = [], []
    for pair, score in sdm["pairs"].items():
        a, b = pair.split("|")
        if numeric(a) != numeric(b):  # mixed: binned differently (see module docstring)
            if not same_range(a if numeric(a) else b):
                continue
            mixed.append(trends.breakdown[pair] - score)
            assert trends.breakdown[pair] == pytest.approx(score, abs=0.06), pair
        else:  # Pearson pairs and category pairs: the same computation
            assert trends.breakdown[pair] == pytest.approx(score, abs=1e-3), pair
        compared.append((trends.breakdown[pair], score))
    assert len(mixed) >= 30
    assert abs(np.mean(mixed)) < 0.02
    ours_mean, their_mean = np.mean(compared, axis=0)
    assert ours_mean == pytest.approx(their_mean, abs=0.02)
    if len(compared) == len(sdm["pairs"]):
        assert trends.value == pytest.approx(sdm["trends_all_pairs"], abs=0.02)
    # SDMetrics' headline averages the pairs associated in the real data
    assoc = trends.details["associated_pairs"]
    assert assoc["value"] == pytest.approx(sdm["trends_score"], abs=0.02)
    ours_set, their_set = set(assoc["pairs"]), set(sdm["associated"])
    assert len(ours_set & their_set) >= 0.8 * len(ours_set | their_set)
