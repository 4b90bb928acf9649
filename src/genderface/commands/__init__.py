"""The `genderface` command line: predict, compare and plots."""
