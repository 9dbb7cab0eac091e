"""CLI command groups. Each module defines ``register(app: typer.Typer) -> None``.

The CLI (:mod:`eegsnn.cli`) is a thin shell: each command parses its options and calls the
Python API, which users can also import.
"""
