"""The engine: models, freezing, data, training, evaluation and run directories.

Nothing in this package imports Qt; the GUI, the CLI and the tests all drive it.
"""
