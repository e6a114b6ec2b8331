"""Registry of generator families by stable snake_case name.

Built-in generators register themselves; third-party packages register through
the entry-point group ``sosie.generators`` (``name = "package.module:Class"``).
A plugin that fails to load warns and is skipped: it never breaks ``import sosie``.
"""

from __future__ import annotations

import difflib
import importlib
import logging
import warnings
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, TypeVar

from ..errors import SosieWarning, UnknownGeneratorError

if TYPE_CHECKING:
    from .base import Generator

__all__ = ["get_generator", "list_generators", "make_generator", "register", "unregister"]

log = logging.getLogger(__name__)
ENTRY_POINT_GROUP = "sosie.generators"

_REGISTRY: dict[str, type[Generator] | str] = {}
_PLUGINS_LOADED = False
G = TypeVar("G", bound="type[Generator]")


def register(name: str, *, replace: bool = False) -> Callable[[G], G]:
    """Class decorator registering a generator under ``name``.

    Example:
        >>> from sosie.generators.base import Generator
        >>> @register("doc_example_generator", replace=True)
        ... class DocGenerator(Generator):
        ...     def _fit(self, X, rng): pass
        ...     def _sample(self, n_rows, conditions, rng): ...
        >>> get_generator("doc_example_generator") is DocGenerator
        True
        >>> unregister("doc_example_generator")
    """
    if not name.isidentifier() or name.lower() != name:
        raise ValueError(f"generator names are snake_case identifiers, got {name!r}")

    def deco(cls: G) -> G:
        existing = _REGISTRY.get(name)
        if existing is not None and existing is not cls and not replace:
            if not (
                isinstance(existing, str) and existing == f"{cls.__module__}:{cls.__qualname__}"
            ):
                raise ValueError(f"a generator is already registered as {name!r}: {existing}")
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return deco


def unregister(name: str) -> None:
    """Remove ``name`` from the registry (for tests and interactive sessions).

    Example:
        >>> unregister("no_such_generator")  # unknown names are ignored
    """
    _REGISTRY.pop(name, None)


def register_lazy(name: str, target: str) -> None:
    """Register ``name`` to be imported from ``"module:Class"`` on first use (optional extras)."""
    _REGISTRY.setdefault(name, target)


def _load_plugins() -> None:
    global _PLUGINS_LOADED
    if _PLUGINS_LOADED:
        return
    _PLUGINS_LOADED = True
    try:
        eps = entry_points(group=ENTRY_POINT_GROUP)
    except Exception as e:  # pragma: no cover - broken metadata
        warnings.warn(f"could not read sosie.generators plugins: {e}", SosieWarning, stacklevel=3)
        return
    for ep in eps:
        if ep.name in _REGISTRY:
            continue
        try:
            cls = ep.load()
        except Exception as e:
            warnings.warn(
                f"generator plugin {ep.name!r} ({ep.value}) failed to load and is skipped: "
                f"{type(e).__name__}: {e}",
                SosieWarning,
                stacklevel=3,
            )
            continue
        from .base import Generator

        if not (isinstance(cls, type) and issubclass(cls, Generator)):
            warnings.warn(
                f"generator plugin {ep.name!r} ({ep.value}) is not a sosie Generator subclass; skipped",
                SosieWarning,
                stacklevel=3,
            )
            continue
        cls.name = ep.name
        _REGISTRY[ep.name] = cls


def _resolve(name: str) -> type[Generator]:
    target = _REGISTRY[name]
    if isinstance(target, str):
        module, _, attr = target.partition(":")
        cls = getattr(importlib.import_module(module), attr)
        _REGISTRY[name] = cls
        return cls
    return target


def get_generator(name: str) -> type[Generator]:
    """The generator class registered as ``name``.

    Raises:
        UnknownGeneratorError: naming the close matches and all known names.

    Example:
        >>> get_generator("gaussian_copula").__name__
        'GaussianCopulaGenerator'
    """
    from . import _builtins  # noqa: F401  (registers the built-in families)

    _load_plugins()
    if not isinstance(name, str) or name not in _REGISTRY:
        known = sorted(_REGISTRY)
        close = difflib.get_close_matches(str(name), known, n=2)
        hint = f"did you mean {' or '.join(map(repr, close))}? " if close else ""
        raise UnknownGeneratorError(
            f"generator {name!r}: expected one of {', '.join(known)}; found no such name; "
            f"fix: {hint}run `sosie list` to see every generator"
        )
    return _resolve(name)


def list_generators() -> dict[str, type[Generator]]:
    """All registered generators, name -> class (imports lazy ones that can be imported).

    Example:
        >>> "gaussian_copula" in list_generators()
        True
    """
    from . import _builtins  # noqa: F401

    _load_plugins()
    out = {}
    for name in sorted(_REGISTRY):
        try:
            out[name] = _resolve(name)
        except ImportError as e:
            log.debug("generator %s unavailable: %s", name, e)
    return out


def make_generator(name: str, **params: Any) -> Generator:
    """Instantiate the generator ``name`` with ``params``.

    Example:
        >>> make_generator("gaussian_copula", rng=0).rng
        0
    """
    return get_generator(name)(**params)
