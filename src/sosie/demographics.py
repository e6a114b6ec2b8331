"""Controlled demographics: synthetic data with chosen shares of sensitive groups, and a bias audit.

:func:`sample_demographics` asks a fitted generator for rows whose sensitive attributes follow
target distributions (e.g. 50/50 sex, a chosen race mix), optionally with the label
independent of them, through **native conditioning**: every row is sampled with its
sensitive values (and label) fixed, so the shares are met exactly (up to rounding) and no row
is thrown away.

* One attribute: its target shares. Several: the reference joint distribution of the
  attributes (the real data's, or a large unconditional sample's) is raked (iterative
  proportional fitting) to every target marginal, so associations between the attributes
  are kept where the targets allow it; combinations absent from the reference stay absent.
* ``independent_label=True``: each group gets the same label distribution (the reference's
  overall label shares, or ``label_shares``): the data's demographic-parity gap is removed at
  the source. Otherwise the label follows the model's own P(label | group) (so the
  label's overall share moves with the group mix).

:func:`bias_audit` shows the before/after: group shares (real, plain synthetic, controlled,
target), the label rate of each group in the data, and the downstream fairness gaps
(demographic parity, equalized odds) and ROC-AUC on a real holdout of a model trained on each.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ._rng import RNGLike, as_seed_sequence
from .errors import InvalidDataError, Problem
from .generators.base import Generator

__all__ = ["bias_audit", "rake", "sample_demographics"]


def rake(
    joint: pd.Series,
    targets: Mapping[str, Mapping[Any, float]],
    *,
    max_iter: int = 200,
    tol: float = 1e-10,
) -> pd.Series:
    """Iterative proportional fitting: scale a joint distribution to the target marginals.

    Args:
        joint: shares indexed by a MultiIndex (one level per attribute, named), or by a
            plain index named after one attribute.
        targets: ``{attribute: {value: share}}`` for some or all of the levels.
        max_iter: sweeps over the attributes at most.
        tol: stop when no marginal is off by more than this.

    Returns:
        The raked joint shares (same index, sums to 1).

    Raises:
        InvalidDataError: a target value with no reference mass, so it cannot be reached.

    Example:
        >>> idx = pd.MultiIndex.from_tuples([("F", "a"), ("F", "b"), ("M", "a"), ("M", "b")],
        ...                                 names=["sex", "race"])
        >>> j = pd.Series([0.2, 0.1, 0.5, 0.2], index=idx)
        >>> r = rake(j, {"sex": {"F": 0.5, "M": 0.5}})
        >>> r.groupby(level="sex").sum().round(3).tolist(), round(float(r[("F", "a")] / r[("F", "b")]), 3)
        ([0.5, 0.5], 2.0)
    """
    p = joint.astype(float) / float(joint.sum())
    names = list(p.index.names)
    problems = []
    for attr, shares in targets.items():
        have = p.groupby(level=attr).sum()
        for v, s in shares.items():
            if s > 0 and have.get(v, 0.0) <= 0:
                problems.append(
                    Problem(
                        f"target share of {attr}={v!r}",
                        "a value that occurs in the data",
                        "a value with no rows",
                        f"use one of {', '.join(map(repr, have.index[:12]))}",
                    )
                )
    if problems:
        raise InvalidDataError(problems)
    for _ in range(max_iter):
        worst = 0.0
        for attr, shares in targets.items():
            level = names.index(attr)
            have = p.groupby(level=attr).sum()
            keys = p.index.get_level_values(level)
            want = pd.Series(shares, dtype=float)
            factor = (want / have).reindex(keys).fillna(0.0).to_numpy()
            worst = max(worst, float((have - want.reindex(have.index, fill_value=0)).abs().max()))
            p = p * factor
            p = p / p.sum()
        if worst < tol:
            break
    return p


def _check_targets(
    targets: Mapping[str, Mapping[Any, float]], schema: Any, label: str | None
) -> list[Problem]:
    problems: list[Problem] = []
    if not targets:
        problems.append(
            Problem(
                "targets",
                "at least one sensitive attribute with target shares",
                "none",
                "pass e.g. targets={'sex': {'Female': 0.5, 'Male': 0.5}}",
            )
        )
    for attr, shares in targets.items():
        if attr not in schema:
            problems.append(
                Problem(f"targets[{attr!r}]", "a column of the model", "no such column", "fix it")
            )
            continue
        if attr == label:
            problems.append(
                Problem(
                    f"targets[{attr!r}]",
                    "a sensitive attribute other than the label",
                    "the label",
                    "use label_shares= for the label",
                )
            )
        vals = list(shares.values()) if isinstance(shares, Mapping) else []
        if not vals or any(not isinstance(v, (int, float)) or v < 0 for v in vals):
            problems.append(
                Problem(
                    f"targets[{attr!r}]",
                    "{value: share} with shares >= 0",
                    repr(shares),
                    "pass e.g. {'Female': 0.5, 'Male': 0.5}",
                )
            )
        elif not math.isclose(sum(vals), 1.0, abs_tol=1e-6):
            problems.append(
                Problem(
                    f"targets[{attr!r}]",
                    "shares that sum to 1",
                    f"a sum of {sum(vals):.6g}",
                    "list every group (a group left out gets no rows) and normalise",
                )
            )
    return problems


def _counts(shares: np.ndarray, n: int) -> np.ndarray:
    """Largest-remainder rounding of ``n * shares`` to integers summing to ``n``."""
    raw = shares * n
    out = np.floor(raw).astype(int)
    rest = n - int(out.sum())
    if rest > 0:
        out[np.argsort(-(raw - out), kind="stable")[:rest]] += 1
    return out


def sample_demographics(
    generator: Generator,
    n_rows: int,
    *,
    targets: Mapping[str, Mapping[Any, float]],
    label: str | None = None,
    independent_label: bool = False,
    label_shares: Mapping[Any, float] | None = None,
    reference: pd.DataFrame | None = None,
    rng: RNGLike = None,
) -> pd.DataFrame:
    """Sample rows whose sensitive attributes follow target shares, through native conditioning.

    Args:
        generator: a fitted table generator.
        n_rows: rows to sample.
        targets: ``{attribute: {value: share}}``, shares summing to 1 per attribute.
        label: the label column (for ``independent_label``).
        independent_label: give every group the same label distribution.
        label_shares: that distribution (default: the reference's overall label shares).
        reference: the real data, whose joint distribution of the attributes is raked to the
            targets (default: 20,000 unconditional rows from the generator).
        rng: seed of the reference sample, the row order and the conditional sampling.

    Returns:
        ``n_rows`` rows in random order; the attribute (and label) counts are exactly the
        rounded targets.

    Example:
        >>> from sosie.datasets import load_adult
        >>> from sosie.generators import GaussianCopulaGenerator
        >>> real = load_adult().sample(4000, random_state=0)
        >>> gen = GaussianCopulaGenerator(rng=0).fit(real)
        >>> out = sample_demographics(gen, 1000, targets={"sex": {"Female": 0.5, "Male": 0.5}},
        ...                           label="income", independent_label=True, reference=real, rng=0)
        >>> out["sex"].value_counts().to_dict()
        {'Female': 500, 'Male': 500}
        >>> rates = out.groupby("sex")["income"].apply(lambda s: (s == ">50K").mean())
        >>> bool(abs(rates["Female"] - rates["Male"]) < 0.01)
        True
    """
    if not isinstance(generator, Generator) or not generator.is_fitted:
        raise InvalidDataError(
            Problem(
                "generator",
                "a fitted sosie table generator",
                type(generator).__name__
                + ("" if not isinstance(generator, Generator) else " (not fitted)"),
                "fit it first: GaussianCopulaGenerator(rng=0).fit(real)",
            )
        )
    schema = generator.schema_
    problems = _check_targets(targets, schema, label)
    if label is not None and label not in schema:
        problems.append(
            Problem(f"label {label!r}", "a column of the model", "no such column", "fix it")
        )
    if independent_label and label is None:
        problems.append(
            Problem("label", "the label column (independent_label needs it)", "None",
                    "pass label='income'")
        )  # fmt: skip
    if label_shares is not None and not independent_label:
        problems.append(
            Problem("label_shares", "independent_label=True (the shares every group gets)",
                    "independent_label=False", "pass independent_label=True, or drop label_shares")
        )  # fmt: skip
    if not isinstance(n_rows, (int, np.integer)) or n_rows < 1:
        problems.append(Problem("n_rows", "an integer >= 1", repr(n_rows), "pass e.g. 10_000"))
    if problems:
        raise InvalidDataError(problems)
    ref_seq, order_seq, sample_seq = as_seed_sequence(rng).spawn(3)
    if reference is None:
        reference = generator.sample(20_000, rng=ref_seq)
    attrs = list(targets)
    ref = reference[attrs + ([label] if label else [])].dropna(subset=attrs)
    joint = ref.groupby(attrs, observed=True).size()
    if len(attrs) == 1:
        joint.index = pd.MultiIndex.from_arrays([joint.index], names=attrs)
    p = rake(joint, targets)
    cells = p[p > 0]
    plan: list[tuple[tuple, Any, int]] = []  # (attribute values, label value or None, rows)
    per_cell = _counts(cells.to_numpy(), int(n_rows))
    if independent_label:
        if label_shares is None:
            label_shares = ref[label].dropna().value_counts(normalize=True).to_dict()
        lab_vals = list(label_shares)
        lab_p = np.array([label_shares[v] for v in lab_vals], dtype=float)
        if lab_p.min() < 0 or not math.isclose(lab_p.sum(), 1.0, abs_tol=1e-6):
            raise InvalidDataError(
                Problem(
                    "label_shares",
                    "shares >= 0 summing to 1",
                    repr(label_shares),
                    "pass e.g. {'>50K': 0.3, '<=50K': 0.7}",
                )
            )
        for key, k in zip(cells.index, per_cell, strict=True):
            for v, m in zip(lab_vals, _counts(lab_p, int(k)), strict=True):
                plan.append((key, v, int(m)))
    else:
        plan = [(key, None, int(k)) for key, k in zip(cells.index, per_cell, strict=True)]
    rows: dict[str, list[Any]] = {a: [] for a in attrs}
    if label is not None and plan and plan[0][1] is not None:
        rows[label] = []
    for key, v, m in plan:
        for a, x in zip(attrs, key, strict=True):
            rows[a] += [x] * m
        if label in rows:
            rows[label] += [v] * m
    conditions = pd.DataFrame(rows)
    order = np.random.default_rng(order_seq).permutation(len(conditions))
    conditions = conditions.iloc[order].reset_index(drop=True)
    for c in conditions.columns:
        conditions[c] = conditions[c].map(lambda x: x.item() if hasattr(x, "item") else x)
    return generator.sample(int(n_rows), conditions=conditions, rng=sample_seq)


def _positive_rate(y: pd.Series, groups: pd.Series, positive: Any) -> dict[str, float]:
    ok = y.notna() & groups.notna()
    return (
        (y[ok].astype(str) == str(positive))
        .groupby(groups[ok].astype(str))
        .mean()
        .astype(float)
        .to_dict()
    )


def bias_audit(
    real_train: pd.DataFrame,
    real_holdout: pd.DataFrame,
    before: pd.DataFrame,
    after: pd.DataFrame,
    *,
    sensitive: Sequence[str],
    target: str,
    targets: Mapping[str, Mapping[Any, float]] | None = None,
    schema: Any = None,
    rng: RNGLike = None,
) -> Any:
    """Before/after audit of controlled demographics, on a real holdout.

    For each sensitive column: the group shares of the real data, the plain synthetic data
    (``before``), the controlled synthetic data (``after``) and the ``targets``; the rate of
    the positive (minority) label per group in each data set; and, for a gradient-boosting
    model trained on each, its demographic-parity and equalized-odds gaps and ROC-AUC on
    ``real_holdout``.

    Args:
        real_train: the real data the generator learned.
        real_holdout: real rows none of the models saw.
        before: synthetic data sampled without control.
        after: synthetic data sampled with :func:`sample_demographics`.
        sensitive: the sensitive columns.
        target: the label column (classification).
        targets: the target shares, shown next to the achieved ones.
        schema: the table's schema (default: inferred from ``real_train``).
        rng: seed of the models and their folds.

    Returns:
        An :class:`~sosie.evaluate.Evaluation` of family ``fairness``: per column
        ``target_shares[col]`` (1 - total variation between the achieved and the target
        shares; baseline: the plain synthetic data's), ``label_parity[col]`` (largest
        difference in positive-label rate between groups in the controlled data; baseline:
        the real data's), ``dp_gap[col]`` and ``eo_gap[col]`` (downstream gaps of the model
        trained on the controlled data; baseline: trained on real data; every model's gap in
        ``details["gaps"]``); and ``audit_roc_auc`` (family ``utility``) for the three models.

    Example:
        >>> from sosie.datasets import load_adult
        >>> from sosie.evaluate import split_holdout
        >>> from sosie.generators import GaussianCopulaGenerator
        >>> train, hold = split_holdout(load_adult().sample(5000, random_state=0), rng=0)
        >>> gen = GaussianCopulaGenerator(rng=0).fit(train)
        >>> t = {"sex": {"Female": 0.5, "Male": 0.5}}
        >>> after = sample_demographics(gen, 3000, targets=t, label="income",
        ...                             independent_label=True, reference=train, rng=0)
        >>> ev = bias_audit(train, hold, gen.sample(3000, rng=1), after, sensitive=["sex"],
        ...                 target="income", targets=t, rng=0)
        >>> round(ev["target_shares[sex]"].value, 3), ev["label_parity[sex]"].value < 0.01
        (1.0, True)
    """
    from .evaluate._core import Evaluation, MetricResult, clip01
    from .evaluate.fairness import demographic_parity_difference, equalized_odds_difference
    from .evaluate.utility import _binary_auc, fit_predict, prepare_task
    from .schema import infer_schema

    sc = schema if schema is not None else infer_schema(real_train)
    problems = []
    for name, df in (("real_train", real_train), ("real_holdout", real_holdout),
                     ("before", before), ("after", after)):  # fmt: skip
        missing = [c for c in [*sensitive, target] if c not in df.columns]
        if missing:
            problems.append(
                Problem(
                    f"{name} columns",
                    "the sensitive columns and the target",
                    "missing " + ", ".join(map(repr, missing)),
                    "pass tables with the same columns",
                )
            )
    if problems:
        raise InvalidDataError(problems)
    seqs = as_seed_sequence(rng).spawn(2)
    sets = {"real data": real_train, "before": before, "after": after}
    # one task: encoders fitted on the real train; "synthetic" and "augmented" slots reused
    td = prepare_task(real_train, real_holdout, before, sc, target, rng=seqs[0])
    if td.task != "classification":
        raise InvalidDataError(
            Problem(f"target {target!r}", "a class label", "a numeric target", "pick a label")
        )
    td_after = prepare_task(real_train, real_holdout, after, sc, target, rng=seqs[0])
    seed = int(np.random.default_rng(seqs[1]).integers(2**31))
    preds = {
        "real data": fit_predict(td, "real", "gradient_boosting", seed),
        "before": fit_predict(td, "synthetic", "gradient_boosting", seed),
        "after": fit_predict(td_after, "synthetic", "gradient_boosting", seed),
    }
    pos = list(td.classes).index(td.positive)
    y_true = td.test_y == td.positive
    aucs = {
        k: _binary_auc(y_true, p[:, pos]) if p is not None else math.nan for k, p in preds.items()
    }
    metrics: list[MetricResult] = []
    for col in sensitive:
        groups_test = td.test_frame[col].astype(str).to_numpy()
        shares = {
            k: df[col].dropna().astype(str).value_counts(normalize=True) for k, df in sets.items()
        }
        target_s = (
            pd.Series({str(k): float(v) for k, v in targets[col].items()})
            if targets and col in targets
            else None
        )
        keys = sorted(set().union(*(s.index for s in shares.values())))

        def tv(a: pd.Series, b: pd.Series, keys: list[str] = keys) -> float:
            return 0.5 * float(
                (a.reindex(keys, fill_value=0) - b.reindex(keys, fill_value=0)).abs().sum()
            )

        ref = target_s if target_s is not None else shares["real data"]
        groups = {
            g: {
                **{k: float(shares[k].get(g, 0.0)) for k in sets},
                **({"target": float(target_s.get(g, 0.0))} if target_s is not None else {}),
            }
            for g in keys
        }
        metrics.append(
            MetricResult(
                f"target_shares[{col}]",
                "fairness",
                "maximize",
                (0.0, 1.0),
                1.0 - tv(shares["after"], ref),
                clip01(1.0 - tv(shares["after"], ref)),
                f"1 - total variation between the group shares of {col!r} in the controlled "
                f"data and the {'targets' if target_s is not None else 'real data'} (baseline: "
                "the plain synthetic data's)",
                baseline=1.0 - tv(shares["before"], ref),
                breakdown=groups,
                details={"groups": groups, "attribute": col, "score_name": "share"},
            )
        )
        rates = {k: _positive_rate(df[target], df[col], td.positive) for k, df in sets.items()}
        parity = {
            k: (max(r.values()) - min(r.values())) if r else math.nan for k, r in rates.items()
        }
        rate_groups = {g: {k: rates[k].get(g) for k in sets} for g in keys}
        metrics.append(
            MetricResult(
                f"label_parity[{col}]",
                "fairness",
                "minimize",
                (0.0, 1.0),
                parity["after"],
                clip01(1.0 - parity["after"] * 5) if math.isfinite(parity["after"]) else math.nan,
                f"largest difference between groups of {col!r} in the share of {td.positive!r} "
                "labels, in the controlled data (value), the real data (baseline) and the plain "
                "synthetic data (breakdown)",
                baseline=parity["real data"],
                breakdown=parity,
                details={
                    "groups": rate_groups,
                    "attribute": col,
                    "score_name": f"share {td.positive}",
                },
            )
        )
        big = [g for g in keys if (groups_test == g).sum() >= 20]
        keep = np.isin(groups_test, big)
        for name, what in (("dp_gap", "demographic-parity"), ("eo_gap", "equalized-odds")):
            gaps = {}
            for k, p in preds.items():
                if p is None:
                    gaps[k] = math.nan
                    continue
                yp = p.argmax(1) == pos
                gaps[k] = (
                    demographic_parity_difference(yp[keep], groups_test[keep])
                    if name == "dp_gap"
                    else equalized_odds_difference(y_true[keep], yp[keep], groups_test[keep])
                )
            metrics.append(
                MetricResult(
                    f"{name}[{col}]",
                    "fairness",
                    "minimize",
                    (0.0, 1.0),
                    gaps["after"],
                    clip01(1.0 - max(0.0, gaps["after"] - gaps["real data"]) * 5),
                    f"{what} gap across groups of {col!r} on the real holdout of a model "
                    "trained on the controlled data (value) and on real data (baseline); "
                    "every model in the chart",
                    baseline=gaps["real data"],
                    breakdown=gaps,
                    details={"gaps": gaps},
                )
            )
    metrics.append(
        MetricResult(
            "audit_roc_auc",
            "utility",
            "maximize",
            (0.0, 1.0),
            aucs["after"],
            clip01(aucs["after"] / aucs["real data"]) if aucs["real data"] > 0 else math.nan,
            f"ROC-AUC for {td.positive!r} on the real holdout of gradient boosting trained on the "
            "controlled data (value) and on real data (baseline): what the control costs",
            baseline=aucs["real data"],
            breakdown=aucs,
            details={
                "groups": {k: {"roc_auc": v} for k, v in aucs.items()},
                "score_name": "ROC-AUC",
            },
        )
    )
    summary = {m.name: m.value for m in metrics}
    meta = {
        "kind": "bias_audit",
        "target": target,
        "sensitive": list(sensitive),
        "targets": {k: {str(a): b for a, b in v.items()} for k, v in (targets or {}).items()},
        "n_train": len(real_train),
        "n_holdout": len(real_holdout),
        "n_synthetic": len(after),
        "skipped": {
            "fidelity": "a bias audit (run sosie evaluate for fidelity)",
            "privacy": "a bias audit (run sosie evaluate for privacy)",
        },
    }
    return Evaluation(metrics, meta=meta, summary=summary)
