"""``eegsnn manifest``: write and check data manifests (``create``, ``verify``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

manifest_app = typer.Typer(
    help="Write and verify data manifests (file list with sizes and sha256).",
    no_args_is_help=True,
)


@manifest_app.command("create")
def create(
    folder: Annotated[Path, typer.Argument(help="Folder of recordings (the dataset root).")],
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Manifest to write (default: ./<folder name>.yaml).")] = None,
    name: Annotated[str | None, typer.Option(
        help="Dataset name (default: the folder name).")] = None,
    license: Annotated[str, typer.Option("--license", help="License of the data.")] = "",
    citation: Annotated[list[str] | None, typer.Option(
        "--citation", help="Citation (repeatable).")] = None,
    url: Annotated[str, typer.Option("--url", help="Where the data can be downloaded.")] = "",
    task: Annotated[str, typer.Option("--task", help="Task / what the labels mean.")] = "",
    include: Annotated[list[str] | None, typer.Option(
        "--include", help="Glob of files to list (repeatable).")] = None,
    exclude: Annotated[list[str] | None, typer.Option(
        "--exclude", help="Glob of files to skip (repeatable).")] = None,
    label_from_folder: Annotated[bool, typer.Option(
        "--label-from-folder", help="Record each file's parent folder as its label.")] = False,
    relative_root: Annotated[bool, typer.Option(
        "--relative-root/--no-root",
        help="Record the folder as root, relative to the manifest.")] = True,
    overwrite: Annotated[bool, typer.Option(
        "--overwrite", help="Replace an existing --output manifest.")] = False,
) -> None:
    """Write a manifest listing every file under FOLDER with its size and sha256.

    An existing --output is kept (its curated notes and labels would be lost) unless
    --overwrite. Example:
    ``eegsnn manifest create ../shared/data/bonn -o bonn.yaml --label-from-folder``
    """
    import os

    from eegsnn.errors import ConfigError
    from eegsnn.io.files import file_in_the_way, in_the_way
    from eegsnn.manifest import create_manifest, save_manifest

    output = output or Path(f"{folder.resolve().name}.yaml")
    if output.is_dir():
        raise ConfigError(f"--output {output}: is a folder; give the manifest's file name")
    if output.exists() and not overwrite:
        raise ConfigError(f"{output}: already exists; choose another --output or pass "
                          "--overwrite")
    blocker = file_in_the_way(output.parent)
    if blocker is not None:
        raise ConfigError(f"--output {output}: {in_the_way(blocker)}")
    fields: dict[str, Any] = {"license": license, "citation": list(citation or []), "task": task}
    if url:
        fields["source"] = {"url": url}
    if relative_root:
        fields["root"] = Path(os.path.relpath(folder.resolve(),
                                              output.resolve().parent)).as_posix()
    exclude = list(exclude or [])
    try:  # the manifest itself, when written into the folder, is not one of its files
        itself = output.resolve().relative_to(folder.resolve()).as_posix()
    except ValueError:
        itself = None
    manifest = create_manifest(folder, name=name, include=include or ["*"], exclude=exclude,
                               label_from_folder=label_from_folder, leave_out=itself,
                               **fields)
    save_manifest(manifest, output)
    total = sum(f.size or 0 for f in manifest.files)
    typer.echo(f"wrote {output} ({len(manifest.files)} files, {total / 1e6:.1f} MB)")


@manifest_app.command("verify")
def verify(
    manifest: Annotated[Path, typer.Argument(help="Manifest YAML file.")],
    root: Annotated[Path | None, typer.Option(
        "--root", help="Data root (default: the manifest's root).")] = None,
    allow_missing: Annotated[bool, typer.Option(
        "--allow-missing", help="Check only the files present (a partial download).")] = False,
) -> None:
    """Check every file of MANIFEST: report what is missing, changed or unreadable.

    Exits 0 only when no file is missing, changed or unreadable and at least one file's
    sha256 was checked and matched (files without a recorded sha256 are counted
    "unchecked" in the summary); 3 when files are missing or cannot be read (no
    permission, an I/O error), or nothing could be checked (no files listed, none present
    under the root with --allow-missing, or no checksums recorded); 4 when files changed.
    Example:
    ``eegsnn manifest verify data_manifests/bonn_shared.yaml --root ../shared/data/bonn``
    """
    from eegsnn.manifest import verify_manifest

    report = verify_manifest(manifest, root, allow_missing=allow_missing)
    for line in report.lines():
        typer.echo(line)
    report.raise_for_problems(require_checked=True)


def register(app: typer.Typer) -> None:
    app.add_typer(manifest_app, name="manifest")
