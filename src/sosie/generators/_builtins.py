"""Imports the built-in generator modules so that they register themselves."""

from . import copula as _copula  # noqa: F401
