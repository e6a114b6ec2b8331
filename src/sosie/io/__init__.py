"""Reading and writing tables: CSV, Parquet, JSON Lines and SQL, with atomic writes.

* :func:`read_table` / :func:`write_table` pick the format from the name
  (:func:`detect_format`) and give the same dtypes whatever the format: text
  columns in pandas' text dtype (``str`` on pandas 3), whole numbers ``int64``
  (``Int64`` with gaps), other numbers ``float64``, booleans ``bool``
  (``boolean`` with gaps), ISO 8601 timestamps ``datetime64``.
* Files are written through :func:`atomic_path`: a failure never leaves a
  partial file; SQL tables are written in one transaction.

Example:
    >>> import tempfile, pathlib
    >>> import pandas as pd
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "zips.csv"
    >>> _ = write_table(pd.DataFrame({"zip": ["02134", "10001"], "n": [3, 4]}), path)
    >>> data = read_table(path)
    >>> data["zip"].tolist(), data["n"].dtype.name
    (['02134', '10001'], 'int64')
"""

from ._atomic import atomic_path, atomic_write_bytes, atomic_write_text
from ._formats import FORMATS, detect_format
from ._tables import read_table, write_table

__all__ = [
    "FORMATS",
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_text",
    "detect_format",
    "read_table",
    "write_table",
]
