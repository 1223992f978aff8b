"""Plots of a run's results (matplotlib, written as PNG files)."""
