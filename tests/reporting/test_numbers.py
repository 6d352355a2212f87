import pytest

from aerial_landuse.reporting.numbers import signed


@pytest.mark.parametrize(
    ("value", "digits", "printed"),
    [
        (-0.001, 2, "0.00"),
        (-0.0, 3, "0.000"),
        (0.004, 2, "0.00"),
        (1.857, 2, "+1.86"),
        (-0.3, 1, "-0.3"),
    ],
)
def test_signed_never_prints_minus_zero(value, digits, printed):
    assert signed(value, digits) == printed
