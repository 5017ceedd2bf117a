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


def _values(rng):
    """Card values of every type the writer meets, over many magnitudes and edge cases."""
    floats = [0.0, -0.0, 1.0, -1.5, 0.1, 1e-5, 1.234e22, 696000000.0, 359.99999999999994, 1e300]
    floats += list(rng.normal(0, 1, 40) * 10.0 ** rng.integers(-12, 24, 40))
    out = floats + [np.float64(f) for f in floats[:20]] + [np.float32(f) for f in floats[:9]]
    out += [0, 1, -7, 2**31 - 1, -(2**31), np.int64(12), np.int32(-3), True, False, np.bool_(True)]
    out += ["", "x", "2011.02.15_02:00:00_TAI", "it's", "11158,11159", "a" * 60, "b" * 68]
    out += ["c" * 80, "a long generator name " * 4]  # CONTINUE cards
    return out


def test_card_images_are_astropys():
    from flarepipe.io.fitsio import _card_image

    for v in _values(np.random.default_rng(3)):
        for key in ("LON_FWT", "T_REC", "Q"):
            assert _card_image(key, v) == str(fits.Card(key, v)), (key, v)
    with pytest.raises(ValueError):
        _card_image("OBS_VR", float("nan"))


def test_header_template_tracks_every_value_change(tmp_path):
    """Values change type and back, repeat and grow into CONTINUE cards: astropy's bytes."""
    rng = np.random.default_rng(4)
    values = _values(rng)
    data = quantise(rng.normal(0, 30, (9, 13)).astype(np.float32))
    cards = dict(CARDS)
    for i in range(60):
        cards["LON_FWT"] = values[int(rng.integers(len(values)))]
        cards["NOAA_ARS"] = values[int(rng.integers(len(values)))]
        cards["QUALITY"] = int(rng.integers(0, 3))
        digest = write_patch(tmp_path / "fast.fits", data, cards, compress=False)
        _astropy_file(tmp_path / "ref.fits", data, cards)
        assert (tmp_path / "fast.fits").read_bytes() == (tmp_path / "ref.fits").read_bytes(), i
        from flarepipe.io.atomic import sha256_file

        assert digest == sha256_file(tmp_path / "fast.fits")


def test_stale_temporaries_removed_once_per_folder(tmp_path):
    from flarepipe.io.atomic import remove_stale_temporaries

    stale = [tmp_path / ".a.fits.abc_1234.fits.part", tmp_path / ".b.fits.zzzzzzzz.fits.part"]
    keep = [tmp_path / "a.fits", tmp_path / ".a.fits.short.fits.part", tmp_path / "x.part"]
    for p in stale + keep:
        p.write_bytes(b"x")
    assert remove_stale_temporaries(tmp_path, ".fits.part") == 2
    assert sorted(tmp_path.iterdir()) == sorted(keep)
    # the writer told not to clean leaves another target's temporaries alone
    write_patch(
        tmp_path / "a.fits", np.zeros((3, 4), np.float32), CARDS, compress=False, clean=False
    )
    assert (tmp_path / ".a.fits.short.fits.part").exists()
