"""Mt. Wilson classes: the rule-based classifier, synthetic regions built to a class, and the class
frequencies the generator draws against the real SRS."""

from __future__ import annotations

import numpy as np
import pytest

from flarepipe.archive.sources.synthetic import mtwilson as synth
from flarepipe.core.mtwilson import classify_field, line_separation

COMBOS = synth.COMBINATIONS


@pytest.mark.parametrize("combo", COMBOS, ids=["-".join(map(str, c)) for c in COMBOS])
def test_constructed_region_has_its_planted_class(combo):
    """Ten seeds of each construction; the rules must give every one back."""
    for seed in range(10):
        field = synth.render_class(*combo, rng=np.random.default_rng(seed))
        assert classify_field(field, 0.15) == combo, f"seed {seed}"


def test_line_separation_of_simple_layouts():
    x = np.array([0.0, 1.0, 5.0, 6.0])
    y = np.zeros(4)
    assert line_separation(x, y, np.array([1.0, 1.0, -1.0, -1.0])) == 0.0
    # + - + - in a row: a line cuts off one end at best: 1/4 of the flux is wrong
    assert line_separation(x, y, np.array([1.0, -1.0, 1.0, -1.0])) == pytest.approx(0.25)
    # a 2-d checkerboard of four: the best line still leaves one quarter wrong
    xs, ys = np.array([0.0, 1.0, 0.0, 1.0]), np.array([0.0, 0.0, 1.0, 1.0])
    assert line_separation(xs, ys, np.array([1.0, -1.0, -1.0, 1.0])) == pytest.approx(0.25)


def test_quiet_field_is_no_region():
    with pytest.raises(ValueError, match="no sunspot"):
        classify_field(np.random.default_rng(0).normal(0, 10, (32, 32)), 0.15)


def test_class_draw_follows_the_area_table():
    rng = np.random.default_rng(0)
    draws = [synth.draw_class(rng, 1000.0) for _ in range(4000)]
    frac = np.mean([d == ("beta-gamma", True) for d in draws])
    assert frac == pytest.approx(synth.CLASS_GIVEN_AREA[-1, 5], abs=0.03)
    assert all(synth.draw_class(rng, 0.0)[0] in ("alpha", "beta") for _ in range(200))
    with pytest.raises(ValueError, match="sunspot area"):
        synth.draw_class(rng, float("nan"))


def test_area_table_matches_the_real_srs():
    """The committed table is what the real SRS gives (re-measured when the data are present)."""
    import pandas as pd

    from conftest import real_path
    from flarepipe.archive.catalogues import srs

    regions = srs.read_srs(real_path("srs", "srs_regions_1996_2018.csv")).regions
    edges = [-np.inf, *synth.AREA_BINS_USH]
    row = pd.cut(regions["area_ush"], edges, labels=False, right=True)
    combo = pd.Series(list(zip(regions["mw_class"], regions["delta"], strict=True)))
    col = combo.map({c: i for i, c in enumerate(synth.COMBINATIONS)})
    table = pd.crosstab(row, col, normalize="index").reindex(columns=range(7), fill_value=0)
    np.testing.assert_allclose(table.to_numpy(), synth.CLASS_GIVEN_AREA, atol=2e-4)
