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
