"""The one base class of errors a user can fix (a bad path, setting, input file or recipe key).

Every stage raises a subclass (or `UserError` itself) with a message that names the problem and the
fix; the console script catches `UserError` in one place and prints the message as one line, never a
traceback. Our own failures (a sandbox that cannot start, an endpoint that refuses the key) that a
rerun retries are `PipelineError`: loud, one line, non-zero exit.
"""

from __future__ import annotations


class UserError(ValueError):
    """Bad input or settings: the message says what is wrong and what to change."""


class PipelineError(RuntimeError):
    """A failure of ours or of a service we call (sandbox, endpoint, disk), not of the user's programs."""
