"""Validation tests: a package, so `from .conftest import ...` names this folder's conftest whatever other
folders a run collects (a bare `conftest` is whichever conftest.py pytest imported last)."""
