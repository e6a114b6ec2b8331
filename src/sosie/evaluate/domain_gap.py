"""Domain gap: does a model trained on synthetic (or simulated) data work as well on real data?

A model trained on synthetic data is scored twice: on synthetic data it did not train on (its
own domain) and on a small real validation set (the target domain). The **domain gap** is
the first score minus the second. A generator (or simulator) that misses something real
models rely on shows up as a gap even when TSTR looks acceptable on its own: the model has
learned the synthetic world well and the real one less well.

:func:`gap_metric` turns the two sets of predictions into a ``domain_gap``
:class:`~sosie.evaluate.MetricResult` (bootstrap interval, per-class recall on both sides, a
flag); :func:`domain_gap` is the helper for one table, text set or image batch; the tabular
(:func:`~sosie.evaluate.evaluate`), text (:func:`~sosie.evaluate.evaluate_text`) and image
(:func:`~sosie.evaluate.evaluate_images`) evaluations include the same metric.

The gap is flagged when it exceeds ``max_gap`` and its 95 % interval lies above zero (material
and not noise). ``normalized`` = 1 - gap / (4 ``max_gap``), clipped: a gap of ``0.4 max_gap``
still passes the report's 0.9 rule, one of ``max_gap`` warns, a larger one fails.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from .._rng import RNGLike, as_generator
from ..errors import InvalidDataError, Problem
from ._core import Evaluation, MetricResult, clip01

__all__ = ["DEFAULT_MAX_GAP", "domain_gap", "gap_metric", "split_synthetic"]

DEFAULT_MAX_GAP = 0.05
_SCORES = ("accuracy", "macro_f1", "r2")


def _score(name: str, y: np.ndarray, p: np.ndarray, k: int = 0) -> float:
    """``accuracy`` / ``macro_f1`` on integer class codes in ``[0, k)`` (macro over the classes
    present in ``y``, 0 for a class never predicted right, as scikit-learn's
    ``f1_score(labels=unique(y), zero_division=0)``), or ``r2`` on values."""
    if len(y) == 0:
        return float("nan")
    if name == "accuracy":
        return float(np.mean(y == p))
    if name == "macro_f1":
        tp = np.bincount(y[y == p], minlength=k)
        n_true = np.bincount(y, minlength=k)
        n_pred = np.bincount(p, minlength=k)
        present = n_true > 0
        denom = (n_true + n_pred)[present]
        f1 = np.where(denom > 0, 2 * tp[present] / np.maximum(denom, 1), 0.0)
        return float(f1.mean())
    if len(y) < 2:
        return float("nan")
    from sklearn.metrics import r2_score

    return float(r2_score(y, p))


def gap_metric(
    y_synthetic: Any,
    pred_synthetic: Any,
    y_real: Any,
    pred_real: Any,
    *,
    score: str = "macro_f1",
    model: str = "the model",
    max_gap: float = DEFAULT_MAX_GAP,
    n_boot: int = 200,
    rng: RNGLike = None,
) -> MetricResult:
    """The ``domain_gap`` metric of one model from its predictions on both test sets.

    Args:
        y_synthetic: true labels (or values) of the held-out synthetic rows.
        pred_synthetic: the model's predictions for them.
        y_real: true labels (or values) of the real validation rows.
        pred_real: the model's predictions for them.
        score: ``accuracy``, ``macro_f1`` (classification) or ``r2`` (regression).
        model: what was trained, for the description.
        max_gap: the largest gap that is not flagged.
        n_boot: bootstrap resamples (of both test sets) for the interval of the gap.
        rng: seed of the bootstrap.

    Returns:
        ``domain_gap`` (family ``utility``, goal ``minimize``, baseline 0): ``value`` =
        synthetic score - real score; ``breakdown`` holds both scores and ``flagged``;
        ``details["groups"]`` the recall of each class on both sides (classification).

    Example:
        >>> y = np.array(["a", "b"] * 50)
        >>> m = gap_metric(y, y, y, np.where(np.arange(100) < 30, "a", y), score="accuracy", rng=0)
        >>> round(m.value, 2), m.breakdown["flagged"]   # 100 % in domain, 85 % on real data
        (0.15, True)
    """
    if score not in _SCORES:
        raise ValueError(f"score must be one of {', '.join(_SCORES)}, got {score!r}")
    if not max_gap > 0:
        raise ValueError(f"max_gap must be > 0, got {max_gap!r}")
    gen = as_generator(rng)
    ys, ps = np.asarray(y_synthetic), np.asarray(pred_synthetic)
    yr, pr = np.asarray(y_real), np.asarray(pred_real)
    if ys.shape != ps.shape or yr.shape != pr.shape:
        raise ValueError("gap_metric: each test set needs one prediction per row")
    k = 0
    cs, qs, cr, qr = ys, ps, yr, pr
    if score != "r2":  # class codes once: the bootstrap then only counts
        labels = np.concatenate([ys, ps, yr, pr]).astype(str)
        names, codes = np.unique(labels, return_inverse=True)
        k = len(names)
        cs, qs, cr, qr = np.split(codes, np.cumsum([len(ys), len(ps), len(yr)]))
    s_syn, s_real = _score(score, cs, qs, k), _score(score, cr, qr, k)
    gap = s_syn - s_real
    boots = []
    if n_boot and len(ys) and len(yr):
        for _ in range(n_boot):
            i = gen.integers(0, len(ys), len(ys))
            j = gen.integers(0, len(yr), len(yr))
            boots.append(_score(score, cs[i], qs[i], k) - _score(score, cr[j], qr[j], k))
    b = np.asarray(boots, dtype=float)
    b = b[np.isfinite(b)]
    ci = (float(np.quantile(b, 0.025)), float(np.quantile(b, 0.975))) if b.size else None
    flagged = bool(math.isfinite(gap) and gap > max_gap and ci is not None and ci[0] > 0)
    details: dict[str, Any] = {
        "scores": {"synthetic_holdout": s_syn, "real": s_real},
        "score_name": score,
        "max_gap": max_gap,
        "n": {"synthetic_holdout": len(ys), "real": len(yr)},
    }
    if score != "r2":
        groups = {}
        for c in sorted(set(ys.tolist()) | set(yr.tolist()), key=str)[:30]:
            rec = {}
            for side, y, p in (("synthetic", ys, ps), ("real", yr, pr)):
                hit = y == c
                rec[side] = float(np.mean(p[hit] == c)) if hit.any() else None
            groups[str(c)] = rec
        details.update(groups=groups, attribute="class", group_score="recall")
    return MetricResult(
        "domain_gap",
        "utility",
        "minimize",
        (-math.inf, math.inf) if score == "r2" else (-1.0, 1.0),
        gap,
        clip01(1.0 - 0.25 * max(gap, 0.0) / max_gap) if math.isfinite(gap) else float("nan"),
        f"{score} of {model} trained on synthetic data: on held-out synthetic data "
        f"({_fmt(s_syn)}) minus on real data ({_fmt(s_real)}); flagged above {max_gap} when "
        "the 95 % interval excludes 0",
        ci=ci,
        baseline=0.0,
        breakdown={"synthetic_holdout": s_syn, "real": s_real, "flagged": flagged},
        details=details,
    )


def _fmt(x: float) -> str:
    return f"{x:.3f}" if math.isfinite(x) else "n/a"


def split_synthetic(
    labels: Any, share: float, gen: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Row indices (train, held out) of synthetic data; stratified by ``labels`` (None: not).

    Every class with at least two rows keeps at least one row on each side.

    Example:
        >>> y = np.array(list("aaaabbbb"))
        >>> tr, te = split_synthetic(y, 0.25, np.random.default_rng(0))
        >>> len(tr), len(te), np.unique(y[te]).tolist()
        (6, 2, ['a', 'b'])
    """
    if not 0 < share < 1:
        raise ValueError(f"the held-out share must be in (0, 1), got {share!r}")
    if labels is None:
        raise ValueError("split_synthetic needs labels (pass the target column)")
    y = np.asarray(labels).astype(str)
    test = []
    for c in np.unique(y):
        rows = gen.permutation(np.flatnonzero(y == c))
        k = min(max(round(share * len(rows)), 1), len(rows) - 1) if len(rows) >= 2 else 0
        test.append(rows[:k])
    te = np.sort(np.concatenate(test)) if test else np.zeros(0, dtype=int)
    mask = np.zeros(len(y), dtype=bool)
    mask[te] = True
    return np.flatnonzero(~mask), te


