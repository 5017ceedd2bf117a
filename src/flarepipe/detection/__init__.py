"""Active-region detection on full-disk magnetograms (de Oliveira & Gradvohl 2020, SCIENCE.md).

:mod:`~flarepipe.detection.classical` finds regions the way HARP/TARP patches are found (strong
field, morphology, connected components, merging by proximity; scikit-image);
:mod:`~flarepipe.detection.metrics` scores any detector's boxes against true ones with pycocotools
(precision, recall, F1 at an IoU, COCO mAP at 0.5 and 0.5:0.95).

Boxes everywhere are pixel edges ``(x0, y0, x1, y1)``: columns ``x0 <= x < x1`` and rows
``y0 <= y < y1`` of ``data[y, x]``, floats.
"""
