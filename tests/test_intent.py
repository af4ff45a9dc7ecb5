"""Question -> Intent on a given route (pathrl.intent), English and Chinese, on the demo
database: each kind, the conditions (values, numbers, dates), and the readings that must fall
back to rows."""

from __future__ import annotations

import pytest

from pathrl.data.entities import distinct_values
from pathrl.data.example import Condition
from pathrl.db import open_database
from pathrl.demo import demo_schema
from pathrl.intent import IntentParser, parse_intent
from pathrl.linking import SchemaLinker
from pathrl.paths import PathVocab
from pathrl.query import ColumnRef

SCHEMA = demo_schema()
VOCAB = PathVocab.from_schema(SCHEMA)


@pytest.fixture(scope="module")
def parser():
    database = open_database(SCHEMA, "sqlite", demo_seed=7)
    return IntentParser(SCHEMA, SchemaLinker(SCHEMA, database),
                        lambda table, column: distinct_values(database, table, column))


def read(parser, question, path_id):
    return parser.parse(question, VOCAB.path_by_id[path_id])


@pytest.mark.parametrize("question", ["How many invoices are there?", "发票一共有多少张？",
                                      "Count the invoices.", "number of invoices?"])
def test_count(parser, question):
    intent = read(parser, question, "invoice")
    assert intent.kind == "count" and intent.shape.subject == "invoice"
    assert intent.conditions == () and intent.description == "count of invoice rows"


@pytest.mark.parametrize("question,path_id,group", [
    ("How many contracts does each supplier have?", "supplier>contract", ("supplier", None)),
    ("每个供应商有多少合同", "supplier>contract", ("supplier", None)),
    # a router that put the grouping key last: the anchor is counted
    ("How many contracts does each supplier have?", "contract>supplier", ("supplier", None)),
    ("How many suppliers are there per country?", "supplier", ("supplier", "country")),
    ("按状态统计发货的数量", "delivery", ("delivery", "status")),
    ("For each supplier, how many invoices are there across the payments of the contracts?",
     "supplier>contract>payment>invoice", ("supplier", None)),
])
def test_group_count(parser, question, path_id, group):
    intent = read(parser, question, path_id)
    assert intent.kind == "group_count"
    assert (intent.shape.group_table, intent.shape.group_column) == group
    counted = {"supplier>contract": "contract", "contract>supplier": "contract"}.get(
        path_id, VOCAB.path_by_id[path_id].target)
    assert intent.shape.subject == counted


@pytest.mark.parametrize("question,path_id,column,high", [
    ("the contract with the largest amount", "contract", ("contract", "amount"), True),
    ("预算最高的项目", "project", ("project", "budget"), True),
    ("Which milestone has the earliest due date?", "milestone", ("milestone", "due_date"),
     False),
    ("latest invoice issued", "invoice", ("invoice", "issue_date"), True),
    ("金额最小的付款是哪一笔？", "payment", ("payment", "amount"), False),
])
def test_superlative_by_column(parser, question, path_id, column, high):
    intent = read(parser, question, path_id)
    assert intent.kind == "superlative" and intent.shape.group_table is None
    assert intent.shape.column == ColumnRef(*column) and intent.shape.descending is high


@pytest.mark.parametrize("question,path_id,counted,ranked,high", [
    ("Which supplier has the most contracts?", "contract>supplier", "contract", "supplier",
     True),
    ("哪家供应商的合同最多？", "contract>supplier", "contract", "supplier", True),
    ("Which project has the fewest milestones?", "project>milestone", "milestone", "project",
     False),
])
def test_superlative_by_count(parser, question, path_id, counted, ranked, high):
    intent = read(parser, question, path_id)
    assert intent.kind == "superlative" and intent.shape.function == "count"
    assert (intent.shape.subject, intent.shape.group_table) == (counted, ranked)
    assert intent.shape.descending is high


def test_superlative_by_total(parser):
    intent = read(parser, "Which project has the highest total contract value?",
                  "contract>project")
    assert intent.kind == "superlative" and intent.shape.function == "sum"
    assert intent.shape.group_table == "project"
    assert intent.shape.column == ColumnRef("contract", "amount")


