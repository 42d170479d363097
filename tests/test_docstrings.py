"""Every public name of httpr, and every public method and property of its classes, has a
docstring, so ``help(httpr.Client)`` and editors show what each one does.

``__init__`` is exempt: a class documents its constructor in its own docstring (as httpx
does). The context-manager and iteration dunders are checked, since ``help()`` lists them.
"""

from __future__ import annotations

import inspect
from typing import Any

import pytest

import httpr
import httpr.__main__

# Dunders that help() shows and that a user calls through syntax (with, async with, for).
CHECKED_DUNDERS = frozenset(
    {"__enter__", "__exit__", "__aenter__", "__aexit__", "__iter__", "__aiter__", "__call__"}
)


def has_doc(obj: object) -> bool:
    doc = getattr(obj, "__doc__", None)
    return isinstance(doc, str) and doc.strip() != ""


def undocumented_members(cls: type) -> list[str]:
    """Public methods and properties of `cls` (own or from an httpr base) without a docstring.

    Members inherited from outside httpr (``object``, ``Exception``, ``Mapping``...) are
    documented there.
    """
    missing: list[str] = []
    seen: set[str] = set()
    for klass in cls.__mro__:
        if not klass.__module__.startswith("httpr"):
            continue
        for attr, value in vars(klass).items():
            if attr in seen or (attr.startswith("_") and attr not in CHECKED_DUNDERS):
                continue
            seen.add(attr)  # the first class in the MRO defining it is the one used
            member: Any = value
            if isinstance(member, (staticmethod, classmethod)):
                member = member.__func__
            if not (callable(member) or isinstance(member, property)):
                continue  # data: a field, a constant
            if not has_doc(member):
                missing.append(f"{cls.__name__}.{attr}")
    return missing


def own_class_doc(cls: type) -> bool:
    """A class docstring of its own, not a copy of its base's (exception subclasses)."""
    if not has_doc(cls):
        return False
    return all(cls.__doc__ != base.__doc__ for base in cls.__bases__ if base is not object)


@pytest.mark.parametrize("name", httpr.__all__)
def test_public_name_has_a_docstring(name: str) -> None:
    obj = getattr(httpr, name)
    if inspect.isclass(obj):
        assert own_class_doc(obj), f"httpr.{name} has no docstring of its own"
    else:
        assert has_doc(obj), f"httpr.{name} has no docstring"


@pytest.mark.parametrize("name", [n for n in httpr.__all__ if inspect.isclass(getattr(httpr, n))])
def test_public_class_members_have_docstrings(name: str) -> None:
    assert undocumented_members(getattr(httpr, name)) == []


def test_modules_and_cli_entry_point_have_docstrings() -> None:
    assert has_doc(httpr)
    assert has_doc(httpr.__main__)
    assert has_doc(httpr.__main__.main)


def test_the_checks_find_what_is_missing() -> None:
    """The helpers above report a missing docstring (so the tests above can fail)."""

    class Base:
        """Documented."""

        def documented(self) -> None:
            """Yes."""

        def bare(self) -> None:
            pass

        @property
        def bare_property(self) -> int:
            return 1

        def __enter__(self) -> Base:
            return self

        def _private(self) -> None:
            pass

    class Child(Base):
        """Documented in its own words."""

    class Copied(Base):
        pass

    Base.__module__ = Child.__module__ = Copied.__module__ = "httpr.fake"
    expected = ["Child.bare", "Child.bare_property", "Child.__enter__"]
    assert sorted(undocumented_members(Child)) == sorted(expected)
    assert own_class_doc(Child)
    assert not own_class_doc(Copied)  # a bare subclass shows its base's docstring


@pytest.mark.parametrize("cls", [httpr.Client, httpr.AsyncClient])
def test_help_shows_readable_defaults(cls: type) -> None:
    """help() renders every default readably: no ``<object object at 0x...>`` sentinel."""
    import pydoc

    text = pydoc.plain(pydoc.render_doc(cls))
    assert "object at 0x" not in text
    assert "timeout: 'TimeoutTypes | object' = <the client's value>" in text
