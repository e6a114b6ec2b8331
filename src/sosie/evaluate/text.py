"""Evidence for synthetic text: diversity, embedding distance, TSTR and memorisation.

:func:`evaluate_text` compares synthetic texts with real ones (a training set the generator
or its prompts drew on, and a holdout it never saw) and returns an
:class:`~sosie.evaluate.Evaluation` like every other evaluator, so the HTML report, policies
and data cards work unchanged. Texts are embedded with all-MiniLM-L6-v2, offline (see
:class:`sosie.text.SentenceEncoder`).

Fidelity (the holdout, scored the same way on the same number of texts, is the baseline):

* ``frechet_distance``, ``precision``, ``recall``: the Fréchet distance and improved
  precision/recall of the sentence embeddings (do synthetic texts mean what real ones mean,
  and do they cover the real variety?);
* ``detection_auc``: a logistic regression on the embeddings telling real from synthetic
  texts (cross-validated; 0.5 is best);
* ``distinct_n``: distinct bigrams per bigram (distinct-1/2/3 in the breakdown), counted on
  the same number of n-grams for each set, against real text's own diversity;
* ``self_similarity``: mean cosine between two synthetic texts (mode collapse raises it),
  against the same for real texts;
* ``length``: 1 - the Kolmogorov-Smirnov distance of the words per text;
* ``class_balance``: label shares (with labels).

Utility (with labels): ``tstr_tfidf`` and ``tstr_embedding``, the macro-F1 on the real
holdout of a TF-IDF + logistic regression and of a logistic regression on the embeddings,
each trained on the synthetic texts (TSTR, value) and on the real training texts (TRTR,
baseline); the augmented model (real + synthetic) is in ``details``. ``domain_gap``: the
TF-IDF model trained on 75 % of the synthetic texts, its macro-F1 on the other 25 % minus on
the real holdout (:mod:`sosie.evaluate.domain_gap`).

Privacy (does the generator, or the LLM's few-shot prompt, leak training texts?):
``exact_copies`` and ``near_copies`` (character 5-gram Jaccard >= 0.5 with a training text),
each next to the holdout's own rate, and ``memorisation_embeddings`` (share of synthetic
texts nearer to a training text than 95 % of holdout texts are). The closest pairs are
stored for the report.
"""

from __future__ import annotations

import math
import time as _time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from .._rng import RNGLike, as_generator
from ..errors import InvalidDataError, Problem
from ._core import Evaluation, MetricResult, bootstrap_ci, clip01
from .image import (
    N_BOOT,
    _ci_or_none,
    _class_balance,
    _fd_metric,
    _finite,
    _g,
    _memorisation_vectors,
    _pr_metrics,
    _subsample,
)

__all__ = ["TEXT_METRICS", "distinct_n", "evaluate_text", "self_similarity"]

#: the metric groups :func:`evaluate_text` can compute
TEXT_METRICS = ("embeddings", "detection", "diversity", "length", "tstr", "memorisation")
MIN_TEXTS = 20
EXAMPLE_CHARS = 400


def _words(text: str) -> list[str]:
    from ..text._filters import normalise_text

    return normalise_text(text).split()


def _ngram_counts(token_lists: Sequence[list[str]], n: int) -> list[list[tuple[str, ...]]]:
    return [[tuple(t[i : i + n]) for i in range(len(t) - n + 1)] for t in token_lists]


