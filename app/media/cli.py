"""``flask media demo`` and ``flask media import FOLDER``."""

from importlib import resources
from pathlib import Path

import click
from flask import current_app

from ..flows.importer import ManifestError, import_folder
from . import bp

bp.cli.help = "The catalogue: load the demo stories or import a folder of stories."


def _import(folder: Path, skip_existing: bool) -> None:
    media_root = Path(current_app.config["MEDIA_ROOT"])
    media_root.mkdir(parents=True, exist_ok=True)
    try:
        result = import_folder(folder, media_root, skip_existing=skip_existing)
    except ManifestError as exc:
        for problem in exc.problems:
            click.echo(f"error: {problem}", err=True)
        raise click.ClickException(f"nothing was imported ({len(exc.problems)} problem(s) in the manifest)") from None
    click.echo(
        f"imported {len(result.imported)} stories"
        + (f", {len(result.skipped)} already there" if result.skipped else "")
    )


@bp.cli.command("demo")
def demo_command():
    """Load the demo catalogue (safe to run again: stories already there are kept)."""
    with resources.as_file(resources.files("app").joinpath("data/demo")) as folder:
        _import(Path(folder), skip_existing=True)


@bp.cli.command("import")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
def import_command(folder: Path):
    """Import stories and files from FOLDER/manifest.json (all or nothing)."""
    _import(folder, skip_existing=False)
