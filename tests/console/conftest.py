"""Fixtures the console's tests share with the services' tests."""

from tests.services.conftest import production, truss_dir  # noqa: F401  (fixtures)
