"""Reading and writing dataset directories: validation naming file:line, atomic writes."""

from __future__ import annotations

import json

import pytest

from pathrl.data import Example, load_dataset, load_split, write_dataset
from pathrl.data import example as example_module
from pathrl.data.build import DatasetSplits
from pathrl.demo import demo_schema
from pathrl.errors import PathrlError
from pathrl.paths import PathVocab


def _example(**over) -> Example:
    row = dict(id="x1", question="List the payments of contract HT-2022-001.", language="en",
               anchor="contract", target="payment", via=(), path_id="contract>payment", hops=1,
               wording="precise", style="plain", category="list", priority="P0",
               entity="HT-2022-001",
               filter={"entity": "HT-2022-001", "date_from": None, "date_to": None})
    row.update(over)
    return Example(**row)


def _splits(*examples: Example) -> DatasetSplits:
    splits = DatasetSplits(train=list(examples), val=[], test=[], heldout=[])
    splits.report = {"schema": "demo_pm"}
    return splits


def test_round_trip(tmp_path):
    ex = _example(via=("contract",), anchor="project", path_id="project>contract>payment",
                  hops=2, entity="Jakarta Bridge",
                  filter={"entity": "Jakarta Bridge", "date_from": "2021-01-01",
                          "date_to": "2021-03-31"})
    write_dataset(_splits(ex), tmp_path / "ds")
    loaded = load_split(tmp_path / "ds" / "train.jsonl", PathVocab.from_schema(demo_schema()))
    assert loaded == [ex]
    assert loaded[0].triple == ("project", "payment", ("contract",))
    assert loaded[0].to_filter().date_to == "2021-03-31"
    manifest = json.loads((tmp_path / "ds" / "manifest.json").read_text())
    assert manifest["splits"]["train"] == {"file": "train.jsonl", "count": 1}
    assert set(load_dataset(tmp_path / "ds")) == {"train", "val", "test", "heldout"}


@pytest.mark.parametrize("row, message", [
    ("not json", "bad example"),
    (json.dumps({"question": "q"}), "missing field"),
    (None, "illegal label"),  # filled below: a route that is not a legal path
    ("[]", "JSON object"),
])
def test_bad_rows_name_file_and_line(tmp_path, row, message):
    good = _example().to_json()
    if row is None:
        bad = _example(target="invoice", path_id="contract>invoice").to_dict()
        row = json.dumps(bad)
    path = tmp_path / "train.jsonl"
    path.write_text(good + "\n" + row + "\n", encoding="utf-8")
    with pytest.raises(PathrlError, match=rf"train.jsonl:2: .*{message}"):
        load_split(path, PathVocab.from_schema(demo_schema()))


def test_bad_dates_and_wording_rejected(tmp_path):
    path = tmp_path / "t.jsonl"
    row = _example().to_dict()
    row["filter"]["date_from"] = "31/12/2021"
    path.write_text(json.dumps(row) + "\n")
    with pytest.raises(PathrlError, match="t.jsonl:1"):
        load_split(path)
    row = _example().to_dict()
    row["wording"] = "vague"
    path.write_text(json.dumps(row) + "\n")
    with pytest.raises(PathrlError, match="wording"):
        load_split(path)


def test_failed_write_leaves_nothing_half_written(tmp_path, monkeypatch):
    out = tmp_path / "ds"
    write_dataset(_splits(_example()), out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    calls = {"n": 0}
    real = example_module._write_lines

    def crash_on_second(path, lines):
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError("disk full")
        real(path, lines)

    monkeypatch.setattr(example_module, "_write_lines", crash_on_second)
    with pytest.raises(OSError, match="disk full"):
        write_dataset(_splits(_example(id="x2", question="Other question HT-2022-001?")), out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # old dataset intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]  # no temp dirs left
    monkeypatch.setattr(example_module, "_write_lines", crash_on_second)
    with pytest.raises(OSError):
        calls["n"] = 0
        write_dataset(_splits(_example()), tmp_path / "fresh")
    assert not (tmp_path / "fresh").exists()


def test_refuses_to_replace_a_foreign_directory(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(PathrlError, match="not a pathrl dataset"):
        write_dataset(_splits(_example()), tmp_path / "mine")
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


def test_condition_round_trips_and_bad_conditions_name_the_line(tmp_path):
    from pathrl.data import Condition

    ex = _example(anchor="contract", target="contract", via=(), path_id="contract", hops=0,
                  category="filter_number", entity="5000000",
                  filter={"entity": None, "date_from": None, "date_to": None},
                  condition=Condition("contract", "amount", "gt", 5000000.0))
    write_dataset(_splits(ex), tmp_path / "ds")
    loaded = load_split(tmp_path / "ds" / "train.jsonl", PathVocab.from_schema(demo_schema()))
    assert loaded == [ex] and loaded[0].condition.op == "gt"
    row = ex.to_dict()
    row["condition"] = {"table": "contract", "column": "amount", "op": "like", "value": 1}
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(row) + "\n", encoding="utf-8")
    with pytest.raises(PathrlError, match=r"bad\.jsonl:1: .*condition op"):
        load_split(path)
    without = _example().to_dict()
    assert "condition" not in without  # rows without one look as before
