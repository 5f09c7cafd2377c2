"""One module (or package) per tab of the window: train, results, predict, runs, transfer check.

Pages never import each other: the shell wires them through their signals and methods.
"""
