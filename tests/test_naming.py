"""Identifier words, singular/plural without doubling, table nouns and column phrases."""

from __future__ import annotations

import pytest

from pathrl.naming import column_phrase, humanize, plural, singular, table_noun, table_plural, words


@pytest.mark.parametrize("identifier, expected", [
    ("order_items", ["order", "items"]),
    ("OrderItems", ["order", "items"]),
    ("tblOrderItems", ["order", "items"]),
    ("ORDER_ITEMS", ["order", "items"]),
    ("tb_customer", ["customer"]),
    ("HTTPRequestLog", ["http", "request", "log"]),
    ("address2", ["address", "2"]),
    ("employeeID", ["employee", "id"]),
    ("table", ["table"]),  # a bare "t"-word is not a prefix
])
def test_words(identifier, expected):
    assert words(identifier) == expected


@pytest.mark.parametrize("many, one", [
    ("orders", "order"), ("countries", "country"), ("categories", "category"),
    ("people", "person"), ("addresses", "address"), ("statuses", "status"),
    ("boxes", "box"), ("employees", "employee"),
])
def test_singular_and_plural_round_trip(many, one):
    assert singular(many) == one
    assert plural(one) == many
    assert plural(many) == many  # never "orderses", "countrieses"
    assert singular(one) == one


@pytest.mark.parametrize("word", ["status", "bonus", "analysis", "address", "bus", "campus"])
def test_singulars_ending_in_s_stay(word):
    assert singular(word) == word


@pytest.mark.parametrize("word", ["staff", "equipment", "news", "inventory", "payroll", "data"])
def test_uncountables_keep_their_form(word):
    assert plural(word) == word and singular(word) == word


def test_table_nouns_and_phrases():
    assert table_noun("tblOrderItems") == "order item"
    assert table_noun("COUNTRIES") == "country"
    assert table_plural("order_items") == "order items"
    assert table_plural("makers") == "makers"
    assert plural("goods receipt") == "goods receipts"
    assert humanize("HireDate") == "hire date"
    assert column_phrase("hire_date") == "hire date"
    assert column_phrase("customer_name", "customers") == "name"
    assert column_phrase("customer_name", "orders") == "customer name"
    assert column_phrase("customer", "customer") == "customer"


def test_inflect_is_imported_without_typeguard_and_leaves_it_as_it_was():
    # A fresh interpreter: the typeguard decorator is a no-op only while inflect imports.
    probe = ("import typeguard, typeguard._decorators as d, pathrl.naming as n, inflect; "
             "assert typeguard.typechecked is d.typechecked; "
             "assert 'check_argument_types_internal' not in "
             "inflect.engine.plural_noun.__code__.co_names; "
             "print(n.plural('country'), n.singular('statuses'))")
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["countries", "status"]
