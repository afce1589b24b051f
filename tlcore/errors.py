"""Errors the engine raises for bad input. Every message names the file, row or field at fault."""


class TLError(Exception):
    """Base class: a user-facing error with a readable message (never a stack trace in the UI)."""


class DataError(TLError):
    """A domain could not be read or split (bad archive, bad table, too few samples...)."""


class UnsafeArchive(DataError):
    """An archive was refused before anything was written (path escape, symlink, bomb...)."""


class ConfigError(TLError):
    """A run configuration is invalid; the message names the field."""


class ModelError(TLError):
    """A backbone or checkpoint could not be loaded."""


class Cancelled(TLError):
    """A run was cancelled through its control flag."""


class PermissionDenied(TLError):
    """Only the owner or an admin may change this."""


class ExportError(TLError):
    """An export could not be produced; nothing was written."""
