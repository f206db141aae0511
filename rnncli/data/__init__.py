"""Data layers: text corpora (``text``) and, later, CSV time series."""
