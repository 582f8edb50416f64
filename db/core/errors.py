"""Domain errors: each carries a message a person can act on."""


class ProSyncError(Exception):
    """Base of every error the data-access layer raises on purpose."""


class NotFound(ProSyncError):
    pass


class PermissionDenied(ProSyncError):
    pass


class DuplicateContent(ProSyncError):
    pass


class InvalidInput(ProSyncError):
    pass


class Conflict(ProSyncError):
    pass


class AuthenticationFailed(ProSyncError):
    pass


class DatabaseUnavailable(ProSyncError):
    """The connection to the database was lost in the middle of a unit of work."""


class StorageUnavailable(ProSyncError):
    """The object store did not answer or refused a request; nothing was recorded."""
