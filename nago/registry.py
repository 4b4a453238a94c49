"""Registries by name, so configs and the CLI can name components (``"mobo"``, ``"cifar10"``, ``"ws"``).

An entry is either registered eagerly (:meth:`Registry.register`, a decorator) or declared lazily
(:meth:`Registry.register_lazy`, ``"module:attr"``): a lazy entry's name is known (``names()``, error
messages, ``--help``) without importing its module; the module is imported on the first ``get``.
This keeps ``nago --help`` and ``nago report`` free of torch.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Callable, Generic, Iterator, TypeVar

from nago.errors import ConfigError

T = TypeVar("T")


@dataclass(frozen=True)
class _Lazy:
    """A declared entry not imported yet: ``module`` and the attribute ``attr`` in it."""

    module: str
    attr: str


class Registry(Generic[T]):
    """A name -> object map with a decorator to fill it and errors that list what is allowed.

    Args:
        kind: what the registry holds, used in error messages (``"strategy"``, ``"dataset"``).
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T | _Lazy] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator registering ``obj`` under ``name`` (case-insensitive).

        A name declared with :meth:`register_lazy` is filled by this (its module registering it on
        import); any other name registered twice is an error.
        """

        def deco(obj: T) -> T:
            key = name.lower()
            if key in self._items and not isinstance(self._items[key], _Lazy):
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._items[key] = obj
            return obj

        return deco

    def register_lazy(self, name: str, target: str) -> None:
        """Declare ``name`` as ``"package.module:attr"``, imported on the first :meth:`get`.

        Args:
            name: the registered name (case-insensitive).
            target: ``"module:attr"``; the module may also register the name itself on import.

        Raises:
            ValueError: a malformed target or a name already registered.
        """
        module, sep, attr = target.partition(":")
        if not sep or not module or not attr:
            raise ValueError(f"{self.kind} {name!r}: lazy target {target!r}; allowed: 'package.module:attr'")
        key = name.lower()
        if key in self._items:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        self._items[key] = _Lazy(module, attr)

    def get(self, name: str) -> T:
        """Return the object named ``name`` (importing a lazy entry's module); raise
        :class:`ConfigError` listing the known names."""
        key = str(name).lower()
        try:
            obj = self._items[key]
        except KeyError:
            raise ConfigError(
                f"unknown {self.kind} {name!r}; allowed: {', '.join(sorted(self._items))}"
            ) from None
        if isinstance(obj, _Lazy):
            value: Any = getattr(importlib.import_module(obj.module), obj.attr)
            registered = self._items[key]  # the module may have registered the name on import
            if not isinstance(registered, _Lazy) and registered is not value:
                raise ValueError(f"{self.kind} {name!r}: {obj.module} registers {registered!r}, "
                                 f"but the lazy entry names {obj.module}:{obj.attr}")
            self._items[key] = value
            return value
        return obj

    def is_loaded(self, name: str) -> bool:
        """True if ``name`` is registered and its object is imported (not a pending lazy entry)."""
        key = str(name).lower()
        return key in self._items and not isinstance(self._items[key], _Lazy)

    def names(self) -> list[str]:
        """Every registered name, lazy ones included, sorted."""
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return str(name).lower() in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())