def _check_share(holdout: float) -> list[Problem]:
    if 0 < holdout < 1:
        return []
    return [Problem("holdout", "a share in (0, 1)", repr(holdout), "pass e.g. 0.25")]


def _table(
    synthetic, real, target, schema, holdout, max_gap, gen
) -> tuple[MetricResult, dict[str, Any]]:
    from ..schema import infer_schema
    from ._features import FeatureEncoder
    from .utility import _labels, _model, infer_task

    sc = schema if schema is not None else infer_schema(real)
    task = infer_task(sc, target)
    syn = synthetic[synthetic[target].notna()].reset_index(drop=True)
    val = real[real[target].notna()].reset_index(drop=True)
    if task == "classification":
        tr, te = split_synthetic(syn[target].astype(str), holdout, gen)
    else:
        perm = gen.permutation(len(syn))
        k = max(1, round(holdout * len(syn)))
        tr, te = np.sort(perm[k:]), np.sort(perm[:k])
    enc = FeatureEncoder(sc, mode="tree", exclude=(target,)).fit(syn.iloc[tr])
    y_tr = _labels(syn[target].iloc[tr], task)
    model = _model("gradient_boosting", task, enc.categorical_mask, int(gen.integers(2**31)))
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="openmp"):
        model.fit(enc.transform(syn.iloc[tr]), y_tr)
        p_syn = model.predict(enc.transform(syn.iloc[te]))
        p_real = model.predict(enc.transform(val))
    score = "macro_f1" if task == "classification" else "r2"
    return (
        gap_metric(
            _labels(syn[target].iloc[te], task),
            p_syn,
            _labels(val[target], task),
            p_real,
            score=score,
            model="gradient boosting",
            max_gap=max_gap,
            rng=gen,
        ),
        {"modality": "table", "target": target, "task": task},
    )


