"""Errors a user can act on.

Every error the tool raises on bad input is a ``ModelsnapError``: the CLI prints ``str(error)``
(what, where, how to fix) and exits with ``error.exit_code``; the TUI shows it inline. Nothing
else should reach the user as a traceback.
"""

from __future__ import annotations


class ModelsnapError(Exception):
    """``message`` says what went wrong, ``where`` names the file/key, ``hint`` the fix."""

    exit_code = 1

    def __init__(self, message: str, *, where: str | None = None, hint: str | None = None):
        self.message = message
        self.where = where
        self.hint = hint
        super().__init__(self.__str__())

    def __str__(self) -> str:
        text = f"{self.where}: {self.message}" if self.where else self.message
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


class ProjectFileError(ModelsnapError):
    """modelsnap.toml (or another file the user edits) is invalid. CLI exit code 2."""

    exit_code = 2


class DataError(ModelsnapError):
    """The data set cannot be used: missing file, unknown target, one class, ..."""

    exit_code = 2


class SnapshotError(ModelsnapError):
    """A snapshot file is malformed or a referenced file (artifact, predictions) is missing."""


class IntegrityError(ModelsnapError):
    """A hash does not match: artifact, predictions, split or decision chain."""


class UnsafeArtifactError(IntegrityError):
    """An artifact holds types that are not trusted; it was not loaded."""


class CriteriaError(ModelsnapError):
    """Criteria are not locked, or changed since the last locked revision."""

    exit_code = 2


class DecisionError(ModelsnapError):
    """A decision was refused (no rationale, rejected or unknown snapshot, ...)."""


class StorageError(ModelsnapError, OSError):
    """The folder cannot be written: read-only file system, full disk, no permission.

    Records are written to a temp file first and renamed or linked into place, so when this is
    raised every existing record is unchanged. It is an ``OSError`` too (with the original
    ``errno``), so code that tolerates a failed write of a cache keeps doing so.
    """


_STORAGE_HINTS = {
    "EROFS": "the folder is on a read-only file system; copy it somewhere writable",
    "ENOSPC": "the disk is full; free some space and run the command again",
    "EDQUOT": "the disk quota is used up; free some space and run the command again",
    "EACCES": "no permission to write there; check the folder's owner and permissions",
    "EPERM": "no permission to write there; check the folder's owner and permissions",
}


def storage_error(exc: OSError, where: object | None = None) -> StorageError:
    """A clear StorageError for an OSError raised while writing."""
    import errno

    name = errno.errorcode.get(exc.errno or 0, "")
    reason = exc.strerror or str(exc)
    hint = _STORAGE_HINTS.get(name, "check the disk and the folder, then run the command again")
    error = StorageError(
        f"cannot write: {reason}; existing records are unchanged",
        where=str(where if where is not None else exc.filename or ""),
        hint=hint,
    )
    error.errno, error.strerror = exc.errno, exc.strerror
    return error


class PathError(ModelsnapError):
    """A name, id or path would reach outside the project folder."""

    exit_code = 2


class RunFailed(ModelsnapError):
    """A fit/evaluate/profile run failed in the worker; nothing was written.

    ``reason`` is one of: "timeout", "memory", "error", "crash", "cancelled", and with the
    Dask executor "worker lost" (docs/distributed.md).
    """

    def __init__(
        self, reason: str, message: str, *, where: str | None = None, hint: str | None = None
    ):
        self.reason = reason
        super().__init__(message, where=where, hint=hint)


class ImportRefused(ModelsnapError):
    """A model from another tool (an MLflow run) cannot be imported: not trusted, unreadable,
    changed since it was downloaded, or trained on other columns. Nothing was written."""
