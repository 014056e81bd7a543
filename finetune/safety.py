"""A cheap look at a model's program before it runs: calls that start processes or reach the network.

This is not the defence (the sandbox is: no network, read-only root, rlimits, a dropped uid, a
process-count limit); it only makes the score of such a program a rule rather than luck: a solution
that shells out scores -1 even when the command it runs happens to print the right answer.
`getattr(__import__("o" + "s"), "fork")` gets past it, and the sandbox still holds.
"""

from __future__ import annotations

import ast

FORBIDDEN_MODULES = frozenset({"subprocess", "socket", "ctypes", "multiprocessing", "pty", "asyncio.subprocess",
                               "urllib.request", "http.client", "ftplib", "smtplib", "telnetlib"})
FORBIDDEN_OS = frozenset({"system", "popen", "fork", "forkpty", "kill", "killpg", "setuid", "setgid",
                          "posix_spawn", "posix_spawnp", "execv", "execve", "execl", "execle", "execlp",
                          "execlpe", "execvp", "execvpe", "spawnl", "spawnle", "spawnlp", "spawnlpe", "spawnv",
                          "spawnve", "spawnvp", "spawnvpe", "remove", "unlink", "rmdir", "removedirs"})


def forbidden_call(code: str) -> str | None:
    """What in `code` starts a process, opens a connection or deletes files, or None.
    Code that does not parse is not our concern here (it fails its tests).

    >>> forbidden_call("import os\\nos.system('ls')")
    'os.system'
    >>> forbidden_call("from subprocess import run")
    'import subprocess'
    >>> forbidden_call("import os, sys\\ndata = os.read(0, 10**6)") is None
    True
    """
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return None
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if _forbidden_module(alias.name):
                    return f"import {alias.name}"
        elif isinstance(node, ast.ImportFrom):
            if node.module and _forbidden_module(node.module):
                return f"import {node.module}"
            if node.module == "os":
                for alias in node.names:
                    if alias.name in FORBIDDEN_OS:
                        return f"os.{alias.name}"
        elif isinstance(node, ast.Attribute) and node.attr in FORBIDDEN_OS:
            if isinstance(node.value, ast.Name) and node.value.id in ("os", "posix", "_os"):
                return f"os.{node.attr}"
    return None


def _forbidden_module(name: str) -> bool:
    return any(name == m or name.startswith(m + ".") for m in FORBIDDEN_MODULES)