def distinct_n(texts: Sequence[str], n: int = 2, *, budget: int | None = None) -> float:
    """Distinct n-grams per n-gram (Li et al., 2016): the lexical diversity of a set of texts.

    Words are lower-cased words (see :func:`sosie.text.normalise_text`); n-grams do not
    cross texts. The ratio falls as a corpus grows, so compare sets on the same number of
    n-grams: with ``budget`` only the first ``budget`` n-grams (texts in the given order)
    count.

    Args:
        texts: the texts.
        n: the n-gram length (1, 2, 3...).
        budget: count at most this many n-grams.

    Returns:
        The share in [0, 1] (NaN without any n-gram).

    Example:
        >>> distinct_n(["the tea is good", "the tea is bad"], n=1)
        0.625
        >>> distinct_n(["good tea"] * 10, n=2)
        0.1
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n!r}")
    grams = [g for t in _ngram_counts([_words(x) for x in texts], n) for g in t]
    if budget is not None:
        grams = grams[: int(budget)]
    return len(set(grams)) / len(grams) if grams else float("nan")


def self_similarity(embeddings: np.ndarray, *, max_pairs: int = 200_000, rng: RNGLike = 0) -> float:
    """Mean cosine similarity between two different texts of one set (lower: more diverse).

    Args:
        embeddings: ``(n, d)`` unit-length embeddings (e.g. :meth:`SentenceEncoder.encode`).
        max_pairs: above this many pairs, a random sample of pairs is averaged.
        rng: seed of the pair sample.

    Returns:
        The mean cosine over pairs ``i != j``.

    Example:
        >>> e = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
        >>> round(self_similarity(e), 4)  # pairs: 0, 1, 0
        0.3333
    """
    x = np.asarray(embeddings, dtype=np.float64)
    n = len(x)
    if x.ndim != 2 or n < 2:
        raise ValueError(f"embeddings: expected a 2-d array with >= 2 rows, found shape {x.shape}")
    if n * (n - 1) // 2 <= max_pairs:
        s = x.sum(0)
        return float((s @ s - np.einsum("ij,ij->", x, x)) / (n * (n - 1)))
    g = as_generator(rng)
    i = g.integers(0, n, max_pairs)
    j = (i + g.integers(1, n, max_pairs)) % n
    return float(np.einsum("ij,ij->i", x[i], x[j]).mean())


# --------------------------------------------------------------------------- input checks


def _as_frame(data: Any, what: str, text_field: str, label_field: str | None) -> pd.DataFrame:
    from ..text._filters import require_columns

    if isinstance(data, pd.DataFrame):
        require_columns(
            data,
            [text_field],
            f"{what}: text field",
            "a column of texts",
            f"pass text_field= naming the text column of {what}",
        )
        cols = [text_field] + ([label_field] if label_field in data.columns else [])
        frame = data[cols]
    elif isinstance(data, (list, tuple, pd.Series, np.ndarray)):
        frame = pd.DataFrame({text_field: list(data)})
    else:
        raise InvalidDataError(
            Problem(
                what,
                "a DataFrame with a text column, or a list of strings",
                type(data).__name__,
                "load the texts with pandas (e.g. pd.read_json(path, lines=True))",
            )
        )
    problems = []
    texts = frame[text_field]
    bad = texts.isna() | ~texts.map(lambda t: isinstance(t, str))
    if bad.any():
        problems.append(
            Problem(
                f"{what} column {text_field!r}",
                "a string in every row",
                f"{int(bad.sum())} missing or non-text value(s), first at row "
                f"{frame.index[bad.to_numpy()][0]!r}",
                "drop the rows without text (df.dropna(subset=[...]))",
            )
        )
    if len(frame) < MIN_TEXTS:
        problems.append(
            Problem(
                what,
                f"at least {MIN_TEXTS} texts",
                f"{len(frame)}",
                "evaluate on more texts (the intervals and attacks need them)",
            )
        )
    if label_field in frame.columns and frame[label_field].isna().any():
        problems.append(
            Problem(
                f"{what} column {label_field!r}",
                "a label in every row",
                f"{int(frame[label_field].isna().sum())} missing label(s)",
                "drop unlabelled rows, or pass label_field=None",
            )
        )
    if problems:
        raise InvalidDataError(problems)
    return frame.reset_index(drop=True)


# --------------------------------------------------------------------------- metrics


def _diversity_metrics(words, emb, eq, gen) -> list[MetricResult]:
    """``words``: each set's texts as word lists (shuffled here before the n-gram budget)."""
    order = {k: gen.permutation(len(v)) for k, v in words.items()}
    shuffled = {k: [w[i] for i in order[k]] for k, w in words.items()}
    grams = {
        k: {n: [g for t in _ngram_counts(w, n) for g in t] for n in (1, 2, 3)}
        for k, w in shuffled.items()
    }
    budget = {n: min(len(grams[k][n]) for k in grams) for n in (1, 2, 3)}

    def dist(k: str, n: int) -> float:
        g = grams[k][n][: budget[n]]
        return len(set(g)) / len(g) if g else float("nan")

    d = {k: {f"distinct_{n}": _g(dist(k, n)) for n in (1, 2, 3)} for k in grams}
    v, real, base = (
        d["synthetic"]["distinct_2"],
        d["real_train"]["distinct_2"],
        d["real_holdout"]["distinct_2"],
    )
    ratio = v / real if real > 0 else float("nan")
    out = [
        MetricResult(
            "distinct_n",
            "fidelity",
            "target",
            (0.0, 1.0),
            v,
            clip01(min(ratio, 1.0 / ratio)) if ratio > 0 else float("nan"),
            "distinct bigrams per bigram of the synthetic texts (lexical diversity), each set "
            f"counted on the same {budget[2]:,} bigrams; target: the real training texts' value "
            "(score: the smaller of the two ratios)",
            baseline=base,
            target_value=real,
            breakdown={k: d[k] for k in ("synthetic", "real_train", "real_holdout")},
            details={
                "real": d["real_train"],
                "synthetic": d["synthetic"],
                "score_name": "distinct n-grams per n-gram",
                "budget": budget,
            },
        )
    ]
    fs, ft, fh = (
        emb("synthetic")[eq["synthetic"]],
        emb("real_train")[eq["real_train"]],
        emb("real_holdout")[eq["real_holdout"]],
    )
    seed = int(gen.integers(2**31))
    v, real, base = (self_similarity(x, rng=seed) for x in (fs, ft, fh))

    def score(x: float) -> float:
        return clip01(1.0 - 2.0 * abs(x - real) / max(1.0 - real, 1e-9))

    out.append(
        MetricResult(
            "self_similarity",
            "fidelity",
            "target",
            (-1.0, 1.0),
            v,
            score(v),
            "mean cosine similarity of the sentence embeddings of two synthetic texts (higher: "
            f"less diverse, e.g. mode collapse; {len(fs)} texts per set); target: the same for "
            "real training texts (score: 1 - 2 |value - target| / (1 - target))",
            baseline=base,
            target_value=real,
            details={"holdout_score": _g(score(base)), "n_compared": len(fs)},
        )
    )
    return out


