"""The generator contract every family follows.

A family writes ``_fit``, ``_sample``, ``_state_dict`` and ``_load_state_dict``;
the base class owns validation, schema resolution, preprocessing, seeding,
conditioning, post-processing back to the schema's types, and the ``.sosie``
file. See DESIGN.md ("The generator contract").
"""

from __future__ import annotations

import copy
import datetime as _dt
import hashlib
import inspect
import logging
import math
import platform
import time
import warnings
from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from .._rng import RNGLike, as_generator, as_seed_sequence, child_seed_sequence
from .._serial import read_model_file, write_model_file
from ..constraints import ConstraintLayer
from ..errors import (
    ConditionError,
    InvalidDataError,
    ModelFileError,
    NotFittedError,
    Problem,
    SosieWarning,
    UnknownGeneratorError,
)
from ..schema import SemanticType, TableSchema, infer_schema, learn_facts, validate_data
from ..schema._infer import check_frame
from ..schema._types import _unknown_column_message
from ..schema._validate import coerce_column
from ..transforms import TablePreprocessor

__all__ = ["Generator", "fingerprint"]

log = logging.getLogger(__name__)
Conditions = Mapping[str, Any] | pd.DataFrame | None


def fingerprint(data: pd.DataFrame) -> dict[str, Any]:
    """A SHA-256 fingerprint of a table's content and column names (row order matters).

    Example:
        >>> a = fingerprint(pd.DataFrame({"x": [1, 2]}))
        >>> a == fingerprint(pd.DataFrame({"x": [1, 2]})), a["n_rows"]
        (True, 2)
    """
    h = hashlib.sha256()
    h.update("\x1f".join(map(str, data.columns)).encode())
    h.update("\x1f".join(str(t) for t in data.dtypes).encode())
    if len(data):
        h.update(pd.util.hash_pandas_object(data, index=False).to_numpy().tobytes())
    return {"sha256": h.hexdigest(), "n_rows": len(data), "n_columns": int(data.shape[1])}


def _versions() -> dict[str, str]:
    import scipy
    import sklearn

    from .. import __version__

    return {
        "sosie": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "scipy": scipy.__version__,
        "scikit-learn": sklearn.__version__,
    }


