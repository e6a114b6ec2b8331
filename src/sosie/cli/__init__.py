"""The ``sosie`` command line: a thin layer over the Python API.

Example:
    >>> from sosie.cli import app
    >>> app.info.name
    'sosie'
"""

from ._app import app, main

__all__ = ["app", "main"]
