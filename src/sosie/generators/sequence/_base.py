"""The sequence generator contract: entities with static attributes and event sequences.

A :class:`SequenceGenerator` learns from one long event table (see
:mod:`sosie.schema._sequence`). The base class owns what every sequence family shares:

* the **entity table**: one row per entity with its static columns plus the sequence
  length and start time (``__length__``, ``__start__``), modelled by a tabular generator
  (``arf`` by default), which gives native conditioning on static attributes and the
  joint distribution of length, start and attributes;
* the **events**: the time and event columns encoded by a
  :class:`~sosie.transforms.TablePreprocessor` (so every semantic type, format and
  timezone round-trips), the time column turned into gaps between consecutive events;
* sampling: ``sample(n_entities, conditions=..., length=..., start=..., end=...)``,
  assembling entity ids, static attributes, times and events back into the long table;
* persistence: the entity model is nested inside the ``.sosie`` file.

A family implements ``_fit_events`` and ``_sample_events`` on encoded matrices.
"""

from __future__ import annotations

import copy
import time as _time
import warnings
from abc import abstractmethod
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from ..._rng import RNGLike, as_generator, as_seed_sequence, child_seed_sequence
from ...errors import ConditionError, InvalidDataError, Problem, SosieWarning
from ...schema import (
    ColumnSpec,
    SequenceSchema,
    TableSchema,
    infer_sequence_schema,
    split_sequences,
    validate_sequences,
)
from ...schema import _datetime as dtm
from ...schema._infer import check_frame
from ...transforms import TablePreprocessor
from ..base import Generator, fingerprint

__all__ = ["LENGTH", "START", "SequenceGenerator"]

#: columns added to the entity table: the number of events and the first event's time
LENGTH, START = "__length__", "__start__"


