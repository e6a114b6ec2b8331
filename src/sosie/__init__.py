"""sosie: synthetic training data, and the evidence that it is worth using.

The public API in one place::

    import sosie
    real = sosie.datasets.load_adult()
    gen = sosie.GaussianCopulaGenerator(rng=0).fit(real)
    synth = gen.sample(1000, conditions={"income": ">50K"})
    gen.save("adult.sosie")
    same = sosie.load("adult.sosie")
    ev = sosie.evaluate.evaluate(real, sosie.datasets.load_adult("test"), synth, target="income")
    sosie.report.write_html(ev, "report.html")

Example:
    >>> import sosie
    >>> "gaussian_copula" in sosie.list_generators()
    True
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _version

try:
    __version__ = _version("sosie")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

from . import datasets, errors, evaluate, images, io, privacy, report, schema, transforms
from .errors import SosieError
from .generators import (
    ARFGenerator,
    GaussianCopulaGenerator,
    Generator,
    RulesGenerator,
    get_generator,
    list_generators,
    make_generator,
)
from .io import read_table, write_table
from .rebalance import rebalance
from .schema import ColumnSpec, SemanticType, TableSchema, infer_schema, validate_data


def load(path: str) -> Generator:
    """Load any saved ``.sosie`` model.

    Example:
        >>> import pandas as pd, tempfile, os
        >>> gen = GaussianCopulaGenerator(rng=0).fit(pd.DataFrame({"x": [1.0, 2.5, 3.0, 4.5]}))
        >>> path = os.path.join(tempfile.mkdtemp(), "m.sosie")
        >>> _ = gen.save(path)
        >>> load(path).sample(3, rng=1).equals(gen.sample(3, rng=1))
        True
    """
    return Generator.load(path)


__all__ = [
    "ARFGenerator",
    "ColumnSpec",
    "GaussianCopulaGenerator",
    "Generator",
    "RulesGenerator",
    "SemanticType",
    "SosieError",
    "TableSchema",
    "__version__",
    "datasets",
    "errors",
    "evaluate",
    "get_generator",
    "images",
    "infer_schema",
    "io",
    "list_generators",
    "load",
    "make_generator",
    "privacy",
    "read_table",
    "rebalance",
    "report",
    "schema",
    "transforms",
    "validate_data",
    "write_table",
]
