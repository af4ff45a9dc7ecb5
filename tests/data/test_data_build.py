"""The dataset pipeline on the demo schema: coverage, legal labels, ratios, splits, determinism,
executability."""

from __future__ import annotations

from collections import Counter

import pytest

from pathrl.data import DatasetConfig, build_dataset, load_split, write_dataset
from pathrl.data.build import DatasetBuilder, allocate_quotas
from pathrl.data.lexicon import LexicalResolver, plural
from pathrl.data.stats import dataset_stats
from pathrl.data.templates import HELDOUT_STYLES
from pathrl.db import open_database
from pathrl.demo import demo_schema
from pathrl.errors import PathrlError
from pathrl.paths import PathVocab, enumerate_paths
from pathrl.query import Filter


@pytest.fixture(scope="module")
def demo():
    schema = demo_schema()
    database = open_database(schema, demo_seed=7)
    yield schema, database
    database.close()


@pytest.fixture(scope="module")
def full(demo):
    """The default demo dataset, built once for this module."""
    schema, database = demo
    return build_dataset(schema, database, DatasetConfig())


def _main(splits):
    return [ex for name in ("train", "val", "test") for ex in splits[name]]


def test_every_legal_path_gets_three_seed_questions_per_language(demo):
    schema, database = demo
    builder = DatasetBuilder(schema, database, DatasetConfig())
    assert len(builder.paths) == 55  # 11 single-table + 44 joins
    for path in builder.paths:
        seeds = builder.seed_questions(path)
        for lang in ("en", "zh"):
            mine = [s for s in seeds if s.frame.lang == lang]
            assert len(mine) >= 3, (path.id, lang)
            assert len({s.question for s in mine}) == len(mine)
        for s in seeds:  # seeds name every table of the path and resolve to it
            assert builder.check(path, s.question, s.entity) == "precise", s.question


def test_demo_dataset_size_and_coverage(full):
    sizes = {name: len(rows) for name, rows in full.items()}
    assert set(sizes) == {"train", "val", "test", "heldout"}
    total = sum(sizes.values())
    assert 700 <= total <= 742  # 13.5 per path for 55 paths, a few dropped at most
    every = [ex for rows in full.values() for ex in rows]
    per_path = Counter(ex.path_id for ex in every)
    assert len(per_path) == 55 and min(per_path.values()) >= 6
    assert {p.id for p in enumerate_paths(demo_schema())} == set(per_path)
    assert {ex.language for ex in every} == {"en", "zh"}
    assert len({ex.path_id for ex in full["train"]}) == 55
    assert full.report["per_path"] == dict(sorted(per_path.items(), key=lambda kv: [
        p.id for p in enumerate_paths(demo_schema())].index(kv[0])))


def test_labels_are_legal_and_consistent(full):
    vocab = PathVocab.from_schema(demo_schema())
    for ex in (ex for rows in full.values() for ex in rows):
        assert vocab.is_legal(*ex.triple)
        path = vocab.path_by_id[ex.path_id]
        assert path.triple == ex.triple and ex.hops == path.n_hops
        assert ex.entity in ex.question
        if ex.style != "usage":  # entity lookups name their anchor row by its display field
            assert ex.entity and ex.filter["entity"] == ex.entity
        if path.is_single_table:
            assert ex.anchor == ex.target and ex.via == () and ex.hops == 0


def test_every_lookup_reads_back_as_exactly_its_label(demo, full):
    """No entity lookup is ambiguous between two legal paths under the lexical rule (usage
    questions are labelled by construction, by the route convention)."""
    schema, database = demo
    builder = DatasetBuilder(schema, database, DatasetConfig())
    lookups = [ex for rows in full.values() for ex in rows if ex.style != "usage"]
    assert len(lookups) > 250
    for ex in lookups:
        path = builder.vocab.path_by_id[ex.path_id]
        reading = builder.resolver.read(ex.question, ex.entity, masked=_rendered_dates(ex))
        assert reading.path is not None and reading.path.triple == ex.triple, ex.question
        named_all = set(path.tables) <= reading.named_by_word
        assert ex.wording == ("precise" if named_all else "fuzzy"), ex.question


