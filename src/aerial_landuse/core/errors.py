"""Errors in what the user gave (a parameter, a folder, a file): the message names the input and
the fix, and the command line prints it once, without a traceback (console.py)."""

from __future__ import annotations

import re


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


def transient(exc: BaseException) -> bool:
    """Connection refused or reset, timeouts: storage faults a later attempt may not meet. Errors
    that repeat (missing file, permission) are not transient."""
    if isinstance(exc, (FileNotFoundError, PermissionError)):
        return False
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return True
    names = {cls.__name__ for cls in type(exc).__mro__}
    return bool(names & {"ClientConnectionError", "ServiceRequestError", "ServiceResponseError"})


def raise_if_outage(exc: BaseException) -> None:
    """Re-raise a transient storage fault (after the retries): the storage is unreachable, the
    tile is not unreadable, so the task must fail (and the run say so), not quarantine it."""
    if transient(exc):
        raise exc


# aiohttp's words (adlfs) and azure-core's error for a blob endpoint that does not answer
OUTAGE = re.compile(r"Cannot connect to host ([\w.\-]+:\d+)|ServiceRequestError")
HOST = re.compile(r"Cannot connect to host ([\w.\-]+:\d+)")
URL_HOST = re.compile(r"https?://([\w.\-]+(?::\d+)?)/")


def storage_outage_in(exc: BaseException | None) -> str | None:
    """The endpoint (host:port, or "storage") of a lost storage connection behind ``exc``: on
    executors it reaches the driver as text inside Spark's error, so the text is searched (the
    endpoint may be named anywhere in it, also after azure-core's error name)."""
    seen: set[int] = set()
    texts = []
    while exc is not None and id(exc) not in seen:
        texts.append(str(exc))
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    text = "\n".join(texts)
    if not OUTAGE.search(text):
        return None
    endpoint = HOST.search(text) or URL_HOST.search(text)
    return endpoint.group(1) if endpoint else "storage"


def plain_error_message(exc: BaseException) -> str | None:
    """What to print instead of a traceback: a user input error's message, or what a storage
    outage means and how to continue; None for anything else (a bug: keep the traceback)."""
    user = user_error_in(exc)
    if user is not None:
        return f"{user}\n\n(An input to fix, not a bug: no traceback."
    endpoint = storage_outage_in(exc)
    if endpoint is not None:
        return (
            f"Lost the connection to blob storage at {endpoint} during the run (after the "
            "storage client's own retries). Outputs already written are kept: each is replaced "
            "only when complete. When the storage answers again (local Azurite: `make azurite`), "
            "continue with `kedro run --only-missing-outputs` (same --env and --params)."
            "\n\n(An outage, not a bug: no traceback."
        )
    return None
