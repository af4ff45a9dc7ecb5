"""User-facing errors: the CLI prints their message (no traceback) and exits with code 2."""


class PathrlError(Exception):
    """A mistake in the user's input or environment, explained in plain words."""


class SchemaError(PathrlError):
    """The schema file or database schema is invalid."""


class QueryRefused(PathrlError):
    """A query was refused by a read-only executor."""
