"""The oracle: the best forecast possible on a synthetic archive, from its planted flare rates.

The synthetic archive writes ``truth/rates.csv`` (``docs/FILES.md``): per region and native time
step (12 min HMI, 96 min MDI) the planted flare rates in events per day, piecewise constant on
``[t, t + dt)`` where ``dt`` is the step to the region's next row; the region's last row lasts one
native step, and the rate is 0 outside the region's rows. Flares are a Poisson process, so the
probability of at least one flare in a window is ``1 - exp(-Λ)`` with ``Λ`` the integral of the
rate over the window (days x events/day).

For the S1 task (positive = STRONG prediction window; negative = QUIET observation and QUIET
prediction window; everything else discarded), with ``Λ_M`` the integral of ``rate_m_per_day``
over the prediction window ``(t_end, pred_end]`` and ``Λ_obs``, ``Λ_pred`` the integrals of
``rate_all_per_day`` over the observation window ``(t_start, t_end]`` and the prediction window:

* ``p_m = 1 - exp(-Λ_M)``: probability that the sample is STRONG (a positive);
* ``p_quiet = exp(-Λ_obs - Λ_pred)``: probability that it is QUIET/QUIET (a negative);
* ``q = p_m / (p_m + p_quiet)``: the probability of a positive label given that the sample was
  kept (the two events are disjoint). This is the oracle's calibrated posterior on the labelled,
  not undersampled, population. It knows the planted rates, not the realised flares.

The rule that maximises TSS (= TPR - FPR) forecasts positive iff the likelihood ratio
``P(x | +) / P(x | -) >= 1``, i.e. iff the posterior odds ``q / (1 - q) >= N+ / N-`` with
``N+ / N-`` the class ratio of the population where ``q`` is calibrated (all labelled samples,
before undersampling; undersampling negatives at random leaves the likelihood ratio unchanged).
:func:`oracle_predictions` writes it as a probability, the *balanced posterior*
``(q / (1 - q)) / (q / (1 - q) + N+ / N-)``, which is the posterior under equal class priors
(the undersampled splits), so that thresholding it at 0.5 is that rule.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.special import expit, logit

__all__ = [
    "RATE_COLUMNS",
    "NATIVE_STEP",
    "RateIntegrator",
    "read_rates",
    "window_integral",
    "oracle_probabilities",
    "prior_ratio",
    "oracle_predictions",
    "oracle_split_predictions",
    "split_population",
]

#: Rate columns of ``truth/rates.csv`` (events per day).
RATE_COLUMNS: tuple[str, ...] = ("rate_all_per_day", "rate_c_per_day", "rate_m_per_day")
#: Native step by region-id prefix, used for a region's last row when it has a single row.
NATIVE_STEP: dict[str, pd.Timedelta] = {
    "HARP": pd.Timedelta(minutes=12),
    "TARP": pd.Timedelta(minutes=96),
}

_NS_PER_DAY = 86_400 * 10**9


def _to_ns(t: ArrayLike | pd.Timestamp | str) -> np.ndarray:
    """Times (timestamps, datetime64 or ISO strings, naive UTC) to int64 nanoseconds.

    Integer arrays are taken as nanoseconds already (internal use).
    """
    if isinstance(t, (str, pd.Timestamp, np.datetime64)):
        t = [t]
    arr = np.asarray(t)
    if arr.dtype.kind in "iu":
        return arr.astype(np.int64)
    if arr.dtype.kind == "M":
        return arr.astype("datetime64[ns]").astype(np.int64)
    idx = pd.to_datetime(pd.Series(arr), format="ISO8601", utc=True).dt.tz_convert(None)
    if idx.isna().any():
        raise ValueError(f"cannot parse time {arr[int(np.argmax(idx.isna().to_numpy()))]!r}")
    return idx.to_numpy(dtype="datetime64[ns]").astype(np.int64)


class RateIntegrator:
    """Exact integrals of the piecewise-constant planted rates, many windows at once.

    Built once from ``truth/rates.csv``: per region, the step edges ``b_0 < ... < b_n`` (row
    times, then the last row's time plus one native step) and the cumulative integral at each
    edge, so that the integral up to time ``t`` is ``C_k + r_k (t - b_k)`` with
    ``k = searchsorted(b, t, 'right') - 1`` (0 before ``b_0``, ``C_n`` after ``b_n``).

    Parameters
    ----------
    rates : pandas.DataFrame
        ``truth/rates.csv`` (``region_id, t_utc`` and rate columns; times as ISO strings or
        datetimes).
    columns : sequence of str, optional
        Rate columns to prepare; default those of :data:`RATE_COLUMNS` present.
    last_step : dict or pandas.Timedelta, optional
        Duration of each region's last row. By default the region's smallest positive step
        (its native cadence); for a single-row region the step of :data:`NATIVE_STEP` for its
        ``region_id`` prefix.
    """

    def __init__(
        self,
        rates: pd.DataFrame,
        columns: tuple[str, ...] | list[str] | None = None,
        last_step: pd.Timedelta | Mapping[str, pd.Timedelta] | None = None,
    ) -> None:
        need = {"region_id", "t_utc"}
        if not need <= set(rates.columns):
            raise ValueError(f"rates need columns region_id, t_utc; got {list(rates.columns)}")
        if columns is None:
            columns = [c for c in RATE_COLUMNS if c in rates.columns]
        missing = [c for c in columns if c not in rates.columns]
        if missing:
            raise ValueError(f"rates lack columns {missing}")
        self.columns: tuple[str, ...] = tuple(columns)
        df = pd.DataFrame(
            {"region_id": rates["region_id"].astype(str).to_numpy(), "t": _to_ns(rates["t_utc"])}
        )
        for c in self.columns:
            v = rates[c].to_numpy(dtype=np.float64)
            if not np.all(np.isfinite(v)) or np.any(v < 0):
                raise ValueError(f"rates column {c!r} must be finite and >= 0")
            df[c] = v
        df = df.sort_values(["region_id", "t"], kind="stable")
        if df.duplicated(["region_id", "t"]).any():
            row = df[df.duplicated(["region_id", "t"])].iloc[0]
            raise ValueError(f"rates: region {row['region_id']} has two rows at the same time")
        self._edges: dict[str, np.ndarray] = {}
        self._cum: dict[tuple[str, str], np.ndarray] = {}
        self._rate: dict[tuple[str, str], np.ndarray] = {}
        for rid, g in df.groupby("region_id", sort=False):
            t = g["t"].to_numpy()
            step = self._last_step(str(rid), t, last_step)
            edges = np.append(t, t[-1] + step)
            widths = np.diff(edges) / _NS_PER_DAY
            self._edges[str(rid)] = edges
            for c in self.columns:
                r = g[c].to_numpy()
                self._rate[(str(rid), c)] = r
                self._cum[(str(rid), c)] = np.concatenate(([0.0], np.cumsum(r * widths)))

    @staticmethod
    def _last_step(rid: str, t: np.ndarray, last_step) -> int:
        if isinstance(last_step, Mapping) and rid in last_step:
            return int(pd.Timedelta(last_step[rid]).value)
        if isinstance(last_step, (pd.Timedelta, np.timedelta64, str)):
            return int(pd.Timedelta(last_step).value)
        if t.size > 1:
            return int(np.diff(t).min())
        for prefix, step in NATIVE_STEP.items():
            if rid.startswith(prefix):
                return int(step.value)
        raise ValueError(
            f"region {rid} has a single rates row and an unknown cadence; pass last_step"
        )

    @property
    def regions(self) -> list[str]:
        """Region ids with planted rates."""
        return list(self._edges)

    def _check(self, rid: str, column: str) -> None:
        if rid not in self._edges:
            raise KeyError(f"region {rid!r} has no rows in truth/rates.csv")
        if column not in self.columns:
            raise KeyError(f"rate column {column!r} not prepared; have {list(self.columns)}")

    def cumulative(self, region_id: str, t: ArrayLike, column: str) -> np.ndarray:
        """Integral of ``column`` from the region's first row up to each time ``t``."""
        rid = str(region_id)
        self._check(rid, column)
        return self._cumulative_ns(rid, _to_ns(t), column)

    def _cumulative_ns(self, rid: str, tn: np.ndarray, column: str) -> np.ndarray:
        edges, cum, rate = self._edges[rid], self._cum[(rid, column)], self._rate[(rid, column)]
        k = np.searchsorted(edges, tn, side="right") - 1
        inside = (k >= 0) & (k < rate.size)
        kk = np.clip(k, 0, rate.size - 1)
        part = cum[kk] + rate[kk] * ((tn - edges[kk]) / _NS_PER_DAY)
        return np.where(inside, part, np.where(k < 0, 0.0, cum[-1]))

    def rate_at(self, region_id: str | ArrayLike, t: ArrayLike, column: str) -> np.ndarray:
        """The rate in effect at each time ``t``: the row with ``b_k <= t < b_{k+1}`` (0 outside
        the region's rows). ``region_id`` is one id for all times or one per time.
        """
        tn = _to_ns(t)
        rids = np.full(tn.shape, region_id) if isinstance(region_id, str) else region_id
        rids = np.asarray(rids).astype(str)
        if rids.shape != tn.shape:
            raise ValueError("region_id must be one id or one per time")
        out = np.zeros(tn.size, dtype=np.float64)
        for rid in np.unique(rids):
            self._check(rid, column)
            sel = np.flatnonzero(rids == rid)
            edges, rate = self._edges[rid], self._rate[(rid, column)]
            k = np.searchsorted(edges, tn[sel], side="right") - 1
            inside = (k >= 0) & (k < rate.size)
            out[sel] = np.where(inside, rate[np.clip(k, 0, rate.size - 1)], 0.0)
        return out

    def integral(
        self, region_id: str | ArrayLike, t0: ArrayLike, t1: ArrayLike, column: str
    ) -> np.ndarray:
        """Integral of ``column`` over each window ``(t0, t1]`` (events; NaN never).

        ``region_id`` is one id for all windows or one per window. A window with ``t1 < t0``
        raises ``ValueError``.
        """
        t0n, t1n = _to_ns(t0), _to_ns(t1)
        if t0n.shape != t1n.shape:
            raise ValueError(f"t0 and t1 differ in length: {t0n.size} vs {t1n.size}")
        if np.any(t1n < t0n):
            i = int(np.argmax(t1n < t0n))
            raise ValueError(f"window {i} ends before it starts")
        if isinstance(region_id, str):
            region_id = np.full(t0n.shape, region_id)
        rids = np.asarray(region_id).astype(str)
        if rids.shape != t0n.shape:
            raise ValueError("region_id must be one id or one per window")
        out = np.empty(t0n.size, dtype=np.float64)
        codes, uniq = pd.factorize(rids)
        order = np.argsort(codes, kind="stable")
        bounds = np.searchsorted(codes[order], np.arange(len(uniq) + 1))
        for j, rid in enumerate(uniq):
            sel = order[bounds[j] : bounds[j + 1]]
            self._check(rid, column)
            out[sel] = self._cumulative_ns(rid, t1n[sel], column) - self._cumulative_ns(
                rid, t0n[sel], column
            )
        return np.maximum(out, 0.0)


def read_rates(path: str | os.PathLike) -> pd.DataFrame:
    """Read ``truth/rates.csv`` (``region_id`` kept as a string)."""
    return pd.read_csv(path, dtype={"region_id": str, "t_utc": str})


def window_integral(
    rates: pd.DataFrame | RateIntegrator,
    region_id: str | ArrayLike,
    t0: ArrayLike,
    t1: ArrayLike,
    column: str = "rate_m_per_day",
) -> np.ndarray:
    """Exact integral of a planted rate over windows ``(t0, t1]``.

    Parameters
    ----------
    rates : pandas.DataFrame or RateIntegrator
        ``truth/rates.csv`` or an integrator built from it (build one when integrating repeatedly).
    region_id : str or array_like
        One region for all windows, or one per window.
    t0, t1 : array_like
        Window starts and ends (ISO strings, timestamps or datetime64; naive UTC).
    column : str, default "rate_m_per_day"
        Rate column (events per day).

    Returns
    -------
    numpy.ndarray
        Expected number of events in each window. The rate is 0 outside the region's rows.
    """
    integ = rates if isinstance(rates, RateIntegrator) else RateIntegrator(rates, columns=[column])
    return integ.integral(region_id, t0, t1, column)


def oracle_probabilities(
    samples: pd.DataFrame, rates: pd.DataFrame | RateIntegrator
) -> pd.DataFrame:
    """The oracle's probabilities for each sample (see the module docstring).

    Parameters
    ----------
    samples : pandas.DataFrame
        ``samples.csv`` rows (``sample_id, region_id, t_start, t_end, pred_end``).
    rates : pandas.DataFrame or RateIntegrator
        Planted rates.

    Returns
    -------
    pandas.DataFrame
        One row per sample, in input order: ``sample_id``, ``lambda_m_pred``,
        ``lambda_all_obs``, ``lambda_all_pred``, ``p_m`` (STRONG prediction window),
        ``p_quiet`` (QUIET observation and prediction windows), ``log_odds`` (of ``q``, finite
        even where ``q`` rounds to 0 or 1) and ``q`` (positive given kept).
    """
    need = ["sample_id", "region_id", "t_start", "t_end", "pred_end"]
    missing = [c for c in need if c not in samples.columns]
    if missing:
        raise ValueError(f"samples lack columns {missing}")
    integ = (
        rates
        if isinstance(rates, RateIntegrator)
        else RateIntegrator(rates, columns=["rate_all_per_day", "rate_m_per_day"])
    )
    rid = samples["region_id"].astype(str).to_numpy()
    ts, te, tp = _to_ns(samples["t_start"]), _to_ns(samples["t_end"]), _to_ns(samples["pred_end"])
    lam_m = integ.integral(rid, te, tp, "rate_m_per_day")
    lam_obs = integ.integral(rid, ts, te, "rate_all_per_day")
    lam_pred = integ.integral(rid, te, tp, "rate_all_per_day")
    with np.errstate(divide="ignore"):
        log_pm = np.log(-np.expm1(-lam_m))  # log(1 - exp(-Λ_M)); -inf when Λ_M = 0
    log_odds = log_pm + lam_obs + lam_pred  # log p_m - log p_quiet
    return pd.DataFrame(
        {
            "sample_id": samples["sample_id"].astype(str).to_numpy(),
            "lambda_m_pred": lam_m,
            "lambda_all_obs": lam_obs,
            "lambda_all_pred": lam_pred,
            "p_m": -np.expm1(-lam_m),
            "p_quiet": np.exp(-lam_obs - lam_pred),
            "log_odds": log_odds,
            "q": expit(log_odds),
        }
    )


def prior_ratio(labels: ArrayLike) -> float:
    """Class ratio ``N+ / N-`` of a labelled population (pass all labels, before undersampling)."""
    y = np.asarray(labels).astype(np.int64)
    n_pos = int(np.sum(y == 1))
    n_neg = int(np.sum(y == 0))
    if n_pos == 0 or n_neg == 0:
        raise ValueError(
            f"prior ratio needs both classes; got {n_pos} positives, {n_neg} negatives"
        )
    return n_pos / n_neg


def oracle_predictions(
    samples_in_split: pd.DataFrame,
    q: ArrayLike,
    prior_ratio: float,
) -> pd.DataFrame:
    """The TSS-optimal oracle forecast as a predictions frame.

    Parameters
    ----------
    samples_in_split : pandas.DataFrame
        Samples to forecast with ``sample_id, split, label`` (e.g. the split file joined with
        ``samples.csv``), aligned with ``q``.
    q : array_like
        Posterior ``P(label = 1 | kept)`` per sample (``oracle_probabilities(...)['q']``), or its
        log-odds when given as a ``pandas.Series`` named ``log_odds`` (more precise in the tails).
    prior_ratio : float
        ``N+ / N-`` of the labelled population before undersampling.

    Returns
    -------
    pandas.DataFrame
        ``sample_id, split, label, prob`` with ``prob = odds / (odds + prior_ratio)``,
        ``odds = q / (1 - q)``: forecasting ``prob >= 0.5`` is the rule ``odds >= N+ / N-``.
    """
    if not (prior_ratio > 0 and np.isfinite(prior_ratio)):
        raise ValueError(f"prior_ratio must be a positive number, got {prior_ratio!r}")
    need = ["sample_id", "split", "label"]
    missing = [c for c in need if c not in samples_in_split.columns]
    if missing:
        raise ValueError(f"samples_in_split lacks columns {missing}")
    if isinstance(q, pd.Series) and q.name == "log_odds":
        lo = q.to_numpy(dtype=np.float64)
    else:
        qa = np.asarray(q, dtype=np.float64)
        if np.any((qa < 0) | (qa > 1) | ~np.isfinite(qa)):
            raise ValueError("q must be probabilities in [0, 1]")
        with np.errstate(divide="ignore"):
            lo = logit(qa)
    if lo.shape[0] != len(samples_in_split):
        raise ValueError(f"q has {lo.shape[0]} values for {len(samples_in_split)} samples")
    prob = expit(lo - np.log(prior_ratio))
    return pd.DataFrame(
        {
            "sample_id": samples_in_split["sample_id"].astype(str).to_numpy(),
            "split": samples_in_split["split"].astype(str).to_numpy(),
            "label": samples_in_split["label"].astype(np.int64).to_numpy(),
            "prob": prob,
        }
    )


def oracle_split_predictions(
    samples: pd.DataFrame,
    split: pd.DataFrame,
    rates: pd.DataFrame | RateIntegrator,
    splits: tuple[str, ...] = ("val", "test"),
    ratio: float | None = None,
) -> pd.DataFrame:
    """Oracle predictions for one split file, in the format of a model's ``predictions.csv``.

    Parameters
    ----------
    samples : pandas.DataFrame
        The full labelled ``samples.csv`` (before undersampling).
    split : pandas.DataFrame
        ``split_<run>.csv`` (``sample_id, split``).
    rates : pandas.DataFrame or RateIntegrator
        Planted rates.
    splits : tuple of str
        Splits to forecast (models predict val and test).
    ratio : float, optional
        ``N+ / N-``; by default from the labels of the samples of the instruments in the forecast
        splits.

    Returns
    -------
    pandas.DataFrame
        ``sample_id, split, label, prob``.
    """
    m, pop = split_population(samples, split, splits)
    if ratio is None:
        ratio = prior_ratio(pop["label"])
    probs = oracle_probabilities(m, rates)
    return oracle_predictions(m, probs["log_odds"], ratio)


def split_population(
    samples: pd.DataFrame, split: pd.DataFrame, splits: tuple[str, ...] = ("val", "test")
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The samples to forecast and the population their prior ratio comes from.

    Returns ``(m, pop)``: ``m`` the split file's rows of ``splits`` joined with ``samples.csv``
    (split file order), ``pop`` every labelled sample of the instruments in ``m`` (all samples
    when there is no ``instrument`` column), ``sample_id`` as strings in both.
    """
    sel = split[split["split"].isin(list(splits))][["sample_id", "split"]].astype(str)
    s = samples.assign(sample_id=samples["sample_id"].astype(str))
    m = sel.merge(s, on="sample_id", how="left", validate="one_to_one")
    if m["region_id"].isna().any():
        bad = m.loc[m["region_id"].isna(), "sample_id"].iloc[0]
        raise ValueError(f"split names sample {bad!r}, which is not in samples.csv")
    pop = s
    if "instrument" in s.columns and "instrument" in m.columns:
        pop = s[s["instrument"].isin(m["instrument"].unique())]
    return m, pop.reset_index(drop=True)
