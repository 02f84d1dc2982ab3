"""Domain errors: raised by operations, carrying a message a user can read."""


class DomainError(Exception):
    """A business rule refused the operation; the message says why in plain words."""


class Conflict(DomainError):
    """Someone else saved the same record since the form was opened."""

    def __init__(self, message: str = "") -> None:
        super().__init__(
            message
            or "Someone else saved this record while you were editing it. Your changes are kept below; "
            "check the current values and save again."
        )


class NotAllowed(DomainError):
    """The acting user may not do this."""
