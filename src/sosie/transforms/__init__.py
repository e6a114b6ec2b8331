"""Reversible per-column encoders and the table preprocessor.

Example:
    >>> import pandas as pd
    >>> from sosie.schema import infer_schema
    >>> from sosie.transforms import TablePreprocessor
    >>> df = pd.DataFrame({"x": [1.5, 2.25, None], "ok": [True, False, True]})
    >>> pre = TablePreprocessor(infer_schema(df)).fit(df)
    >>> pre.inverse_transform(pre.transform(df)).equals(df)
    True
"""

from ._columns import ColumnEncoder, encoder_for
from ._fake import fake_text, fake_values
from ._table import NULL_SUFFIX, ModelColumn, TablePreprocessor

__all__ = [
    "NULL_SUFFIX",
    "ColumnEncoder",
    "ModelColumn",
    "TablePreprocessor",
    "encoder_for",
    "fake_text",
    "fake_values",
]
