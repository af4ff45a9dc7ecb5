"""`pathrl data build` and `pathrl data stats` through the CLI."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from pathrl.cli import app
from pathrl.errors import PathrlError

runner = CliRunner()


def test_build_then_stats_with_charts(tmp_path):
    out = tmp_path / "ds"
    result = runner.invoke(app, ["data", "build", "--out", str(out), "--per-path", "5",
                                 "--seed", "11"])
    assert result.exit_code == 0, result.output
    assert "wrote" in result.output and "via null" in result.output
    for name in ("train", "val", "test", "heldout"):
        assert (out / f"{name}.jsonl").stat().st_size > 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["config"]["seed"] == 11 and manifest["schema"] == "demo_pm"
    assert manifest["schema_fingerprint"] and manifest["stats"]["all"]["examples"] > 200
    assert len(manifest["per_path"]) == 55 and sum(manifest["per_path"].values()) == \
        manifest["stats"]["all"]["examples"]

    result = runner.invoke(app, ["data", "stats", str(out), "--json"])
    assert result.exit_code == 0, result.output
    stats = json.loads(result.output)
    assert set(stats["files"]) == {"train", "val", "test", "heldout"}
    assert stats["styles_shared_with_heldout"] == []
    assert stats["short_paths"] == {} and stats["paths_without_examples"] == 0
    assert 0.3 < stats["all"]["single_table_ratio"] < 0.6
    assert sum(stats["all"]["per_path_counts"].values()) == stats["all"]["examples"]
    for chart in ("category", "priority", "hops", "via_null", "overview"):
        png = out / "charts" / f"{chart}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    not_a_dir = tmp_path / "charts.txt"
    not_a_dir.write_text("mine")
    result = runner.invoke(app, ["data", "stats", str(out), "--charts", str(not_a_dir)])
    assert result.exit_code != 0 and isinstance(result.exception, PathrlError)
    assert "is a file, not a directory" in str(result.exception)
    assert not_a_dir.read_text() == "mine"
    result = runner.invoke(app, ["data", "stats", str(out), "--no-charts"])
    assert result.exit_code == 0 and "via null" in result.output
    assert "single table" in result.output

    again = runner.invoke(app, ["data", "build", "--out", str(out), "--per-path", "5"])
    assert isinstance(again.exception, PathrlError) and "--force" in str(again.exception)


def test_build_rejects_bad_options(tmp_path):
    result = runner.invoke(app, ["data", "build", "--out", str(tmp_path / "x"),
                                 "--split", "0.8,0.2"])
    assert isinstance(result.exception, PathrlError)
    result = runner.invoke(app, ["data", "build", "--out", str(tmp_path / "x"),
                                 "--languages", "de"])
    assert isinstance(result.exception, PathrlError) and "languages" in str(result.exception)
    assert not (tmp_path / "x").exists()


def test_stats_on_missing_directory(tmp_path):
    result = runner.invoke(app, ["data", "stats", str(tmp_path / "nope")])
    assert isinstance(result.exception, PathrlError)