def _rendered_dates(ex):
    # Dates are masked before reading; month names and ISO days carry no table words anyway.
    return [ex.filter[k] for k in ("date_from", "date_to") if ex.filter.get(k)]


def test_ambiguous_question_is_rejected(demo):
    schema, database = demo
    builder = DatasetBuilder(schema, database, DatasetConfig())
    resolver: LexicalResolver = builder.resolver
    project = builder.filler.pools["project"][0]
    # project -> supplier has two legal vias (contract, construction): naming neither is
    # ambiguous, naming one resolves.
    assert resolver.read(f"suppliers of project {project}", project).path is None
    by_contract = resolver.read(f"suppliers of the contracts of project {project}", project)
    assert by_contract.path.id == "project>contract>supplier"
    on_site = resolver.read(f"subcontractors in the construction logs of project {project}",
                            project)
    assert on_site.path.id == "project>construction>supplier"
    # a name containing a table word ("...项目", "...Engineering Ltd.") is masked first
    zh_name = next(v for v in builder.filler.pools["project"] if v.endswith("项目"))
    assert resolver.read(f"{zh_name}的里程碑有哪些？", zh_name).path.id == "project>milestone"


def test_usage_and_lookups_are_mixed(full):
    main = _main(full)
    usage = [ex for ex in main if ex.style == "usage"]
    assert 0.45 <= len(usage) / len(main) <= 0.7
    cats = Counter(ex.category for ex in usage)
    for intent in ("count", "filter_text", "filter_number", "filter_date", "group_count",
                   "superlative", "aggregate", "exists", "lookup"):
        assert cats[intent] >= 5, (intent, cats)
    assert {"list", "count", "attribute", "time_range"} <= {
        ex.category for ex in main if ex.style != "usage"}


def test_precise_fuzzy_ratio_and_stratification(full):
    main = _main(full)
    lookups = [ex for ex in main if ex.style != "usage"]
    fuzzy = sum(ex.wording == "fuzzy" for ex in lookups) / len(lookups)
    assert 0.25 <= fuzzy <= 0.55
    for name in ("train", "val", "test"):
        assert abs(len(full[name]) / len(main) - {"train": 0.8, "val": 0.1, "test": 0.1}[name]) \
            < 0.02
    # per path: each split within 1.5 examples of its share; hop counts spread over splits
    per_path: dict[str, Counter] = {}
    for name in ("train", "val", "test"):
        for ex in full[name]:
            per_path.setdefault(ex.path_id, Counter())[name] += 1
    for counts in per_path.values():
        n = sum(counts.values())
        for name, ratio in (("train", 0.8), ("val", 0.1), ("test", 0.1)):
            assert abs(counts[name] - ratio * n) <= 1.5
    for name in ("val", "test"):
        assert {ex.hops for ex in full[name]} == {0, 1, 2, 3}
        assert {ex.wording for ex in full[name]} == {"precise", "fuzzy"}


def test_single_table_share_and_multi_hop_not_drowned(full):
    stats = dataset_stats(full)
    assert 0.42 <= stats["all"]["single_table_ratio"] <= 0.48
    hops = stats["all"]["hops"]
    assert hops["1"] >= 80 and hops["2"] >= 100 and hops["3"] >= 100


def test_heldout_styles_never_seen_in_training(full):
    heldout_styles = {ex.style for ex in full["heldout"]}
    assert heldout_styles and heldout_styles <= set(HELDOUT_STYLES)
    assert not heldout_styles & {ex.style for ex in _main(full)}
    assert len(full["heldout"]) >= 55 and len({ex.path_id for ex in full["heldout"]}) >= 50


def test_no_duplicates(full):
    questions = [ex.question.lower() for rows in full.values() for ex in rows]
    assert len(set(questions)) == len(questions)
    ids = [ex.id for rows in full.values() for ex in rows]
    assert len(set(ids)) == len(ids)


