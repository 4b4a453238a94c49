"""Registries by name, so configs and the CLI can name components (``"mobo"``, ``"cifar10"``, ``"ws"``)."""

from __future__ import annotations

from typing import Callable, Generic, Iterator, TypeVar

from nago.errors import ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    """A name -> object map with a decorator to fill it and errors that list what is allowed.

    Args:
        kind: what the registry holds, used in error messages (``"strategy"``, ``"dataset"``).
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator registering ``obj`` under ``name`` (case-insensitive)."""

        def deco(obj: T) -> T:
            key = name.lower()
            if key in self._items:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._items[key] = obj
            return obj

        return deco

    def get(self, name: str) -> T:
        """Return the object named ``name``; raise :class:`ConfigError` listing the known names."""
        try:
            return self._items[str(name).lower()]
        except KeyError:
            raise ConfigError(
                f"unknown {self.kind} {name!r}; allowed: {', '.join(sorted(self._items))}"
            ) from None

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return str(name).lower() in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())