class Generator(ABC):
    """Base class of every sosie generator.

    Subclasses define ``__init__`` with explicit keyword parameters stored
    verbatim (including ``rng``) and implement:

    * ``_fit(X, rng)``: learn from the encoded matrix ``X`` (``self.preprocessor_``
      describes its columns);
    * ``_sample(n_rows, conditions, rng)``: return an encoded matrix of ``n_rows``;
      ``conditions`` maps model-column index -> per-row encoded values (NaN: free);
    * ``_state_dict()`` / ``_load_state_dict(state)``: learned state as nested
      dicts of JSON values and numpy arrays (never pickled).

    Randomness: ``rng`` at construction seeds fitting; ``sample(n)`` without
    ``rng`` continues a stream seeded at fit (reproducible sequence), and
    ``sample(n, rng=seed)`` is reproducible on its own.

    Example:
        A family that draws every column independently (a baseline):

        >>> import numpy as np, pandas as pd
        >>> class Independent(Generator):
        ...     def __init__(self, *, rng=None):
        ...         self.rng = rng
        ...     def _fit(self, X, rng):
        ...         self.columns_ = [X[:, j] for j in range(X.shape[1])]
        ...     def _sample(self, n_rows, conditions, rng):
        ...         return np.column_stack([rng.choice(c, n_rows) for c in self.columns_])
        >>> df = pd.DataFrame({"x": [1.5, 2.5, 3.5], "c": ["a", "b", "a"]})
        >>> Independent(rng=0).fit(df).sample(4).shape
        (4, 2)
    """

    name: ClassVar[str] = ""
    #: what one sample is: ``"table"`` rows, ``"sequence"`` (entities with events) or ``"image"``
    modality: ClassVar[str] = "table"
    #: whether ``_sample`` honours conditions natively (else bounded rejection)
    native_conditions: ClassVar[bool] = True
    #: minimum rows needed to fit
    min_rows: ClassVar[int] = 2
    #: constraints may learn nothing from the rows (differentially private families)
    _private_constraints: ClassVar[bool] = False
    #: rounds of redrawing rows that break a constraint or a condition checked after sampling
    max_rejection_rounds: ClassVar[int] = 10
    #: experimental families are not imported by default and not yet held to the
    #: conformance suite; the reason is stated (empty for finished families)
    experimental: ClassVar[str] = ""

    rng: RNGLike

    # -- parameters (scikit-learn style) -------------------------------------------------
    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [
            p.name
            for p in sig.parameters.values()
            if p.name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
        ]

    def get_params(self) -> dict[str, Any]:
        """The constructor parameters as given.

        Example:
            >>> from sosie.generators import GaussianCopulaGenerator
            >>> GaussianCopulaGenerator(rng=3).get_params()["rng"]
            3
        """
        return {k: getattr(self, k) for k in self._param_names()}

    def __repr__(self) -> str:
        sig = inspect.signature(type(self).__init__)
        parts = []
        for k, v in self.get_params().items():
            default = sig.parameters[k].default
            if default is inspect.Parameter.empty or not _same(v, default):
                parts.append(f"{k}={v!r}")
        return f"{type(self).__name__}({', '.join(parts)})"

    # -- fitting ---------------------------------------------------------------------------
    def fit(
        self, data: pd.DataFrame, *, schema: TableSchema | str | Path | None = None
    ) -> Generator:
        """Learn from ``data``.

        Args:
            data: the real table.
            schema: a :class:`~sosie.schema.TableSchema`, a path to its JSON, or ``None``
                to infer it (see :func:`sosie.schema.infer_schema`).

        Returns:
            ``self``, fitted.

        Raises:
            InvalidDataError: listing every problem with the data (or with the data vs schema).
        """
        problems = check_frame(data, min_rows=self.min_rows)
        if problems:
            raise InvalidDataError(problems)
        t0 = time.perf_counter()
        self._check_params()
        if schema is None:
            schema = infer_schema(data, constraints=True)
        elif not isinstance(schema, TableSchema):
            schema = TableSchema.from_json(schema)
        seq = as_seed_sequence(self.rng)
        self._entropy_ = seq.entropy
        self._fit_key_ = tuple(seq.spawn_key)
        self._sample_calls_ = 0
        fit_rng = as_generator(child_seed_sequence(self._entropy_, *self._fit_key_, 0))
        model_data = data
        self.constraints_ = None
        if schema.constraints:
            self.constraints_ = self._fit_constraints(data, schema)
            model_data = self.constraints_.transform(data)
            self.preprocessor_ = TablePreprocessor(self.constraints_.model_schema_).fit(model_data)
            self.schema_ = self.constraints_.schema
        else:
            self.preprocessor_ = TablePreprocessor(schema).fit(data)
            self.schema_ = self.preprocessor_.schema_
        X = self.preprocessor_.transform(model_data)
        self._fit(X, fit_rng)
        self.fingerprint_ = fingerprint(data)
        # fitted on a sample of a larger table (sosie.scale.read_sample): say so in the model
        sample = data.attrs.get("sosie_sample")
        self.fit_sample_ = dict(sample) if isinstance(sample, Mapping) else None
        self.fit_seconds_ = time.perf_counter() - t0
        log.info("%s fitted on %d rows in %.2fs", type(self).__name__, len(data), self.fit_seconds_)
        return self

    def _fit_constraints(self, data: pd.DataFrame, schema: TableSchema) -> ConstraintLayer:
        """Learn the schema's facts on all columns and plan how each constraint is kept."""
        cols = [
            learn_facts(copy.deepcopy(spec), data[spec.name]) if spec.name in data else spec
            for spec in schema
        ]
        full = TableSchema(cols, schema.spec_version, list(schema.constraints))
        validate_data(data, full)
        return ConstraintLayer(full, private=self._private_constraints).fit(data)

    def _check_params(self) -> None:
        """Validate constructor parameters (override to add checks)."""
        if not isinstance(self.rng, np.random.Generator):
            as_seed_sequence(self.rng)  # raises a clear TypeError/ValueError for a bad seed

    @abstractmethod
    def _fit(self, X: np.ndarray, rng: np.random.Generator) -> None:
        """Learn from the encoded matrix."""

    @abstractmethod
    def _sample(
        self, n_rows: int, conditions: dict[int, np.ndarray], rng: np.random.Generator
    ) -> np.ndarray:
        """Return an encoded matrix of ``n_rows`` honouring ``conditions``."""

    def _state_dict(self) -> dict[str, Any]:
        """Learned state of the family (JSON values and numpy arrays)."""
        return {}

    def _load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`_state_dict`."""

    # -- sampling --------------------------------------------------------------------------
    @property
    def is_fitted(self) -> bool:
        """Whether :meth:`fit` (or :meth:`load`) has run."""
        return hasattr(self, "schema_")

    def _check_fitted(self) -> None:
        if not self.is_fitted:
            raise NotFittedError(
                f"this {type(self).__name__} is not fitted; call fit(data) first, "
                "or load a saved model with sosie.load(path)"
            )

    def _next_seed(self, rng: RNGLike) -> np.random.SeedSequence:
        if rng is not None:
            return as_seed_sequence(rng)
        seq = child_seed_sequence(self._entropy_, *self._fit_key_, 1, self._sample_calls_)
        self._sample_calls_ += 1
        return seq

    def sample(
        self, n_rows: int, *, conditions: Conditions = None, rng: RNGLike = None
    ) -> pd.DataFrame:
        """Generate ``n_rows`` synthetic rows.

        Args:
            n_rows: number of rows (>= 0).
            conditions: ``{column: value}`` applied to every row (``None`` asks for a
                missing value), or a DataFrame with one row of conditions per output row.
            rng: seed for this call alone; by default the stream seeded at fit continues.

        Returns:
            A DataFrame with the schema's columns, types and formats.

        Raises:
            ConditionError: a condition names an unknown column or an impossible value.
        """
        self._check_fitted()
        n = _check_n_rows(n_rows)
        seq = self._next_seed(rng)
        cond = self._normalise_conditions(conditions, n)
        layer = getattr(self, "constraints_", None)
        if layer is None:
            return self._generate(n, cond, seq)
        return self._generate_valid(n, cond, seq, layer)

    def sample_to(
        self,
        path: str | Path,
        n_rows: int,
        *,
        chunk_rows: int = 500_000,
        format: str | None = None,
        conditions: Mapping[str, Any] | None = None,
        rng: RNGLike = None,
        overwrite: bool = False,
        progress: bool = False,
    ) -> Path | str:
        """Stream ``n_rows`` rows to a Parquet (or CSV) dataset folder, ``chunk_rows`` at a time.

        Memory stays flat whatever ``n_rows``: each part is sampled, written and dropped. The
        folder (``part-00000.parquet``, ... and ``_sosie_dataset.json``) appears only when every
        part is written. After a crash, the same call resumes from the parts on disk: part
        ``i`` is sampled with a seed spawned from ``rng`` by its index, so the result is
        identical to an uninterrupted run (no duplicate or missing rows), and to
        :func:`sosie.scale.sample_distributed` with the same seed and part size.

        Args:
            path: the output folder: a local or mounted path, or an object-store URI that
                pyarrow opens (``s3://bucket/folder?region=...``; credentials from the
                environment; there the dataset is complete once ``_sosie_dataset.json``,
                written last, exists); ``.csv`` at its end (or ``format="csv"``) writes CSV
                parts.
            n_rows: total rows.
            chunk_rows: rows per part.
            format: ``"parquet"`` (default) or ``"csv"``.
            conditions: ``{column: value}`` applied to every row.
            rng: seed of the whole dataset (default: the model's stream; an unfinished run's
                recorded seed is reused).
            overwrite: replace an existing folder at ``path`` (once the new one is complete).
            progress: show a progress bar over the parts.

        Returns:
            The output folder (a ``Path``; the URI for an object store).

        Example:
            >>> import tempfile, pathlib
            >>> from sosie.datasets import load_adult
            >>> from sosie.generators import GaussianCopulaGenerator
            >>> gen = GaussianCopulaGenerator(rng=0).fit(load_adult().sample(2000, random_state=0))
            >>> out = gen.sample_to(pathlib.Path(tempfile.mkdtemp()) / "adult", 25_000,
            ...                     chunk_rows=10_000, rng=1)
            >>> sorted(p.name for p in out.iterdir())
            ['_sosie_dataset.json', 'part-00000.parquet', 'part-00001.parquet', 'part-00002.parquet']
            >>> len(pd.read_parquet(out))
            25000
        """
        from ..scale._stream import sample_to

        return sample_to(
            self, path, n_rows, chunk_rows=chunk_rows, format=format, conditions=conditions,
            rng=rng, overwrite=overwrite, progress=progress,
        )  # fmt: skip

    def _generate(
        self, n: int, cond: dict[str, np.ndarray], seq: np.random.SeedSequence
    ) -> pd.DataFrame:
        model_seq, decode_seq = seq.spawn(2)
        pre = self.preprocessor_
        encoded, exact = self._encode_conditions(cond, n)
        X = self._sample(n, encoded, as_generator(model_seq))
        for j, v in encoded.items():  # pin discrete/missing conditions exactly
            m = ~np.isnan(v)
            X[m, j] = v[m]
        decode_rng = as_generator(decode_seq)
        df = pre.inverse_transform(X, rng=decode_rng)
        layer = getattr(self, "constraints_", None)
        if layer is not None:
            df = layer.inverse(df, rng=decode_rng)
        for col, values in exact.items():
            df[col] = _assign(df[col], values)
        return df

    def _generate_valid(
        self,
        n: int,
        cond: dict[str, np.ndarray],
        seq: np.random.SeedSequence,
        layer: ConstraintLayer,
    ) -> pd.DataFrame:
        """Rows that satisfy every constraint and condition; bounded redrawing of the rest.

        Constructive constraints hold by design; ``check`` constraints and conditions on
        columns the constraints compute are met by redrawing the failing rows (each with
        its own conditions) at most ``max_rejection_rounds`` times. Rows still failing
        are dropped with a warning that says how many rows could be made.
        """
        native, post = self._split_conditions(cond, layer)
        first, rest = seq.spawn(2)
        df = self._generate(n, native, first)
        ok = self._acceptable(df, post, np.arange(n), layer)
        if ok.all():
            return df
        parts = [df[ok]]
        missing = np.flatnonzero(~ok)
        rate = max(float(ok.mean()), 0.02)
        for child in rest.spawn(self.max_rejection_rounds):
            if missing.size == 0:
                break
            k = int(min(50, math.ceil(1.5 / rate)))
            rep = np.repeat(missing, k)
            sub = {c: v[rep] for c, v in native.items()}
            cand = self._generate(rep.size, sub, child)
            cok = self._acceptable(cand, post, rep, layer)
            rate = max(float(cok.mean()), 0.02)
            grid = cok.reshape(missing.size, k)
            has = grid.any(axis=1)
            src = np.arange(missing.size) * k + np.argmax(grid, axis=1)
            got = cand.iloc[src[has]]
            got.index = missing[has]
            parts.append(got)
            missing = missing[~has]
        out = pd.concat(parts).sort_index()
        if missing.size:
            worst = self._worst_constraint(df.iloc[missing], post, missing, layer)
            warnings.warn(
                f"made {n - missing.size:,} of {n:,} rows: after "
                f"{self.max_rejection_rounds} rounds of redrawing, {missing.size:,} row(s) "
                f"still broke {worst}; check that it is possible under this model and "
                "conditions, or relax it in the schema",
                SosieWarning,
                stacklevel=3,
            )
        return out.reset_index(drop=True)

    def _split_conditions(
        self, cond: dict[str, np.ndarray], layer: ConstraintLayer
    ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Conditions the model honours, and conditions on computed columns (checked after)."""
        owners = layer.owners
        native = {c: v for c, v in cond.items() if c not in owners}
        post = {c: v for c, v in cond.items() if c in owners}
        problems = []
        for col, vals in post.items():
            c = owners[col]
            valued = any(v is not None for v in vals)
            spec = self.schema_[col]
            continuous = spec.type in (SemanticType.NUMERICAL, SemanticType.DATETIME)
            if c.kind in ("formula", "inequality") or (
                c.kind == "null_iff" and valued and continuous
            ):
                problems.append(
                    Problem(
                        f"condition on {col!r}",
                        "a condition on a column the model samples",
                        f"a column computed by the constraint {c.describe()!r}",
                        "condition on the columns it is computed from, or remove the "
                        "constraint from the schema",
                    )
                )
        if problems:
            raise ConditionError(problems)
        return native, post

    @staticmethod
    def _acceptable(
        df: pd.DataFrame, post: dict[str, np.ndarray], rows: np.ndarray, layer: ConstraintLayer
    ) -> np.ndarray:
        ok = layer.valid_rows(df)
        for col, vals in post.items():
            ok &= _matches(df[col], vals[rows])
        return ok

    @staticmethod
    def _worst_constraint(
        df: pd.DataFrame, post: dict[str, np.ndarray], rows: np.ndarray, layer: ConstraintLayer
    ) -> str:
        fails = [
            (int((~v).sum()), repr(c.describe()))
            for c, v in zip(layer.constraints_, layer.validity(df), strict=True)
        ]
        for col, vals in post.items():
            fails.append((int((~_matches(df[col], vals[rows])).sum()), f"the condition on {col!r}"))
        return max(fails)[1] if fails else "a constraint"

    def _normalise_conditions(self, conditions: Conditions, n: int) -> dict[str, np.ndarray]:
        """Validate conditions; returns column -> object array of n requested values (None = null)."""
        if conditions is None:
            return {}
        if isinstance(conditions, pd.DataFrame):
            if len(conditions) != n:
                raise ConditionError(
                    Problem(
                        "conditions",
                        f"one row of conditions per sampled row ({n})",
                        f"{len(conditions)} rows",
                        "pass a DataFrame with n_rows rows, or a dict for the same condition on every row",
                    )
                )
            raw = {
                str(c): conditions[c].astype(object).where(conditions[c].notna(), None).to_numpy()
                for c in conditions.columns
            }
        elif isinstance(conditions, Mapping):
            raw = {}
            for c, v in conditions.items():
                if isinstance(v, (list, tuple, np.ndarray, pd.Series)):
                    raise ConditionError(
                        Problem(
                            f"condition on {c!r}",
                            "a single value (use a DataFrame for per-row conditions)",
                            f"a {type(v).__name__}",
                            "pass conditions=pd.DataFrame({...}) with n_rows rows",
                        )
                    )
                arr = np.empty(n, dtype=object)
                arr[:] = [None if _isna(v) else v] * n if n else []
                raw[c] = arr
        else:
            raise ConditionError(
                Problem(
                    "conditions",
                    "a dict {column: value} or a DataFrame",
                    type(conditions).__name__,
                    "pass e.g. conditions={'income': '>50K'}",
                )
            )
        problems: list[Problem] = []
        schema = self.schema_
        for col, vals in raw.items():
            if col not in schema:
                problems.append(
                    Problem(
                        f"condition on {col!r}",
                        "a column of the model's schema",
                        "no such column",
                        _unknown_column_message(col, schema.names),
                    )
                )
                continue
            spec = schema[col]
            nulls = np.array([v is None for v in vals], dtype=bool)
            if nulls.any() and not spec.nullable:
                problems.append(
                    Problem(
                        f"condition on {col!r}",
                        "a value (the column was never missing in the training data)",
                        "a request for missing values",
                        "condition on a value instead",
                    )
                )
            if spec.type is SemanticType.ID and (~nulls).any():
                problems.append(
                    Problem(
                        f"condition on {col!r}",
                        "no condition on an id column (ids are generated new and unique)",
                        f"a condition {vals[~nulls][0]!r}",
                        "drop the condition and join your own ids after sampling",
                    )
                )
                continue
            s = pd.Series(vals[~nulls], dtype=object)
            if s.empty:
                continue
            problems.extend(self._condition_problems(spec, s))
        if problems:
            raise ConditionError(problems)
        return raw

    def _condition_problems(self, spec, s: pd.Series) -> list[Problem]:
        where = f"condition on {spec.name!r}"
        t = spec.type
        if t is SemanticType.NUMERICAL:
            x = pd.to_numeric(s, errors="coerce")
            if x.isna().any():
                return [
                    Problem(where, "a number", repr(s[x.isna()].iloc[0]), "pass a numeric value")
                ]
            lo, hi = spec.min, spec.max
            out = (x < lo) | (x > hi) if lo is not None and hi is not None else x != x
            if out.any():
                return [
                    Problem(
                        where,
                        f"a value within the learned range [{lo}, {hi}]",
                        repr(s[out].iloc[0]),
                        "condition on a value the model can generate",
                    )
                ]
            if spec.dtype == "int" and (np.mod(x, 1) != 0).any():
                return [
                    Problem(where, "a whole number (dtype int)", repr(s.iloc[0]), "pass an int")
                ]
            return []
        if t is SemanticType.CONSTANT:
            bad = s[s.astype(str) != str(spec.value)]
            if len(bad):
                return [
                    Problem(
                        where,
                        f"the column's only value {spec.value!r}",
                        repr(bad.iloc[0]),
                        "this column is constant; drop the condition",
                    )
                ]
            return []
        if t in (SemanticType.PII, SemanticType.TEXT):
            return []
        _, problems = coerce_column(s, spec)
        out = []
        for p in problems:
            found = p.found
            if t is SemanticType.CATEGORICAL:
                known = ", ".join(map(repr, (spec.categories or [])[:10]))
                more = " ..." if len(spec.categories or []) > 10 else ""
                out.append(
                    Problem(
                        where,
                        f"one of the known categories ({known}{more})",
                        found,
                        "use a category seen in the training data",
                    )
                )
            else:
                out.append(Problem(where, p.expected, found, p.fix))
        if t is SemanticType.DATETIME and not out:
            parsed, _ = coerce_column(s, spec)
            lo, hi = pd.Timestamp(spec.min), pd.Timestamp(spec.max)
            p = parsed
            if getattr(p.dt, "tz", None) is not None and lo.tzinfo is None:
                p = p.dt.tz_localize(None)
            if (p < lo).any() or (p > hi).any():
                out.append(
                    Problem(
                        where,
                        f"a date within the learned range [{spec.min}, {spec.max}]",
                        repr(s.iloc[0]),
                        "condition on a date the model can generate",
                    )
                )
        return out

    def _encode_conditions(
        self, cond: dict[str, np.ndarray], n: int
    ) -> tuple[dict[int, np.ndarray], dict[str, np.ndarray]]:
        """Model-space conditions, plus exact output values to assign after decoding."""
        pre = self.preprocessor_
        idx = {c.name: i for i, c in enumerate(pre.model_columns)}
        encoded: dict[int, np.ndarray] = {}
        exact: dict[str, np.ndarray] = {}
        for col, vals in cond.items():
            spec = self.schema_[col]
            enc = pre.encoders_[col]
            nulls = np.array([v is None for v in vals], dtype=bool)
            if spec.nullable:
                encoded[idx[col + "#null"]] = nulls.astype("float64")
            if nulls.all():
                continue
            series = pd.Series(vals, dtype=object)
            if spec.type is SemanticType.NUMERICAL:
                series = pd.to_numeric(series)
            if enc.kind is not None:
                v = enc.encode(series)
                encoded[idx[col]] = np.where(nulls, np.nan, v)
            if spec.type in (SemanticType.PII, SemanticType.TEXT, SemanticType.CONSTANT):
                exact[col] = np.where(nulls, None, series.to_numpy(dtype=object))
            elif enc.kind is not None:
                dec = enc.decode(
                    np.where(nulls, np.nan, encoded[idx[col]]), n, np.random.default_rng(0)
                )
                exact[col] = np.where(nulls, None, dec.astype(object).to_numpy())
        return encoded, exact

    # -- persistence -------------------------------------------------------------------------
    def _json_params(self) -> dict[str, Any]:
        """The constructor's parameters as JSON values (a non-integer ``rng`` as ``None``)."""
        params = {}
        for k, v in self.get_params().items():
            if k == "rng" and not (v is None or isinstance(v, (int, np.integer))):
                v = None  # the effective entropy is recorded under "rng"
            params[k] = v.item() if isinstance(v, np.generic) else v
        return params

    def _manifest(self) -> dict[str, Any]:
        params = self._json_params()
        return {
            "sosie_version": _versions()["sosie"],
            "generator": self.name,
            "class": f"{type(self).__module__}:{type(self).__qualname__}",
            "params": params,
            "schema": self.schema_.to_dict(),
            "fingerprint": getattr(self, "fingerprint_", None),
            "rng": {
                "entropy": self._entropy_,
                "spawn_key": list(self._fit_key_),
                "sample_calls": self._sample_calls_,
            },
            "fit_seconds": getattr(self, "fit_seconds_", None),
            **({"fit_sample": self.fit_sample_} if getattr(self, "fit_sample_", None) else {}),
            "created_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "library_versions": _versions(),
        }

    def save(self, path: str | Path) -> Path:
        """Save the fitted model to one ``.sosie`` file (zip: manifest.json + state + arrays).

        Written atomically; no pickle. Returns the path.
        """
        manifest, state = self._parts()
        return write_model_file(path, manifest, state)

    def _preprocessor_state(self) -> dict[str, Any] | None:
        pre = getattr(self, "preprocessor_", None)
        return pre.state_dict() if pre is not None else None

    @classmethod
    def load(cls, path: str | Path) -> Generator:
        """Load a model saved with :meth:`save` (dispatches on the stored generator name).

        Raises:
            ModelFileError: the file is corrupt, not a sosie model, or from a newer version.
        """
        manifest, state = read_model_file(path)
        return cls._from_parts(manifest, state, where=f"model file {str(path)!r}")

    @classmethod
    def _from_parts(
        cls, manifest: dict[str, Any], state: dict[str, Any], *, where: str
    ) -> Generator:
        """Rebuild a fitted generator from its manifest and state (a file, or nested in one)."""
        from .registry import get_generator

        name = manifest.get("generator")
        try:
            klass = get_generator(name)
        except UnknownGeneratorError:
            raise ModelFileError(
                f"{where}: expected a generator known here, found {name!r}; "
                "fix: install the plugin that provides it"
            ) from None
        if cls is not Generator and not issubclass(klass, cls):
            raise ModelFileError(
                f"{where}: expected a {cls.__name__}, found a {klass.__name__} "
                f"model; fix: load it with sosie.load(path)"
            )
        try:
            self = klass(**manifest.get("params", {}))
            self.schema_ = klass._schema_from_dict(manifest["schema"])
            if state.get("preprocessor") is not None:
                self.preprocessor_ = TablePreprocessor.from_state(state["preprocessor"])
            rng = manifest["rng"]
            self._entropy_ = rng["entropy"]
            self._fit_key_ = tuple(rng.get("spawn_key", []))
            self._sample_calls_ = int(rng["sample_calls"])
            self.fingerprint_ = manifest.get("fingerprint")
            self.fit_seconds_ = manifest.get("fit_seconds")
            self.fit_sample_ = manifest.get("fit_sample")
            self.constraints_ = (
                ConstraintLayer.from_state(state["constraints"], self.schema_)
                if state.get("constraints") is not None
                else None
            )
            self._load_state_dict(state.get("model", {}))
        except (KeyError, TypeError, ValueError, IndexError) as e:
            raise ModelFileError(
                f"{where}: the stored state does not fit {klass.__name__} "
                f"({type(e).__name__}: {e}); fix: re-create the model with this version of sosie"
            ) from None
        self.manifest_ = manifest
        return self

    @classmethod
    def _schema_from_dict(cls, d: dict[str, Any]) -> Any:
        """Rebuild ``schema_`` from the manifest (families of other modalities override)."""
        return TableSchema.from_dict(d)

    def _parts(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """The manifest and state that :meth:`save` writes (for nesting a model in another)."""
        self._check_fitted()
        state = {"preprocessor": self._preprocessor_state(), "model": self._state_dict()}
        layer = getattr(self, "constraints_", None)
        if layer is not None:
            state["constraints"] = layer.state_dict()
        return self._manifest(), state


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except Exception:
        return a is b


def _isna(v: Any) -> bool:
    if v is None:
        return True
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def _check_n_rows(n_rows: Any) -> int:
    if isinstance(n_rows, bool) or not isinstance(n_rows, (int, np.integer)) or int(n_rows) < 0:
        raise ValueError(f"n_rows must be a non-negative integer, got {n_rows!r}")
    return int(n_rows)


def _matches(col: pd.Series, wanted: np.ndarray) -> np.ndarray:
    """Rows whose value equals the requested one (``None``: a missing value)."""
    from ..constraints._types import _eq, _objects, _plain

    got = _objects(col)
    return np.fromiter(
        (_eq(_plain(a), _plain(b)) for a, b in zip(got, wanted, strict=True)),
        dtype=bool,
        count=len(got),
    )


def _assign(col: pd.Series, values: np.ndarray) -> pd.Series:
    """Put requested condition values into a decoded column, keeping its dtype where possible.

    ``None`` entries (null conditions) are left as decoded: the missing-value
    indicator was pinned, so those rows are already missing.
    """
    mask = pd.Series([v is not None for v in values], index=col.index)
    out = col.astype(object).where(~mask, pd.Series(values, index=col.index, dtype=object))
    try:
        return out.astype(col.dtype)
    except (TypeError, ValueError):
        return out