def domain_gap(
    synthetic: Any,
    real: Any,
    *,
    target: str | None = None,
    text: str | None = None,
    schema: Any = None,
    holdout: float = 0.25,
    max_gap: float = DEFAULT_MAX_GAP,
    rng: RNGLike = None,
    **fit_kw: Any,
) -> Evaluation:
    """Train on synthetic data, score on held-out synthetic data and on real data, flag the gap.

    Three kinds of data:

    * a table (DataFrame) with ``target``: gradient boosting (as in TSTR), macro-F1 (or R²
      for a numeric target);
    * texts: a DataFrame with a ``text`` column and a ``target`` label column: TF-IDF +
      logistic regression, macro-F1;
    * images: an :class:`~sosie.images.ImageBatch` with labels (``real`` too): the small CNN
      :class:`~sosie.evaluate.ImageClassifier` (``fit_kw``: its constructor's and ``fit``'s
      keyword arguments, e.g. ``epochs=4, n_threads=1``), accuracy.

    Args:
        synthetic: the synthetic (or simulated) data, labelled.
        real: a small real validation set, labelled the same way.
        target: the label (or value) column of tables and texts.
        text: the text column (texts only).
        schema: the table's schema (default: inferred from ``real``).
        holdout: share of the synthetic data held out as the in-domain test set
            (stratified by label).
        max_gap: the largest gap that is not flagged.
        rng: seed of the split, the model and the bootstrap.

    Returns:
        An :class:`~sosie.evaluate.Evaluation` with the ``domain_gap`` metric (see
        :func:`gap_metric`); ``summary["domain_gap"]``; ``meta["domain_gap"]`` says whether
        it is flagged, the two scores and what was trained.

    Example:
        >>> from sosie.datasets import load_adult
        >>> real = load_adult().sample(3000, random_state=0)[["age", "sex", "hours_per_week", "income"]]
        >>> shifted = real.assign(hours_per_week=real["hours_per_week"] + 20)  # a "simulator" bias
        >>> ev = domain_gap(shifted.iloc[:2000], real.iloc[2000:], target="income", rng=0)
        >>> ev.meta["domain_gap"]["flagged"], ev["domain_gap"].value > 0.05
        (True, True)
    """
    gen = as_generator(rng)
    problems = _check_share(holdout)
    from ..images import ImageBatch

    if isinstance(synthetic, ImageBatch) or isinstance(real, ImageBatch):
        if problems:
            raise InvalidDataError(problems)
        metric, info = _images(synthetic, real, holdout, max_gap, gen, fit_kw)
    else:
        for name, df in (("synthetic", synthetic), ("real", real)):
            if not isinstance(df, pd.DataFrame):
                problems.append(
                    Problem(
                        name,
                        "a DataFrame (tables, texts) or an ImageBatch (images)",
                        type(df).__name__,
                        "pass the data as a DataFrame",
                    )
                )
                continue
            for col in (target, text):
                if col is not None and col not in df.columns:
                    problems.append(
                        Problem(
                            f"{name} column {col!r}",
                            "a column of the data",
                            "no such column",
                            "check the name",
                        )
                    )
        if target is None:
            problems.append(
                Problem("target", "the label column", "None", "pass target='label_column'")
            )
        if problems:
            raise InvalidDataError(problems)
        if text is not None:
            metric, info = _texts(synthetic, real, text, target, holdout, max_gap, gen)
        else:
            metric, info = _table(synthetic, real, target, schema, holdout, max_gap, gen)
    flagged = bool(metric.breakdown["flagged"])
    meta = {
        "kind": "domain_gap",
        "domain_gap": {
            "flagged": flagged,
            "gap": metric.value,
            "ci": metric.ci,
            "synthetic_score": metric.breakdown["synthetic_holdout"],
            "real_score": metric.breakdown["real"],
            "score": metric.details["score_name"],
            "max_gap": max_gap,
            **info,
        },
    }
    return Evaluation([metric], meta=meta, summary={"domain_gap": metric.value})


