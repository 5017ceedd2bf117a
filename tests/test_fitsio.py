"""The patch writer: the fast uncompressed path gives astropy's own bytes; both paths read back."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits

from flarepipe.io.fitsio import quantise, read_patch, write_patch

CARDS = {
    "TELESCOP": "SDO/HMI",
    "T_REC": "2011.02.15_02:00:00_TAI",
    "HARPNUM": 377,
    "NOAA_ARS": "11158,11159",
    "QUALITY": 0,
    "LON_FWT": 12.345678,
    "OBS_VR": -2875.25,
    "USFLUXL": 1.234e22,
    "GENERATR": "test",
}


def _astropy_file(path, data, cards, bscale=0.01):
    ints = np.where(np.isfinite(data), np.round(np.nan_to_num(data) / bscale), -2147483648).astype(
        np.int32
    )
    hdu = fits.ImageHDU(data=ints, header=fits.Header([fits.Card(k, v) for k, v in cards.items()]))
    hdu.header["BSCALE"] = bscale
    hdu.header["BZERO"] = 0.0
    hdu.header["BLANK"] = -2147483648
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(path, overwrite=True)


def test_uncompressed_writer_matches_astropy_bytes(tmp_path):
    rng = np.random.default_rng(1)
    cards = dict(CARDS)
    # several shapes and values through the same cached header template
    for i, shape in enumerate([(37, 53), (20, 11), (37, 53), (1, 7)]):
        data = quantise(rng.normal(0, 300, shape).astype(np.float32))
        data[0, min(3, shape[1] - 1)] = np.nan
        cards["QUALITY"] = 0x10000 * i
        cards["LON_FWT"] = float(rng.uniform(-85, 85))
        cards["NOAA_ARS"] = "11158" if i % 2 else ""
        write_patch(tmp_path / "fast.fits", data, cards, compress=False)
        _astropy_file(tmp_path / "ref.fits", data, cards)
        assert (tmp_path / "fast.fits").read_bytes() == (tmp_path / "ref.fits").read_bytes()
        back, header = read_patch(tmp_path / "fast.fits")
        np.testing.assert_array_equal(back, data)
        assert header["QUALITY"] == cards["QUALITY"] and header["LON_FWT"] == pytest.approx(
            cards["LON_FWT"]
        )
        with fits.open(tmp_path / "fast.fits") as hdul:
            hdul.verify("exception")


@pytest.mark.parametrize("compress", [True, False])
def test_both_paths_read_back_equal(tmp_path, compress):
    data = quantise(np.random.default_rng(2).normal(0, 500, (40, 60)).astype(np.float32))
    data[5, :] = np.nan
    write_patch(tmp_path / "p.fits", data, CARDS, compress=compress)
    back, header = read_patch(tmp_path / "p.fits")
    np.testing.assert_array_equal(back, data)
    assert header["T_REC"] == CARDS["T_REC"] and header["NOAA_ARS"] == CARDS["NOAA_ARS"]
    assert not list(tmp_path.glob(".*part"))  # no temporary left behind


def test_writer_rejects_non_image(tmp_path):
    with pytest.raises(ValueError, match="2-D"):
        write_patch(tmp_path / "x.fits", np.zeros(5), CARDS, compress=False)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("card", "raw", "match"),
    [
        ("T_REC", "'yesterday'", r"T_REC 'yesterday' is not a JSOC time"),
        ("T_REC", "'2011.13.45_99:00:00_TAI'", r"T_REC '2011.13.45_99:00:00_TAI' is not a JSOC"),
        ("HARPNUM", "nan", r"header card HARPNUM = .* is not a whole number"),
        ("HARPNUM", "'three'", r"header card HARPNUM = 'three' is not a whole number"),
        ("HARPNUM", "-5", r"HARPNUM -5 is not a region number"),
        ("QUALITY", "'bad'", r"header card QUALITY = 'bad' is not a whole number"),
    ],
)
def test_bad_header_cards_are_errors_naming_the_file_and_the_card(tmp_path, card, raw, match):
    """A card astropy reads but flarepipe cannot use is a ValueError naming the file (the
    callers turn it into a rejected record), not a bare int()/astropy error without a path."""
    from flarepipe.io.fitsio import header_to_record

    path = tmp_path / "hmi.sharp_cea_720s.377.20110215_020000_TAI.magnetogram.fits"
    write_patch(path, quantise(np.ones((8, 8), np.float32)), CARDS)
    blob = bytearray(path.read_bytes())
    at = blob.find(card.ljust(8).encode() + b"= ")
    value = raw if raw.startswith("'") else raw.rjust(20)
    blob[at + 10 : at + 80] = value.ljust(70).encode()
    path.write_bytes(bytes(blob))
    _, header = read_patch(path)
    with pytest.raises(ValueError, match=match) as err:
        header_to_record(header, path)
    assert str(path) in str(err.value)


def test_hex_and_float_whole_cards_still_read(tmp_path):
    from flarepipe.io.fitsio import header_to_record

    path = tmp_path / "p.fits"
    write_patch(path, quantise(np.ones((8, 8), np.float32)), {**CARDS, "QUALITY": "0x00000400"})
    rec = header_to_record(read_patch(path)[1], path)
    assert rec["quality"] == 1024 and rec["region"] == 377