class SequenceGenerator(Generator):
    """Base class of sequence generators (events per entity).

    Subclasses implement:

    * ``_fit_events(X, offsets, context, times, rng)``: learn from the encoded events
      ``X`` (rows sorted by entity then time; the time column, when there is one, holds the
      gap to the previous event of the same entity, 0 on first events), ``offsets``
      (entity ``i`` owns rows ``offsets[i]:offsets[i+1]``), a float ``context`` matrix (one
      row per entity: its static attributes, length and start, standardised) and the
      absolute encoded ``times`` (for calendar features; ``None`` without a time column);
    * ``_sample_events(context, lengths, starts, rng, planned)``: return ``X`` for
      ``lengths[i]`` events per entity in the same layout; ``planned`` is the drawn length
      (it differs from ``lengths`` when generating up to an end date).
    """

    modality: ClassVar[str] = "sequence"

    static_generator: str
    static_params: dict[str, Any] | None

    # -- fitting -------------------------------------------------------------------------
    def fit(  # type: ignore[override]
        self,
        data: pd.DataFrame,
        *,
        entity: str | None = None,
        time: str | None = None,
        static: list[str] | None = None,
        schema: SequenceSchema | str | Path | None = None,
    ) -> SequenceGenerator:
        """Learn from an event table (one row per event).

        Args:
            data: the events; entities may have any number of events.
            entity: the column naming each row's sequence (required without ``schema``).
            time: the column ordering events (dates or numbers); ``None`` keeps row order.
            static: per-entity columns; ``None`` detects the columns constant within entities.
            schema: a :class:`~sosie.schema.SequenceSchema` (or its JSON path) instead of
                ``entity``/``time``/``static``.

        Returns:
            ``self``, fitted.

        Raises:
            InvalidDataError: listing every problem with the data or the roles.
        """
        problems = check_frame(data, min_rows=self.min_rows)
        if problems:
            raise InvalidDataError(problems)
        t0 = _time.perf_counter()
        self._check_params()
        if schema is None:
            if entity is None:
                raise InvalidDataError(
                    Problem(
                        "entity",
                        "the column naming each row's sequence",
                        "no entity= and no schema=",
                        "pass entity='customer_id' (and time='timestamp'), or schema=",
                    )
                )
            schema = infer_sequence_schema(data, entity=entity, time=time, static=static)
        elif not isinstance(schema, SequenceSchema):
            schema = SequenceSchema.from_json(schema)
        validate_sequences(data, schema)
        seq = as_seed_sequence(self.rng)
        self._entropy_ = seq.entropy
        self._fit_key_ = tuple(seq.spawn_key)
        self._sample_calls_ = 0
        static_seq, event_seq = child_seed_sequence(self._entropy_, *self._fit_key_, 0).spawn(2)

        entities, events = split_sequences(data, schema)
        ev_cols = [*([schema.time] if schema.time else []), *schema.events]
        pre = TablePreprocessor(schema.table.select(ev_cols)).fit(events[ev_cols])
        X = pre.transform(events[ev_cols])
        lengths = events.groupby(schema.entity, sort=False).size().to_numpy()
        offsets = np.r_[0, np.cumsum(lengths)].astype(np.int64)
        first = offsets[:-1]
        times = None
        table = entities.copy()
        table[LENGTH] = lengths.astype(np.int64)
        if schema.time is not None:
            times = X[:, 0].copy()
            starts = times[first]
            gaps = np.diff(times, prepend=times[0])
            gaps[first] = 0.0
            X[:, 0] = gaps
            table[START] = starts
        self.sequence_schema_ = schema
        self.schema_ = schema.table
        self.column_order_ = [str(c) for c in data.columns if c in schema.columns]
        self.events_preprocessor_ = pre
        context = self._fit_static(table, schema, static_seq)
        self.max_length_ = int(lengths.max())
        self.n_entities_ = len(lengths)
        self._fit_events(X, offsets, context, times, as_generator(event_seq))
        self.fingerprint_ = fingerprint(data)
        self.fit_seconds_ = _time.perf_counter() - t0
        return self

    def _fit_static(self, table: pd.DataFrame, schema: SequenceSchema, seq: Any) -> np.ndarray:
        """Fit the entity model and the context scaling; returns the entities' context."""
        from ..registry import make_generator

        specs = [schema.table[c] for c in (schema.entity, *schema.static)]
        specs.append(ColumnSpec(LENGTH, "numerical", dtype="int", min=1, pandas_dtype="int64"))
        if START in table:
            specs.append(ColumnSpec(START, "numerical", dtype="float", pandas_dtype="float64"))
        params = {**(self.static_params or {}), "rng": seq}
        model = make_generator(self.static_generator, **params)
        model.fit(table, schema=TableSchema(specs))
        self.static_model_ = model
        enc = model.preprocessor_.transform(table)
        kinds = [c.kind for c in model.preprocessor_.model_columns]
        cont = np.array([k == "continuous" for k in kinds])
        mean = np.where(cont, np.nanmean(np.where(cont, enc, 0.0), axis=0), 0.0)
        std = np.where(cont, np.nanstd(np.where(cont, enc, 0.0), axis=0), 1.0)
        self.context_mean_ = np.nan_to_num(mean)
        self.context_std_ = np.where(np.nan_to_num(std) > 0, np.nan_to_num(std), 1.0)
        self.context_sizes_ = [
            1 if k == "continuous" else int(c.n_categories or 2)
            for k, c in zip(kinds, model.preprocessor_.model_columns, strict=True)
        ]
        return self._context(table, enc)

    def _context(self, table: pd.DataFrame, enc: np.ndarray | None = None) -> np.ndarray:
        """Entity rows (or their encoding) -> standardised numbers and one-hot codes (float32)."""
        if enc is None:
            enc = self.static_model_.preprocessor_.transform(table)
        parts = []
        for j, size in enumerate(self.context_sizes_):
            v = enc[:, j]
            if size == 1:
                parts.append(
                    np.nan_to_num((v - self.context_mean_[j]) / self.context_std_[j])[:, None]
                )
            else:
                onehot = np.zeros((len(v), size), dtype=np.float32)
                ok = ~np.isnan(v)
                onehot[np.flatnonzero(ok), np.clip(v[ok].astype(int), 0, size - 1)] = 1.0
                parts.append(onehot)
        if not parts:
            return np.zeros((len(table), 1), dtype=np.float32)
        return np.clip(np.hstack(parts), -10, 10).astype(np.float32)

    @property
    def context_dim(self) -> int:
        """Width of the context matrix."""
        return max(1, int(sum(self.context_sizes_)))

    def calendar(self, times: np.ndarray) -> np.ndarray | None:
        """Time of day (3 harmonics) and day of week (sin, cos) of encoded datetimes, or ``None``.

        Numeric time columns have no calendar; their gaps carry all the timing.
        """
        s = self.sequence_schema_
        if s.time is None or s.time_kind != "datetime":
            return None
        enc = self.events_preprocessor_.encoders_[s.time]
        step = dtm.resolution_ns(self.schema_[s.time].resolution)
        secs = (np.asarray(times, dtype="float64") * step + enc.origin_ns) / 1e9
        day = np.mod(secs / 86_400.0, 1.0) * 2 * np.pi
        week = np.mod((secs / 86_400.0 + 3.0) / 7.0, 1.0) * 2 * np.pi  # 1970-01-01 was a Thursday
        feats = [f(k * day) for k in (1, 2, 3) for f in (np.sin, np.cos)]
        feats += [np.sin(week), np.cos(week)]
        return np.stack(feats, axis=-1).astype(np.float32)

    @abstractmethod
    def _fit_events(
        self,
        X: np.ndarray,
        offsets: np.ndarray,
        context: np.ndarray,
        times: np.ndarray | None,
        rng: np.random.Generator,
    ) -> None:
        """Learn the events given the entities."""

    @abstractmethod
    def _sample_events(
        self,
        context: np.ndarray,
        lengths: np.ndarray,
        starts: np.ndarray | None,
        rng: np.random.Generator,
        planned: np.ndarray | None = None,
    ) -> np.ndarray:
        """Encoded events (time column as gaps) for ``lengths[i]`` events per entity."""

    def _fit(self, X: np.ndarray, rng: np.random.Generator) -> None:  # pragma: no cover
        raise NotImplementedError("sequence generators fit through fit(data, entity=...)")

    def _sample(self, n_rows, conditions, rng):  # pragma: no cover
        raise NotImplementedError("sequence generators sample through sample(n_entities)")

    # -- sampling ------------------------------------------------------------------------
    def sample(  # type: ignore[override]
        self,
        n_entities: int,
        *,
        conditions: dict[str, Any] | pd.DataFrame | None = None,
        rng: RNGLike = None,
        length: int | None = None,
        start: Any = None,
        end: Any = None,
        max_length: int | None = None,
    ) -> pd.DataFrame:
        """Generate the events of ``n_entities`` new entities (long format, ordered per entity).

        Args:
            n_entities: number of sequences.
            conditions: values of static columns, for every entity (a dict) or one row per
                entity (a DataFrame), e.g. ``{"label": "1"}``.
            rng: seed for this call alone; by default the stream seeded at fit continues.
            length: events per entity, instead of drawing the lengths (may exceed the
                longest training sequence).
            start: move the time window: each sequence starts at ``start`` plus its drawn
                start's offset from the earliest start seen in training (a date for a
                datetime time column, a number for a numeric one).
            end: generate events until this time instead of drawing lengths; entities
                whose sequence starts after ``end`` are dropped. Combine with ``start`` to
                generate a date range beyond the training window.
            max_length: the most events per entity with ``end`` (default: 10 times the
                longest training sequence); a warning says when it cut sequences short.

        Returns:
            A DataFrame with the training columns, sorted by entity then time.

        Raises:
            ConditionError: a condition names an event column or an unknown value.
        """
        self._check_fitted()
        n = _check_count(n_entities, "n_entities")
        s = self.sequence_schema_
        if length is not None:
            length = _check_count(length, "length", minimum=1)
        if (start is not None or end is not None) and s.time is None:
            raise ValueError(
                "start= and end= need a time column; this model keeps the row order (time=None)"
            )
        conditions = self._check_conditions(conditions)
        seq = self._next_seed(rng)
        static_seq, event_seq, decode_seq = seq.spawn(3)
        table = self.static_model_.sample(n, conditions=conditions, rng=static_seq)
        lengths = table[LENGTH].to_numpy(dtype=np.int64).clip(1)
        starts = None
        if s.time is not None:
            starts = table[START].to_numpy(dtype="float64").copy()
            if start is not None:
                origin = float(self.static_model_.schema_[START].min)
                starts = starts - origin + self._encode_time(start, "start")
            table[START] = starts
        if length is not None:
            lengths = np.full(n, length, dtype=np.int64)
        # the context sees lengths within the training range (a longer request extrapolates
        # the events, not the entity's description)
        table[LENGTH] = np.minimum(lengths, self.max_length_)
        context = self._context(table)
        planned = lengths.copy()
        cap = None
        if end is not None:
            stop = self._encode_time(end, "end")
            cap = int(max_length or 10 * self.max_length_)
            lengths = np.full(n, cap, dtype=np.int64)
        table[LENGTH] = lengths
        X = self._sample_events(context, lengths, starts, as_generator(event_seq), planned)
        offsets = np.r_[0, np.cumsum(lengths)].astype(np.int64)
        owner = np.repeat(np.arange(n), lengths)
        if s.time is not None:
            X[:, 0] = _cumulative(X[:, 0], offsets) + starts[owner]
            if end is not None:
                keep = X[:, 0] <= stop
                cut = keep[offsets[1:] - 1]  # the last allowed event is still before the end
                if n and cut.any():
                    warnings.warn(
                        f"{int(cut.sum())} of {n} sequences reached max_length={cap} before "
                        f"end={end!r}; raise max_length to let them run to the end",
                        SosieWarning,
                        stacklevel=2,
                    )
                X, owner = X[keep], owner[keep]
        pre = self.events_preprocessor_
        for j, source in self._implied_flags().items():  # missing-value flags follow the values
            X[:, j] = np.isnan(X[:, source]).astype("float64")
        events = pre.inverse_transform(X, rng=as_generator(decode_seq))
        if s.time_kind == "numeric":  # times may run past the training window: no clipping
            enc = copy.copy(pre.encoders_[s.time])
            enc.spec = enc.spec.replace(min=None, max=None)
            events[s.time] = enc.decode(X[:, 0], len(X), as_generator(decode_seq)).to_numpy()
        statics = table.drop(columns=[LENGTH, START], errors="ignore").iloc[owner]
        out = pd.concat([statics.reset_index(drop=True), events.reset_index(drop=True)], axis=1)
        return out[[c for c in self._column_order() if c in out.columns]]

    def _implied_flags(self) -> dict[int, int]:
        """Missing-value flag columns implied by their value column (NaN): flag -> value index."""
        pre = self.events_preprocessor_
        return {
            j: pre.column_index(c.source)
            for j, c in enumerate(pre.model_columns)
            if c.kind == "missing" and pre.encoders_[c.source].kind is not None
        }

    def _column_order(self) -> list[str]:
        return list(self.column_order_)

    def _encode_time(self, value: Any, what: str) -> float:
        s = self.sequence_schema_
        enc = self.events_preprocessor_.encoders_[s.time]
        if s.time_kind == "numeric":
            try:
                return float(value)
            except (TypeError, ValueError):
                raise ValueError(
                    f"{what}= must be a number for the numeric time column "
                    f"{s.time!r}, got {value!r}"
                ) from None
        ts = pd.Series([value])
        try:
            coded = enc.encode(ts)
        except Exception:
            coded = np.array([np.nan])
        if np.isnan(coded).any():
            raise ValueError(
                f"{what}={value!r}: expected a date like the time column {s.time!r} "
                f"(e.g. {self.schema_[s.time].min!r}); pass a pandas Timestamp or an ISO string"
            )
        return float(coded[0])

    def _check_conditions(self, conditions: Any) -> Any:
        if conditions is None:
            return None
        s = self.sequence_schema_
        keys = list(conditions.columns if isinstance(conditions, pd.DataFrame) else conditions)
        bad = [k for k in keys if k not in s.static]
        if bad:
            raise ConditionError(
                [
                    Problem(
                        f"condition on {k!r}",
                        "a static column (" + ", ".join(map(repr, s.static)) + ")"
                        if s.static
                        else "a static column (this model has none)",
                        "an event column" if k in s.columns else "no such column",
                        "condition on static attributes; filter events after sampling",
                    )
                    for k in bad
                ]
            )
        return conditions

    # -- persistence ---------------------------------------------------------------------
    def _preprocessor_state(self) -> None:
        return None

    def _base_state(self) -> dict[str, Any]:
        manifest, state = self.static_model_._parts()
        return {
            "sequence_schema": self.sequence_schema_.to_dict(),
            "events_preprocessor": self.events_preprocessor_.state_dict(),
            "static_model": {"manifest": manifest, "state": state},
            "context_mean": self.context_mean_,
            "context_std": self.context_std_,
            "context_sizes": list(self.context_sizes_),
            "max_length": int(self.max_length_),
            "n_entities": int(self.n_entities_),
            "column_order": list(self.column_order_),
        }

    def _load_base_state(self, state: dict[str, Any]) -> None:
        self.sequence_schema_ = SequenceSchema.from_dict(state["sequence_schema"])
        self.events_preprocessor_ = TablePreprocessor.from_state(state["events_preprocessor"])
        nested = state["static_model"]
        self.static_model_ = Generator._from_parts(
            nested["manifest"], nested["state"], where="the nested entity model"
        )
        self.context_mean_ = np.asarray(state["context_mean"], dtype="float64")
        self.context_std_ = np.asarray(state["context_std"], dtype="float64")
        self.context_sizes_ = [int(v) for v in state["context_sizes"]]
        self.max_length_ = int(state["max_length"])
        self.n_entities_ = int(state["n_entities"])
        self.column_order_ = [str(c) for c in state["column_order"]]


def _cumulative(gaps: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Per-entity cumulative sums of ``gaps`` (entity ``i`` owns ``offsets[i]:offsets[i+1]``)."""
    total = np.cumsum(np.nan_to_num(gaps))
    before = np.r_[0.0, total][offsets[:-1]]
    lengths = np.diff(offsets)
    return total - np.repeat(before, lengths)


def _check_count(value: Any, name: str, *, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)
