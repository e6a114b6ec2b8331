"""What every differentially private generator shares: public facts only, secure noise.

:class:`PrivateFitMixin` goes before the family's base class (``class MST(PrivateFitMixin,
Generator)``, ``class DPTabDDPM(PrivateFitMixin, TabDDPMGenerator)``). Its ``fit``:

1. checks ``epsilon``/``delta`` and the schema *before* touching the data: every bound,
   category set and constant value must be declared ``user`` or ``public``
   (:func:`sosie.privacy.check_public_schema`); a schema inferred from the data is refused
   with the list of columns and how to declare them; missing values in a column the public
   schema says cannot be missing are refused too;
2. clips numbers outside their public bounds to them (a per-row transformation that needs no
   budget), then lets the family preprocess and fit as usual;
3. withholds the input fingerprint (a hash of the rows and their count).

The family's ``_fit`` must call :meth:`PrivateFitMixin._forget_data_facts` first: it resets
what preprocessing learned from the rows and would be saved in the model (inferred decimals,
evidence notes, the high-cardinality flag, id number ranges, the datetime origin) to
data-free values. :meth:`PrivateFitMixin._noise_source` gives the noise: the operating
system's secure generator with ``secure_mode=True`` (which refuses a seed), else a seeded
PRNG with one warning.

Known limits: *representation* facts left unset in the schema are still read from the data,
as for every generator: datetime format, time zone and resolution, boolean spellings, id
templates, PII kinds and pandas dtypes. They say how values are written, not what they are,
but set them in the public schema too when even that must not depend on the rows. Whether a
column may be missing (``nullable``) is taken from the schema as given.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from ..._rng import as_generator
from ...errors import InvalidDataError, PrivacyError, Problem, SosieWarning
from ...privacy import NoiseSource, check_epsilon_delta, check_public_schema
from ...schema import Provenance, SemanticType, TableSchema, infer_schema
from ...schema import _datetime as dtm
from ...schema._infer import check_frame

__all__ = ["PrivateFitMixin", "datetime_steps", "public_bin_edges"]

_DECLARED = (Provenance.USER, Provenance.PUBLIC)


class PrivateFitMixin:
    """Fitting under differential privacy: public facts only, noise source, nothing leaked.

    The class using it defines ``epsilon``, ``delta``, ``secure_mode`` and ``rng``.
    """

    #: constraints learn nothing from the rows (see sosie.constraints.ConstraintLayer)
    _private_constraints: ClassVar[bool] = True

    epsilon: float
    delta: float
    secure_mode: bool
    rng: Any
    name: str
    min_rows: int

    # -- checks ------------------------------------------------------------------------------
    def _check_params(self) -> None:
        problems: list[Problem] = []
        try:
            check_epsilon_delta(self.epsilon, self.delta)
        except PrivacyError as e:
            problems.extend(e.errors)
        if not isinstance(self.secure_mode, bool):
            problems.append(
                Problem(
                    "parameter 'secure_mode'",
                    "True or False",
                    repr(self.secure_mode),
                    "pass secure_mode=True for a release",
                )
            )
        elif self.secure_mode and self.rng is not None:
            problems.append(
                Problem(
                    "parameter 'rng'",
                    "no seed with secure_mode=True (its noise comes from the operating system "
                    "and cannot be reproduced)",
                    f"rng={self.rng!r}",
                    "drop rng, or set secure_mode=False for a reproducible experiment",
                )
            )
        if problems:
            raise PrivacyError(problems, header=f"generator {self.name!r}")
        super()._check_params()

    # -- fitting -----------------------------------------------------------------------------
    def fit(self, data: pd.DataFrame, *, schema: TableSchema | str | Path | None = None) -> Any:
        """Learn from ``data`` under (``epsilon``, ``delta``)-differential privacy.

        Args:
            data: the real table.
            schema: a schema whose bounds, categories and constant values are declared
                ``user`` or ``public`` (for example with :meth:`TableSchema.update`, or a JSON
                schema with ``"provenance": {"min": "public", ...}``). ``None`` infers one from
                the data, which is refused: the error lists every fact to declare.

        Returns:
            ``self``, fitted; ``privacy_spent_`` holds the ledger.

        Raises:
            PrivacyError: a bad budget, a seed with ``secure_mode``, or facts not declared.
            InvalidDataError: the data does not fit the schema.
        """
        self._check_params()
        problems = check_frame(data, min_rows=self.min_rows)
        if problems:
            raise InvalidDataError(problems)
        if schema is None:
            schema = infer_schema(data)
        elif not isinstance(schema, TableSchema):
            schema = TableSchema.from_json(schema)
        check_public_schema(schema, generator=f"generator {self.name!r}")
        undeclared_nulls = [
            Problem(
                f"column {spec.name!r}",
                "no missing values (the public schema says nullable: false)",
                "missing values",
                "set 'nullable': true in the public schema (whether a column can be missing "
                "must be public knowledge, not learned from the rows)",
            )
            for spec in schema
            if not spec.nullable and spec.name in data.columns and data[spec.name].isna().any()
        ]
        if undeclared_nulls:
            raise InvalidDataError(undeclared_nulls)
        self._public_schema = schema
        try:
            super().fit(_clip_to_public_bounds(data, schema), schema=schema)
        finally:
            del self._public_schema
        self.fingerprint_ = {
            "sha256": None,
            "n_rows": None,
            "n_columns": int(data.shape[1]),
            "withheld": "differential privacy: a hash or count of the rows would leak them",
        }
        return self

    def _noise_source(self, rng: np.random.Generator) -> NoiseSource:
        if self.secure_mode:
            return NoiseSource.secure()
        seeded = self.rng is not None
        warnings.warn(
            f"generator {self.name!r}: the privacy noise comes from numpy's seeded PRNG, not a "
            "cryptographically secure source"
            + (
                " (and the seed is recorded in the model file: whoever has the file or the seed "
                "can recompute the noise and remove it)"
                if seeded
                else ""
            )
            + "; fine for experiments, not for releasing data: pass secure_mode=True and no rng "
            "to draw the noise from the operating system's secure generator",
            SosieWarning,
            stacklevel=5,  # the user's fit call
        )
        # without a seed the noise must not derive from the entropy saved in the model file
        return NoiseSource.seeded(rng if seeded else as_generator(None))

    def _forget_data_facts(self, X: np.ndarray) -> None:
        """Reset what preprocessing learned from the rows to data-free values."""
        given = self._public_schema
        pre = self.preprocessor_
        # the user's columns, and (with constraints) the model's: gap and joint columns are
        # built from declared facts only (sosie.constraints.ConstraintLayer, private=True)
        for spec in [*self.schema_, *(pre.schema_ if pre.schema_ is not self.schema_ else [])]:
            g = given[spec.name] if spec.name in given else spec
            spec.evidence = list(g.evidence)
            spec.high_cardinality = bool(g.high_cardinality)
            if (
                spec.type is SemanticType.NUMERICAL
                and g.provenance.get("decimals") not in _DECLARED
            ):
                spec.decimals = None  # full precision rather than a precision read from the rows
                spec.provenance.pop("decimals", None)
        for spec in pre.schema_:
            enc = pre.encoders_[spec.name]
            if spec.type is SemanticType.ID:
                enc.number_range = None  # new ids are not placed after the real ones
            if spec.type is SemanticType.DATETIME:
                # the origin was the middle of the data's range: move it to the public one
                step = dtm.resolution_ns(spec.resolution)
                lo, hi = datetime_steps(enc, spec.min), datetime_steps(enc, spec.max)
                mid_ns = enc.origin_ns + int((lo + hi) / 2) * step
                new_origin = mid_ns // (86_400 * 10**9) * (86_400 * 10**9)
                shift = (enc.origin_ns - new_origin) // step
                j = pre.column_index(spec.name)
                X[:, j] = X[:, j] + shift
                enc.origin_ns = int(new_origin)


def datetime_steps(enc: Any, value: Any) -> float:
    """A public datetime bound in the encoder's units (steps since its origin)."""
    spec = enc.spec
    ts = pd.Timestamp(value)
    tz = dtm.to_pandas_tz(spec.timezone)
    if tz is not None:
        ts = ts.tz_localize(tz) if ts.tzinfo is None else ts.tz_convert(tz)
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    step = dtm.resolution_ns(spec.resolution)
    return float((int(ts.value) - enc.origin_ns) // step)


def _clip_to_public_bounds(data: pd.DataFrame, schema: TableSchema) -> pd.DataFrame:
    """Numbers beyond their public bounds are set to the bound (no budget needed)."""
    out = data
    for spec in schema:
        if spec.type is not SemanticType.NUMERICAL or spec.name not in data.columns:
            continue
        s = data[spec.name]
        if not pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype):
            continue
        lo, hi = spec.min, spec.max
        beyond = (s < lo) | (s > hi)
        if beyond.any():
            if out is data:
                out = data.copy()
            out[spec.name] = s.clip(lo, hi)
    return out


