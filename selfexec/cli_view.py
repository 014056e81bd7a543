"""`selfexec view`: a run or a published dataset as a static site to open in a browser."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from selfexec.terminal import make_console  # piped output is not wrapped mid-sentence

console = make_console()
err_console = make_console(stderr=True)


def view(
    folder: Path = typer.Argument(..., help="Run folder (traces/, curated/, rejects/) or published dataset folder (data/)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Site folder to write (default: FOLDER/viewer)."),
    open_: bool = typer.Option(False, "--open", help="Open the site's index.html in the default browser."),
) -> None:
    """Write a static site (HTML, CSS, JS; no server) showing code, state and narration side by side."""
    from curation.viewer import build_site
    from tracegen.errors import UserError

    try:
        stats = build_site(folder, out)
    except UserError as exc:
        err_console.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(2)
    verdicts = ", ".join(f"{n} {v}" for v, n in sorted(stats["verdicts"].items())) or "no rows"
    console.print(f"view: {stats['rows']} rows ({verdicts}) from the {stats['kind']} folder {folder}", markup=False, soft_wrap=True)
    console.print(f"site: {stats['out']}   open: {stats['index']}", markup=False, highlight=False, soft_wrap=True)
    if open_:
        import webbrowser

        if not webbrowser.open(Path(stats["index"]).as_uri()):
            err_console.print("warning: no browser found to open it; open the file above by hand", markup=False, soft_wrap=True)
