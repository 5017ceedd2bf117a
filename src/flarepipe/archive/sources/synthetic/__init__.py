"""The synthetic SHARP/SMARP archive: the workflow's embedded default source, with planted truth.

Regions emerge, grow, decay and rotate across the disk; HMI-like (SHARP) and MDI-like (SMARP)
patches are rendered with the structure of real active regions (:mod:`.render`: sunspot umbrae and
penumbrae, plage and network spread over the region's area, quiet-Sun background, noise and
point-spread), written as JSOC-named FITS files, and the four keywords are computed from each map
by their definitions over a HARP-like region mask (:mod:`flarepipe.core.magnetic`). Flares come
from a planted, time-varying rate; the rate of every region at every native time step is written to
``truth/rates.csv`` so the best achievable (oracle) scores of any labelled sample set can be
computed.

The planted log-rate of flares (GOES ≥ B1.0, per day) has three complementary parts:

``log λ = c0 + c_size·(log10 Φ − 21.7) + c_emerge·e(t) + c_morph·m + c_delta·δ``

- ``Φ`` the region's total unsigned flux (visible in keywords and images);
- ``e(t)`` the recent emergence rate, the fractional flux increase over the past 12 h, clipped to
  [0, 1] (visible only in the keyword time series, as an LSTM sees it);
- ``m`` a "rotated" bipole, axis far from east-west (≥ 55°), violating Joy's law: invisible to the
  four rotation-invariant keywords, visible in the image (as a CNN sees it);
- ``δ`` a delta spot: an opposite-polarity umbra inside the leading spot's penumbra (partly visible
  in R_VALUE, as in real data).

:func:`cause_mask` gives, for any record, the mask of its planted causes (the rotated bipole's
inversion-line band, the delta spots' cores), recomputed from the seed.

Peak fluxes follow a power law ``dN/dF ∝ F^-α`` (α = 2) above B1.0, so the ≥ C1.0 and ≥ M1.0 rates
are
``λ·10^{-(α-1)}`` and ``λ·100^{-(α-1)}``. Only flares above ``min_detected_flux`` (B4: GOES event
lists are incomplete below the X-ray background) enter the catalogue; ``rate_all_per_day`` in the
truth table is the rate of catalogued flares, so QUIET windows are those without a catalogued flare.

The magnetogram segment is written, like the SMARP CEA magnetograms whose keywords describe the
"vertical field", as the radial-field estimate ``B_LOS/μ`` (the μ-correction): a region's flux does
not fade towards the limb, but the noise grows there. ``c0`` depends on the scale: the laptop-sized
``default`` archive is a flare-rich interval (about a fifth of strong-vs-quiet samples are positive,
so that each split holds a dozen flaring regions); ``small`` and ``large`` use a quieter Sun (6–12%
of the samples positive).

Everything is deterministic from the seed, whatever the number of worker processes: each region
draws from its own generators seeded by ``(seed, instrument, region index)``.
"""

from flarepipe.archive.sources.synthetic.generate import (
    cause_mask,
    generate_archive,
    params_from_manifest,
    render_sample,
)
from flarepipe.archive.sources.synthetic.images import (
    RegionTextures,
    Scene,
    Spot,
    patch_shape,
    render,
    scene_at,
    scene_cause_mask,
)
from flarepipe.archive.sources.synthetic.params import (
    GENERATOR_VERSION,
    HMI,
    INSTRUMENTS,
    MDI,
    SCALES,
    InstrumentSpec,
    SyntheticParams,
)
from flarepipe.archive.sources.synthetic.regions import (
    B1_FLUX,
    plan_regions,
    region_geometry,
    simulate_region,
    synodic_rate_deg_per_day,
)
from flarepipe.core.bipole import b0_for_flux, bipole_field

#: the former private name of :func:`plan_regions` (benchmarks, provisional attribution code)
_plan = plan_regions

__all__ = [
    "SCALES",
    "SyntheticParams",
    "InstrumentSpec",
    "HMI",
    "MDI",
    "INSTRUMENTS",
    "GENERATOR_VERSION",
    "B1_FLUX",
    "generate_archive",
    "cause_mask",
    "params_from_manifest",
    "render_sample",
    "plan_regions",
    "simulate_region",
    "region_geometry",
    "synodic_rate_deg_per_day",
    "scene_at",
    "scene_cause_mask",
    "patch_shape",
    "render",
    "RegionTextures",
    "Scene",
    "Spot",
    "bipole_field",
    "b0_for_flux",
]
