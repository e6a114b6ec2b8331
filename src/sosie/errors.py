"""Exceptions and warnings raised by sosie.

Every error a user can cause says *what* went wrong (quoting the column, field or
file), what was *expected*, what was *found* and *how to fix it*. Validation
collects all problems first and raises once, so one run shows every problem.

The tree::

    SosieError                       root of everything sosie raises on purpose
    ├── InvalidDataError (ValueError)   the data does not fit (``.errors`` lists each problem)
    ├── SchemaError (ValueError)        a schema is malformed or contradicts itself
    ├── SpecError (ValueError)          a rule-based spec is invalid (names line and field)
    ├── ConditionError (ValueError)     a sampling condition names an unknown column/value
    ├── PrivacyError (ValueError)       a differential-privacy requirement is not met
    │   └── BudgetExceededError         a mechanism would spend more than the privacy budget
    ├── UnknownGeneratorError (KeyError)  no generator registered under that name
    ├── NotFittedError (RuntimeError)   ``sample``/``save`` before ``fit``
    ├── ModelFileError (ValueError)     a ``.sosie`` file is corrupt, foreign or too new
    ├── DataSourceError (OSError)       a file/URL/table cannot be read or written
    └── MissingDependencyError (ImportError)  an optional extra is not installed

    SosieWarning (UserWarning)       something the user should act on
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = [
    "BudgetExceededError",
    "ConditionError",
    "DataSourceError",
    "InvalidDataError",
    "MissingDependencyError",
    "ModelFileError",
    "NotFittedError",
    "PrivacyError",
    "Problem",
    "SchemaError",
    "SosieError",
    "SosieWarning",
    "SpecError",
    "UnknownGeneratorError",
]


class SosieError(Exception):
    """Root of every exception sosie raises on purpose.

    Example:
        >>> try:
        ...     raise SosieError("boom")
        ... except SosieError as e:
        ...     str(e)
        'boom'
    """


@dataclass(frozen=True)
class Problem:
    """One problem found while validating data, a schema or a spec.

    Attributes:
        where: the column, field or line the problem is about (quoted in messages).
        expected: what sosie expected there.
        found: what it found instead.
        fix: how the user can fix it.

    Example:
        >>> str(Problem("column 'age'", "numbers", "'abc' in 3 rows", "clean the column"))
        "column 'age': expected numbers, found 'abc' in 3 rows; fix: clean the column"
    """

    where: str
    expected: str
    found: str
    fix: str

    def __str__(self) -> str:
        return f"{self.where}: expected {self.expected}, found {self.found}; fix: {self.fix}"


def _format_problems(header: str, problems: Sequence[Problem]) -> str:
    if len(problems) == 1:
        return f"{header}: {problems[0]}"
    lines = [f"{header} ({len(problems)} problems):"]
    lines += [f"  - {p}" for p in problems]
    return "\n".join(lines)


class _ProblemsError(SosieError):
    """Base for errors that carry a list of :class:`Problem`."""

    header = "invalid input"

    def __init__(self, problems: Problem | Iterable[Problem] | str, *, header: str | None = None):
        if isinstance(problems, str):
            self.errors: list[Problem] = []
            super().__init__(problems)
            return
        if isinstance(problems, Problem):
            problems = [problems]
        self.errors = list(problems)
        super().__init__(_format_problems(header or self.header, self.errors))


class InvalidDataError(_ProblemsError, ValueError):
    """The data does not fit what was expected; ``.errors`` lists every problem.

    Example:
        >>> e = InvalidDataError([Problem("column 'x'", "finite numbers", "inf in 2 rows",
        ...                               "replace infinities with NaN")])
        >>> len(e.errors)
        1
    """

    header = "invalid data"


class SchemaError(_ProblemsError, ValueError):
    """A schema is malformed, contradicts itself, or cannot be read."""

    header = "invalid schema"


class SpecError(_ProblemsError, ValueError):
    """A rule-based generation spec is invalid; messages name the line and field."""

    header = "invalid spec"


class ConditionError(_ProblemsError, ValueError):
    """A sampling condition names an unknown column or an impossible value."""

    header = "invalid condition"


class PrivacyError(_ProblemsError, ValueError):
    """A differential-privacy requirement is not met.

    Raised when a DP generator is given facts learned from the private data
    (bounds, categories), no ``epsilon``/``delta``, or a seed together with
    ``secure_mode=True``.

    Example:
        >>> e = PrivacyError(Problem("parameter 'epsilon'", "a positive number", "None",
        ...                          "pass epsilon=1.0"))
        >>> e.errors[0].where
        "parameter 'epsilon'"
    """

    header = "differential privacy"


class BudgetExceededError(PrivacyError):
    """A mechanism would spend more privacy budget than is left in the ledger."""

    header = "privacy budget exceeded"


class UnknownGeneratorError(SosieError, KeyError):
    """No generator is registered under the requested name."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else ""


class NotFittedError(SosieError, RuntimeError):
    """``sample`` or ``save`` was called on a generator that was never fitted."""


class ModelFileError(SosieError, ValueError):
    """A ``.sosie`` model file is corrupt, not a sosie model, or from a newer version."""


class DataSourceError(SosieError, OSError):
    """A file, URL or SQL table cannot be read or written."""


class MissingDependencyError(SosieError, ImportError):
    """An optional dependency is missing; the message names the extra to install."""


class SosieWarning(UserWarning):
    """Something the user should know and probably act on."""


def missing_dependency(package: str, extra: str, purpose: str) -> MissingDependencyError:
    """Build the error for a missing optional dependency.

    Example:
        >>> str(missing_dependency("torch", "deep", "the GAN generator"))
        "the GAN generator needs the optional package 'torch', which is not installed; fix: pip install 'sosie[deep]'"
    """
    return MissingDependencyError(
        f"{purpose} needs the optional package {package!r}, which is not installed; "
        f"fix: pip install 'sosie[{extra}]'"
    )
