"""Privacy: distances to the closest record, membership inference and attribute inference.

Every attack is scored on a real *holdout* that the generator never saw, next to the
score a random guess gets (``baseline``), with a bootstrap 95 % interval (``ci``).
``normalized`` is in [0, 1], higher is more private: 1 means the attack does no better
than the baseline.

Distances are Euclidean on the ``dense`` view of :class:`~sosie.evaluate._features.FeatureEncoder`
fitted on the real training table (numbers scaled to [0, 1] by the training range,
categories one-hot so that a mismatch counts 1 in squared distance: Gower-like). Nearest
neighbours are exact (scikit-learn ``NearestNeighbors``, brute force). To bound the time,
the sets that are searched hold at most ``max_rows`` rows and the rows whose neighbours are
looked up at most ``max_queries`` rows; both are subsampled with ``rng`` and every result's
``details`` says how many rows were used. Distances below ``1e-6`` count as 0 (floating
point noise of the brute-force distance).

The attacks:

* :func:`distance_to_closest_record`: ``dcr_share``, ``exact_copies``, ``nndr``.
* :func:`membership_inference`: ``mia_distance``, ``mia_density`` (DOMIAS), ``mia_shadow``.
* :func:`attribute_inference`: ``attribute_inference[<col>]`` for each sensitive column.
* :func:`privacy_metrics`: all of them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.stats import rankdata
from sklearn.decomposition import PCA
from sklearn.metrics import roc_curve
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor, NearestNeighbors

from .._rng import RNGLike, as_generator, spawn
from ..errors import InvalidDataError, Problem
from ..schema import SemanticType, TableSchema
from ._core import MetricResult, bootstrap_ci, clip01
from ._features import FeatureEncoder, _numeric, modelled_columns

__all__ = [
    "attribute_inference",
    "distance_to_closest_record",
    "membership_inference",
    "privacy_metrics",
]

MAX_ROWS = 50_000
"""Default cap on the rows of a searched set (train, holdout, synthetic references)."""
MAX_QUERIES = 10_000
"""Default cap on the rows whose nearest neighbours are looked up."""
N_BOOT = 200
"""Default number of bootstrap resamples for the 95 % intervals."""

_ZERO = 1e-6  # distances below this are 0; differences below this are ties
_EPS = 1e-3  # added before taking logs of distances
_N_BINS = 30
_MAX_ROC_POINTS = 100
_K_SHADOW = 5
_SHADOW_FEATURES = (
    "d1_synthetic",
    "d5_synthetic",
    "d1_reference",
    "d5_reference",
    "log_d1_synthetic_over_d1_reference",
)
_SHADOW_MONOTONE = (-1, -1, 1, 1, -1)  # closer to synthetic, farther from reference: member


# --------------------------------------------------------------------------------------------
# helpers


def _check_frames(schema: TableSchema, **frames: pd.DataFrame) -> list[str]:
    cols = modelled_columns(schema)
    problems = []
    if not cols:
        problems.append(
            Problem(
                "schema",
                "at least one numerical, datetime, categorical or boolean column",
                "none",
                "pass a schema whose columns a distance can compare",
            )
        )
    for name, df in frames.items():
        if not isinstance(df, pd.DataFrame):
            problems.append(
                Problem(name, "a pandas DataFrame", type(df).__name__, "pass a DataFrame")
            )
            continue
        missing = [c for c in cols if c not in df.columns]
        if missing:
            problems.append(
                Problem(
                    name,
                    "every modelled column of the schema",
                    "no column " + ", ".join(map(repr, missing[:10])),
                    "pass tables with the schema's columns",
                )
            )
        if len(df) < 2:
            problems.append(Problem(name, "at least 2 rows", f"{len(df)} rows", "pass more rows"))
    if problems:
        raise InvalidDataError(problems)
    return cols


def _subsample(n: int, k: int, gen: np.random.Generator) -> np.ndarray:
    """Sorted positions of ``min(n, k)`` rows drawn without replacement."""
    if n <= k:
        return np.arange(n)
    return np.sort(gen.choice(n, k, replace=False))


def _knn(reference: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """Distances (n_queries, k) to the ``k`` closest reference rows (exact, brute force)."""
    k = min(k, len(reference))
    nn = NearestNeighbors(n_neighbors=k, algorithm="brute").fit(reference)
    d, _ = nn.kneighbors(queries, return_distance=True)
    d[d < _ZERO] = 0.0
    return d


def _auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """ROC-AUC of scores ``pos`` (members) vs ``neg`` (non-members), ties counted half."""
    n_pos, n_neg = len(pos), len(neg)
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(np.concatenate([pos, neg]))
    return float((ranks[:n_pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _roc_details(pos: np.ndarray, neg: np.ndarray) -> dict[str, Any]:
    """ROC curve downsampled to at most 100 of its own points, and TPR at low FPR."""
    y = np.r_[np.ones(len(pos)), np.zeros(len(neg))]
    fpr, tpr, _ = roc_curve(y, np.r_[pos, neg])
    at = {}
    for level in (0.001, 0.01, 0.1):
        ok = fpr <= level
        at[str(level)] = float(tpr[ok].max()) if ok.any() else 0.0
    if len(fpr) > _MAX_ROC_POINTS:
        keep = np.unique(np.linspace(0, len(fpr) - 1, _MAX_ROC_POINTS).round().astype(int))
        fpr, tpr = fpr[keep], tpr[keep]
    return {
        "roc": {"fpr": [float(v) for v in fpr], "tpr": [float(v) for v in tpr]},
        "tpr_at_fpr": at,
    }


def _auc_normalized(auc: float) -> float:
    return clip01(1.0 - 2.0 * max(0.0, auc - 0.5)) if math.isfinite(auc) else float("nan")


def _ci(ci: tuple[float, float]) -> tuple[float, float] | None:
    return ci if all(math.isfinite(v) for v in ci) else None


def _row_hashes(df: pd.DataFrame, schema: TableSchema, cols: list[str]) -> np.ndarray:
    """One 64-bit hash per row of the modelled columns' values (numbers compared as floats)."""
    canon = {}
    for name in cols:
        spec = schema[name]
        s = df[name]
        if spec.type in (SemanticType.NUMERICAL, SemanticType.DATETIME):
            x = _numeric(s, spec) + 0.0  # -0.0 -> 0.0
            x[np.isnan(x)] = np.nan  # one NaN payload
            canon[name] = x
        else:
            canon[name] = s.astype(str).where(s.notna(), "\x00<null>").to_numpy(dtype=object)
    frame = pd.DataFrame(canon, index=np.arange(len(df)))
    return pd.util.hash_pandas_object(frame, index=False).to_numpy()