def test_every_filter_executes_to_rows(demo, full):
    schema, database = demo
    vocab = PathVocab.from_schema(schema)
    every = [ex for rows in full.values() for ex in rows]
    for ex in every:
        result = database.run_path(vocab.path_by_id[ex.path_id], Filter(**ex.filter))
        assert result.status == "ok" and result.count >= 1, ex.question
    dated = [ex for ex in every if ex.category == "time_range"]
    assert dated and all(ex.filter["date_from"] <= ex.filter["date_to"] for ex in dated)
    conditioned = [ex for ex in every if ex.condition is not None]
    builder = DatasetBuilder(schema, database, DatasetConfig())
    assert conditioned and builder.verify(conditioned) == conditioned


def test_same_seed_byte_identical_other_seed_differs(demo, tmp_path):
    schema, database = demo
    cfg = DatasetConfig(seed=3, examples_per_path=4, min_per_path=3)
    write_dataset(build_dataset(schema, database, cfg), tmp_path / "a")
    write_dataset(build_dataset(schema, database, cfg), tmp_path / "b")
    write_dataset(build_dataset(schema, database, DatasetConfig(seed=4, examples_per_path=4,
                                                                 min_per_path=3)),
                  tmp_path / "c")
    for name in ("train.jsonl", "val.jsonl", "test.jsonl", "heldout.jsonl", "manifest.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert (tmp_path / "a" / "train.jsonl").read_bytes() != (
        tmp_path / "c" / "train.jsonl").read_bytes()
    loaded = load_split(tmp_path / "a" / "train.jsonl", PathVocab.from_schema(schema))
    assert loaded and all(PathVocab.from_schema(schema).is_legal(*ex.triple) for ex in loaded)
    assert any(ex.condition is not None for ex in loaded)  # the optional field round-trips


def test_english_only(demo):
    schema, database = demo
    splits = build_dataset(schema, database, DatasetConfig(languages=("en",),
                                                           examples_per_path=5))
    every = [ex for rows in splits.values() for ex in rows]
    assert every and {ex.language for ex in every} == {"en"}
    assert "codemix" not in {ex.style for ex in every}


def test_quotas_scale_with_paths_and_keep_minimum():
    paths = enumerate_paths(demo_schema())
    quotas = allocate_quotas(paths, DatasetConfig())
    assert sum(quotas.values()) == round(13.5 * 55)
    single = [quotas[p.id] for p in paths if p.is_single_table]
    two = [quotas[p.id] for p in paths if p.n_hops == 2]
    three = [quotas[p.id] for p in paths if p.n_hops == 3]
    assert min(two) >= 6 and min(three) >= min(two)  # graded by hop count
    assert sum(single) / sum(quotas.values()) == pytest.approx(0.45, abs=0.01)


def test_quotas_under_the_cap_sample_paths_stratified():
    paths = enumerate_paths(demo_schema())
    capped = allocate_quotas(paths, DatasetConfig(max_examples=120))
    assert sum(capped.values()) <= 120
    assert all(q >= 1 for q in capped.values())  # 120 >= 55: every path still gets one
    tiny = allocate_quotas(paths, DatasetConfig(max_examples=30))
    assert sum(tiny.values()) == 30 and max(tiny.values()) <= 2
    joins = [p for p in paths if not p.is_single_table and tiny[p.id]]
    assert {p.n_hops for p in joins} == {1, 2, 3}  # sampled paths cover every hop count
    assert allocate_quotas(paths, DatasetConfig(max_examples=30)) == tiny  # seeded


def test_bad_config_is_a_clear_error(demo):
    schema, database = demo
    with pytest.raises(PathrlError, match="languages"):
        build_dataset(schema, database, DatasetConfig(languages=("fr",)))
    with pytest.raises(PathrlError, match="split_ratios"):
        build_dataset(schema, database, DatasetConfig(split_ratios=(0.5, 0.2, 0.2)))
    with pytest.raises(PathrlError, match="heldout style"):
        build_dataset(schema, database, DatasetConfig(heldout_styles=("shouting",)))


def test_plural():
    assert plural("delivery") == "deliveries"
    assert plural("goods receipt") == "goods receipts"
    assert plural("site work") == "site work"
    assert plural("bus") == "buses"
