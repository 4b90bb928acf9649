"""genderface: a reproducible DVC + Keras pipeline that labels face crops "man" or "woman"."""

__version__ = "0.1.0"
