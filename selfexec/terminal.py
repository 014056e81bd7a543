"""The consoles every `selfexec` command prints through."""

from __future__ import annotations

from rich.console import Console


def make_console(stderr: bool = False) -> Console:
    """A rich console that wraps lines only on a terminal: when output goes to a file or a pipe (CI
    logs, `| tee`), each message and table title stays one line instead of being cut at 80 columns."""
    console = Console(stderr=stderr)
    console.soft_wrap = not console.is_terminal
    return console
