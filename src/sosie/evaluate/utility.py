"""Utility: train on synthetic, test on real (TSTR), next to train on real (TRTR) and augmentation.

The holdout is real data the generator never saw. Two model families are
trained on each training set: gradient boosting (scikit-learn's
``HistGradientBoosting*`` with ``l2_regularization=1.0``, which stays sane on
tables where the defaults collapse) and a linear model (logistic or ridge
regression on one-hot/scaled features).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import average_precision_score, f1_score, mean_absolute_error, r2_score

from .._rng import RNGLike, as_generator
from ..errors import InvalidDataError, Problem
from ..schema import SemanticType, TableSchema
from ._core import MetricResult, clip01
from ._features import FeatureEncoder

__all__ = ["TaskData", "infer_task", "prepare_task", "utility_metrics"]

Task = Literal["classification", "regression"]
MODELS = ("gradient_boosting", "linear")


def infer_task(schema: TableSchema, target: str) -> Task:
    """Classification for categorical/boolean targets, regression for numbers.

    Example:
        >>> from sosie.schema import infer_schema
        >>> infer_task(infer_schema(pd.DataFrame({"y": ["a", "b", "a"]})), "y")
        'classification'
    """
    if target not in schema:
        raise InvalidDataError(
            Problem(
                f"target {target!r}",
                "a column of the data",
                "no such column",
                "pass one of: " + ", ".join(schema.names[:20]),
            )
        )
    t = schema[target].type
    if t in (SemanticType.CATEGORICAL, SemanticType.BOOLEAN):
        return "classification"
    if t in (SemanticType.NUMERICAL, SemanticType.DATETIME):
        return "regression"
    raise InvalidDataError(
        Problem(
            f"target {target!r}",
            "a categorical, boolean or numerical column",
            f"a {t.value} column",
            "choose a target a model can learn",
        )
    )


@dataclass
class TaskData:
    """Encoded training sets and the real test set for one prediction task."""

    task: Task
    target: str
    classes: list[Any] = field(default_factory=list)
    positive: Any = None
    test_y: np.ndarray | None = None
    test_codes: np.ndarray | None = None
    sets: dict[str, tuple[dict[str, np.ndarray], np.ndarray]] = field(default_factory=dict)
    test_X: dict[str, np.ndarray] = field(default_factory=dict)
    categorical_mask: np.ndarray | None = None
    test_frame: pd.DataFrame | None = None
    predictions: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)
    scores: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)


def _labels(s: pd.Series, task: Task) -> np.ndarray:
    if task == "classification":
        return s.astype(str).to_numpy()
    return pd.to_numeric(s, errors="coerce").to_numpy(dtype=float)


def prepare_task(
    real_train: pd.DataFrame,
    real_holdout: pd.DataFrame,
    synthetic: pd.DataFrame,
    schema: TableSchema,
    target: str,
    *,
    max_rows: int | None = None,
    rng: RNGLike = None,
) -> TaskData:
    """Encode the training sets (real, synthetic, real + synthetic) and the real test set."""
    gen = as_generator(rng)
    task = infer_task(schema, target)

    def clean(df: pd.DataFrame) -> pd.DataFrame:
        df = df[df[target].notna()]
        if max_rows is not None and len(df) > max_rows:
            df = df.iloc[np.sort(gen.choice(len(df), max_rows, replace=False))]
        return df

    train, test, syn = clean(real_train), clean(real_holdout), clean(synthetic)
    augmented = pd.concat([train, syn], ignore_index=True)
    td = TaskData(task, target, test_frame=test)
    trees = FeatureEncoder(schema, mode="tree", exclude=(target,)).fit(train)
    dense = FeatureEncoder(schema, mode="dense", exclude=(target,)).fit(train)
    td.categorical_mask = trees.categorical_mask
    for name, df in (("real", train), ("synthetic", syn), ("augmented", augmented)):
        td.sets[name] = (
            {"tree": trees.transform(df), "dense": dense.transform(df)},
            _labels(df[target], task),
        )
    td.test_X = {"tree": trees.transform(test), "dense": dense.transform(test)}
    td.test_y = _labels(test[target], task)
    if task == "classification":
        counts = pd.Series(td.sets["real"][1]).value_counts()
        td.classes = sorted(counts.index.tolist())
        td.positive = counts.index[-1]  # the minority class
        td.test_codes = pd.Index(td.classes).get_indexer(td.test_y)
    return td


def _model(kind: str, task: Task, mask: np.ndarray, seed: int):
    if kind == "gradient_boosting":
        cls = (
            HistGradientBoostingClassifier
            if task == "classification"
            else HistGradientBoostingRegressor
        )
        return cls(
            l2_regularization=1.0,
            categorical_features=mask if mask.any() else None,
            random_state=seed,
            max_iter=200,
        )
    if task == "classification":
        return LogisticRegression(max_iter=300, C=1.0)
    return Ridge(alpha=1.0)


def fit_predict(td: TaskData, train_set: str, kind: str, seed: int) -> np.ndarray | None:
    """Fit ``kind`` on ``train_set`` and return test scores (probabilities per class, or values)."""
    key = (train_set, kind)
    if key in td.scores:
        return td.scores[key]
    Xs, y = td.sets[train_set]
    X = Xs["tree" if kind == "gradient_boosting" else "dense"]
    Xt = td.test_X["tree" if kind == "gradient_boosting" else "dense"]
    if len(y) < 2 or (td.task == "classification" and len(np.unique(y)) < 2):
        td.scores[key] = None
        return None
    model = _model(kind, td.task, td.categorical_mask, seed)
    from threadpoolctl import threadpool_limits  # ships with scikit-learn

    # One OpenMP thread: HistGradientBoosting's spinning threads slow down badly (5-15x)
    # whenever the two cores are shared, and gain little when they are not.
    with warnings.catch_warnings(), threadpool_limits(limits=1, user_api="openmp"):
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y)
    if td.task == "classification":
        with threadpool_limits(limits=1, user_api="openmp"):
            proba = model.predict_proba(Xt)
        full = np.zeros((len(Xt), len(td.classes)))
        for j, c in enumerate(model.classes_):
            if c in td.classes:
                full[:, td.classes.index(c)] = proba[:, j]
        td.scores[key] = full
        td.predictions[key] = np.asarray(td.classes, dtype=object)[full.argmax(1)]
    else:
        td.scores[key] = model.predict(Xt)
        td.predictions[key] = td.scores[key]
    return td.scores[key]


def _binary_auc(y: np.ndarray, score: np.ndarray) -> float:
    """Rank-based ROC-AUC (Mann-Whitney), ties averaged; NaN with one class."""
    n_pos = int(y.sum())
    n_neg = len(y) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = pd.Series(score).rank(method="average").to_numpy()
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _classification_scores(
    td: TaskData, proba: np.ndarray, rows: np.ndarray | None = None
) -> dict[str, float]:
    y = td.test_codes if rows is None else td.test_codes[rows]
    p = proba if rows is None else proba[rows]
    k = len(td.classes)
    pred = p.argmax(1)
    pos = list(td.classes).index(td.positive)
    is_pos = y == pos
    out: dict[str, float] = {}
    if k == 2:
        out["roc_auc"] = _binary_auc(is_pos, p[:, pos])
    else:
        aucs = [_binary_auc(y == j, p[:, j]) for j in range(k)]
        out["roc_auc"] = float(np.nanmean(aucs)) if np.isfinite(aucs).any() else float("nan")
    out["macro_f1"] = f1_score(y, pred, average="macro", labels=np.arange(k), zero_division=0)
    out["minority_recall"] = float((pred[is_pos] == pos).mean()) if is_pos.any() else float("nan")
    out["average_precision"] = (
        average_precision_score(is_pos, p[:, pos]) if is_pos.any() else float("nan")
    )
    return out


def _regression_scores(
    td: TaskData, pred: np.ndarray, rows: np.ndarray | None = None
) -> dict[str, float]:
    y = td.test_y if rows is None else td.test_y[rows]
    p = pred if rows is None else pred[rows]
    return {"r2": r2_score(y, p), "mae": mean_absolute_error(y, p)}


def task_scores(
    td: TaskData, train_set: str, kind: str, rows: np.ndarray | None = None
) -> dict[str, float]:
    """Test scores of the model trained on ``train_set`` (optionally on a subset of test rows)."""
    s = td.scores.get((train_set, kind))
    if s is None:
        names = (
            ("roc_auc", "macro_f1", "minority_recall", "average_precision")
            if td.task == "classification"
            else ("r2", "mae")
        )
        return dict.fromkeys(names, float("nan"))
    return (
        _classification_scores(td, s, rows)
        if td.task == "classification"
        else _regression_scores(td, s, rows)
    )


_DESCRIPTIONS = {
    "roc_auc": "ROC-AUC on the real holdout (macro one-vs-rest for several classes)",
    "macro_f1": "macro-averaged F1 on the real holdout",
    "minority_recall": "recall of the minority class on the real holdout",
    "average_precision": "average precision for the minority class on the real holdout",
    "r2": "coefficient of determination on the real holdout",
    "mae": "mean absolute error on the real holdout",
}


def utility_metrics(
    real_train: pd.DataFrame,
    real_holdout: pd.DataFrame,
    synthetic: pd.DataFrame,
    schema: TableSchema,
    target: str,
    *,
    rng: RNGLike = None,
    max_rows: int | None = None,
    n_boot: int = 100,
    task_data: TaskData | None = None,
) -> list[MetricResult]:
    """TSTR next to TRTR (and real + synthetic) for gradient boosting and a linear model.

    Returns one result per score (``utility_roc_auc``, ``utility_macro_f1``...; for
    regression ``utility_r2``, ``utility_mae``) whose value is the gradient-boosting
    TSTR score and whose baseline is its TRTR score, plus ``tstr_ratio``: TSTR / TRTR
    of the headline score (ROC-AUC or R²) averaged over the two model families, and
    ``domain_gap`` (:mod:`sosie.evaluate.domain_gap`): gradient boosting trained on 75 % of
    the synthetic rows scores on the other 25 % minus on the real holdout (macro-F1 or R²).

    Example:
        >>> from sosie.datasets import load_adult
        >>> df = load_adult().sample(3000, random_state=0)
        >>> train, test = df.iloc[:2000], df.iloc[2000:]
        >>> from sosie.schema import infer_schema
        >>> res = utility_metrics(train, test, train, infer_schema(df), "income", rng=0, n_boot=10)
        >>> [r.name for r in res][:2]
        ['tstr_ratio', 'utility_roc_auc']
    """
    gen = as_generator(rng)
    td = task_data or prepare_task(
        real_train, real_holdout, synthetic, schema, target, max_rows=max_rows, rng=gen
    )
    seed = int(gen.integers(0, 2**31 - 1))
    table: dict[str, dict[str, dict[str, float]]] = {}
    for kind in MODELS:
        for train_set in ("real", "synthetic", "augmented"):
            fit_predict(td, train_set, kind, seed)
            table.setdefault(kind, {})[train_set] = task_scores(td, train_set, kind)
    names = list(next(iter(table.values()))["real"])
    headline = "roc_auc" if td.task == "classification" else "r2"
    ratios = []
    for kind in MODELS:
        trtr, tstr = table[kind]["real"][headline], table[kind]["synthetic"][headline]
        if math.isfinite(trtr) and math.isfinite(tstr) and trtr > 0:
            ratios.append(tstr / trtr)
    ratio = float(np.mean(ratios)) if ratios else float("nan")
    results = [
        MetricResult(
            "tstr_ratio",
            "utility",
            "maximize",
            (0.0, float("inf")),
            ratio,
            clip01(ratio),
            f"TSTR / TRTR of {headline} on the real holdout, mean over gradient boosting and linear "
            f"models (target {target!r}); 1.0 means synthetic data trains models as well as real data",
            baseline=1.0,
            breakdown={
                k: table[k]["synthetic"][headline] / table[k]["real"][headline]
                if table[k]["real"][headline]
                else None
                for k in MODELS
            },
        )
    ]
    idx = np.arange(len(td.test_y))
    cis: dict[str, tuple[float, float] | None] = dict.fromkeys(names)
    if n_boot and td.scores.get(("synthetic", "gradient_boosting")) is not None:
        boots = [
            task_scores(td, "synthetic", "gradient_boosting", gen.integers(0, len(idx), len(idx)))
            for _ in range(n_boot)
        ]
        for name in names:
            v = np.array([b[name] for b in boots], dtype=float)
            v = v[np.isfinite(v)]
            if v.size:
                cis[name] = (float(np.quantile(v, 0.025)), float(np.quantile(v, 0.975)))
    for name in names:
        tstr = table["gradient_boosting"]["synthetic"][name]
        trtr = table["gradient_boosting"]["real"][name]
        ci = cis[name]
        lower_better = name == "mae"
        if lower_better:
            norm = clip01(trtr / tstr) if tstr and math.isfinite(tstr) else float("nan")
        else:
            norm = (
                clip01(tstr / trtr) if trtr and math.isfinite(trtr) and trtr > 0 else float("nan")
            )
        results.append(
            MetricResult(
                f"utility_{name}",
                "utility",
                "minimize" if lower_better else "maximize",
                (0.0, float("inf"))
                if name == "mae"
                else ((-float("inf"), 1.0) if name == "r2" else (0.0, 1.0)),
                tstr,
                norm,
                f"{_DESCRIPTIONS[name]}: gradient boosting trained on synthetic (value) vs on real train (baseline)",
                ci=ci,
                baseline=trtr,
                breakdown={
                    k: {s: table[k][s][name] for s in ("real", "synthetic", "augmented")}
                    for k in MODELS
                },
                details={
                    "score_name": name,
                    "models": {
                        k: {
                            "trtr": table[k]["real"][name],
                            "tstr": table[k]["synthetic"][name],
                            "augmented": table[k]["augmented"][name],
                        }
                        for k in MODELS
                    },
                },
            )
        )
    gap = _domain_gap(td, gen)
    if gap is not None:
        results.append(gap)
    return results


def _domain_gap(td: TaskData, gen: np.random.Generator) -> MetricResult | None:
    """Gradient boosting trained on 75 % of the synthetic rows, scored on the other 25 % and on
    the real holdout (see :mod:`sosie.evaluate.domain_gap`)."""
    from .domain_gap import gap_metric, split_synthetic

    Xs, y = td.sets["synthetic"]
    if len(y) < 20:
        return None
    if td.task == "classification":
        tr, te = split_synthetic(y, 0.25, gen)
        if len(np.unique(y[tr])) < 2:
            return None
    else:
        perm = gen.permutation(len(y))
        k = round(0.25 * len(y))
        tr, te = np.sort(perm[k:]), np.sort(perm[:k])
    model = _model("gradient_boosting", td.task, td.categorical_mask, int(gen.integers(2**31)))
    from threadpoolctl import threadpool_limits

    X = Xs["tree"]
    with warnings.catch_warnings(), threadpool_limits(limits=1, user_api="openmp"):
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X[tr], y[tr])
        p_syn, p_real = model.predict(X[te]), model.predict(td.test_X["tree"])
    return gap_metric(
        y[te],
        p_syn,
        td.test_y,
        p_real,
        score="macro_f1" if td.task == "classification" else "r2",
        model="gradient boosting",
        n_boot=100,
        rng=gen,
    )
