"""Errors in what the user gave (a parameter, a folder, a file): the message names the input and
the fix, and the command line prints it once, without a traceback (console.py)."""

from __future__ import annotations


class UserInputError(ValueError):
    """A user's input is wrong or missing; the message says which and how to fix it."""


def user_error_in(exc: BaseException | None) -> UserInputError | None:
    """The UserInputError behind ``exc`` (itself, or what it was raised from), if any: Kedro
    wraps dataset errors (``DatasetError: <name>: ...``) around the one that says what is wrong."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, UserInputError):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None
