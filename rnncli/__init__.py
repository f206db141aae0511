"""rnn: train, sample, evaluate and inspect recurrent sequence models."""

__version__ = "0.1.0"
