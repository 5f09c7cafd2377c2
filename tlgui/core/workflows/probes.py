"""Cheap estimates of how well a frozen backbone's features serve a task.

* :func:`linear_probe`: stratified K-fold logistic regression, fitted the way a head-only
  run fits its head (full-batch L-BFGS, L2 strength picked on held-out images,
  :mod:`tlgui.core.training.head_fit`); mean and spread of the held-out accuracy, and the
  accuracy on the images it was fitted on (the training fit).
* :func:`knn_accuracy`: leave-one-out k-nearest-neighbour accuracy, cosine similarity.
* :func:`logme`: LogME (You et al., ICML 2021), the mean per-class log evidence of Bayesian
  linear regression from the features to the one-hot labels.

At a few hundred images a direct K-fold probe ranks backbones as well as or better than the
transferability scores (Renggli et al. 2022), so the ranking uses the probe; kNN and LogME are
shown beside it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from tlgui.core.base.cancel import StopFlag, stop_check
from tlgui.core.training.feature_cache import Features
from tlgui.core.training.head_fit import L2_GRID, SEARCH_ITERATIONS, TOTAL_ITERATIONS, lbfgs


@dataclass(frozen=True)
class ProbeResult:
    accuracy: float  # mean held-out accuracy over the folds
    accuracy_std: float
    train_accuracy: float  # mean accuracy on the folds' own training images
    folds: int


def stratified_folds(labels: np.ndarray, folds: int, seed: int = 0) -> list[np.ndarray]:
    """Indices of ``folds`` held-out parts, each class spread evenly over them."""
    rng = np.random.default_rng(seed)
    parts: list[list[int]] = [[] for _ in range(folds)]
    offset = 0
    for label in np.unique(labels):
        index = rng.permutation(np.flatnonzero(labels == label))
        for i, item in enumerate(index):
            parts[(i + offset) % folds].append(int(item))
        offset += len(index)  # the next class starts where this one ended: folds stay even in size
    return [np.sort(np.array(p, dtype=np.int64)) for p in parts]


def usable_folds(labels: np.ndarray, folds: int) -> int:
    """At most ``folds``, at least 2, and no more than the rarest class has images (where it can)."""
    smallest = int(np.bincount(labels).min()) if len(labels) else 0
    return max(2, min(int(folds), max(smallest, 2)))


class _Heads(nn.Module):
    """``count`` independent logistic-regression heads, each initialised as ``nn.Linear`` would be."""

    def __init__(self, count: int, dim: int, classes: int, seed: int, device):
        super().__init__()
        torch.manual_seed(seed)
        bound = 1 / math.sqrt(dim)
        self.weight = nn.Parameter(torch.empty(count, classes, dim, device=device).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(count, classes, device=device).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, D) -> (N, count, classes), one matrix product
        count, classes, dim = self.weight.shape
        return (x @ self.weight.reshape(count * classes, dim).T).view(len(x), count, classes) + self.bias


def _losses(heads: _Heads, features: Features) -> torch.Tensor:
    """Cross-entropy of every image under every head: (count, N)."""
    logits = heads(features.x).float()
    picked = logits.gather(2, features.y.view(-1, 1, 1).expand(-1, logits.shape[1], 1)).squeeze(2)
    return (logits.logsumexp(2) - picked).T


def fit_heads(features: Features, train: torch.Tensor, l2: torch.Tensor, classes: int, seed: int,
              iterations: int, start: tuple[torch.Tensor, torch.Tensor] | None = None) -> _Heads:
    """Fit ``len(train)`` logistic regressions at once: head k on the images where ``train[k]`` is
    True, L2 strength ``l2[k]`` on the mean cross-entropy's scale (as :func:`head_fit.fit_full_batch`).
    The problems are independent, so the sum of their objectives has each one's optimum: one
    L-BFGS run instead of one per fold and per L2 strength, ~5x fewer Python steps. ``start``:
    (weight, bias) of one head every head starts from (a warm start), else ``nn.Linear``'s."""
    heads = _Heads(len(train), features.x.shape[1], classes, seed, features.x.device)
    if start is not None:
        with torch.no_grad():
            heads.weight.copy_(start[0].expand_as(heads.weight))
            heads.bias.copy_(start[1].expand_as(heads.bias))
    weight = train.float() / train.float().sum(1, keepdim=True).clamp_min(1)
    optimizer = lbfgs(heads, iterations)

    def closure():
        optimizer.zero_grad(set_to_none=True)
        loss = (_losses(heads, features) * weight).sum() + 0.5 * (l2 * heads.weight.pow(2).sum((1, 2))).sum()
        loss.backward()
        return loss

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matrices: see head_fit.fit_full_batch
    try:
        with torch.enable_grad():
            optimizer.step(closure)
    finally:
        torch.set_num_threads(threads)
    return heads


