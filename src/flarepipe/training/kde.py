"""Kernel-density discriminant of Dhuri et al. 2020 (S4): Epanechnikov densities per class.

The features (``MTOT``, or ``MTOT`` and the dipole moment) are taken as ``log10`` and standardised
with the training statistics; one :class:`sklearn.neighbors.KernelDensity` (Epanechnikov kernel)
is fitted per class, with Scott's bandwidth ``n^(−1/(d+4))`` unless given. The score of a sample is
the log-likelihood ratio ``log p(x|PE) − log p(x|NE)``; the forecast is PE where it exceeds
``log(π_NE/π_PE)`` of the training classes, Bayes' rule for the training mix (0 for the balanced
PE/NE segments of the paper). The Epanechnikov kernel has compact support: outside a class's
support its density would be zero, so each class density carries a ``1e-12`` share of a
Gaussian of the class's mean and covariance: inside the supports the kernel densities decide,
beyond them the tails do (a flux far above every training segment is PE, not a tie).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import multivariate_normal
from sklearn.neighbors import KernelDensity

__all__ = ["KDEDiscriminant"]

_TAIL_SHARE = 1e-12


class KDEDiscriminant:
    """Two-class Epanechnikov kernel-density discriminant (Bayes rule on the training priors).

    Parameters
    ----------
    bandwidth
        Kernel bandwidth in standardised units; None: Scott's rule.
    log_features
        Take ``log10`` of the (positive) features first.
    """

    def __init__(self, bandwidth: float | None = None, log_features: bool = True) -> None:
        if bandwidth is not None and bandwidth <= 0:
            raise ValueError(f"KDE bandwidth must be > 0, got {bandwidth}")
        self.bandwidth = bandwidth
        self.log_features = log_features

    def _prep(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        if X.ndim == 1:
            X = X[:, None]
        if self.log_features:
            if np.any(X <= 0):
                raise ValueError("KDE features must be > 0 to take log10 (e.g. MTOT in Mx)")
            X = np.log10(X)
        return X

    def fit(self, X: np.ndarray, y: np.ndarray) -> KDEDiscriminant:
        """Fit on features ``X`` [n, d] (or [n]) and labels ``y`` (0/1)."""
        X = self._prep(X)
        y = np.asarray(y).astype(int)
        if set(np.unique(y)) != {0, 1}:
            raise ValueError("the KDE discriminant needs both classes (PE and NE) in training")
        self.mean_, self.scale_ = X.mean(axis=0), X.std(axis=0)
        self.scale_[self.scale_ == 0] = 1.0
        Z = (X - self.mean_) / self.scale_
        self.kdes_ = {}
        for c in (0, 1):
            zc = Z[y == c]
            bw = self.bandwidth or len(zc) ** (-1.0 / (Z.shape[1] + 4))
            self.kdes_[c] = KernelDensity(kernel="epanechnikov", bandwidth=bw).fit(zc)
        self.tails_ = {}
        for c in (0, 1):
            zc = Z[y == c]
            cov = np.atleast_2d(np.cov(zc, rowvar=False)) + 1e-6 * np.eye(Z.shape[1])
            self.tails_[c] = multivariate_normal(zc.mean(axis=0), cov)
        n1 = int(y.sum())
        self.threshold_ = math.log((len(y) - n1) / n1)
        return self

    def _log_density(self, c: int, Z: np.ndarray) -> np.ndarray:
        tail = np.atleast_1d(self.tails_[c].logpdf(Z)) + math.log(_TAIL_SHARE)
        return np.logaddexp(self.kdes_[c].score_samples(Z), tail)

    def score(self, X: np.ndarray) -> np.ndarray:
        """Log-likelihood ratio ``log p(x|PE) − log p(x|NE)`` of every sample."""
        Z = (self._prep(X) - self.mean_) / self.scale_
        return self._log_density(1, Z) - self._log_density(0, Z)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """PE (1) where the log-likelihood ratio exceeds the Bayes threshold, else NE (0)."""
        return (self.score(X) > self.threshold_).astype(int)

    def boundary(self, grid: np.ndarray) -> np.ndarray:
        """Forecast on a grid of feature values (the decision boundary's two sides), 0/1."""
        return self.predict(grid)
