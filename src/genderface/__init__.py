"""genderface: a reproducible DVC + Keras pipeline that labels face crops "man" or "woman"."""

from genderface import quiet

__version__ = "0.1.0"

quiet.install()  # first, before any module imports TensorFlow (see quiet.py)