def _length_metric(words, gen) -> MetricResult:
    from scipy.stats import ks_2samp

    n = {k: np.array([len(w) for w in v], dtype=float) for k, v in words.items()}
    real = n["real_train"]

    def stat(s: np.ndarray) -> float:
        return 1.0 - float(ks_2samp(real, s).statistic)

    value, base = stat(n["synthetic"]), stat(n["real_holdout"])
    top = max(float(np.quantile(np.r_[real, n["synthetic"]], 0.99)), 1.0)
    edges = np.linspace(0.0, top, 21)  # the last bin holds everything beyond it
    hist = {
        k: (np.histogram(np.clip(v, edges[0], edges[-1]), edges)[0] / len(v)).tolist()
        for k, v in (("real", real), ("synthetic", n["synthetic"]))
    }
    return MetricResult(
        "length",
        "fidelity",
        "maximize",
        (0.0, 1.0),
        value,
        clip01(value / base) if base > 0 else clip01(value),
        "1 - Kolmogorov-Smirnov distance between the words per text of synthetic and real "
        "training texts; baseline: the real holdout's (score: value / baseline)",
        ci=_ci_or_none(bootstrap_ci(stat, n["synthetic"], n_boot=N_BOOT, rng=gen)),
        baseline=base,
        details={
            "histogram": {
                "edges": edges.tolist(),
                **hist,
                "x_label": "words per text",
                "y_label": "share of texts",
                "title": "Words per text",
            },
            "median_words": {k: _g(float(np.median(v))) for k, v in n.items()},
        },
    )


