"""Exceptions eegsnn raises for bad input, configuration or data.

Every error a user can cause derives from :class:`EEGSNNError`; the CLI prints its message
as one line (naming the file and the problem) and exits with :attr:`EEGSNNError.exit_code`.
"""

from __future__ import annotations


class EEGSNNError(Exception):
    """Base class of the errors a user can cause; the CLI prints them as one line."""

    exit_code = 2


class ConfigError(EEGSNNError, ValueError):
    """A configuration or argument is invalid (unknown name, out-of-range value...)."""

    exit_code = 2


class DataError(EEGSNNError, ValueError):
    """Input data is missing, corrupt or inconsistent (names the file and the problem)."""

    exit_code = 3


class ChecksumError(DataError):
    """A file does not match the checksum recorded in its data manifest."""

    exit_code = 4
