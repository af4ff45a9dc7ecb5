"""The schema-reading path scorer and schema linking, on tiny schemas with a tiny random BERT."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch

from pathrl.db import write_sql
from pathrl.errors import PathrlError
from pathrl.linking import LINK_FEATURES, SchemaLinker
from pathrl.router.evaluate import triple_metrics
from pathrl.router.ppo import PPOConfig, RouterPPOTrainer
from pathrl.router.protocol import load_router
from pathrl.router.scorer import PathScorer, ScorerConfig, table_text
from pathrl.router.sft import SFTConfig, SFTTrainer
from pathrl.schema import Schema

SHOP = Schema.from_dict({
    "name": "shop",
    "tables": {
        "customer": {"display": "name", "fields": {"id": "str", "name": "str", "city": "str"}},
        "orders": {"fields": {"id": "str", "customer_id": "str", "total": "float"}},
        "payroll": {"fields": {"id": "str", "staff_id": "str", "salary": "float"}},
        "staff": {"display": "full_name", "fields": {"id": "str", "full_name": "str"}},
    },
    "relations": [{"from": "orders.customer_id", "to": "customer.id"},
                  {"from": "payroll.staff_id", "to": "staff.id"}],
})


@dataclass
class Q:
    question: str
    anchor: str
    target: str
    via: tuple[str, ...] = ()

    @property
    def triple(self):
        return (self.anchor, self.target, self.via)


TRAIN = [
    Q("How many customers are there?", "customer", "customer"),
    Q("List all customers in Nairobi", "customer", "customer"),
    Q("orders of Ann Lee", "customer", "orders"),
    Q("what did Bo Chen order", "customer", "orders"),
    Q("Which customer placed order 7?", "orders", "customer"),
    Q("What is the salary of George Novak?", "staff", "payroll"),
    Q("payroll records of Mia Wong", "staff", "payroll"),
    Q("List the staff", "staff", "staff"),
    Q("orders above 100", "orders", "orders"),
    Q("who is paid the highest salary", "payroll", "staff"),
]


@pytest.fixture(scope="module")
def shop_db(tmp_path_factory):
    from pathrl.db import open_database

    path = tmp_path_factory.mktemp("shop") / "shop.db"
    url = f"sqlite:///{path}"
    write_sql(url, SHOP, {
        "customer": [{"id": "c1", "name": "Ann Lee", "city": "Nairobi"},
                     {"id": "c2", "name": "Bo Chen", "city": "Lima"}],
        "orders": [{"id": "o7", "customer_id": "c1", "total": 120.0}],
        "payroll": [{"id": "p1", "staff_id": "s1", "salary": 5000.0}],
        "staff": [{"id": "s1", "full_name": "George Novak"}, {"id": "s2", "full_name": "Mia Wong"}],
    })
    db = open_database(SHOP, "sqlite", url)
    yield db
    db.close()


def test_linker_finds_table_words_columns_and_values(shop_db):
    linker = SchemaLinker(SHOP, shop_db)
    tables = linker.tables
    links = linker.link("What is the salary of George Novak?")
    assert {tables[i] for i in links.column_word} == {"payroll"}  # salary lives in payroll
    assert [(v.text, v.table, v.column) for v in links.values] == [
        ("George Novak", "staff", "full_name")]
    assert linker.hint(links) == "George Novak = staff full name"
    plural = linker.link("How many customers are there in Nairobi?")
    assert {tables[i] for i in plural.table_word} == {"customer"}
    assert {v.table for v in plural.values} == {"customer"}  # a city value
    rows = linker.feature_rows(linker.link("orders of Ann Lee"))
    assert rows[tables.index("orders")] == (1.0, 0.0, 0.0)
    assert rows[tables.index("customer")] == (0.0, 0.0, 1.0)
    assert SchemaLinker(SHOP).link("orders of Ann Lee").values == ()  # no database, no values


def test_linker_finds_latin_names_and_words_next_to_chinese(shop_db):
    """Chinese writes no space after a Latin name ("George Novak的工资"); a Latin word inside a
    longer Latin word still does not count ("orderly" is no order)."""
    linker = SchemaLinker(SHOP, shop_db)
    links = linker.link("George Novak的salary是多少？")
    assert [(v.text, v.table) for v in links.values] == [("George Novak", "staff")]
    assert {linker.tables[i] for i in links.column_word} == {"payroll"}
    assert linker.link("George Novakx").values == ()
    assert "orders" not in {linker.tables[i] for i in linker.link("an orderly list").table_word}


def test_linker_keeps_words_inside_values_out():
    schema = Schema.from_dict({"name": "s", "tables": {
        "project": {"display": "name", "fields": {"id": "str", "name": "str"}},
        "contract": {"fields": {"id": "str", "project_id": "str"}}},
        "relations": [{"from": "contract.project_id", "to": "project.id"}]})
    linker = SchemaLinker(schema)
    linker._values = {"contract city": [("Contract City", "project", "name")]}
    from pathrl.linking import _pattern

    linker._value_re = _pattern(linker._values)
    links = linker.link("projects named Contract City")
    assert {linker.tables[i] for i in links.table_word} == {"project"}


def test_a_mention_shared_by_two_tables_is_one_mention_covered_by_either():
    schema = Schema.from_dict({
        "name": "allergy",
        "tables": {
            "student": {"display": "name", "fields": {"id": "str", "name": "str"}},
            "has_allergy": {"fields": {"id": "str", "student_id": "str", "allergy": "str"}},
            "allergy_type": {"display": "allergy",
                             "fields": {"id": "str", "allergy": "str", "kind": "str"}},
        },
        "relations": [{"from": "has_allergy.student_id", "to": "student.id"},
                      {"from": "has_allergy.allergy", "to": "allergy_type.id"}],
    })
    linker = SchemaLinker(schema)
    links = linker.link("How many allergies are there, allergy by allergy?")
    names = [[linker.tables[i] for i in sorted(m.tables)] for m in links.mentions]
    assert names == [["has_allergy", "allergy_type"]]  # one column word, said twice, two tables
    paths = torch.tensor([[0.0, 0.0, 1.0],   # allergy_type alone: covers it
                          [1.0, 0.0, 0.0],   # student alone: leaves it uncovered
                          [1.0, 1.0, 1.0]])  # student > has_allergy > allergy_type
    mentions = torch.tensor([[[0.0, 1.0, 1.0]]])
    features = torch.tensor([[[0.0, 1.0, 0.0]]])  # a column word
    missed = PathScorer._missed(mentions @ paths.T, features)
    assert missed.tolist() == [[[0.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]]]
    assert PathScorer._missed(torch.zeros(1, 0, 3), torch.zeros(1, 0, 3)).shape == (1, 3, 3)


def test_people_s_plural_of_a_table_noun_names_the_table():
    linker = SchemaLinker(Schema.from_dict({
        "name": "air", "tables": {"aircraft": {"fields": {"id": "str", "model": "str"}}},
        "relations": []}))
    assert linker.link("names of aircrafts").table_word == {0}


def test_column_plurals_natural_keys_and_link_table_heads_are_linked():
    schema = Schema.from_dict({
        "name": "club",
        "tables": {
            "club": {"display": "club_name", "fields": {"id": "int", "club_name": "str"}},
            "member_of_club": {"fields": {"id": "int", "club_id": "int", "salary": "float"}},
            "allergy_type": {"key": "allergy", "fields": {"allergy": "str", "kind": "str"}},
        },
        "relations": [{"from": "member_of_club.club_id", "to": "club.id"}],
    })
    linker = SchemaLinker(schema)

    def named(question: str) -> list[tuple[str, list[str]]]:
        return [(LINK_FEATURES[m.feature], [linker.tables[i] for i in sorted(m.tables)])
                for m in linker.link(question).mentions]

    assert named("How many members?") == [("table_word", ["member_of_club"])]
    assert named("the highest salaries") == [("column_word", ["member_of_club"])]
    assert named("list the allergies") == [("column_word", ["allergy_type"])]
    assert named("club ids") == [("table_word", ["club"])]  # an id key names no column


def test_table_text_reads_columns_not_keys():
    text = table_text(SHOP, "payroll")
    assert text.startswith("payroll:") and "salary" in text and "staff id" not in text


def test_scorer_scores_every_legal_path_and_learns(tiny_backbone, shop_db):
    torch.manual_seed(0)
    model = PathScorer(ScorerConfig(backbone=tiny_backbone, role_dim=16))
    context = model.bind(SHOP, shop_db)
    assert context.n_paths == len(model.vocab.triples) == 8  # 4 single-table + 4 one-hop
    out = model.policy(model.tokenize([q.question for q in TRAIN]))
    assert out.logits["path"].shape == (len(TRAIN), 8) and out.value.shape == (len(TRAIN),)
    probs = torch.softmax(out.logits["path"], -1)
    assert torch.allclose(probs.sum(-1), torch.ones(len(TRAIN)))


def test_length_sorted_batches_change_no_score(tiny_backbone, shop_db):
    """Predictions run as micro-batches of neighbouring lengths, outputs put back in order:
    the same scores as one question at a time."""
    torch.manual_seed(0)
    model = PathScorer(ScorerConfig(backbone=tiny_backbone, role_dim=16))
    model.bind(SHOP, shop_db)
    questions = [q.question for q in TRAIN]
    alone = torch.cat([next(model._path_logits([q], 1))[1] for q in questions])
    chunk, together = next(model._path_logits(questions, 3))
    assert chunk == questions
    assert torch.allclose(alone, together, atol=1e-5)
    ranked = model.route_batch(questions, top_k=1, batch_size=2)
    assert [r.question for r in ranked] == questions
    assert [r.routes[0].path.triple for r in ranked] == model.predict(questions, batch_size=5)


def test_scorer_sft_then_ppo_then_reload(tiny_backbone, shop_db, tmp_path):
    torch.manual_seed(0)
    model = PathScorer(ScorerConfig(backbone=tiny_backbone, role_dim=16))
    model.bind(SHOP, shop_db)
    model.extend_vocab([q.question for q in TRAIN])
    model.setup_trainable()
    summary = SFTTrainer(model, SFTConfig(epochs=30, lr=1e-3, head_lr=1e-2, patience=30),
                         TRAIN, TRAIN, tmp_path / "sft").train()
    assert summary["best_val_exact_match"] >= 0.9
    routing = model.route_batch(["What is the salary of George Novak?"], top_k=3)[0]
    probs = [r.probability for r in routing.routes]
    assert len(probs) == 3 and probs == sorted(probs, reverse=True) and sum(probs) <= 1 + 1e-6
    assert all(model.vocab.is_legal(*r.triple) for r in routing.routes)

    loaded = load_router(tmp_path / "sft" / "model", SHOP, shop_db)  # dispatches on its kind
    assert isinstance(loaded, PathScorer)
    questions = [q.question for q in TRAIN]
    assert loaded.predict(questions) == model.predict(questions)

    ppo = RouterPPOTrainer(loaded, PPOConfig(total_updates=2, rollout_batch_size=10,
                                             minibatch_size=5, micro_batch_size=5,
                                             critic_warmup_updates=0, doctor=False,
                                             eval_every=1),
                           TRAIN, TRAIN, tmp_path / "ppo")
    result = ppo.train()
    assert result["updates"] == 2
    preds = PathScorer.from_pretrained(tmp_path / "ppo" / "model")
    preds.bind(SHOP, shop_db)
    metrics = triple_metrics(preds.predict(questions), [q.triple for q in TRAIN], preds.vocab)
    assert metrics["illegal_rate"] == 0.0 and metrics["exact_match"] >= 0.8


def test_scorer_errors_are_clear(tiny_backbone, tmp_path):
    model = PathScorer(ScorerConfig(backbone=tiny_backbone, role_dim=16))
    with pytest.raises(PathrlError, match="not bound to a schema"):
        model.tokenize(["x"])
    model.bind(SHOP)
    with pytest.raises(PathrlError, match="outside the schema's legal paths"):
        model.label_tensors([Q("x", "customer", "payroll")])
    with pytest.raises(PathrlError, match="no router.json"):
        PathScorer.from_pretrained(tmp_path)
    (tmp_path / "router.json").write_text("{not json")
    with pytest.raises(PathrlError, match="not valid JSON"):
        PathScorer.from_pretrained(tmp_path)
    with pytest.raises(PathrlError, match="role_dim"):
        ScorerConfig(role_dim=2)


OTHER = Schema.from_dict({
    "name": "school",
    "tables": {
        "teacher": {"display": "name", "fields": {"id": "str", "name": "str"}},
        "course": {"display": "title", "fields": {"id": "str", "title": "str",
                                                   "teacher_id": "str"}},
    },
    "relations": [{"from": "course.teacher_id", "to": "teacher.id"}],
})
OTHER_TRAIN = [
    Q("How many teachers are there?", "teacher", "teacher"),
    Q("courses taught by Ms Park", "teacher", "course"),
    Q("who teaches Algebra", "course", "teacher"),
    Q("list every course", "course", "course"),
]


@dataclass
class SchemaQ(Q):
    schema: str = ""


def test_one_scorer_learns_two_schemas(tiny_backbone, tmp_path):
    """Batches never mix schemas, and one set of weights routes both (a general router)."""
    torch.manual_seed(0)
    model = PathScorer(ScorerConfig(backbone=tiny_backbone, role_dim=16))
    schemas = {"shop": SHOP, "school": OTHER}
    train = ([SchemaQ(q.question, q.anchor, q.target, q.via, "shop") for q in TRAIN]
             + [SchemaQ(q.question, q.anchor, q.target, q.via, "school") for q in OTHER_TRAIN])
    bound: list[str] = []

    def bind(key: str) -> None:
        bound.append(key)
        model.bind(schemas[key])

    for schema in schemas.values():
        model.bind(schema)
    model.extend_vocab([q.question for q in train])
    model.setup_trainable()
    trainer = SFTTrainer(model, SFTConfig(epochs=30, batch_size=4, lr=1e-3, head_lr=1e-2,
                                          patience=30),
                         train, train, tmp_path, group_of=lambda ex: ex.schema, bind=bind)
    summary = trainer.train()
    assert set(bound) == {"shop", "school"}
    assert summary["best_val_exact_match"] >= 0.85
    model.bind(OTHER)
    assert model.predict(["How many teachers are there?"]) == [("teacher", "teacher", ())]
    with pytest.raises(PathrlError, match="both group_of and bind"):
        SFTTrainer(model, SFTConfig(), train, train, tmp_path, group_of=lambda ex: ex.schema)


def test_saved_scorer_files_follow_the_umask(tiny_backbone, tmp_path):
    import os

    old = os.umask(0o022)
    try:
        model = PathScorer(ScorerConfig(backbone=tiny_backbone, role_dim=16))
        model.bind(SHOP)
        out = model.save_pretrained(tmp_path / "m")
    finally:
        os.umask(old)
    assert (out / "backbone.safetensors").stat().st_mode & 0o777 == 0o644
    assert out.stat().st_mode & 0o777 == 0o755


def test_link_priors_start_the_linking_weights_and_survive_a_reload(tiny_backbone, tmp_path):
    cold = PathScorer(ScorerConfig(backbone=tiny_backbone, role_dim=16))
    assert cold.link_weight.abs().sum() == 0 and cold.coverage_weight.abs().sum() == 0
    warm = PathScorer(ScorerConfig(backbone=tiny_backbone, role_dim=16, link_prior=1.0,
                                   coverage_prior=-1.0))
    assert torch.equal(warm.link_weight.detach(), torch.ones(3, 3))
    assert torch.equal(warm.coverage_weight.detach(), -torch.ones(3))
    warm.bind(SHOP)
    back = PathScorer.from_pretrained(warm.save_pretrained(tmp_path / "warm"))
    assert back.config.link_prior == 1.0
    assert torch.equal(back.coverage_weight.detach(), -torch.ones(3))


def test_link_prior_is_refused_for_the_three_heads():
    from pathrl.router.workflows import new_router

    with pytest.raises(PathrlError, match="--coverage-prior are available with --head scorer"):
        new_router(SHOP, "factored", link_prior=1.0)
    for coverage_prior in (-1.0, 0.0):  # any value given is refused, 0 included
        with pytest.raises(PathrlError, match="available with --head scorer only"):
            new_router(SHOP, "factored", coverage_prior=coverage_prior)
    with pytest.raises(PathrlError, match="must be finite numbers"):
        ScorerConfig(coverage_prior=float("nan"))


def test_coverage_prior_alone_starts_only_the_coverage_weights(tiny_backbone):
    from pathrl.router.workflows import new_router

    model = new_router(SHOP, "scorer", tiny_backbone, coverage_prior=-1.0)
    assert model.link_weight.abs().sum() == 0
    assert torch.equal(model.coverage_weight.detach(), -torch.ones(3))
    both = new_router(SHOP, "scorer", tiny_backbone, link_prior=0.5)  # default: -link_prior
    assert torch.equal(both.coverage_weight.detach(), torch.full((3,), -0.5))


CHAIN = Schema.from_dict({
    "name": "chain",
    "tables": {
        "supplier": {"display": "name", "fields": {"id": "str", "name": "str"}},
        "contract": {"fields": {"id": "str", "supplier_id": "str", "project_id": "str"}},
        "project": {"display": "name", "fields": {"id": "str", "name": "str"}},
        "construction": {"fields": {"id": "str", "supplier_id": "str", "project_id": "str"}},
    },
    "relations": [{"from": "contract.supplier_id", "to": "supplier.id"},
                  {"from": "contract.project_id", "to": "project.id"},
                  {"from": "construction.supplier_id", "to": "supplier.id"},
                  {"from": "construction.project_id", "to": "project.id"}],
})


def test_linker_gives_mentions_in_question_order():
    linker = SchemaLinker(CHAIN)
    links = linker.link("the contracts of the projects of the constructions of supplier X")
    assert [linker.tables[min(m.tables)] for m in links.mentions] == [
        "contract", "project", "construction", "supplier"]
    assert [m.start for m in links.mentions] == sorted(m.start for m in links.mentions)


def test_order_term_tells_a_path_from_the_same_tables_reversed(tiny_backbone):
    model = PathScorer(ScorerConfig(backbone=tiny_backbone, role_dim=16))
    context = model.bind(CHAIN)
    forward = context.triple_index[("supplier", "contract", ("construction", "project"))]
    other = context.triple_index[("supplier", "construction", ("contract", "project"))]
    single = context.triple_index[("supplier", "supplier", ())]
    batch = model.tokenize(["supplier X constructions projects contracts",
                            "the contracts of the projects of the constructions of supplier X"])
    hits = batch["mentions"] @ context.path_tables.T
    order = PathScorer._order(batch["mentions"], hits, context.path_ranks)
    assert order[:, forward].tolist() == [1.0, -1.0]  # named in path order / reversed
    assert order[:, other].tolist() == [0.0, 0.0]  # 3 pairs agree, 3 disagree
    assert order[:, single].tolist() == [0.0, 0.0]  # one place: no pair to compare


def test_order_coefficient_moves_scores_and_survives_a_reload(tiny_backbone, tmp_path):
    torch.manual_seed(0)
    model = PathScorer(ScorerConfig(backbone=tiny_backbone, role_dim=16)).eval()
    context = model.bind(CHAIN)
    forward = context.triple_index[("supplier", "contract", ("construction", "project"))]
    other = context.triple_index[("supplier", "construction", ("contract", "project"))]
    batch = model.tokenize(["supplier X constructions projects contracts"])

    def margin(router):
        with torch.no_grad():
            logits = router.policy(batch, with_value=False).logits["path"][0]
        return float(logits[forward] - logits[other])

    before = margin(model)
    with torch.no_grad():
        model.order_head.bias.fill_(2.0)  # c_order = 2 for every question
    assert margin(model) == pytest.approx(before + 2.0, abs=1e-4)
    back = PathScorer.from_pretrained(model.save_pretrained(tmp_path / "ordered"))
    back.bind(CHAIN)
    assert margin(back) == pytest.approx(before + 2.0, abs=1e-4)
    model.config.mention_order = False
    assert margin(model) == pytest.approx(before, abs=1e-4)


def _named_rule_change(model, schema, question):
    """Per legal triple: the logits the named-table rule takes away from `question`."""
    context = model.bind(schema)
    batch = model.tokenize([question])
    penalty = model.config.named_table_penalty
    with torch.no_grad():
        with_rule = model.policy(batch, with_value=False).logits["path"][0]
        model.config.named_table_penalty = 0.0
        without = model.policy(batch, with_value=False).logits["path"][0]
    model.config.named_table_penalty = penalty
    return {t: round(float(without[i] - with_rule[i]), 3)
            for t, i in context.triple_index.items()}


def test_a_path_that_leaves_a_named_table_out_is_ruled_out(tiny_backbone):
    torch.manual_seed(0)
    model = PathScorer(ScorerConfig(backbone=tiny_backbone, role_dim=16)).eval()
    assert model.config.named_table_penalty == 20.0
    cost = _named_rule_change(model, CHAIN, "supplier X constructions projects contracts")
    assert cost[("supplier", "contract", ("construction", "project"))] == 0.0  # names all four
    assert cost[("supplier", "project", ("construction",))] == 20.0  # leaves contract out
    assert cost[("supplier", "supplier", ())] == 60.0  # leaves three out
    # A question that names no table loses nothing anywhere.
    assert set(_named_rule_change(model, CHAIN, "what is X?").values()) == {0.0}


def test_the_named_table_rule_counts_beyond_the_best_covering_path(tiny_backbone, shop_db):
    torch.manual_seed(0)
    model = PathScorer(ScorerConfig(backbone=tiny_backbone, role_dim=16)).eval()
    # customer and staff share no legal path: every path leaves one out, so the paths that
    # cover one lose nothing and only the paths that cover neither are ruled out.
    cost = _named_rule_change(model, SHOP, "the customers and the staff")
    assert cost[("customer", "customer", ())] == cost[("staff", "payroll", ())] == 0.0
    assert cost[("orders", "orders", ())] == cost[("payroll", "payroll", ())] == 20.0
    with pytest.raises(PathrlError, match="named_table_penalty"):
        ScorerConfig(named_table_penalty=-1.0)


def test_sft_trains_without_the_named_table_rule(tiny_backbone):
    torch.manual_seed(0)
    model = PathScorer(ScorerConfig(backbone=tiny_backbone, role_dim=16, head_dropout=0.0))
    model.bind(CHAIN)
    batch = model.tokenize(["supplier X constructions projects contracts"])
    with torch.no_grad():
        model.train()
        model.backbone.eval()  # no dropout anywhere: train mode differs only by the rule
        training = model.policy(batch, with_value=False).logits["path"][0]
        model.eval()
        routing = model.policy(batch, with_value=False).logits["path"][0]
    short = model.context.triple_index[("supplier", "supplier", ())]
    full = model.context.triple_index[("supplier", "contract", ("construction", "project"))]
    assert float(training[full] - routing[full]) == pytest.approx(0.0, abs=1e-5)
    assert float(training[short] - routing[short]) == pytest.approx(60.0, abs=1e-4)


def test_named_table_breaks_counts_labels_that_leave_a_named_table_out(tiny_backbone):
    model = PathScorer(ScorerConfig(backbone=tiny_backbone, role_dim=16)).eval()
    model.bind(CHAIN)
    keeps = Q("supplier X constructions projects contracts", "supplier", "contract",
              ("construction", "project"))
    breaks = Q("supplier X constructions projects contracts", "supplier", "project",
               ("construction",))  # names contract, stops at project
    names_nothing = Q("what is X?", "supplier", "supplier")
    assert model.named_table_breaks([keeps, names_nothing]) == 0.0
    assert model.named_table_breaks([keeps, breaks, names_nothing, breaks]) == 0.5
    assert model.named_table_breaks([]) == 0.0
    with pytest.raises(PathrlError, match="outside the schema's legal paths"):
        model.named_table_breaks([Q("supplier X", "supplier", "nowhere")])


COLLEGE = Schema.from_dict({
    "name": "college",
    "tables": {
        "department": {"key": "dept_name", "display": "building",
                       "fields": {"dept_name": "str", "building": "str", "budget": "float"}},
        "instructor": {"key": "ID", "display": "name",
                       "fields": {"ID": "str", "name": "str", "dept_name": "str"}},
        "teaches": {"key": "ID", "display": "ID",
                    "fields": {"ID": "str", "course": "str", "instructor_id": "str"}},
    },
    "relations": [{"from": "instructor.dept_name", "to": "department.dept_name"},
                  {"from": "teaches.instructor_id", "to": "instructor.ID"}],
})


def test_a_foreign_key_holding_a_table_s_name_covers_that_table():
    linker = SchemaLinker(COLLEGE)
    index = {t: i for i, t in enumerate(linker.tables)}
    links = linker.link("instructors in the Physics department")
    covering = {m.start: m.tables for m in links.mentions if m.feature == 0}
    # instructor.dept_name holds the department's name: instructor alone covers "department".
    assert covering[0] == {index["instructor"]}
    assert covering[len("instructors in the Physics ")] == {index["department"],
                                                            index["instructor"]}
    # The feature rows still say which table the word names.
    assert links.table_word == {index["instructor"], index["department"]}
    # An id-valued foreign key covers nothing: "teaches of the instructor" needs the join.
    teaches = linker.link("the teaches records of the instructor")
    assert {index["instructor"]} in [m.tables for m in teaches.mentions]


def test_the_named_table_rule_keeps_a_filter_on_a_name_foreign_key(tiny_backbone):
    model = PathScorer(ScorerConfig(backbone=tiny_backbone, role_dim=16)).eval()
    cost = _named_rule_change(model, COLLEGE, "instructors in the Physics department")
    assert cost[("instructor", "instructor", ())] == 0.0
    assert cost[("department", "instructor", ())] == 0.0
    assert cost[("teaches", "teaches", ())] == 40.0
