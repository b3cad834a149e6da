"""Checkers of the conditional and hybrid models notebook (08)."""
__all__ = []
