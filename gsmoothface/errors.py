"""Exceptions for expected failures, which stages report as one line instead of a traceback."""


class GsmoothfaceError(RuntimeError):
    """Base class of the project's expected failures."""


class InputError(GsmoothfaceError, ValueError):
    """Bad user input: unreadable video, no audio stream, silent audio, no face found, ..."""


class MissingAssetError(GsmoothfaceError, FileNotFoundError):
    """A local asset (weights, BFM09 files) is missing; the message names it and where to get it."""
