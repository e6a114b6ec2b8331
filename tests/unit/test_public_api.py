"""The public façade: ``__all__`` is complete and every public name is documented with an example."""

from __future__ import annotations

import inspect

import sosie


def test_all_names_exist_and_are_unique():
    assert len(sosie.__all__) == len(set(sosie.__all__))
    for name in sosie.__all__:
        assert hasattr(sosie, name), name


def test_every_public_function_and_class_has_a_docstring_with_an_example():
    missing = []
    for name in sosie.__all__:
        obj = getattr(sosie, name)
        if inspect.ismodule(obj) or name.startswith("__"):
            continue
        doc = inspect.getdoc(obj) or ""
        if not doc:
            missing.append(f"{name}: no docstring")
        elif (
            (inspect.isfunction(obj) or inspect.isclass(obj))
            and ">>>" not in doc
            and "Example" not in doc
        ):
            missing.append(f"{name}: no example")
    assert not missing, missing


def test_version():
    assert sosie.__version__ and sosie.__version__ != "0.0.0+unknown"
