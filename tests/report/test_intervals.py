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


def test_p_values_print_below_a_thousandth_and_not_at_all_when_undefined() -> None:
    from mesascope.records.intervals import format_p_value

    assert format_p_value(0.0004998) == "<0.001" and format_p_value(0.0123) == "0.012"
    assert format_p_value(1.0, defined=False) == "—" and format_p_value(float("nan")) == "—"


def test_terminal_intervals_never_read_a_dash_as_a_minus_sign():
    from mesascope.report.terminal import span

    assert span(0.7, 0.9) == "0.70–0.90"
    assert span(-0.11, -0.1) == "-0.11 to -0.10" and span(-0.2, 0.1) == "-0.20 to 0.10"
