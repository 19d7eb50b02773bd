"""Text-GAN methods as plug-ins: one module per method, this registry from name to class.

A new method is a new module here with a `Method` subclass, added to `_MODULES`; the trainer, the
config (its `[name]` section, `--set name.key=…`, `--help-config`), the CLI and checkpoints need
nothing else.
"""

from __future__ import annotations

import importlib

from seqgan.errors import ConfigError
from seqgan.methods.base import Method, PolicyGradientMethod

# The paper's methods first (Table 1's order of discussion), then the follow-ups.
_MODULES = ("seqgan", "mle", "ss", "pg_bleu", "random", "maligan", "dpgan", "rankgan", "leakgan", "relgan", "pg_constant")


def _load() -> dict[str, type[Method]]:
    registry: dict[str, type[Method]] = {}
    for module_name in _MODULES:
        module = importlib.import_module(f"seqgan.methods.{module_name}")
        for obj in vars(module).values():
            if isinstance(obj, type) and issubclass(obj, Method) and obj.__module__ == module.__name__:
                registry[obj.name] = obj
    return registry


METHODS: dict[str, type[Method]] = _load()


def method_names() -> tuple[str, ...]:
    return tuple(METHODS)


def method_class(name: str) -> type[Method]:
    """The class registered under `name`; an unknown name is refused with the list of methods."""
    if name not in METHODS:
        raise ConfigError(f"train.method must be one of {', '.join(METHODS)}, got {name!r}")
    return METHODS[name]


__all__ = ["METHODS", "Method", "PolicyGradientMethod", "method_class", "method_names"]
