"""The public surface: every exception is exported from the package, and the tree has one root."""

from __future__ import annotations

import inspect

import bitmart_ws
from bitmart_ws import exceptions


def test_every_exception_is_exported_from_the_package() -> None:
    assert set(exceptions.__all__) <= set(bitmart_ws.__all__)
    for name in bitmart_ws.__all__:
        assert hasattr(bitmart_ws, name), name


def test_one_exception_tree() -> None:
    classes = [getattr(exceptions, n) for n in exceptions.__all__]
    assert all(inspect.isclass(c) and issubclass(c, bitmart_ws.BitmartWSError) for c in classes)
    documented = exceptions.__doc__ or ""
    assert all(c.__name__ in documented for c in classes), "the module docstring draws the whole tree"
