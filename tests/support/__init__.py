"""Test machinery shared by the tests and the benchmarks: not part of the shipped package.

Importable from a checkout (the repository root on ``sys.path``: pytest puts it
there, and the benchmarks add it), never from an installed riverbed.
"""