def _detection_metric(texts, emb, eq, gen, n_folds: int = 5) -> MetricResult:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedGroupKFold

    from ..text._filters import normalise_text
    from .fidelity import _detection_result

    real, syn = emb("real_train")[eq["real_train"]], emb("synthetic")[eq["synthetic"]]
    x = np.r_[real, syn]
    y = np.r_[np.zeros(len(real)), np.ones(len(syn))]
    # identical texts share a fold (a copy in the test fold must not meet its twin in training)
    norm = [normalise_text(texts[k][i]) for k in ("real_train", "synthetic") for i in eq[k]]
    groups = pd.factorize(pd.Series(norm))[0]
    oof = np.full(len(y), 0.5)
    folds = StratifiedGroupKFold(n_folds, shuffle=True, random_state=int(gen.integers(2**31)))
    for tr, te in folds.split(x, y, groups):
        if np.unique(y[tr]).size < 2:
            continue
        model = LogisticRegression(C=1.0, max_iter=2000).fit(x[tr], y[tr])
        oof[te] = model.predict_proba(x[te])[:, 1]
    return _detection_result(
        y,
        oof,
        "cross-validated ROC AUC of a logistic regression on sentence embeddings telling real "
        f"training texts from synthetic texts ({len(real)} of each; 0.5: indistinguishable; "
        "identical texts share a fold)",
        gen,
        N_BOOT,
        details={
            "n_rows": {"real": len(real), "synthetic": len(syn)},
            "n_folds": n_folds,
            "model": "LogisticRegression(C=1) on all-MiniLM-L6-v2 embeddings",
        },
    )


def _macro_f1(y: np.ndarray, p: np.ndarray) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(y, p, average="macro", labels=np.unique(y), zero_division=0))


def _fit_predict(kind: str, x_train, y_train, x_test, seed: int) -> np.ndarray:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    classes = np.unique(y_train)
    if classes.size < 2:  # a one-label training set: the only model is the constant one
        return np.full(len(x_test), classes[0], dtype=object)
    lr = LogisticRegression(C=4.0, max_iter=3000, class_weight="balanced", random_state=seed)
    if kind == "tfidf":
        model = make_pipeline(
            TfidfVectorizer(ngram_range=(1, 2), min_df=1, sublinear_tf=True, max_features=50_000),
            lr,
        )
    else:
        model = lr
    return model.fit(x_train, y_train).predict(x_test)


def _text_gap(texts, labels, gen) -> list[MetricResult]:
    """TF-IDF model on 75 % of the synthetic texts: held-out synthetic vs real holdout."""
    from .domain_gap import gap_metric, split_synthetic

    ys = np.asarray(labels["synthetic"], dtype=str).astype(object)
    if len(ys) < 20:
        return []
    tr, te = split_synthetic(ys, 0.25, gen)
    if len(np.unique(ys[tr])) < 2:
        return []
    xs = np.asarray(texts["synthetic"], dtype=object)
    x_real = np.asarray(texts["real_holdout"], dtype=object)
    pred = _fit_predict("tfidf", xs[tr], ys[tr], np.concatenate([xs[te], x_real]), 0)
    y_real = np.asarray(labels["real_holdout"], dtype=str).astype(object)
    return [
        gap_metric(
            ys[te],
            pred[: len(te)],
            y_real,
            pred[len(te) :],
            score="macro_f1",
            model=_TSTR_MODELS["tfidf"],
            n_boot=N_BOOT,
            rng=gen,
        )
    ]


_TSTR_MODELS = {
    "tfidf": "TF-IDF (words and bigrams) + logistic regression",
    "embedding": "logistic regression on all-MiniLM-L6-v2 sentence embeddings",
}


