"""The exception types the core raises: InputError for bad input, and its subclass ModelRunError
when the model's own forward pass fails or returns something unusable."""


class InputError(ValueError):
    """Raised for every bad input; the message says what is wrong and what to do."""


class ModelRunError(InputError):
    """The model's own forward pass failed or returned something unusable."""
