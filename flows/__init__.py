"""Orchestration: the command line and (later) the Prefect flows that compose the other packages.

The only package allowed to import Prefect; it may import every other package.
"""