def _tstr_metrics(texts, labels, emb, rows, gen) -> list[MetricResult]:
    """TF-IDF models train and test on every text; embedding models on the texts that were
    embedded (at most ``max_texts`` per set)."""
    y_all = {k: np.asarray(v, dtype=str).astype(object) for k, v in labels.items()}
    classes = sorted(set(y_all["real_train"]) | set(y_all["real_holdout"]))
    out = []
    for kind, what in _TSTR_MODELS.items():
        seed = int(gen.integers(2**31))
        if kind == "tfidf":
            xs = {k: np.asarray(v, dtype=object) for k, v in texts.items()}
            y = y_all
        else:
            xs = {k: emb(k) for k in texts}
            y = {k: v[rows[k]] for k, v in y_all.items()}
        y_hold = y["real_holdout"]
        x_aug = np.concatenate([xs["real_train"], xs["synthetic"]])
        y_aug = np.r_[y["real_train"], y["synthetic"]]
        preds = {
            "trtr": _fit_predict(kind, xs["real_train"], y["real_train"], xs["real_holdout"], seed),
            "tstr": _fit_predict(kind, xs["synthetic"], y["synthetic"], xs["real_holdout"], seed),
            "augmented": _fit_predict(kind, x_aug, y_aug, xs["real_holdout"], seed),
        }
        f1 = {k: _macro_f1(y_hold, p) for k, p in preds.items()}
        code = {c: i for i, c in enumerate(classes)}
        pair = np.c_[[code[c] for c in y_hold], [code.get(str(c), -1) for c in preds["tstr"]]]
        ci = bootstrap_ci(lambda a: _macro_f1(a[:, 0], a[:, 1]), pair, n_boot=N_BOOT, rng=gen)
        groups = {}
        for c in classes:
            m = y_hold == c
            if m.any():
                groups[c] = {k: _g(float(np.mean(p[m] == c))) for k, p in preds.items()}
        trtr, tstr = f1["trtr"], f1["tstr"]
        out.append(
            MetricResult(
                f"tstr_{kind}",
                "utility",
                "maximize",
                (0.0, 1.0),
                tstr,
                clip01(tstr / trtr) if trtr > 0 else float("nan"),
                f"macro-F1 on the real holdout of {what} trained on the synthetic texts (TSTR, "
                "value) and on the real training texts (TRTR, baseline); score: TSTR / TRTR",
                ci=_ci_or_none(ci),
                baseline=trtr,
                breakdown=groups,
                details={
                    "models": {what: {k: _g(v) for k, v in f1.items()}},
                    "score_name": "macro-F1",
                    "groups": groups,
                    "attribute": "label (recall)",
                    "n_test": len(y_hold),
                    "n_train": {"real": len(y["real_train"]), "synthetic": len(y["synthetic"])},
                },
            )
        )
    return out


def _privacy_metrics(texts, emb, n_pairs: int, gen) -> list[MetricResult]:
    from ..text._filters import _jaccard, _shingles, near_duplicate_pairs, normalise_text

    train, hold, syn = texts["real_train"], texts["real_holdout"], texts["synthetic"]
    train_norm = {normalise_text(t) for t in train}
    out = []
    exact = {
        k: np.array([normalise_text(t) in train_norm for t in v], dtype=float)
        for k, v in (("synthetic", syn), ("real_holdout", hold))
    }
    near = {}
    for k, v in (("synthetic", syn), ("real_holdout", hold)):
        hit = exact[k].copy()
        for i, _, _ in near_duplicate_pairs(v, 0.5, others=train, seed=int(gen.integers(2**31))):
            hit[i] = 1.0
        near[k] = hit
    for name, hits, what in (
        (
            "exact_copies",
            exact,
            "identical to a training text (after lower-casing and dropping punctuation)",
        ),
        (
            "near_copies",
            near,
            "whose character 5-gram Jaccard similarity with a training text is at least 0.5 (or identical)",
        ),
    ):
        v, base = float(hits["synthetic"].mean()), float(hits["real_holdout"].mean())
        out.append(
            MetricResult(
                name,
                "privacy",
                "minimize",
                (0.0, 1.0),
                v,
                clip01(1.0 - 10.0 * max(0.0, v - base)),
                f"attacker holds the synthetic texts and looks for training texts in them; share of "
                f"synthetic texts {what}; baseline: the share of real holdout texts that are (score "
                "1 - 10 x excess)",
                ci=_ci_or_none(bootstrap_ci(np.mean, hits["synthetic"], n_boot=N_BOOT, rng=gen)),
                baseline=base,
                details={"n_copies": int(hits["synthetic"].sum()), "n_synthetic": len(syn)},
            )
        )
    from .privacy import _histograms

    m = _memorisation_vectors(
        emb("real_train"), emb("real_holdout"), emb("synthetic"), "embeddings", 0.05, 0.2, n_pairs
    )
    close = np.where(
        m.synthetic_distance == m.threshold, 0.5, (m.synthetic_distance < m.threshold) * 1.0
    )
    excess = max(0.0, m.share_close - m.baseline)
    train_sh = {}
    pairs = []
    for j, t, d in m.closest_pairs:
        train_sh.setdefault(t, _shingles(normalise_text(train[t])))
        pairs.append(
            {
                "synthetic": syn[j][:EXAMPLE_CHARS],
                "train": train[t][:EXAMPLE_CHARS],
                "cosine": _g(1.0 - d * d / 2.0),
                "jaccard": _g(_jaccard(_shingles(normalise_text(syn[j])), train_sh[t])),
            }
        )
    out.append(
        MetricResult(
            "memorisation_embeddings",
            "privacy",
            "minimize",
            (0.0, 1.0),
            m.share_close,
            clip01(1.0 - 2.0 * excess),
            "attacker holds the synthetic texts and looks for training texts in them; share of "
            "synthetic texts nearer (sentence embeddings) to a training text than 95 % of real "
            f"holdout texts are ({m.baseline:.2f} when nothing is copied; score 1 - 2 x excess)",
            ci=_ci_or_none(bootstrap_ci(np.mean, close, n_boot=N_BOOT, rng=gen)),
            baseline=m.baseline,
            details={
                "space": "all-MiniLM-L6-v2 embeddings (Euclidean distance of unit vectors)",
                "threshold": _g(m.threshold),
                "median_distance": {
                    "synthetic_to_train": _g(float(np.median(m.synthetic_distance))),
                    "holdout_to_train": _g(float(np.median(m.holdout_distance))),
                },
                "embedding_dcr_histogram": _histograms(m.synthetic_distance, m.holdout_distance),
                "closest_texts": pairs,
            },
        )
    )
    return out


