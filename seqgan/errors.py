"""Errors a user can act on: the CLI prints their message, never a traceback."""


class SeqGANError(Exception):
    """Base class: the message says what went wrong and what to do."""


class ConfigError(SeqGANError):
    """A configuration value or file is invalid."""


class CheckpointError(SeqGANError):
    """A checkpoint is missing, corrupted or does not fit the model."""


class DataError(SeqGANError):
    """An input file cannot be used as sequences."""


class TrainingDiverged(SeqGANError):
    """A loss or metric became NaN or infinite."""


class StorageError(SeqGANError):
    """A file could not be written (a full disk, a read-only or missing folder)."""
