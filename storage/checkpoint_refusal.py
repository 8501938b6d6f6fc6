"""Why a weights file could not be loaded, in one line the user can act on; shared by every loader.

Owns `load_refusing(path, load, description, error)`, the one place that turns a failed weights
load (a torch checkpoint, an open_clip or transformers weights file) into the caller's error
naming the file. It needs no torch: the caller passes `load` (its `torch.load(...,
weights_only=True)` or a safetensors reader), so `models` and `extract` use the same helper and
print the same words. The reasons are few: the file is empty, is a directory, cannot be read, is
damaged (truncated or not a torch/safetensors file), or was refused because its pickle holds
Python objects that are not plain weights (such a file can run code when it is loaded, so it is
not loaded). PyTorch's own text for a refused file advises re-running `torch.load` with
`weights_only=False`, which is the unsafe thing to do; it is never passed on, neither in the
message nor in the chained exception a traceback would show.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from storage.errors import short_repr

ResultT = TypeVar("ResultT")

EMPTY = "the file is empty"
DIRECTORY = "it is a directory, not a file"
TORCHSCRIPT = (
    "refused: it is a TorchScript archive (it holds code, not plain weights); it was not loaded"
)
# What torch's weights-only unpickler says when the pickle asks for a class or function that is
# not plain data (`GLOBAL posix.system ... is blocked`, `Unsupported global`, a REDUCE, NEWOBJ
# or BUILD of something not allowlisted); anything else it says means the bytes are not a pickle.
_CODE_MARKERS = (
    "GLOBAL ",
    "unrecognized function",
    "Can only create new object",
    "Can only build",
)
_GLOBAL_NAME = re.compile(r"GLOBAL (\S+)")
_UNSAFE_ADVICE = "weights_only"


def damaged(format_name: str = "torch") -> str:
    return f"damaged (truncated or not a {format_name} file)"


def code_refused(name: str | None = None) -> str:
    """The reason for a pickle that asks for `name` (a class or function, when known)."""
    what = f"{name}: " if name else ""
    return (
        "refused: the file contains Python objects that are not plain weights "
        f"({what}it could run code); it was not loaded"
    )


def _texts(failure: BaseException) -> str:
    """The failure's text and that of the exceptions it was raised from or during."""
    texts, seen, current = [], set(), failure
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        texts.append(str(current))
        current = current.__cause__ or current.__context__
    return "\n".join(texts)


def failure_reason(failure: BaseException, format_name: str = "torch") -> str:
    """One line saying why loading failed (see the module doc), never PyTorch's advice."""
    text = _texts(failure)
    if "TorchScript" in text:
        return TORCHSCRIPT
    if any(marker in text for marker in _CODE_MARKERS):
        name = _GLOBAL_NAME.search(text)
        return code_refused(short_repr(name.group(1))[1:-1] if name else None)
    return damaged(format_name)


def load_refusing(
    path: str | Path,
    load: Callable[[Path], ResultT],
    description: str,
    error: Callable[[str], Exception],
    format_name: str = "torch",
) -> ResultT:
    """`load(path)`, or `error("<path>: not a readable <description> checkpoint: <reason>")`.

    A missing file raises `FileNotFoundError` as it is (callers say what to run to make it)."""
    path = Path(path)

    def refuse(reason: str) -> Exception:
        return error(f"{path}: not a readable {description} checkpoint: {reason}")

    try:
        status = path.stat()
    except FileNotFoundError:
        raise
    except OSError as failure:
        raise refuse(f"it cannot be read ({failure.strerror or failure})") from failure
    if path.is_dir():
        raise refuse(DIRECTORY)
    if status.st_size == 0:
        raise refuse(EMPTY)
    try:
        return load(path)
    except (FileNotFoundError, PermissionError) as failure:
        raise refuse(f"it cannot be read ({failure.strerror or failure})") from failure
    except Exception as failure:
        refusal = refuse(failure_reason(failure, format_name))
        if _UNSAFE_ADVICE in _texts(failure):  # PyTorch's text: keep it out of tracebacks too
            raise refusal from None
        raise refusal from failure
