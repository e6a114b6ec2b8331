"""``generator="auto"``: pick a family by measured quality and a time budget.

The choice uses figures measured on UCI Adult on 2 CPU cores (see the issue notes
and ``benchmarks/``): the families ranked by detection AUC on Adult (lower is
better), and their fit cost per cell (rows x model columns). The best-ranked family
whose predicted fit time fits the budget wins; the Gaussian copula (under a second
on Adult) is the fallback.

=================  ====================  =========================
family             detection AUC, Adult  fit seconds per 1M cells
=================  ====================  =========================
``arf``            0.65                  31 (18 s on 32,561 x 18)
``gaussian_copula``  0.86                1.1 (0.65 s)
=================  ====================  =========================

``ctgan`` is not a candidate on CPU: within a minute it reaches a detection AUC near
1.0 on Adult. The fitted model *is* the chosen family: ``save`` writes that family's
file and ``sosie.load`` returns it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import Problem, SchemaError
from .base import Generator
from .registry import get_generator, register

__all__ = ["AutoGenerator", "choose_family"]

# (name, detection AUC on Adult, fixed seconds, seconds per cell), best quality first
_MEASURED = (
    ("arf", 0.65, 1.0, 31e-6),
    ("gaussian_copula", 0.86, 0.2, 1.1e-6),
)


def choose_family(n_rows: int, n_columns: int, time_budget: float) -> dict[str, Any]:
    """The best measured family whose predicted fit time fits ``time_budget`` seconds.

    Example:
        >>> choose_family(32_561, 18, 60)["name"]
        'arf'
        >>> choose_family(5_000_000, 40, 60)["name"]
        'gaussian_copula'
    """
    cells = max(1, n_rows) * max(1, n_columns)
    for name, auc, fixed, per_cell in _MEASURED:
        predicted = fixed + per_cell * cells
        if predicted <= time_budget or name == _MEASURED[-1][0]:
            return {
                "name": name,
                "predicted_fit_seconds": round(predicted, 2),
                "reason": f"best measured quality (detection AUC {auc} on Adult) whose predicted fit "
                f"time ({predicted:.1f} s for {n_rows:,} rows x {n_columns} model columns) fits the "
                f"budget of {time_budget:g} s",
            }
    raise AssertionError("unreachable")  # pragma: no cover


@register("auto")
class AutoGenerator(Generator):
    """Chooses a family by measured quality/time trade-off, then behaves as that family.

    Args:
        time_budget: seconds the fit may take (a prediction from measured costs).
        rng: seed passed to the chosen family.

    Example:
        >>> from sosie.datasets import load_adult
        >>> gen = AutoGenerator(time_budget=0.5, rng=0).fit(load_adult().head(2000))
        >>> gen.choice_["name"], gen.sample(3).shape
        ('gaussian_copula', (3, 15))
    """

    def __init__(self, *, time_budget: float = 60.0, rng: Any = None):
        self.time_budget = time_budget
        self.rng = rng

    def fit(self, data: pd.DataFrame, *, schema: Any = None) -> AutoGenerator:
        """Choose the family for this table and budget, then fit it."""
        if not isinstance(self.time_budget, (int, float)) or self.time_budget <= 0:
            raise SchemaError(
                Problem(
                    "parameter 'time_budget'",
                    "a positive number of seconds",
                    repr(self.time_budget),
                    "pass e.g. 60",
                )
            )
        n_cols = data.shape[1] if isinstance(data, pd.DataFrame) else 1
        n_rows = len(data) if isinstance(data, pd.DataFrame) else 0
        self.choice_ = choose_family(
            n_rows,
            n_cols + int(data.isna().any().sum()) if n_rows else n_cols,
            float(self.time_budget),
        )
        self.chosen_ = get_generator(self.choice_["name"])(rng=self.rng).fit(data, schema=schema)
        return self

    # the fitted model is the chosen family
    def __getattr__(self, name: str) -> Any:
        if name.endswith("_") and not name.startswith("__") and "chosen_" in self.__dict__:
            return getattr(self.__dict__["chosen_"], name)
        raise AttributeError(name)

    @property
    def is_fitted(self) -> bool:
        return "chosen_" in self.__dict__

    def sample(self, n_rows: int, *, conditions: Any = None, rng: Any = None) -> pd.DataFrame:
        """Sample from the chosen family (see :meth:`Generator.sample`)."""
        self._check_fitted()
        return self.chosen_.sample(n_rows, conditions=conditions, rng=rng)

    def save(self, path: str | Path) -> Path:
        """Save the chosen family's model (``sosie.load`` returns that family)."""
        self._check_fitted()
        return self.chosen_.save(path)

    def _fit(self, X: np.ndarray, rng: np.random.Generator) -> None:  # pragma: no cover - unused
        raise NotImplementedError

    def _sample(self, n_rows, conditions, rng):  # pragma: no cover - unused
        raise NotImplementedError