@pytest.mark.parametrize("question,path_id,function,column", [
    ("What is the average budget?", "project", "avg", ("project", "budget")),
    ("平均预算", "project", "avg", ("project", "budget")),
    ("What is the total invoice amount?", "invoice", "sum", ("invoice", "amount")),
    ("所有合同的总金额是多少？", "contract", "sum", ("contract", "amount")),
    ("How much has been paid on contract HT-2023-006 so far?", "contract>payment", "sum",
     ("payment", "amount")),
    ("What is the maximum quantity among the deliveries?", "delivery", "max",
     ("delivery", "quantity")),
    ("付款的最大金额是多少？", "payment", "max", ("payment", "amount")),
])
def test_aggregate(parser, question, path_id, function, column):
    intent = read(parser, question, path_id)
    assert intent.kind == "aggregate" and intent.shape.function == function
    assert intent.shape.column == ColumnRef(*column) and not intent.shape.grouped


def test_total_per_group_is_a_grouped_aggregate(parser):
    intent = read(parser, "Total paid by payment method", "payment")
    assert intent.kind == "aggregate" and intent.shape.function == "sum"
    assert (intent.shape.group_table, intent.shape.group_column) == ("payment", "method")


@pytest.mark.parametrize("question,path_id,condition", [
    ("Is there any inspection with result rework?", "inspection",
     Condition("inspection", "result", "eq", "rework")),
    ("Are there any deliveries that are delayed?", "delivery",
     Condition("delivery", "status", "eq", "delayed")),
    ("有没有评级为C的供应商？", "supplier", Condition("supplier", "rating", "eq", "C")),
])
def test_exists(parser, question, path_id, condition):
    intent = read(parser, question, path_id)
    assert intent.kind == "exists" and intent.conditions == (condition,)


@pytest.mark.parametrize("question,path_id,column", [
    ("What is the budget of Riyadh Railway?", "project", "budget"),
    ("When did the Jakarta Bridge project start?", "project", "start_date"),
    ("When was HT-2019-007 signed?", "contract", "signed_date"),
    ("Where is Apex Steel Co. based?", "supplier", "country"),
    ("何强杰的职位是什么？", "employee", "title"),
    ("深圳港口码头项目是什么时候开工的？", "project", "start_date"),
    ("What is the budget of the project of contract HT-2022-008?", "contract>project",
     "budget"),
])
def test_attribute(parser, question, path_id, column):
    intent = read(parser, question, path_id)
    target = VOCAB.path_by_id[path_id].target
    assert intent.kind == "attribute" and intent.shape.column == ColumnRef(target, column)


@pytest.mark.parametrize("question,path_id,condition", [
    ("Show invoices over 1,000,000", "invoice", Condition("invoice", "amount", "gt", 1e6)),
    ("invoices above 1.5 million", "invoice", Condition("invoice", "amount", "gt", 1.5e6)),
    ("payments of at least 5k", "payment", Condition("payment", "amount", "gte", 5000.0)),
    ("deliveries with a quantity no more than 100", "delivery",
     Condition("delivery", "quantity", "lte", 100.0)),
    ("projects with a budget between 1 billion and 2 billion", "project",
     Condition("project", "budget", "between", 1e9, 2e9)),
    ("金额超过100万的发票", "invoice", Condition("invoice", "amount", "gt", 1e6)),
    ("施工进度超过80%的记录", "construction", Condition("construction", "progress", "gt", 80.0)),
    ("金额在1亿到2亿之间的项目", "project", Condition("project", "budget", "between", 1e8, 2e8)),
    ("Which vendors have contracts over 40 million?", "contract>supplier",
     Condition("contract", "amount", "gt", 4e7)),
])
def test_number_conditions(parser, question, path_id, condition):
    intent = read(parser, question, path_id)
    assert intent.kind == "rows" and intent.conditions == (condition,)


