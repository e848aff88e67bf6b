"""Errors raised while fetching Freddie Mac files. Each message names the file or URL at fault."""


class SourceError(Exception):
    """A permanent problem with a source: retrying the same request gives the same answer."""


class SourceLoginError(SourceError):
    """The portal refused the credentials or the terms acceptance."""


class NotAZipError(SourceError):
    """A download that should be a zip is something else (the classic HTML-with-status-200 page)."""


class CorruptZipError(SourceError):
    """A zip whose structure or CRC is wrong."""


class TransientSourceError(Exception):
    """A problem that may pass: HTTP 5xx or 429, a timeout, a connection reset, a body cut short."""