@torch.no_grad()
def _scores(heads: _Heads, features: Features, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per head: accuracy and mean loss over the images where ``rows[k]`` is True."""
    correct = (heads(features.x).argmax(2) == features.y[:, None]).float().T
    count = rows.float().sum(1).clamp_min(1)
    return (correct * rows).sum(1) / count, (_losses(heads, features) * rows).sum(1) / count


def pick_probe_l2(features: Features, classes: int,
                  seed: int) -> tuple[float, tuple[torch.Tensor, torch.Tensor] | None]:
    """The L2 strength the probe uses for every fold: the grid's best on one inner stratified
    hold-out (accuracy, then loss, as :func:`head_fit.pick_l2`), all strengths fitted at once;
    and that fit's (weight, bias), the folds' warm start."""
    labels = features.y.cpu().numpy()
    inner = stratified_folds(labels, 5, seed + 1)[0] if len(labels) >= 10 else np.array([], dtype=np.int64)
    held = np.zeros(len(labels), dtype=bool)
    held[inner] = True
    if not len(inner) or len(np.unique(labels[~held])) < len(np.unique(labels)):
        return 1e-3, None
    held_t = torch.as_tensor(held, device=features.x.device)
    grid = torch.tensor(L2_GRID, device=features.x.device)
    heads = fit_heads(features, (~held_t).expand(len(grid), -1), grid, classes, seed, SEARCH_ITERATIONS)
    accuracy, loss = _scores(heads, features, held_t.expand(len(grid), -1))
    keys = [(float(a), -float(v) if math.isfinite(float(v)) else -math.inf)
            for a, v in zip(accuracy, loss, strict=True)]
    best = max(range(len(keys)), key=lambda i: (keys[i], -i))  # ties: the weakest, as pick_l2
    return L2_GRID[best], (heads.weight[best].detach(), heads.bias[best].detach())


def linear_probe(features: Features, classes: int, folds: int = 5, seed: int = 0,
                 should_stop: StopFlag = None) -> ProbeResult | None:
    """K-fold linear-probe accuracy of ``features`` (None when stopped): one L2 strength picked
    once, then every fold's head fitted in one batched L-BFGS run."""
    stop = stop_check(should_stop)
    labels = features.y.cpu().numpy()
    folds = usable_folds(labels, folds)
    if stop():
        return None
    l2, start = pick_probe_l2(features, classes, seed)
    if stop():
        return None
    held = torch.zeros(folds, len(labels), dtype=torch.bool, device=features.x.device)
    for k, part in enumerate(stratified_folds(labels, folds, seed)):
        held[k, torch.as_tensor(part, device=held.device)] = True
    heads = fit_heads(features, ~held, torch.full((folds,), l2, device=held.device), classes, seed,
                      TOTAL_ITERATIONS, start)
    scores = _scores(heads, features, held)[0].cpu().numpy()
    fits = _scores(heads, features, ~held)[0].cpu().numpy()
    return ProbeResult(float(np.mean(scores)), float(np.std(scores, ddof=1)) if len(scores) > 1 else 0.0,
                       float(np.mean(fits)), folds)


def knn_k(count: int) -> int:
    """k for the kNN estimate: about the square root of the images, odd, 1 to 15."""
    k = int(round(math.sqrt(max(1, count))))
    return max(1, min(15, k if k % 2 else k - 1 if k > 1 else 1))


@torch.no_grad()
def knn_accuracy(features: Features, classes: int, k: int | None = None) -> float:
    """Leave-one-out kNN accuracy, cosine similarity, votes weighted by similarity."""
    x = nn.functional.normalize(features.x.float(), dim=1)
    y = features.y
    n = len(y)
    if n < 2:
        return float("nan")
    k = min(k or knn_k(n), n - 1)
    correct = 0
    for start in range(0, n, 1024):
        sim = x[start : start + 1024] @ x.T
        rows = torch.arange(sim.shape[0], device=sim.device)
        sim[rows, rows + start] = -math.inf  # leave the image itself out
        top, index = sim.topk(k, dim=1)
        votes = torch.zeros(sim.shape[0], classes, device=sim.device)
        # similarity in [0, 2], so a vote never counts against
        votes.scatter_add_(1, y[index], (top + 1.0).clamp_min(0))
        correct += int((votes.argmax(1) == y[start : start + 1024]).sum())
    return correct / n


def _evidence(sigma: np.ndarray, z: np.ndarray, y_norm2: float, n: int, d: int, alpha: float, beta: float):
    """Log evidence of y given features with squared singular values ``sigma`` (r of them) and
    ``z`` = U^T y, at prior precision ``alpha`` and noise precision ``beta``; also the posterior
    mean's squared norm, the residual and gamma (the effective number of parameters)."""
    denom = alpha + beta * sigma
    m2 = float(np.sum((beta * np.sqrt(sigma) * z / denom) ** 2))
    residual = float(max(y_norm2 - np.sum(z**2), 0.0) + np.sum((alpha * z / denom) ** 2))
    gamma = float(np.sum(beta * sigma / denom))
    # log|alpha I + beta F^T F| over all D eigenvalues: the D - r zero ones add (D - r) log alpha.
    # The reference code (You et al., LogME.py) leaves this term out when N < D.
    log_det = float(np.sum(np.log(denom)) + (d - len(sigma)) * math.log(alpha))
    value = (d / 2 * math.log(alpha) + n / 2 * math.log(beta) - log_det / 2 - beta / 2 * residual
             - alpha / 2 * m2 - n / 2 * math.log(2 * math.pi))
    return value, m2, residual, gamma


def _svd(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """U and the singular values of ``features`` (float64), on one thread: numpy's threaded BLAS
    took 0.2-1 s for a 100 x 128 matrix on two busy cores, one thread 2 ms."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        u, s, _ = torch.linalg.svd(torch.as_tensor(features, dtype=torch.float64), full_matrices=False)
    finally:
        torch.set_num_threads(threads)
    return u.numpy(), s.numpy()


def log_evidence(features: np.ndarray, y: np.ndarray, alpha: float, beta: float) -> float:
    """The log evidence at fixed ``alpha`` and ``beta`` (see :func:`_evidence`), for tests and :func:`logme`."""
    f = np.asarray(features, dtype=np.float64)
    u, s = _svd(f)
    y = np.asarray(y, dtype=np.float64)
    return _evidence(s**2, u.T @ y, float(y @ y), f.shape[0], f.shape[1], alpha, beta)[0]


def logme(features: np.ndarray, labels: np.ndarray, classes: int, iterations: int = 50) -> float:
    """LogME: the mean over classes of the maximised log evidence per image (higher is better)."""
    f = np.asarray(features, dtype=np.float64)
    n, d = f.shape
    u, s = _svd(f)
    sigma = s**2
    total = 0.0
    for c in range(classes):
        y = (labels == c).astype(np.float64)
        z, y_norm2 = u.T @ y, float(y @ y)
        alpha, beta = 1.0, 1.0
        for _ in range(iterations):  # MacKay's fixed point (You et al., Algorithm 1)
            _, m2, residual, gamma = _evidence(sigma, z, y_norm2, n, d, alpha, beta)
            new_alpha = gamma / max(m2, 1e-12)
            new_beta = max(n - gamma, 1e-12) / max(residual, 1e-12)
            done = abs(new_alpha / new_beta - alpha / beta) <= 1e-3 * (alpha / beta)
            alpha, beta = max(new_alpha, 1e-12), max(new_beta, 1e-12)
            if done:
                break
        total += _evidence(sigma, z, y_norm2, n, d, alpha, beta)[0] / n
    return total / classes
