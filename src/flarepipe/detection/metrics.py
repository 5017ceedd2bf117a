"""Detection scores through pycocotools: precision, recall and F1 at one IoU, COCO mAP.

Boxes are pixel edges ``(x0, y0, x1, y1)`` (:mod:`flarepipe.detection`); one entry per image in
``truth`` and ``predicted``. mAP is COCO's (101-point interpolated precision, averaged over IoU
thresholds 0.50:0.05:0.95 for ``map`` and at 0.50 for ``map50``); precision, recall and F1 count
the greedy, score-ordered matches COCO's evaluation makes at ``iou`` (every prediction kept, no
score threshold), so all figures come from one matching.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Sequence

import numpy as np

__all__ = ["detection_scores"]


def _as_boxes(value, what: str, index: int) -> np.ndarray:
    boxes = np.asarray(value, dtype=float).reshape(-1, 4) if len(value) else np.zeros((0, 4))
    if not np.isfinite(boxes).all():
        raise ValueError(f"{what} of image {index}: a box coordinate is not finite")
    if ((boxes[:, 2] <= boxes[:, 0]) | (boxes[:, 3] <= boxes[:, 1])).any():
        raise ValueError(f"{what} of image {index}: a box has x1 <= x0 or y1 <= y0")
    return boxes


def detection_scores(
    truth: Sequence[Sequence[Sequence[float]]],
    predicted: Sequence[Sequence[Sequence[float]]],
    scores: Sequence[Sequence[float]],
    *,
    iou: float = 0.5,
) -> dict[str, float]:
    """Precision, recall, F1 at ``iou`` and COCO ``map`` / ``map50`` of predicted boxes.

    ``truth[i]`` and ``predicted[i]`` are the boxes of image ``i``, ``scores[i]`` the predictions'
    confidences (higher first). An image may have no boxes. Returns a dict with ``precision``,
    ``recall``, ``f1``, ``map``, ``map50``, ``n_true``, ``n_predicted`` (NaN where undefined: no
    true box, or no prediction for precision).
    """
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    if not len(truth) == len(predicted) == len(scores):
        raise ValueError(
            f"truth, predicted and scores must have one entry per image "
            f"(got {len(truth)}, {len(predicted)}, {len(scores)})"
        )
    if not 0 < iou < 1:
        raise ValueError(f"iou must lie in (0, 1), got {iou}")
    images, annotations, detections = [], [], []
    for i, (t, p, s) in enumerate(zip(truth, predicted, scores, strict=True)):
        tb, pb = _as_boxes(t, "truth", i), _as_boxes(p, "predicted", i)
        sc = np.asarray(s, dtype=float).reshape(-1)
        if len(sc) != len(pb):
            raise ValueError(f"image {i}: {len(pb)} predicted boxes but {len(sc)} scores")
        images.append({"id": i + 1})
        for b in tb:
            w, h = b[2] - b[0], b[3] - b[1]
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": i + 1,
                    "category_id": 1,
                    "bbox": [b[0], b[1], w, h],
                    "area": w * h,
                    "iscrowd": 0,
                }
            )
        for b, c in zip(pb, sc, strict=True):
            detections.append(
                {
                    "image_id": i + 1,
                    "category_id": 1,
                    "bbox": [b[0], b[1], b[2] - b[0], b[3] - b[1]],
                    "score": float(c),
                }
            )
    n_true, n_pred = len(annotations), len(detections)
    out = {"n_true": n_true, "n_predicted": n_pred}
    nan = float("nan")
    if n_true == 0:
        return {**out, "precision": nan, "recall": nan, "f1": nan, "map": nan, "map50": nan}
    if n_pred == 0:
        return {**out, "precision": nan, "recall": 0.0, "f1": 0.0, "map": 0.0, "map50": 0.0}
    max_dets = max(100, max(len(p) for p in predicted))
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints its progress
        gt = COCO()
        gt.dataset = {"images": images, "annotations": annotations, "categories": [{"id": 1}]}
        gt.createIndex()
        dt = gt.loadRes(detections)
        ev = COCOeval(gt, dt, iouType="bbox")
        thresholds = sorted({*np.round(np.linspace(0.5, 0.95, 10), 2), round(iou, 4)})
        ev.params.iouThrs = np.array(thresholds)
        ev.params.maxDets = [1, 10, max_dets]
        ev.params.areaRng = [[0, 1e10]]
        ev.params.areaRngLbl = ["all"]
        ev.evaluate()
        ev.accumulate()
    precision = ev.eval["precision"][:, :, 0, 0, -1]  # [iou, recall point]
    coco = [k for k, t in enumerate(thresholds) if t in np.round(np.linspace(0.5, 0.95, 10), 2)]
    k50 = thresholds.index(0.5)
    k_iou = thresholds.index(round(iou, 4))
    ap = [np.mean(p[p > -1]) if (p > -1).any() else 0.0 for p in precision]
    tp = fp = matched = 0
    for e in ev.evalImgs:
        if e is None:
            continue
        dt_ok = ~np.asarray(e["dtIgnore"][k_iou], dtype=bool)
        hits = np.asarray(e["dtMatches"][k_iou]) > 0
        tp += int((hits & dt_ok).sum())
        fp += int((~hits & dt_ok).sum())
        matched += int((np.asarray(e["gtMatches"][k_iou]) > 0).sum())
    prec = tp / (tp + fp) if tp + fp else nan
    rec = matched / n_true
    f1 = 2 * prec * rec / (prec + rec) if prec + rec > 0 else 0.0
    return {
        **out,
        "precision": prec,
        "recall": rec,
        "f1": f1,
        "map": float(np.mean([ap[k] for k in coco])),
        "map50": float(ap[k50]),
    }
