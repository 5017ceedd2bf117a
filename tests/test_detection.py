"""Region detection: the classical detector on planted regions, and the detection scores against
pycocotools' matching (perfect boxes score 1, shifted boxes lose IoU as computed by hand)."""

from __future__ import annotations

import numpy as np
import pytest

from flarepipe.core.bipole import bipole_field
from flarepipe.detection.classical import DetectorSettings, detect_regions, merge_boxes
from flarepipe.detection.metrics import detection_scores

N = 256
PX_RAD = np.radians(0.25)  # heliographic radians per pixel near disk centre

# (x, y, b0 gauss, rho radians, tilt): the last one is too weak to pass the threshold
PLANTED = [
    (60, 70, 1500.0, 0.06, 0.2),
    (170, 80, 900.0, 0.05, -0.3),
    (120, 180, 2500.0, 0.08, 0.0),
    (200, 170, 700.0, 0.04, 0.5),
    (90, 130, 60.0, 0.05, 0.0),
]


def _frame(seed=0, planted=PLANTED):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:N, 0:N].astype(float)
    field = rng.normal(0.0, 8.0, (N, N))
    truth = []
    for cx, cy, b0, rho, tilt in planted:
        du, dv = (x - cx) * PX_RAD, (y - cy) * PX_RAD
        u = du * np.cos(tilt) + dv * np.sin(tilt)
        v = -du * np.sin(tilt) + dv * np.cos(tilt)
        b = bipole_field(u, v, b0, rho)
        field += b
        rows, cols = np.nonzero(np.abs(b) > 100.0)
        truth.append(
            None if not len(rows) else (cols.min(), rows.min(), cols.max() + 1, rows.max() + 1)
        )
    disk = (x - N / 2 + 0.5) ** 2 + (y - N / 2 + 0.5) ** 2 > (0.48 * N) ** 2
    field[disk] = np.nan
    return field, truth


def test_classical_detector_finds_every_region_above_threshold():
    field, truth = _frame()
    found = detect_regions(field, DetectorSettings(threshold_g=100.0, min_area_px=10))
    strong = [(p, t) for p, t in zip(PLANTED, truth, strict=True) if t is not None]
    assert len(strong) == 4  # the 60 G region never reaches 100 G
    assert len(found) == len(strong), found
    for (cx, cy, *_), _box in strong:
        inside = (found.x0 <= cx) & (cx < found.x1) & (found.y0 <= cy) & (cy < found.y1)
        assert inside.sum() == 1, f"planted region at ({cx}, {cy}) not found once"
    scores = detection_scores(
        [[t for _, t in strong]], [found[["x0", "y0", "x1", "y1"]].values], [found.score.values]
    )
    assert scores["recall"] == 1.0 and scores["precision"] == 1.0
    assert scores["map50"] == pytest.approx(1.0)
    # ranked by flux: the 2500 G region first
    assert found.iloc[0].x0 <= 120 < found.iloc[0].x1


def test_detector_on_noise_alone_finds_nothing():
    field, _ = _frame(seed=3, planted=[])
    assert detect_regions(field).empty


def test_close_boxes_merge_transitively():
    import pandas as pd

    boxes = pd.DataFrame(
        {
            "x0": [0, 12, 24, 100],
            "y0": [0, 0, 0, 100],
            "x1": [10, 22, 34, 110],
            "y1": [10, 10, 10, 110],
            "area_px": [1, 2, 3, 4],
            "flux": [1.0, 2.0, 3.0, 10.0],
        }
    )
    merged = merge_boxes(boxes, gap_px=3)
    assert len(merged) == 2
    chain = merged[merged.x0 == 0].iloc[0]
    assert (chain.x1, chain.area_px, chain.flux) == (34, 6, 6.0)
    assert len(merge_boxes(boxes, gap_px=1)) == 4
    # two pieces each far from a third box, whose union reaches it: merged on the second pass
    pieces = pd.DataFrame(
        {"x0": [0, 0, 14], "y0": [0, 14, 0], "x1": [4, 10, 20], "y1": [10, 20, 4]}
    ).assign(area_px=1, flux=1.0)
    assert len(merge_boxes(pieces.iloc[[0, 2]], gap_px=5)) == 2
    assert len(merge_boxes(pieces, gap_px=5)) == 1


def test_detector_settings_are_checked():
    with pytest.raises(ValueError, match="threshold_g"):
        DetectorSettings(threshold_g=float("nan"))
    with pytest.raises(ValueError, match="closing_px"):
        DetectorSettings(closing_px=1.5)
    with pytest.raises(ValueError, match="2-d"):
        detect_regions(np.zeros((4, 4, 4)))


BOXES = [[[10, 10, 40, 40], [60, 20, 90, 50]], [[5, 5, 35, 35]], []]


def _shifted(d):
    return [[[b[0] + d, b[1], b[2] + d, b[3]] for b in img] for img in BOXES]


def _scores(boxes):
    return [list(np.linspace(1, 0.5, len(img))) for img in boxes]


def test_perfect_predictions_score_one():
    s = detection_scores(BOXES, BOXES, _scores(BOXES))
    assert s["map"] == pytest.approx(1.0) and s["map50"] == pytest.approx(1.0)
    assert (s["precision"], s["recall"], s["f1"]) == (1.0, 1.0, 1.0)
    assert (s["n_true"], s["n_predicted"]) == (3, 3)


