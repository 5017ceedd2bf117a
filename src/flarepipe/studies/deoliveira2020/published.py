"""The figures de Oliveira & Gradvohl 2020 publish, for the report's side-by-side table."""

#: detection on full-disk frames (their YOLO-based detector, random 70/20/10 frame split)
DETECTION = {"precision": 0.808, "recall": 0.742, "map50": 0.614}
#: classification of region crops into Mt. Wilson classes (their Inception classifier)
CLASSIFICATION = {"accuracy": 0.88}