@pytest.mark.parametrize("question,path_id,condition", [
    ("Which projects started after 2022?", "project",
     Condition("project", "start_date", "after", "2022-12-31")),
    ("contracts signed before March 2021", "contract",
     Condition("contract", "signed_date", "before", "2021-03-01")),
    ("invoices issued in 2020", "invoice", Condition("invoice", "issue_date", "year", "2020")),
    ("deliveries made in March 2022", "delivery",
     Condition("delivery", "delivery_date", "between", "2022-03-01", "2022-03-31")),
    ("Which projects kicked off between 2020 and 2021?", "project",
     Condition("project", "start_date", "between", "2020-01-01", "2021-12-31")),
    ("2022年以后开工的项目有哪些？", "project",
     Condition("project", "start_date", "after", "2022-12-31")),
    ("2021年3月的付款", "payment",
     Condition("payment", "pay_date", "between", "2021-03-01", "2021-03-31")),
    ("Show deliveries for contracts signed in 2023", "contract>delivery",
     Condition("contract", "signed_date", "year", "2023")),
    ("Milestones due before the end of 2024", "milestone",
     Condition("milestone", "due_date", "lte", "2024-12-31")),
])
def test_date_conditions(parser, question, path_id, condition):
    intent = read(parser, question, path_id)
    assert intent.conditions == (condition,)


@pytest.mark.parametrize("question,path_id,condition", [
    ("How many suppliers are rated A?", "supplier", Condition("supplier", "rating", "eq", "A")),
    ("Show all vendors with a C rating.", "supplier",
     Condition("supplier", "rating", "eq", "C")),
    ("评级为B的供应商有几家？", "supplier", Condition("supplier", "rating", "eq", "B")),
    ("payments made by letter of credit", "payment",
     Condition("payment", "method", "eq", "letter of credit")),
])
def test_value_conditions(parser, question, path_id, condition):
    assert read(parser, question, path_id).conditions == (condition,)


def test_an_article_is_no_rating(parser):
    """A short code only counts as written in the data: "a" is no rating "A"."""
    assert read(parser, "Show the rating of a supplier", "supplier").conditions == ()


def test_a_table_word_hides_a_value_inside_it(parser):
    """"quality checks" names inspections, not the employees of the Quality department."""
    intent = read(parser, "How many quality checks has Ethan Tanaka performed?",
                  "employee>inspection")
    assert intent.kind == "count" and intent.conditions == ()


@pytest.mark.parametrize("question,path_id,phrase", [
    # the grouping table is not on the route
    ("How many contracts does each project have?", "contract", "each project"),
    ("每个项目有多少合同？", "contract", "每个项目"),
    # the number's column is unclear: the target has none, two other route tables have one
    ("Which suppliers of Riyadh Railway are over 5 million?", "project>contract>supplier",
     "over 5 million"),
    # a condition on a count, not on a column
    ("suppliers with more than 5 contracts", "supplier>contract", "more than 5 contracts"),
    ("How many payments are there per year?", "payment", "per year"),
    # a ranking by count on a single-table route
    ("Which supplier has the most contracts?", "supplier", "most contracts"),
])
def test_what_is_not_understood_falls_back_to_rows(parser, question, path_id, phrase):
    intent = read(parser, question, path_id)
    assert intent.kind == "rows" and intent.fell_back and intent.conditions == ()
    assert any(u.phrase == phrase for u in intent.unparsed), intent.unparsed


@pytest.mark.parametrize("question,path_id", [
    ("List all contracts", "contract"),
    ("Show the construction logs of Chongqing Railway.", "project>construction"),
    ("合同有哪些", "contract"),
    ("contracts of project HT-2022-001", "contract"),  # a code is no date
])
def test_plain_listings_stay_rows(parser, question, path_id):
    intent = read(parser, question, path_id)
    assert intent.kind == "rows" and not intent.unparsed and intent.conditions == ()


def test_parse_intent_without_a_database():
    """Without a database no value is read; numbers and dates still are."""
    intent = parse_intent("How many invoices over 1,000,000?", VOCAB.path_by_id["invoice"],
                          SCHEMA)
    assert intent.kind == "count"
    assert intent.conditions == (Condition("invoice", "amount", "gt", 1e6),)
    assert intent.description == "count of invoice rows where amount > 1,000,000"
    assert intent.to_dict()["kind"] == "count"