def test_map_falls_as_boxes_shift():
    maps = [detection_scores(BOXES, _shifted(d), _scores(BOXES))["map"] for d in range(0, 14, 2)]
    assert all(a >= b for a, b in zip(maps, maps[1:], strict=False)) and maps[-1] < maps[0]
    # width 30 shifted by d: IoU = (30 - d) / (30 + d); >= 0.5 up to d = 10
    assert detection_scores(BOXES, _shifted(9), _scores(BOXES))["map50"] == pytest.approx(1.0)
    off = detection_scores(BOXES, _shifted(11), _scores(BOXES))
    assert off["map50"] == 0.0 and off["precision"] == 0.0 and off["recall"] == 0.0
    # at IoU 0.3 the same boxes still match
    assert detection_scores(BOXES, _shifted(11), _scores(BOXES), iou=0.3)["recall"] == 1.0


def test_false_alarm_ranked_low_costs_precision_not_map():
    predicted = [BOXES[0] + [[150, 150, 170, 170]], BOXES[1], []]
    scores = [[0.9, 0.8, 0.1], [0.9], []]
    s = detection_scores(BOXES, predicted, scores)
    assert s["precision"] == pytest.approx(3 / 4) and s["recall"] == 1.0
    assert s["map50"] == pytest.approx(1.0)
    # the same false alarm ranked first costs average precision
    assert detection_scores(BOXES, predicted, [[0.5, 0.4, 0.95], [0.9], []])["map50"] < 1.0


def test_bad_boxes_are_named():
    with pytest.raises(ValueError, match="predicted of image 0: a box has x1 <= x0"):
        detection_scores([[[0, 0, 5, 5]]], [[[5, 0, 5, 5]]], [[1.0]])
    with pytest.raises(ValueError, match="one entry per image"):
        detection_scores([[]], [], [])
    with pytest.raises(ValueError, match="2 predicted boxes but 1 scores"):
        detection_scores([[[0, 0, 5, 5]]], [[[0, 0, 5, 5], [1, 1, 4, 4]]], [[1.0]])


def test_real_frame_detections_lie_on_the_disk_and_find_the_srs_region():
    """The real HMI frame of 2016-07-07 (no box truth here): every detection lies on the disk
    inside min_mu, and NOAA 12560, the SRS region of that day, falls in a detected box."""
    import astropy.units as u
    import pandas as pd
    import sunpy.map

    from conftest import real_path
    from flarepipe.archive.catalogues import srs
    from flarepipe.detection.classical import disk_mu

    frame = real_path("fulldisk", "hmi.M_720s.20160707_010000_TAI.magnetogram.fits")
    smap = sunpy.map.Map(str(frame)).superpixel([4, 4] * u.pix)  # 1024^2, sums of 16 pixels
    smap = sunpy.map.Map(smap.data / 16, smap.meta)
    mu = disk_mu(smap)
    found = detect_regions(smap.data, DetectorSettings(min_mu=0.2), mu=mu)
    assert len(found) >= 1
    for box in found.itertuples():
        corners = mu[
            [int(box.y0), int(box.y0), int(box.y1) - 1, int(box.y1) - 1],
            [int(box.x0), int(box.x1) - 1, int(box.x0), int(box.x1) - 1],
        ]
        assert np.isfinite(corners).all() and mu[int(box.y), int(box.x)] >= 0.2
    regions = srs.read_srs_csv(real_path("srs", "srs_regions_1996_2018.csv")).regions
    boxes, _ = srs.region_boxes(regions[regions["date"] == pd.Timestamp("2016-07-07")], smap)
    for r in boxes.itertuples():  # SRS positions are good to ~1 degree: boxes must overlap
        overlap = (found.x0 < r.x1) & (r.x0 < found.x1) & (found.y0 < r.y1) & (r.y0 < found.y1)
        assert overlap.any(), f"NOAA {r.noaa_ar} at ({r.x:.0f}, {r.y:.0f}) not detected"


def test_annotate_real_frame(tmp_path):
    """The integrated system on the real HMI frame: a table and a picture, every box on the disk,
    centres in heliographic coordinates that the WCS gives back."""
    from conftest import real_path
    from flarepipe.detection.annotate import REGION_COLUMNS, annotate_frame

    frame = real_path("fulldisk", "hmi.M_720s.20160707_010000_TAI.magnetogram.fits")
    result = annotate_frame(frame, tmp_path, work_size=512)
    table = result.regions
    assert list(table.columns) == list(REGION_COLUMNS) and len(table) >= 1
    assert result.png.stat().st_size > 10_000 and result.csv.exists()
    assert (table.mu > 0.1).all()
    assert table.x0.min() >= 0 and table.y1.max() <= 4096
    # boxes in pixels of the original 4096^2 frame, inside the disk (radius ~1872 px)
    r = np.hypot(table[["x0", "x1"]].to_numpy() - 2038, table[["y0", "y1"]].to_numpy() - 2051)
    assert (r < 1872).all()
    assert table.latitude_deg.abs().max() < 60 and table.flux_mx.gt(1e19).all()


def test_annotate_refuses_a_frame_without_wcs(tmp_path):
    from astropy.io import fits

    from flarepipe.detection.annotate import annotate_frame, main

    bad = tmp_path / "nowcs.fits"
    fits.PrimaryHDU(np.zeros((64, 64), np.float32)).writeto(bad)
    with pytest.raises(ValueError, match=r"nowcs\.fits: the frame lacks WCS keyword\(s\) CDELT1"):
        annotate_frame(bad, tmp_path / "out")
    assert main([str(bad), "--out", str(tmp_path / "out")]) == 2
    empty = tmp_path / "empty.fits"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match="empty.fits"):
        annotate_frame(empty, tmp_path / "out")
