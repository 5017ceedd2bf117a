"""The hostile-input corpus (tests/hostile.py) passes: every case a clear error, a rejection with
its reason, an accepted input or a recovered rerun; never a raw traceback, a hang or a lost row.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import hostile
from hostile import BAD, Case, Prepared, corpus, run_case, run_corpus, summary


def test_the_corpus_is_seeded_and_covers_every_kind():
    a, b = corpus(), corpus()
    assert [(c.kind, c.name) for c in a] == [(c.kind, c.name) for c in b]
    kinds = {c.kind for c in a}
    assert kinds == {"config", "fits", "flares", "keywords", "intermediate", "jsoc"}
    assert len(a) >= 160
    assert len({(c.kind, c.name) for c in a}) >= len(a) - 3  # config picks may repeat a key


def _case(call, names=("the-file",), check=None, limit_s=5.0) -> Case:
    prep = Prepared(call, names, check) if check else Prepared(call, names)
    return Case("self-test", "x", lambda folder: prep, limit_s=limit_s)


def _raise(exc):
    def call():
        raise exc

    return call


@pytest.mark.parametrize(
    ("case", "outcome"),
    [
        (_case(lambda: 1), "accepted"),
        (_case(_raise(ValueError("the-file: bad row 3"))), "clear_error"),
        (_case(_raise(OSError(28, "no space left for the-file"))), "clear_error"),
        (_case(_raise(ValueError("invalid literal for int()"))), "unnamed_error"),
        (_case(_raise(KeyError("T_REC"))), "raw_error"),
        (_case(_raise(TypeError("NoneType"))), "raw_error"),
        (_case(lambda: time.sleep(5), limit_s=0.2), "hang"),
        (
            _case(lambda: 1, check=lambda v: (_ for _ in ()).throw(hostile.LostRows("x"))),
            "lost_rows",
        ),
        (_case(lambda: 1, check=lambda v: (_ for _ in ()).throw(hostile.Wrong("x"))), "wrong"),
    ],
)
def test_the_judge_tells_good_from_bad_outcomes(tmp_path, case, outcome):
    assert run_case(case, tmp_path).outcome == outcome


def test_every_hostile_case_ends_well(tmp_path: Path, capsys):
    t0 = time.monotonic()
    results = run_corpus(corpus(), tmp_path)
    with capsys.disabled():
        print(f"\nhostile corpus: {len(results)} cases in {time.monotonic() - t0:.1f} s")
        print(summary(results))
    bad = [f"{r.outcome}: {r.case.kind}: {r.case.name}: {r.detail}" for r in results]
    bad = [b for b, r in zip(bad, results, strict=True) if r.outcome in BAD]
    assert not bad, "\n".join(bad)
    for r in results:
        assert r.seconds < r.case.limit_s + 5, (r.case.name, r.seconds)
    table = summary(results)
    docs = (Path(__file__).resolve().parents[1] / "docs" / "RELIABILITY.md").read_text()
    assert table in docs, f"docs/RELIABILITY.md quotes other corpus counts; now:\n{table}"
    # every kind has cases that must be refused: a corpus that only accepts proves nothing
    for kind in {r.case.kind for r in results}:
        assert any(r.outcome != "accepted" for r in results if r.case.kind == kind), kind
