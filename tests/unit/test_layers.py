"""Layering rules that import-linter cannot express (its contracts are in ``.importlinter``,
checked by ``lint-imports`` in ``.ci/run``; the layers are in docs/CONVENTIONS.md).

A name starting with ``_`` is private to the package that defines it: no module imports a
private name (``from eegsnn.io.readers import _anonymize``) from another package. A name a
second package needs is public in the lower layer. (Private *modules* are the
``private_modules`` contract of ``.importlinter``.)
"""

from __future__ import annotations

import ast
from pathlib import Path

import eegsnn

ROOT = Path(eegsnn.__file__).parent


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _package(module: str) -> str:
    """``eegsnn.io`` for ``eegsnn.io.readers``; ``eegsnn`` for top-level modules."""
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 2 or (ROOT / parts[-1]).is_dir() else "eegsnn"


def _private_imports() -> list[str]:
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        module = _module_name(path)
        package = _package(module)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ImportFrom) or node.level or not node.module:
                continue
            if not node.module.startswith("eegsnn.") or _package(node.module) == package:
                continue
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    found.append(f"{module}:{node.lineno} imports {node.module}.{alias.name}")
    return found


def test_no_private_names_across_packages():
    assert _private_imports() == []


def test_the_check_sees_a_private_import(tmp_path, monkeypatch):
    """The scan itself works: a planted cross-package private import is reported."""
    pkg = tmp_path / "eegsnn"
    (pkg / "io").mkdir(parents=True)
    (pkg / "preprocess").mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "io" / "__init__.py").write_text("")
    (pkg / "io" / "readers.py").write_text("def _anonymize(raw):\n    pass\n")
    (pkg / "preprocess" / "__init__.py").write_text("")
    (pkg / "preprocess" / "lazy.py").write_text(
        "from eegsnn.io.readers import _anonymize\nfrom eegsnn.preprocess import x\n")
    monkeypatch.setitem(globals(), "ROOT", pkg)
    assert _private_imports() == [
        "eegsnn.preprocess.lazy:1 imports eegsnn.io.readers._anonymize"]
