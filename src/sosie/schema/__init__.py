"""Schemas: what each column is, inferred with evidence, confirmed or overridden by the user.

Example:
    >>> import pandas as pd
    >>> from sosie.schema import infer_schema, TableSchema
    >>> df = pd.DataFrame({"when": ["2024-01-31", "2024-02-01"], "n": [1, 2]})
    >>> s = infer_schema(df)
    >>> s["when"].type.value, s["when"].datetime_format
    ('datetime', '%Y-%m-%d')
    >>> TableSchema.from_json(s.to_json()) == s
    True
"""

from ._infer import infer_column, infer_schema, learn_facts
from ._sequence import SequenceSchema, infer_sequence_schema, split_sequences, validate_sequences
from ._types import SPEC_VERSION, ColumnSpec, Provenance, SemanticType, TableSchema
from ._validate import coerce_column, validate_data

__all__ = [
    "SPEC_VERSION",
    "ColumnSpec",
    "Provenance",
    "SemanticType",
    "SequenceSchema",
    "TableSchema",
    "coerce_column",
    "infer_column",
    "infer_schema",
    "infer_sequence_schema",
    "learn_facts",
    "split_sequences",
    "validate_data",
    "validate_sequences",
]
