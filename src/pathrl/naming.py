"""Words from identifiers: what a user calls a table or a column.

    words("tblOrderItems") == ["order", "items"]        # snake_case, CamelCase, ALL_CAPS, tbl...
    singular("countries") == "country"; plural("order") == "orders"; plural("orders") == "orders"
    table_noun("ORDER_ITEMS") == "order item"           # singular, humanised
    table_plural("order_items") == "order items"
    column_phrase("hire_date") == "hire date"; column_phrase("customer_name", "customer") == "name"

Singular and plural come from `inflect`, guarded where it guesses wrong on words ending in -us,
-is, -as, -ss ("status" is no plural of "statu") and for uncountable nouns ("staff", "news",
"equipment" keep their form). Both functions are idempotent: a plural is never pluralised again
("orderses"), a singular never singularised again.
"""

from __future__ import annotations

import re
from functools import lru_cache


def _inflect_engine():
    """inflect's engine, imported with typeguard's `@typechecked` as a no-op: inflect checks
    every argument of every call with it, and typeguard re-compiles each decorated function's
    source at import (2.7 s of every pathrl process on a 2-core CPU). pathrl passes plain
    strings, which is all the checks would verify."""
    import sys

    import typeguard

    if "inflect" not in sys.modules:
        checked = typeguard.typechecked
        typeguard.typechecked = lambda target=None, **_: target or (lambda f: f)
        try:
            import inflect
        finally:
            typeguard.typechecked = checked
    import inflect

    return inflect.engine()


_ENGINE = _inflect_engine()
# Nouns whose singular and plural look the same in business speech ("project staff").
UNCOUNTABLE = frozenset({
    "work", "progress", "staff", "equipment", "information", "personnel", "data", "software",
    "feedback", "news", "cash", "inventory", "stock", "metadata", "media", "series", "species",
    "goods", "logistics", "payroll", "revenue", "income", "mail", "luggage", "baggage",
    "furniture", "hardware", "research", "access", "info", "analytics",
    "sms", "gps", "faq", "hr", "it", "qa", "kpi", "sku", "crm", "erp",
})
# Endings where inflect's singular of a singular word drops a letter ("bonus" -> "bonu").
_FALSE_PLURAL_ENDINGS = ("us", "ss", "is", "as", "os", "ys")
# Table-name prefixes that carry no meaning ("tblOrders", "tb_orders", "t_orders").
_TABLE_PREFIX = re.compile(r"^(?:tbl|tb)(?=[A-Z_])|^(?:tbl|tb|t)_", re.IGNORECASE)
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")


def words(identifier: str) -> list[str]:
    """Lower-cased words of an identifier: snake_case, kebab-case, CamelCase, ALL_CAPS,
    "tblOrderItems" (a tbl/tb/t_ prefix is dropped), digits kept as their own word."""
    return list(_words(identifier))


@lru_cache(maxsize=8192)
def _words(identifier: str) -> tuple[str, ...]:
    text = _TABLE_PREFIX.sub("", identifier.strip()) or identifier.strip()
    out: list[str] = []
    for chunk in re.split(r"[\s_\-.]+", text):
        if not chunk:
            continue
        if chunk.isupper() or chunk.islower():
            out.extend(m.lower() for m in re.findall(r"[A-Za-z]+|\d+", chunk))
        else:
            out.extend(m.lower() for m in _CAMEL.findall(chunk))
    return tuple(out)


@lru_cache(maxsize=8192)
def humanize(identifier: str) -> str:
    """Words joined by spaces: "OrderItems" -> "order items"."""
    return " ".join(words(identifier)) or identifier.lower()


@lru_cache(maxsize=4096)
def _singular_word(word: str) -> str:
    low = word.lower()
    if low in UNCOUNTABLE or not low.isalpha() or len(low) < 3:
        return word
    guess = _ENGINE.singular_noun(low)
    if not guess or guess == low:
        return word
    if guess == low[:-1] and low.endswith(_FALSE_PLURAL_ENDINGS):
        return word  # "status", "bonus", "analysis", "address": already singular
    return _same_case(word, guess)


@lru_cache(maxsize=4096)
def _plural_word(word: str) -> str:
    low = word.lower()
    if low in UNCOUNTABLE or not low.isalpha():
        return word
    if _singular_word(word) != word:
        return word  # already plural: "orders" stays "orders", never "orderses"
    return _same_case(word, _ENGINE.plural_noun(low))


def _same_case(original: str, new: str) -> str:
    if original.isupper() and len(original) > 1:
        return new.upper()
    if original[:1].isupper():
        return new[:1].upper() + new[1:]
    return new


@lru_cache(maxsize=8192)
def singular(noun: str) -> str:
    """Singular of a noun phrase (the last word changes): "order items" -> "order item"."""
    head, _, last = noun.rpartition(" ")
    one = _singular_word(last) if last else last
    return f"{head} {one}" if head else one


@lru_cache(maxsize=8192)
def plural(noun: str) -> str:
    """Plural of a noun phrase (the last word changes); a plural or uncountable is kept."""
    head, _, last = noun.rpartition(" ")
    many = _plural_word(last) if last else last
    return f"{head} {many}" if head else many


@lru_cache(maxsize=8192)
def table_noun(table_name: str) -> str:
    """The humanised singular noun of a table: "tblOrderItems" -> "order item"."""
    return singular(humanize(table_name))


def table_plural(table_name: str) -> str:
    return plural(table_noun(table_name))


@lru_cache(maxsize=8192)
def column_phrase(column: str, table_name: str | None = None) -> str:
    """How a question names a column: words of the name, without a leading copy of the table
    noun ("customer_name" in customer -> "name") or a trailing "id" of a code column."""
    parts = words(column)
    if table_name:
        own = words(table_noun(table_name))
        if len(parts) > len(own) and [singular(p) for p in parts[:len(own)]] == own:
            parts = parts[len(own):]
    return " ".join(parts) or column.lower()
