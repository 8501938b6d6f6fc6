"""The one mark every user-facing input error carries, so the command line can refuse in one line.

An exception class that also derives from `UserInputError` says: "the input named in my message
is wrong, and the user can fix it". `flows.cli.main` prints such an error as one line
(`stylemotion CMD: error: <input>: <reason>`, exit 2, no traceback) wherever it was raised;
every other exception is an internal error and keeps its traceback under `-v`. `short_repr`
cuts a value for a message so a hostile input (a 2 GB string, a YAML alias bomb) can never
blow up the message that reports it.
"""

from __future__ import annotations

import reprlib

MAX_MESSAGE_CHARS = 400


class UserInputError(Exception):
    """Mixin for errors caused by an input the user gave (file, setting, checkpoint, path)."""


_SHORT = reprlib.Repr()
_SHORT.maxstring = 80
_SHORT.maxother = 80
_SHORT.maxlist = _SHORT.maxtuple = _SHORT.maxdict = _SHORT.maxset = 4
_SHORT.maxlevel = 2


def short_repr(value: object) -> str:
    """A repr of `value` bounded in size and depth (never expands nested aliases)."""
    return _SHORT.repr(value)


def cut_message(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """`text` on one line, at most `limit` characters (an ellipsis and the cut count beyond)."""
    one_line = " ".join(str(text).split())
    if len(one_line) <= limit:
        return one_line
    return f"{one_line[:limit]}... ({len(one_line) - limit} more characters)"
