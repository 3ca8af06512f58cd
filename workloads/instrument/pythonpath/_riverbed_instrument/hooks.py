"""Post-import hooks: run a patch function right after a module is first imported.

A finder placed first on ``sys.meta_path`` asks the other finders for the
module's spec and wraps its loader, so the patch runs after the module's own
code and before the importing statement returns: ``from kafka import
KafkaConsumer`` already gets the instrumented class.
"""

from __future__ import annotations

import sys
from importlib.abc import Loader, MetaPathFinder
from typing import Any, Callable

Patch = Callable[[Any], None]


class _PatchingLoader(Loader):
    def __init__(self, loader: Any, patch: Patch) -> None:
        self._loader = loader
        self._patch = patch

    def create_module(self, spec: Any) -> Any:
        create = getattr(self._loader, "create_module", None)
        return create(spec) if create is not None else None

    def exec_module(self, module: Any) -> None:
        self._loader.exec_module(module)
        try:
            self._patch(module)
        except Exception as exc:  # a failed patch must not break the program's import
            print(
                f"riverbed instrumentation: could not instrument {module.__name__}: {exc!r}",
                file=sys.stderr,
            )

    def __getattr__(self, name: str) -> Any:
        # Resource readers, get_data, is_package, …: the real loader's.
        return getattr(self._loader, name)


class PostImportFinder(MetaPathFinder):
    """Wrap the loader of the modules named in ``patches``."""

    def __init__(self, patches: dict[str, Patch]) -> None:
        self.patches = patches

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        patch = self.patches.get(fullname)
        if patch is None:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        if spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        spec.loader = _PatchingLoader(spec.loader, patch)
        return spec


def install(patches: dict[str, Patch]) -> PostImportFinder | None:
    """Patch modules already imported now, and the others when they are imported."""
    pending = {}
    for name, patch in patches.items():
        module = sys.modules.get(name)
        if module is not None:
            patch(module)
        else:
            pending[name] = patch
    if not pending:
        return None
    finder = PostImportFinder(pending)
    sys.meta_path.insert(0, finder)
    return finder


def wrap_methods(cls: type, wrappers: Any) -> None:
    """Replace each ``(name, function)`` of ``wrappers`` on ``cls`` (a method this version of
    the client lacks is left alone); the original stays reachable as ``__wrapped__``."""
    for name, fn in wrappers:
        original = getattr(cls, name, None)
        if original is None:
            continue
        fn.__doc__ = original.__doc__
        fn.__wrapped__ = original
        setattr(cls, name, fn)