def _examples(texts, labels, n: int, gen) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, who in (("real_train", "real"), ("synthetic", "synthetic")):
        t, y = texts[k], labels.get(k)
        groups = sorted(set(y)) if y is not None else [None]
        rows = []
        for c in groups:
            idx = np.arange(len(t)) if c is None else np.flatnonzero(np.asarray(y) == c)
            for i in gen.choice(idx, size=min(n, len(idx)), replace=False):
                rows.append({"label": None if c is None else str(c), "text": t[i][:EXAMPLE_CHARS]})
        out[who] = rows
    return out


# --------------------------------------------------------------------------- the evaluator


def _embed_sets(enc: Any, sets: dict[str, list[str]], verbose: bool) -> dict[str, np.ndarray]:
    """Each set's embeddings (float64), with a progress bar over all texts when ``verbose``."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    total = sum(len(v) for v in sets.values())
    out: dict[str, np.ndarray] = {}
    with Progress(
        TextColumn("embedding texts"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        disable=not verbose,
        transient=True,
    ) as bar:
        task = bar.add_task("embed", total=total)
        done = 0
        for k, texts in sets.items():
            base = done
            if verbose and _takes_progress(enc):
                e = enc.encode(texts, progress=lambda n, b=base: bar.update(task, completed=b + n))
            else:
                e = enc.encode(texts)
            out[k] = np.asarray(e, dtype=np.float64)
            done += len(texts)
            bar.update(task, completed=done)
    return out


def _takes_progress(enc: Any) -> bool:
    import inspect

    try:
        return "progress" in inspect.signature(enc.encode).parameters
    except (TypeError, ValueError):
        return False


def evaluate_text(
    real_train: pd.DataFrame | Sequence[str],
    real_holdout: pd.DataFrame | Sequence[str],
    synthetic: pd.DataFrame | Sequence[str],
    *,
    text_field: str = "text",
    label_field: str | None = "label",
    metrics: Sequence[str] = TEXT_METRICS,
    encoder: Any = None,
    max_texts: int = 2000,
    k: int = 3,
    n_examples: int = 2,
    n_pairs: int = 6,
    rng: RNGLike = None,
    verbose: bool = False,
) -> Evaluation:
    """Evaluate synthetic texts against real ones: fidelity, diversity, TSTR and memorisation.

    See the module docstring for the metrics. Every comparison is made next to a real
    holdout of the same population scored the same way, so "as good as fresh real text" is
    the yardstick. Comparisons that depend on sample size (Fréchet distance,
    precision/recall, self-similarity, detection) use the same number of texts from each set.

    Args:
        real_train: real texts the generator learned from (its few-shot seeds, its fine-tuning
            data): a DataFrame with ``text_field`` (and ``label_field``) or a list of strings.
        real_holdout: real texts of the same population the generator never saw.
        synthetic: the generated texts.
        text_field: the text column.
        label_field: the label column; utility and class balance need it in all three sets
            (``None``, or a column missing from a set, skips them).
        metrics: which of :data:`TEXT_METRICS` to compute.
        encoder: a sentence encoder with ``encode(texts) -> (n, d)`` unit vectors (default:
            the offline all-MiniLM-L6-v2, :func:`sosie.text.default_encoder`).
        max_texts: at most this many texts of each set are embedded (a random sample) for
            the embedding, distance and diversity metrics and the embedding TSTR model; the
            TF-IDF TSTR model uses every text.
        k: the neighbour of the precision/recall manifolds.
        n_examples: real and synthetic example texts per label stored for the report.
        n_pairs: closest synthetic/training pairs stored with ``memorisation_embeddings``.
        rng: seed of subsamples, folds, bootstraps and examples.
        verbose: a progress bar while the texts are embedded (the slow part: about 40 texts
            per second on 2 CPU cores with torch, for reviews of ~100 tokens).

    Returns:
        An :class:`~sosie.evaluate.Evaluation` with ``meta["text"]`` describing the sets.

    Raises:
        InvalidDataError: a set lacks the text column, has missing texts or labels, or has
            fewer than 20 texts.

    Example:
        >>> from sosie.datasets import load_rdataset
        >>> reviews = load_rdataset("modeldata", "training_data").rename(columns={"review": "text", "score": "label"})
        >>> train, hold = reviews.iloc[:60], reviews.iloc[60:120]
        >>> ev = evaluate_text(train, hold, train.iloc[:30], metrics=("memorisation",), rng=0)
        >>> ev["exact_copies"].value  # the "generator" returned training texts
        1.0
    """
    unknown = sorted(set(metrics) - set(TEXT_METRICS))
    if unknown:
        raise ValueError(
            f"unknown text metric group(s) {unknown}; choose from {list(TEXT_METRICS)}"
        )
    t_all = _time.perf_counter()
    gen = as_generator(rng)
    frames = {
        "real_train": _as_frame(real_train, "real_train", text_field, label_field),
        "real_holdout": _as_frame(real_holdout, "real_holdout", text_field, label_field),
        "synthetic": _as_frame(synthetic, "synthetic", text_field, label_field),
    }
    texts = {k_: f[text_field].tolist() for k_, f in frames.items()}
    has_labels = label_field is not None and all(label_field in f.columns for f in frames.values())
    labels = (
        {k_: f[label_field].astype(str).tolist() for k_, f in frames.items()} if has_labels else {}
    )
    classes = sorted(set(labels.get("real_train", [])))
    unknown_syn = sorted(set(labels.get("synthetic", [])) - set(classes))
    if unknown_syn:  # checked before the slow part
        raise InvalidDataError(
            Problem(
                f"synthetic column {label_field!r}",
                f"labels of the real training texts ({classes})",
                f"also {unknown_syn}",
                "map the synthetic labels onto the real ones, or drop those rows",
            )
        )
    rows = {k_: _subsample(len(v), int(max_texts), gen) for k_, v in texts.items()}
    n_eq = min(len(r) for r in rows.values())
    eq = {k_: np.sort(gen.choice(len(r), n_eq, replace=False)) for k_, r in rows.items()}
    timings: dict[str, float] = {}
    needs_emb = {"embeddings", "detection", "diversity", "tstr", "memorisation"} & set(metrics)
    emb_rows: dict[str, np.ndarray] = {}
    if needs_emb:
        from ..text._embed import default_encoder

        t0 = _time.perf_counter()
        enc = encoder if encoder is not None else default_encoder()
        emb_rows = _embed_sets(
            enc, {k_: [v[i] for i in rows[k_]] for k_, v in texts.items()}, verbose
        )
        timings["embed"] = round(_time.perf_counter() - t0, 3)

    def emb(name: str) -> np.ndarray:
        return emb_rows[name]

    sub_texts = {k_: [v[i] for i in rows[k_]] for k_, v in texts.items()}
    sub_words = {k_: [_words(t) for t in v] for k_, v in sub_texts.items()}
    results: list[MetricResult] = []

    def timed(name: str, fn, *args) -> None:
        t0 = _time.perf_counter()
        got = fn(*args)
        results.extend(got if isinstance(got, list) else [got])
        timings[name] = round(_time.perf_counter() - t0, 3)

    if "embeddings" in metrics:
        timed("frechet", _fd_metric, emb, eq, gen, "texts", "sentence embeddings")
        timed("precision_recall", _pr_metrics, emb, eq, int(k), gen, "texts", "embedding")
    if "detection" in metrics:
        timed("detection", _detection_metric, sub_texts, emb, eq, gen)
    if "diversity" in metrics:
        timed("diversity", _diversity_metrics, sub_words, emb, eq, gen)
    if "length" in metrics:
        timed("length", _length_metric, sub_words, gen)
    if has_labels:
        code = {c: i for i, c in enumerate(classes)}
        y_tr = np.array([code[c] for c in labels["real_train"]])
        y_sy = np.array([code[c] for c in labels["synthetic"]])
        timed("class_balance", _class_balance, y_tr, y_sy, classes, gen, "texts")
        if "tstr" in metrics:
            timed("tstr", _tstr_metrics, texts, labels, emb, rows, gen)
    if "memorisation" in metrics:
        timed("memorisation", _privacy_metrics, sub_texts, emb, int(n_pairs), gen)
    if has_labels and "tstr" in metrics:
        timed("domain_gap", _text_gap, texts, labels, gen)

    summary: dict[str, float | None] = {
        m.name: _finite(m.value) for m in results if not m.name.startswith("tstr_")
    }
    for m in results:
        if m.name == "tstr_tfidf":
            summary["tstr_ratio"] = _finite(m.value / m.baseline if m.baseline else math.nan)
            summary["tstr_f1"] = _finite(m.value)
            summary["trtr_f1"] = _finite(m.baseline)
    skipped: dict[str, str] = {"fairness": "not evaluated for text"}
    if not has_labels:
        skipped["utility"] = (
            "no labels: pass label_field= naming a label column present in all three sets"
        )
    elif "tstr" not in metrics:
        skipped["utility"] = "'tstr' was not in metrics"
    if "memorisation" not in metrics:
        skipped["privacy"] = "'memorisation' was not in metrics"
    text_meta: dict[str, Any] = {
        "text_field": text_field,
        "label_field": label_field if has_labels else None,
        "labels": classes or None,
        "n_texts": {k_: len(v) for k_, v in texts.items()},
        "label_counts": {
            k_: pd.Series(v).value_counts().sort_index().to_dict() for k_, v in labels.items()
        }
        or None,
        "median_words": {
            k_: _g(float(np.median([len(w) for w in v]))) for k_, v in sub_words.items()
        },
        "n_compared": {**{k_: len(r) for k_, r in rows.items()}, "equal_size": int(n_eq)},
        "encoder": getattr(encoder, "name", None) if encoder is not None else "all-MiniLM-L6-v2",
        "examples": _examples(texts, labels, int(n_examples), gen) if n_examples else None,
    }
    meta: dict[str, Any] = {
        "kind": "text",
        "text": text_meta,
        "n_real_train": len(texts["real_train"]),
        "n_real_holdout": len(texts["real_holdout"]),
        "n_synthetic": len(texts["synthetic"]),
        "families": sorted({m.family for m in results}),
        "skipped": skipped,
        "seconds": {**timings, "total": round(_time.perf_counter() - t_all, 3)},
    }
    return Evaluation(results, meta=meta, summary=summary)
