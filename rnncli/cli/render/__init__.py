"""Drawing results for people (the CLI layer): tables and terminal pictures through rich, image files through
matplotlib (rnncli/cli/render/plots.py, its one guard), and what each command writes to stdout (outputs.py).

The facts come from the library as plain data; nothing here computes them.
"""
