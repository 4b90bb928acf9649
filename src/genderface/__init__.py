"""genderface: a reproducible DVC + Keras pipeline that labels face crops "man" or "woman".

Importing it changes nothing in the process; entry points import genderface.entry_point first.
"""

__version__ = "0.1.0"
