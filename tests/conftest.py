"""Hypothesis profiles.

The test command runs property tests derandomised so CI gives the same answer for the
same commit; ``make fuzz`` (profile ``explore``) searches far more random examples and
runs the property tests again and again with fresh random seeds; that is where new
counter-examples are found, to be pinned with ``@example``.
"""

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False, database=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


# -- a throwaway PostgreSQL cluster (fleet store tests) ---------------------------------

from collections.abc import Iterator  # noqa: E402

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[object]:
    """One cluster per test session on 127.0.0.1 (see tests/support/postgres.py).

    Skipped only when the binaries are missing; ``make test`` installs them
    (tasks/install-system-tools.sh).
    """
    from support.postgres import postgres_bindir, running_postgres

    if postgres_bindir() is None:
        pytest.skip("PostgreSQL binaries missing (make system-tools installs them)")
    with running_postgres() as cluster:
        yield cluster
