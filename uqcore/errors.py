"""The one exception type the core raises for bad input."""


class InputError(ValueError):
    """Raised for every bad input; the message says what is wrong and what to do."""
