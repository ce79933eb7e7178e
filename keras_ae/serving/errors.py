"""The one error type of serving exports."""


class ExportError(ValueError):
    """An export that cannot be done as asked (bad version, quantization, calibration data)."""