def _histograms(a: np.ndarray, b: np.ndarray) -> dict[str, Any]:
    """Shares of ``a`` and ``b`` in shared bins (the last bin holds everything beyond it)."""
    both = np.r_[a, b]
    top = float(np.quantile(both, 0.99)) if both.size else 1.0
    if not top > 0:
        top = float(both.max()) if both.size and both.max() > 0 else 1.0
    edges = np.linspace(0.0, top, _N_BINS + 1)
    ha, _ = np.histogram(np.minimum(a, top), bins=edges)
    hb, _ = np.histogram(np.minimum(b, top), bins=edges)
    return {
        "bin_edges": edges.tolist(),
        "synthetic": (ha / max(len(a), 1)).tolist(),
        "holdout": (hb / max(len(b), 1)).tolist(),
        "last_bin_includes_larger": True,
    }


# --------------------------------------------------------------------------------------------
# distances to the closest record


def distance_to_closest_record(
    real_train: pd.DataFrame,
    real_holdout: pd.DataFrame,
    synthetic: pd.DataFrame,
    schema: TableSchema,
    *,
    rng: RNGLike = None,
    max_rows: int = MAX_ROWS,
    max_queries: int = MAX_QUERIES,
    equal_size: bool = True,
    n_boot: int = N_BOOT,
) -> list[MetricResult]:
    """Distance-based checks that synthetic rows do not reproduce training rows.

    Returns three results:

    * ``dcr_share``: share of synthetic rows strictly closer to a training row than to a
      holdout row (ties count half). With ``equal_size`` (default) train and holdout are
      subsampled to the same size, so a generator that never saw either scores 0.5
      (``baseline``); otherwise the baseline is ``n_train / (n_train + n_holdout)``.
      ``normalized = 1 - max(0, share - baseline) / (1 - baseline)`` (``1 - 2 * excess`` at 0.5).
    * ``exact_copies``: share of synthetic rows identical to a training row on every modelled
      column (row hashes, exact; all rows, no subsampling). The baseline is the natural rate:
      the share of holdout rows identical to a training row.
    * ``nndr``: 5th percentile of the nearest-neighbour distance ratio (distance to the
      closest / second-closest training row) of synthetic rows; the baseline is the same
      statistic for holdout rows. Small ratios mean a synthetic row sits on one training row.

    With ``equal_size``, a copy of training rows that were left out of the training subsample
    is not seen by ``dcr_share`` (a full copy of a training table twice the holdout's size
    scores about 0.75); ``exact_copies`` always sees every copy.

    Args:
        real_train: the real rows the generator was fitted on.
        real_holdout: real rows of the same population that the generator never saw.
        synthetic: the generated rows.
        schema: the table's schema (modelled columns are compared).
        rng: seed for the subsamples and bootstraps.
        max_rows: at most this many rows of train and of holdout are searched.
        max_queries: at most this many synthetic (and holdout) rows are looked up.
        equal_size: subsample train and holdout to the same size for ``dcr_share``.
        n_boot: bootstrap resamples of the synthetic rows for the intervals.

    Returns:
        ``[dcr_share, exact_copies, nndr]``.

    Example:
        >>> from sosie.schema import infer_schema
        >>> rng = np.random.default_rng(0)
        >>> df = pd.DataFrame({"x": rng.normal(size=60), "c": rng.choice(list("abc"), 60)})
        >>> train, holdout = df[:30], df[30:]
        >>> res = distance_to_closest_record(train, holdout, train, infer_schema(df), rng=0, n_boot=20)
        >>> [(r.name, round(r.value, 2)) for r in res]  # a copy of the training rows
        [('dcr_share', 1.0), ('exact_copies', 1.0), ('nndr', 0.0)]
    """
    cols = _check_frames(
        schema, real_train=real_train, real_holdout=real_holdout, synthetic=synthetic
    )
    gen = as_generator(rng)
    enc = FeatureEncoder(schema, mode="dense").fit(real_train)
    n_t, n_h = len(real_train), len(real_holdout)
    if equal_size:
        n_t = n_h = min(n_t, n_h, max_rows)
    else:
        n_t, n_h = min(n_t, max_rows), min(n_h, max_rows)
    it = _subsample(len(real_train), n_t, gen)
    ih = _subsample(len(real_holdout), n_h, gen)
    iq = _subsample(len(synthetic), max_queries, gen)
    iqh = _subsample(len(real_holdout), max_queries, gen)
    X_t = enc.transform(real_train.iloc[it])
    X_h = enc.transform(real_holdout.iloc[ih])
    X_s = enc.transform(synthetic.iloc[iq])
    X_qh = enc.transform(real_holdout.iloc[iqh])

    d_st = _knn(X_t, X_s, 2)  # synthetic -> train, 2 neighbours (DCR and NNDR)
    d_sh = _knn(X_h, X_s, 1)[:, 0]  # synthetic -> holdout
    d_ht = _knn(X_t, X_qh, 2)  # holdout -> train (baselines)
    sampled = {
        "n_train_searched": int(n_t),
        "n_holdout_searched": int(n_h),
        "n_synthetic_queries": len(iq),
        "n_holdout_queries": len(iqh),
        "n_train": len(real_train),
        "n_holdout": len(real_holdout),
        "n_synthetic": len(synthetic),
        "subsampled": bool(
            n_t < len(real_train) or n_h < len(real_holdout) or len(iq) < len(synthetic)
        ),
    }
    results = []

    # (a) DCR share
    closer = np.where(np.abs(d_st[:, 0] - d_sh) <= _ZERO, 0.5, (d_st[:, 0] < d_sh).astype(float))
    share = float(closer.mean())
    base = n_t / (n_t + n_h)
    hist = _histograms(d_st[:, 0], d_ht[:, 0])
    results.append(
        MetricResult(
            "dcr_share",
            "privacy",
            "target",
            (0.0, 1.0),
            share,
            clip01(1.0 - max(0.0, share - base) / (1.0 - base)),
            "attacker holds the synthetic data and wants to tell training rows from other people's; "
            "share of synthetic rows closer to a training row than to a holdout row "
            f"({base:.2f} when the generator copies no one)",
            ci=_ci(bootstrap_ci(np.mean, closer, n_boot=n_boot, rng=gen)),
            baseline=base,
            target_value=base,
            details={
                **sampled,
                "equal_size": bool(equal_size),
                "ties": float(np.mean(np.abs(d_st[:, 0] - d_sh) <= _ZERO)),
                "dcr_histogram": hist,
                "synthetic_to_train": _quantiles(d_st[:, 0]),
                "synthetic_to_holdout": _quantiles(d_sh),
                "holdout_to_train": _quantiles(d_ht[:, 0]),
                "share_zero_distance": {
                    "synthetic_to_train": float(np.mean(d_st[:, 0] == 0)),
                    "holdout_to_train": float(np.mean(d_ht[:, 0] == 0)),
                },
            },
        )
    )

    # (b) exact copies (all rows, exact hashes)
    h_train = _row_hashes(real_train, schema, cols)
    h_hold = _row_hashes(real_holdout, schema, cols)
    h_syn = _row_hashes(synthetic, schema, cols)
    copies = np.isin(h_syn, h_train).astype(float)
    natural = float(np.isin(h_hold, h_train).mean())
    value = float(copies.mean())
    results.append(
        MetricResult(
            "exact_copies",
            "privacy",
            "minimize",
            (0.0, 1.0),
            value,
            clip01(1.0 - max(0.0, value - natural) / (1.0 - natural)) if natural < 1 else 1.0,
            "attacker holds the synthetic data and looks for real people's records in it; share of "
            "synthetic rows identical to a training row on every modelled column (baseline: the "
            "share of holdout rows identical to a training row)",
            ci=_ci(bootstrap_ci(np.mean, copies, n_boot=n_boot, rng=gen)),
            baseline=natural,
            details={
                "n_copies": int(copies.sum()),
                "n_synthetic": len(synthetic),
                "n_train": len(real_train),
                "n_holdout": len(real_holdout),
                "holdout_rows_in_train": int(np.isin(h_hold, h_train).sum()),
                "synthetic_rows_in_holdout": float(np.isin(h_syn, h_hold).mean()),
                "synthetic_duplicates": float(pd.Series(h_syn).duplicated().mean()),
                "columns": cols,
                "subsampled": False,
            },
        )
    )

    # (c) nearest-neighbour distance ratio
    def ratio(d: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            r = d[:, 0] / d[:, 1]
        return np.where(d[:, 1] == 0, 1.0, r) if d.shape[1] > 1 else np.ones(len(d))

    r_syn, r_hold = ratio(d_st), ratio(d_ht)

    def p5(x: np.ndarray) -> float:
        return float(np.quantile(x, 0.05))

    v, b = p5(r_syn), p5(r_hold)
    results.append(
        MetricResult(
            "nndr",
            "privacy",
            "maximize",
            (0.0, 1.0),
            v,
            clip01(v / b) if b > 0 else (1.0 if v >= b else 0.0),
            "attacker holds the synthetic data and looks for rows that sit on one training row; "
            "5th percentile of distance to closest / second-closest training row for synthetic "
            "rows (baseline: the same for holdout rows)",
            ci=_ci(bootstrap_ci(p5, r_syn, n_boot=n_boot, rng=gen)),
            baseline=b,
            details={
                **sampled,
                "statistic": "5th percentile",
                "synthetic_median": float(np.median(r_syn)),
                "holdout_median": float(np.median(r_hold)),
                "nndr_histogram": {
                    "bin_edges": np.linspace(0, 1, 21).tolist(),
                    "synthetic": (
                        np.histogram(r_syn, np.linspace(0, 1, 21))[0] / len(r_syn)
                    ).tolist(),
                    "holdout": (
                        np.histogram(r_hold, np.linspace(0, 1, 21))[0] / len(r_hold)
                    ).tolist(),
                },
            },
        )
    )
    return results


def _quantiles(d: np.ndarray) -> dict[str, float]:
    return {f"p{q}": float(np.quantile(d, q / 100)) for q in (1, 5, 50, 95)} | {
        "mean": float(d.mean())
    }


# --------------------------------------------------------------------------------------------
# membership inference


def _log_kde(
    points: np.ndarray, centers: np.ndarray, *, bandwidth: float = 1.0, chunk: int = 512
) -> np.ndarray:
    """Log density at ``points`` of a Gaussian KDE on ``centers`` (whitened coordinates).

    The kernel is isotropic with width ``bandwidth`` times Scott's factor ``n ** (-1 / (d + 4))``.
    Computed in float32 chunks (exact sum over every center, no tree approximation).
    """
    n, d = centers.shape
    h = bandwidth * n ** (-1.0 / (d + 4))
    scale = np.float32(-0.5 / (h * h))
    c = centers.astype(np.float32)
    c2 = (c * c).sum(1)
    out = np.empty(len(points))
    for s in range(0, len(points), chunk):
        p = points[s : s + chunk].astype(np.float32)
        sq = p @ c.T
        sq *= -2.0
        sq += c2[None, :]
        sq += (p * p).sum(1)[:, None]
        np.maximum(sq, 0.0, out=sq)
        sq *= scale  # log kernel, up to a constant
        top = sq.max(1)
        sq -= top[:, None]
        np.exp(sq, out=sq)
        out[s : s + chunk] = np.log(sq.sum(1, dtype=np.float64)) + top
    return out - math.log(n) - d / 2 * math.log(2 * math.pi * h * h)


def _shadow_features(d_syn: np.ndarray, d_ref: np.ndarray) -> np.ndarray:
    """Percentile ranks, within one attack's records, of distances to synthetic and reference rows.

    Ranks are scale-free: shadow and target synthetic tables of different sizes give
    comparable features, and a verbatim copy (distance 0) is simply the closest.
    """
    k_s, k_r = min(_K_SHADOW, d_syn.shape[1]) - 1, min(_K_SHADOW, d_ref.shape[1]) - 1
    raw = np.column_stack(
        [
            d_syn[:, 0],
            d_syn[:, k_s],
            d_ref[:, 0],
            d_ref[:, k_r],
            np.log(d_syn[:, 0] + _EPS) - np.log(d_ref[:, 0] + _EPS),
        ]
    )
    return rankdata(raw, axis=0) / len(raw)


def _monotone_logistic(
    X: np.ndarray, y: np.ndarray, signs: Sequence[int], l2: float = 1e-3
) -> tuple[np.ndarray, float]:
    """Logistic regression whose coefficient ``j`` has the sign ``signs[j]`` (or is 0).

    Fitted by L-BFGS-B with bounds, a small L2 penalty; single-threaded and deterministic.
    With no signal every coefficient is 0 and every record gets the same score.
    """
    t = np.where(y, 1.0, -1.0)
    n, d = X.shape

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = theta[:d], theta[d]
        m = t * (X @ w + b)
        f = np.logaddexp(0.0, -m).mean() + l2 * (w @ w)
        g = -t / (1.0 + np.exp(m)) / n
        return float(f), np.r_[X.T @ g + 2 * l2 * w, g.sum()]

    bounds = [(None, 0.0) if s < 0 else (0.0, None) for s in signs] + [(None, None)]
    res = minimize(loss, np.zeros(d + 1), jac=True, method="L-BFGS-B", bounds=bounds)
    return res.x[:d], float(res.x[d])


def _make_factory(
    generator_factory: str | Callable[[int], Any] | None,
) -> tuple[Callable[[int], Any], str]:
    if generator_factory is None:
        generator_factory = "gaussian_copula"
    if isinstance(generator_factory, str):
        from ..generators import make_generator

        name = generator_factory
        return (lambda seed: make_generator(name, rng=seed)), name
    return generator_factory, getattr(
        generator_factory, "__name__", type(generator_factory).__name__
    )


def membership_inference(
    real_train: pd.DataFrame,
    real_holdout: pd.DataFrame,
    synthetic: pd.DataFrame,
    schema: TableSchema,
    *,
    attacks: Sequence[str] = ("distance", "density", "shadow"),
    rng: RNGLike = None,
    generator_factory: str | Callable[[int], Any] | None = None,
    n_shadows: int = 3,
    max_shadow_rows: int = 4_000,
    n_components: int = 30,
    max_rows: int = MAX_ROWS,
    max_queries: int = MAX_QUERIES,
    n_boot: int = N_BOOT,
) -> list[MetricResult]:
    """Membership-inference attacks, scored as ROC-AUC of training members vs non-members.

    The holdout is split at random into two halves: the attacker's *auxiliary* real data
    (reference for ``density``, shadow training data for ``shadow``) and the *non-member
    candidates*; the two never share a row. The candidates are equal numbers of training
    rows (members) and non-member holdout rows, at most ``max_queries`` in all. Every attack
    scores the same candidates; AUC 0.5 (``baseline``) means the attacker does no better than
    a coin flip; ``normalized = 1 - 2 * max(0, AUC - 0.5)``.

    * ``distance`` (``mia_distance``): score = minus the distance from the candidate to its
      closest synthetic row.
    * ``density`` (``mia_density``, DOMIAS, van Breugel et al. 2023): score =
      log p_synthetic(x) - log p_reference(x), both Gaussian KDEs (Scott's bandwidth) in
      the space of the first ``n_components`` whitened principal components of the dense
      features (PCA fitted on the attacker's data: synthetic + auxiliary rows); the
      reference density is fitted on the auxiliary half of the holdout only.
    * ``shadow`` (``mia_shadow``): the attacker fits ``n_shadows`` generators of one family
      (``generator_factory``; default ``gaussian_copula``) each on a random half of its
      auxiliary rows (at most ``max_shadow_rows``), samples as many rows per training row
      as the target synthetic table has, and learns a logistic regression that tells the
      shadow training rows from the other auxiliary rows. Its features are percentile ranks
      (scale-free) of the distances to the 1st and 5th closest shadow-synthetic rows, to the
      1st and 5th closest other auxiliary rows, and of the log ratio of the two closest;
      the signs of its coefficients are fixed (closer to synthetic rows, farther from
      auxiliary rows never lowers the score). It then scores the candidates against the
      target synthetic data and the auxiliary rows. A shadow
      family that does not leak the way the target generator does teaches the classifier
      nothing (AUC near 0.5 even for a leaky target): read it with ``mia_distance``.

    Args:
        real_train: the real rows the generator was fitted on (members).
        real_holdout: real rows the generator never saw (split into auxiliary + non-members).
        synthetic: the generated rows.
        schema: the table's schema.
        attacks: which of ``"distance"``, ``"density"``, ``"shadow"`` to run.
        rng: seed for the splits, subsamples, shadow generators and bootstraps.
        generator_factory: shadow generator family: a registry name, or a callable that
            takes an integer seed and returns an unfitted generator (``fit(data, schema=)``,
            ``sample(n, rng=)``).
        n_shadows: number of shadow generators.
        max_shadow_rows: at most this many auxiliary rows take part in the shadow attack.
        n_components: principal components kept for the density attack.
        max_rows: at most this many synthetic (and auxiliary) rows are searched.
        max_queries: at most this many candidates (half members, half non-members).
        n_boot: bootstrap resamples (members and non-members resampled separately).

    Returns:
        One result per attack, in the order of ``attacks``.

    Example:
        >>> from sosie.schema import infer_schema
        >>> rng = np.random.default_rng(0)
        >>> df = pd.DataFrame({"x": rng.normal(size=400), "c": rng.choice(list("abc"), 400)})
        >>> res = membership_inference(df[:200], df[200:], df[:200], infer_schema(df),
        ...                            attacks=["distance"], rng=0, n_boot=20)
        >>> res[0].name, res[0].value > 0.9
        ('mia_distance', True)
    """
    _check_frames(schema, real_train=real_train, real_holdout=real_holdout, synthetic=synthetic)
    known = ("distance", "density", "shadow")
    bad = [a for a in attacks if a not in known]
    if bad:
        raise InvalidDataError(
            Problem(
                "attacks",
                "some of " + ", ".join(known),
                ", ".join(map(repr, bad)),
                "drop the unknown names",
            )
        )
    if len(real_holdout) < 4:
        raise InvalidDataError(
            Problem(
                "real_holdout",
                "at least 4 rows (auxiliary + non-members)",
                f"{len(real_holdout)} rows",
                "pass more rows",
            )
        )
    gen = as_generator(rng)
    enc = FeatureEncoder(schema, mode="dense").fit(real_train)

    # the split: auxiliary half of the holdout vs non-member candidates (disjoint)
    perm = gen.permutation(len(real_holdout))
    half = len(real_holdout) // 2
    aux_pos, non_pos = np.sort(perm[:half]), np.sort(perm[half:])
    n_c = min(len(non_pos), len(real_train), max(max_queries // 2, 1))
    mem_idx = _subsample(len(real_train), n_c, gen)
    non_idx = non_pos[_subsample(len(non_pos), n_c, gen)]
    assert not np.intersect1d(non_idx, aux_pos).size  # never used by the attacker
    syn_idx = _subsample(len(synthetic), max_rows, gen)
    aux_idx = aux_pos[_subsample(len(aux_pos), max_rows, gen)]
    X_cand = np.vstack(
        [enc.transform(real_train.iloc[mem_idx]), enc.transform(real_holdout.iloc[non_idx])]
    )
    X_syn = enc.transform(synthetic.iloc[syn_idx])
    X_aux = enc.transform(real_holdout.iloc[aux_idx])
    common = {
        "n_members": int(n_c),
        "n_non_members": int(n_c),
        "n_synthetic_searched": len(syn_idx),
        "n_auxiliary": len(aux_idx),
        "n_train": len(real_train),
        "n_holdout": len(real_holdout),
        "n_synthetic": len(synthetic),
        "split": "holdout split at random in two halves: auxiliary (attacker's reference data) "
        "and non-member candidates; members sampled from train in equal number",
        "subsampled": bool(len(syn_idx) < len(synthetic) or n_c < len(real_train)),
    }
    d_cs: np.ndarray | None = None

    def result(
        name: str, score: np.ndarray, description: str, extra: dict[str, Any]
    ) -> MetricResult:
        pos, neg = score[:n_c], score[n_c:]
        auc = _auc(pos, neg)
        return MetricResult(
            name,
            "privacy",
            "target",
            (0.0, 1.0),
            auc,
            _auc_normalized(auc),
            description,
            ci=_ci(bootstrap_ci(_auc, pos, neg, n_boot=n_boot, rng=gen)),
            baseline=0.5,
            target_value=0.5,
            details={**common, **extra, **_roc_details(pos, neg)},
        )

    out = []
    for attack in attacks:
        if attack == "distance":
            if d_cs is None:
                d_cs = _knn(X_syn, X_cand, _K_SHADOW)
            out.append(
                result(
                    "mia_distance",
                    -d_cs[:, 0],
                    "attacker holds the synthetic data and a real person's record and wants to know "
                    "whether that person was in the training data; score: closeness to the nearest "
                    "synthetic row; ROC-AUC of members vs non-members",
                    {"score": "minus the distance to the closest synthetic row"},
                )
            )
        elif attack == "density":
            k = max(1, min(n_components, X_syn.shape[1], len(X_syn) - 1, len(X_aux) - 1))
            pca = PCA(n_components=k, whiten=True, random_state=0).fit(np.vstack([X_syn, X_aux]))
            Z_c, Z_s, Z_a = pca.transform(X_cand), pca.transform(X_syn), pca.transform(X_aux)
            score = _log_kde(Z_c, Z_s) - _log_kde(Z_c, Z_a)
            out.append(
                result(
                    "mia_density",
                    score,
                    "attacker holds the synthetic data, real reference data from the same population "
                    "and a real person's record, and wants to know whether that person was in the "
                    "training data; score: synthetic / reference density (DOMIAS); ROC-AUC",
                    {
                        "score": "log p_synthetic(x) - log p_reference(x)",
                        "density": f"Gaussian KDE, Scott's bandwidth, on {k} whitened principal "
                        "components of the dense features (PCA fitted on synthetic + auxiliary rows)",
                        "reference": "auxiliary half of the holdout (disjoint from the candidates)",
                        "pca_explained_variance": float(pca.explained_variance_ratio_.sum()),
                    },
                )
            )
        else:
            if d_cs is None:
                d_cs = _knn(X_syn, X_cand, _K_SHADOW)
            out.append(
                _shadow(
                    real_holdout,
                    schema,
                    enc,
                    gen,
                    aux_pos=aux_pos,
                    X_aux=X_aux,
                    X_cand=X_cand,
                    d_cand_syn=d_cs,
                    ratio=len(syn_idx) / len(real_train),
                    generator_factory=generator_factory,
                    n_shadows=n_shadows,
                    max_shadow_rows=max_shadow_rows,
                    max_rows=max_rows,
                    result=result,
                )
            )
    return out


def _shadow(
    real_holdout: pd.DataFrame,
    schema: TableSchema,
    enc: FeatureEncoder,
    gen: np.random.Generator,
    *,
    aux_pos: np.ndarray,
    X_aux: np.ndarray,
    X_cand: np.ndarray,
    d_cand_syn: np.ndarray,
    ratio: float,
    generator_factory: str | Callable[[int], Any] | None,
    n_shadows: int,
    max_shadow_rows: int,
    max_rows: int,
    result: Callable[..., MetricResult],
) -> MetricResult:
    factory, family = _make_factory(generator_factory)
    sh_pos = aux_pos[_subsample(len(aux_pos), max_shadow_rows, gen)]
    aux_df = real_holdout.iloc[sh_pos].reset_index(drop=True)
    X_sh = enc.transform(aux_df)
    # reference features: distance to the other auxiliary rows (self excluded)
    d_ref_sh = _knn(X_sh, X_sh, _K_SHADOW + 1)[:, 1:]
    feats, labels = [], []
    n_in = len(aux_df) // 2
    m = int(min(max(1, round(n_in * ratio)), max_rows))
    for _ in range(max(1, n_shadows)):
        inside = np.zeros(len(aux_df), dtype=bool)
        inside[gen.choice(len(aux_df), n_in, replace=False)] = True
        seed = int(gen.integers(0, 2**31 - 1))
        model = factory(seed)
        model.fit(aux_df[inside].reset_index(drop=True), schema=schema.without_inferred_facts())
        shadow_syn = model.sample(m, rng=seed + 1)
        d_syn = _knn(enc.transform(shadow_syn), X_sh, _K_SHADOW)
        feats.append(_shadow_features(d_syn, d_ref_sh))
        labels.append(inside)
    X_train, y_train = np.vstack(feats), np.concatenate(labels)
    coef, intercept = _monotone_logistic(X_train, y_train, _SHADOW_MONOTONE)
    fit_score = X_train @ coef + intercept
    d_cand_ref = _knn(X_aux, X_cand, _K_SHADOW)
    score = _shadow_features(d_cand_syn, d_cand_ref) @ coef + intercept
    return result(
        "mia_shadow",
        score,
        "attacker holds the synthetic data, real auxiliary data and a real person's record, knows "
        f"the generator family ({family}) and trains shadow generators to learn what a member looks "
        "like; score: a classifier on distances to synthetic and auxiliary rows; ROC-AUC",
        {
            "shadow_family": family,
            "n_shadows": max(1, n_shadows),
            "n_shadow_train": int(n_in),
            "n_shadow_auxiliary": len(aux_df),
            "n_shadow_synthetic": m,
            "classifier": "logistic regression with sign constraints: closer to synthetic rows "
            "and farther from auxiliary rows never lowers the membership score",
            "coefficients": dict(zip(_SHADOW_FEATURES, coef.tolist(), strict=True)),
            "features": "percentile ranks among the attacked records of: "
            + ", ".join(_SHADOW_FEATURES),
            "shadow_auc_in_sample": _auc(fit_score[y_train], fit_score[~y_train]),
        },
    )


# --------------------------------------------------------------------------------------------
# attribute inference


def attribute_inference(
    real_train: pd.DataFrame,
    real_holdout: pd.DataFrame,
    synthetic: pd.DataFrame,
    schema: TableSchema,
    sensitive: Sequence[str],
    *,
    rng: RNGLike = None,
    k: int = 5,
    max_rows: int = MAX_ROWS,
    max_queries: int = MAX_QUERIES,
    n_boot: int = N_BOOT,
) -> list[MetricResult]:
    """Attribute inference: predict a sensitive column from the others with the synthetic data.

    The attacker knows every modelled column of a person's record except the sensitive ones
    (the quasi-identifiers) and predicts each sensitive value with a ``k``-nearest-neighbour
    model (distance-weighted, dense features) trained on the synthetic data. It is scored on
    training records and on holdout records (equal numbers, at most ``max_queries`` in all):
    accuracy for categorical/boolean columns, R² for numbers and datetimes. Population-level
    patterns help on both; the risk (``value``) is the excess of the training score over the
    holdout score, what the generator leaked about the individuals it saw (``baseline`` 0).
    ``normalized = 1 - max(0, excess) / (1 - holdout score)``: the share of what the attacker
    could still learn that it did not. The majority-class (or mean) guess is in ``details``.

    Args:
        real_train: the real rows the generator was fitted on.
        real_holdout: real rows the generator never saw.
        synthetic: the generated rows.
        schema: the table's schema.
        sensitive: the columns the attacker wants to learn.
        rng: seed for the subsamples and bootstraps.
        k: neighbours of the attacker's model.
        max_rows: at most this many synthetic rows train the attacker's model.
        max_queries: at most this many records are attacked (half train, half holdout).
        n_boot: bootstrap resamples (train and holdout records resampled separately).

    Returns:
        One ``attribute_inference[<col>]`` result per sensitive column.

    Example:
        >>> from sosie.schema import infer_schema
        >>> rng = np.random.default_rng(0)
        >>> df = pd.DataFrame({"x": rng.normal(size=400), "s": rng.choice(list("ab"), 400)})
        >>> r = attribute_inference(df[:200], df[200:], df[:200], infer_schema(df), ["s"],
        ...                         rng=0, n_boot=20)[0]
        >>> r.name, r.value > 0.3
        ('attribute_inference[s]', True)
    """
    _check_frames(schema, real_train=real_train, real_holdout=real_holdout, synthetic=synthetic)
    sensitive = list(sensitive)
    cols = modelled_columns(schema)
    problems = [
        Problem(
            f"sensitive column {c!r}",
            "a numerical, datetime, categorical or boolean column of the schema",
            "no such column" if c not in schema else f"a {schema[c].type.value} column",
            "pass one of: " + ", ".join(cols[:20]),
        )
        for c in sensitive
        if c not in cols
    ]
    if not problems and not [c for c in cols if c not in sensitive]:
        problems.append(
            Problem(
                "sensitive",
                "some columns left as quasi-identifiers",
                "every column listed",
                "list fewer columns",
            )
        )
    if problems:
        raise InvalidDataError(problems)
    gen = as_generator(rng)
    enc = FeatureEncoder(schema, mode="dense", exclude=tuple(sensitive)).fit(real_train)
    out = []
    for col in sensitive:
        spec = schema[col]
        categorical = spec.type in (SemanticType.CATEGORICAL, SemanticType.BOOLEAN)

        def target(df: pd.DataFrame, spec=spec, categorical=categorical) -> np.ndarray:
            s = df[spec.name]
            return s.astype(str).to_numpy(dtype=object) if categorical else _numeric(s, spec)

        def usable(df: pd.DataFrame, col=col) -> np.ndarray:
            return np.flatnonzero(df[col].notna().to_numpy())

        syn_ok, tr_ok, ho_ok = usable(synthetic), usable(real_train), usable(real_holdout)
        n = min(len(tr_ok), len(ho_ok), max(max_queries // 2, 1))
        if len(syn_ok) < 1 or n < 2:
            out.append(
                MetricResult(
                    f"attribute_inference[{col}]",
                    "privacy",
                    "minimize",
                    (-1.0, 1.0),
                    float("nan"),
                    float("nan"),
                    f"attribute inference of {col!r}: not enough non-missing values to attack",
                    baseline=0.0,
                )
            )
            continue
        syn_rows = syn_ok[_subsample(len(syn_ok), max_rows, gen)]
        tr_rows = tr_ok[_subsample(len(tr_ok), n, gen)]
        ho_rows = ho_ok[_subsample(len(ho_ok), n, gen)]
        X_syn = enc.transform(synthetic.iloc[syn_rows])
        y_syn = target(synthetic.iloc[syn_rows])
        if not categorical:
            keep = np.isfinite(y_syn)
            X_syn, y_syn = X_syn[keep], y_syn[keep]
        kk = max(1, min(k, len(y_syn)))
        model = (KNeighborsClassifier if categorical else KNeighborsRegressor)(
            n_neighbors=kk, weights="distance", algorithm="brute"
        ).fit(X_syn, y_syn)
        tr_df, ho_df = real_train.iloc[tr_rows], real_holdout.iloc[ho_rows]
        y_tr, y_ho = target(tr_df), target(ho_df)
        with np.errstate(divide="ignore"):
            p_tr, p_ho = model.predict(enc.transform(tr_df)), model.predict(enc.transform(ho_df))
        details: dict[str, Any] = {
            "model": f"{kk}-nearest neighbours (distance-weighted) on the dense features of the "
            "quasi-identifiers, trained on synthetic rows",
            "quasi_identifiers": enc.columns_,
            "n_synthetic_train": len(y_syn),
            "n_train_records": int(n),
            "n_holdout_records": int(n),
            "subsampled": bool(len(syn_rows) < len(syn_ok) or n < len(tr_ok)),
        }
        if categorical:
            c_tr = (p_tr == y_tr).astype(float)
            c_ho = (p_ho == y_ho).astype(float)
            s_tr, s_ho = float(c_tr.mean()), float(c_ho.mean())
            majority = pd.Series(y_syn).value_counts().index[0]

            def excess(a: np.ndarray, b: np.ndarray) -> float:
                return float(a.mean() - b.mean())

            ci = bootstrap_ci(excess, c_tr, c_ho, n_boot=n_boot, rng=gen)
            details |= {
                "score": "accuracy",
                "train_accuracy": s_tr,
                "holdout_accuracy": s_ho,
                "majority_class": str(majority),
                "majority_accuracy": float(np.mean(y_ho == majority)),
            }
            rng_ = (-1.0, 1.0)
        else:
            pairs_tr, pairs_ho = np.column_stack([y_tr, p_tr]), np.column_stack([y_ho, p_ho])
            pairs_tr = pairs_tr[np.isfinite(pairs_tr).all(1)]
            pairs_ho = pairs_ho[np.isfinite(pairs_ho).all(1)]

            def r2(p: np.ndarray) -> float:
                var = float(np.var(p[:, 0]))
                return (
                    1.0 - float(np.mean((p[:, 0] - p[:, 1]) ** 2)) / var
                    if var > 0
                    else float("nan")
                )

            def excess(a: np.ndarray, b: np.ndarray) -> float:
                return r2(a) - r2(b)

            s_tr, s_ho = r2(pairs_tr), r2(pairs_ho)
            ci = bootstrap_ci(excess, pairs_tr, pairs_ho, n_boot=n_boot, rng=gen)
            mean_syn = float(np.mean(y_syn))
            details |= {
                "score": "R2",
                "train_r2": s_tr,
                "holdout_r2": s_ho,
                "mean_guess_r2": r2(
                    np.column_stack([pairs_ho[:, 0], np.full(len(pairs_ho), mean_syn)])
                ),
            }
            rng_ = (-float("inf"), float("inf"))
        value = s_tr - s_ho
        room = 1.0 - s_ho
        if not math.isfinite(value):
            norm = float("nan")
        elif value <= 0:
            norm = 1.0
        else:
            norm = clip01(1.0 - value / room) if room > 0 else 0.0
        score_name = "accuracy" if categorical else "R²"
        out.append(
            MetricResult(
                f"attribute_inference[{col}]",
                "privacy",
                "minimize",
                rng_,
                value,
                norm,
                f"attacker knows a person's other columns and wants their {col!r}; predicts it with a "
                f"model trained on the synthetic data; {score_name} on training records minus on "
                "holdout records (what the generator leaked beyond population patterns)",
                ci=_ci(ci),
                baseline=0.0,
                details=details,
            )
        )
    return out


# --------------------------------------------------------------------------------------------
# everything


def privacy_metrics(
    real_train: pd.DataFrame,
    real_holdout: pd.DataFrame,
    synthetic: pd.DataFrame,
    schema: TableSchema,
    *,
    sensitive: Sequence[str] | None = None,
    rng: RNGLike = None,
    generator_factory: str | Callable[[int], Any] | None = None,
    max_rows: int = MAX_ROWS,
    max_queries: int = MAX_QUERIES,
    n_boot: int = N_BOOT,
) -> list[MetricResult]:
    """Every privacy check: DCR share, exact copies, NNDR, three MIAs, attribute inference.

    Each part gets its own child seed of ``rng``, so a part's numbers do not depend on
    which other parts ran. Attribute inference runs only when ``sensitive`` names columns.

    Args:
        real_train: the real rows the generator was fitted on.
        real_holdout: real rows of the same population that the generator never saw.
        synthetic: the generated rows.
        schema: the table's schema.
        sensitive: columns for attribute inference (``None``: skip it).
        rng: seed.
        generator_factory: shadow generator family for ``mia_shadow`` (see
            :func:`membership_inference`).
        max_rows: cap on searched rows (see :func:`distance_to_closest_record`).
        max_queries: cap on looked-up rows.
        n_boot: bootstrap resamples.

    Returns:
        ``dcr_share``, ``exact_copies``, ``nndr``, ``mia_distance``, ``mia_density``,
        ``mia_shadow``, then ``attribute_inference[<col>]`` per sensitive column.

    Example:
        >>> from sosie.schema import infer_schema
        >>> rng = np.random.default_rng(0)
        >>> df = pd.DataFrame({"x": rng.normal(size=300), "c": rng.choice(list("ab"), 300)})
        >>> res = privacy_metrics(df[:100], df[100:200], df[200:], infer_schema(df), sensitive=["c"],
        ...                       rng=0, n_boot=10)
        >>> [r.name for r in res][-2:]
        ['mia_shadow', 'attribute_inference[c]']
    """
    seeds = spawn(rng, 3)
    common = {"max_rows": max_rows, "max_queries": max_queries, "n_boot": n_boot}
    results = distance_to_closest_record(
        real_train, real_holdout, synthetic, schema, rng=seeds[0], **common
    )
    results += membership_inference(
        real_train,
        real_holdout,
        synthetic,
        schema,
        rng=seeds[1],
        generator_factory=generator_factory,
        **common,
    )
    if sensitive:
        results += attribute_inference(
            real_train, real_holdout, synthetic, schema, list(sensitive), rng=seeds[2], **common
        )
    return results
