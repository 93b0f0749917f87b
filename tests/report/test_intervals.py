"""Intervals as printed: a bootstrap over one unit is no interval, and says so."""

import numpy as np

from mesascope.records.intervals import bootstrap_mean_ci, format_interval


def test_one_unit_has_no_interval_and_the_text_says_so() -> None:
    rng = np.random.default_rng(0)
    mean, low, high = bootstrap_mean_ci(np.array([0.1, np.nan]), rng)
    assert mean == 0.1 and np.isnan(low) and np.isnan(high)
    assert format_interval(mean, low, high) == "0.10 [no interval]"
    mean, low, high = bootstrap_mean_ci(np.array([0.0, 1.0, 1.0, 0.0]), rng)
    assert 0.0 <= low < mean < high <= 1.0 and format_interval(mean, low, high).startswith("0.50 [")
    assert format_interval(*bootstrap_mean_ci(np.array([np.nan]), rng)) == "—"