def _texts(
    synthetic, real, text, target, holdout, max_gap, gen
) -> tuple[MetricResult, dict[str, Any]]:
    from .text import _fit_predict

    syn = synthetic[synthetic[target].notna() & synthetic[text].notna()]
    val = real[real[target].notna() & real[text].notna()]
    ys = syn[target].astype(str).to_numpy(object)
    xs = syn[text].astype(str).to_numpy(object)
    tr, te = split_synthetic(ys, holdout, gen)
    seed = int(gen.integers(2**31))
    x_test = np.concatenate([xs[te], val[text].astype(str).to_numpy(object)])
    pred = _fit_predict("tfidf", xs[tr], ys[tr], x_test, seed)
    m = gap_metric(
        ys[te],
        pred[: len(te)],
        val[target].astype(str).to_numpy(object),
        pred[len(te) :],
        score="macro_f1",
        model="TF-IDF + logistic regression",
        max_gap=max_gap,
        rng=gen,
    )
    return m, {"modality": "text", "target": target, "text": text}


def _images(synthetic, real, holdout, max_gap, gen, fit_kw) -> tuple[MetricResult, dict[str, Any]]:
    from ..images import ImageBatch
    from .image import ImageClassifier

    problems = []
    for name, b in (("synthetic", synthetic), ("real", real)):
        if not isinstance(b, ImageBatch) or b.labels is None:
            problems.append(
                Problem(
                    name,
                    "a labelled ImageBatch",
                    type(b).__name__ if not isinstance(b, ImageBatch) else "no labels",
                    "pass labelled image batches for both",
                )
            )
    if problems:
        raise InvalidDataError(problems)
    names_s = np.asarray(synthetic.label_names).astype(str)
    names_r = np.asarray(real.label_names).astype(str)
    tr, te = split_synthetic(names_s, holdout, gen)
    import inspect

    init = set(inspect.signature(ImageClassifier.__init__).parameters) - {"self"}
    clf = ImageClassifier(**{k: v for k, v in fit_kw.items() if k in init})
    clf.fit(synthetic[tr], rng=gen, **{k: v for k, v in fit_kw.items() if k not in init})
    classes = np.asarray(clf.classes_).astype(str)
    m = gap_metric(
        names_s[te],
        classes[clf.predict(synthetic[te])],
        names_r,
        classes[clf.predict(real)],
        score="accuracy",
        model="a small CNN",
        max_gap=max_gap,
        rng=gen,
    )
    return m, {"modality": "images"}