def public_bin_edges(pre: Any, name: str, n_bins: int) -> tuple[np.ndarray, bool]:
    """Histogram edges of a number or datetime column between its *public* bounds.

    ``n_bins`` equal-width bins, or one bin per value (``unit = True``) for an integer range
    of at most ``n_bins`` values; the bounds come from the fitted preprocessor's schema
    (``pre.schema_``), never from the rows.

    Example:
        >>> import pandas as pd
        >>> from sosie.schema import ColumnSpec, TableSchema
        >>> from sosie.transforms import TablePreprocessor
        >>> s = TableSchema([ColumnSpec("n", "numerical", dtype="int", min=0, max=3)])
        >>> pre = TablePreprocessor(s).fit(pd.DataFrame({"n": [1, 2]}))
        >>> edges, unit = public_bin_edges(pre, "n", 8)
        >>> edges.tolist(), unit
        ([-0.5, 0.5, 1.5, 2.5, 3.5], True)
    """
    spec = pre.schema_[name]
    if spec.type is SemanticType.DATETIME:
        enc = pre.encoders_[name]
        lo, hi, integer = datetime_steps(enc, spec.min), datetime_steps(enc, spec.max), True
    else:
        lo, hi, integer = float(spec.min), float(spec.max), spec.dtype == "int"
    lo, hi = min(lo, hi), max(lo, hi)
    if integer and hi - lo + 1 <= n_bins:
        return np.arange(lo - 0.5, hi + 1.0, 1.0), True
    if hi == lo:  # one zero-width bin: every value is the bound
        return np.array([lo, hi]), False
    return np.linspace(lo, hi, n_bins + 1), False
