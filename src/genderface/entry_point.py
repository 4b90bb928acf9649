"""Imported first by every entry point (the stage scripts, the `genderface` command): TensorFlow's
C++ start-up lines hidden unless asked for (quiet.py).

The one module whose import changes the process: `import genderface` and every other module
change nothing (tests/test_quiet.py), so a library user's environment and import system stay
theirs. An entry point imports it before any module that imports TensorFlow.
"""

from genderface import quiet

quiet.install()
