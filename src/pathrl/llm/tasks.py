"""Offline tasks for RLHF on generative LLMs: grade-school arithmetic word problems.

The generator writes multi-step problems (2–4 operations among + − × ÷, division always exact)
in five domains (shopping, school, farm, travel, work), in English and in Chinese, each with a
verifiable integer answer, the recorded arithmetic steps and a worked solution. It is seeded
and deterministic; train and test splits never share a problem (dedupe by normalised text).
GSM8K-format JSONL files (``{"question": ..., "answer": "... #### 42"}``) load into the same
records.

The chat format follows docs/method.md §10.6 (source article 002): a system prompt asks for
``<reasoning>…</reasoning>`` then ``<answer>…</answer>``; :func:`sft_target` is the ideal
completion in that layout and :func:`preference_pairs` builds (prompt, chosen, rejected)
triples for DPO and reward-model training. docs/llm_tasks.md describes it all.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypedDict

from pathrl.errors import PathrlError

Op = Literal["+", "-", "*", "/"]
LANGS: tuple[str, ...] = ("en", "zh")
DOMAINS: tuple[str, ...] = ("shopping", "school", "farm", "travel", "work")
#: Difficulty d means d + 1 operations, with larger numbers as d grows.
DIFFICULTIES: tuple[int, ...] = (1, 2, 3)

SYSTEM_PROMPT = (
    "Solve the math word problem. Think step by step, then give the final answer as a single "
    "integer with no units. Write the reasoning in the language of the question. Respond in "
    "exactly this format:\n"
    "<reasoning>\n...\n</reasoning>\n<answer>\n...\n</answer>"
)

_SYMBOL: dict[str, str] = {"+": "+", "-": "−", "*": "×", "/": "÷"}


class TaskError(PathrlError):
    """A task file or a generator request that cannot be served."""


class ChatMessage(TypedDict):
    """One chat message, the format of TRL's conversational datasets."""

    role: str
    content: str


@dataclass(frozen=True)
class Step:
    """One recorded arithmetic operation: ``left op right = result``."""

    op: Op
    left: int
    right: int
    result: int

    def recompute(self) -> int:
        """The result computed again from the operands (exact division or ValueError)."""
        return _apply(self.op, self.left, self.right)

    def render(self) -> str:
        return f"{self.left} {_SYMBOL[self.op]} {self.right} = {self.result}"


@dataclass(frozen=True)
class Problem:
    """A word problem with a verifiable integer answer.

    `steps` are the operations that lead to `answer` (the last step's result); problems loaded
    from GSM8K have none. `solution` is the worked reasoning, one sentence per line, ending
    with the answer sentence."""

    id: str
    question: str
    answer: int
    lang: str
    steps: tuple[Step, ...]
    solution: str
    domain: str = "gsm8k"
    template: str = "gsm8k"
    difficulty: int = 0  # 0: unknown (loaded problems)
    source: str = "synthetic"


@dataclass(frozen=True)
class TaskSplit:
    """Train and test problems that share no normalised question."""

    train: tuple[Problem, ...]
    test: tuple[Problem, ...]


# --------------------------------------------------------------------------- arithmetic


class _Retry(Exception):
    """The sampled numbers broke a constraint (a negative amount, an inexact division)."""


def _apply(op: str, left: int, right: int) -> int:
    if op == "+":
        return left + right
    if op == "-":
        return left - right
    if op == "*":
        return left * right
    if op == "/":
        if right == 0 or left % right:
            raise ValueError(f"{left} / {right} is not an exact division")
        return left // right
    raise ValueError(f"unknown operation {op!r}")


class _Calc:
    """Records each operation of a template; every intermediate amount must stay positive."""

    def __init__(self) -> None:
        self.steps: list[Step] = []

    def __call__(self, op: Op, left: int, right: int) -> int:
        try:
            result = _apply(op, left, right)
        except ValueError:
            raise _Retry from None
        if result <= 0:
            raise _Retry
        self.steps.append(Step(op, left, right, result))
        return result

    @property
    def eq(self) -> str:
        """The last operation as ``a × b = c``."""
        return self.steps[-1].render()


@dataclass(frozen=True)
class _Draft:
    question: str
    lines: tuple[str, ...]
    steps: tuple[Step, ...]


# --------------------------------------------------------------------------- vocabulary


@dataclass(frozen=True)
class _Person:
    en: str
    he: str  # en subject pronoun
    his: str  # en possessive
    zh: str
    ta: str  # zh pronoun


def _people(rows: Sequence[tuple[str, str, str]]) -> tuple[_Person, ...]:
    pronouns = {"f": ("she", "her", "她"), "m": ("he", "his", "他")}
    out = []
    for en, zh, sex in rows:
        he, his, ta = pronouns[sex]
        out.append(_Person(en, he, his, zh, ta))
    return tuple(out)


_CHILDREN = _people([
    ("Lily", "小红", "f"), ("Tom", "小明", "m"), ("Maya", "小丽", "f"), ("Omar", "小刚", "m"),
    ("Sofia", "小芳", "f"), ("Ben", "小军", "m"), ("Aisha", "小雨", "f"), ("Lucas", "小华", "m"),
    ("Emma", "小玲", "f"), ("Noah", "小强", "m"),
])
_ADULTS = _people([
    ("Mr. Chen", "陈叔叔", "m"), ("Ms. Rivera", "李阿姨", "f"), ("Mr. Okafor", "张师傅", "m"),
    ("Mrs. Novak", "刘阿姨", "f"), ("Mr. Haddad", "王叔叔", "m"), ("Ms. Tanaka", "赵阿姨", "f"),
])
_FARMERS = _people([
    ("Farmer Brown", "王大爷", "m"), ("Farmer Lopez", "李奶奶", "f"),
    ("Farmer Patel", "张大伯", "m"), ("Farmer Kim", "赵大妈", "f"),
])


@dataclass(frozen=True)
class _Thing:
    one: str  # en singular
    many: str  # en plural
    zh: str
    mw: str  # zh measure word
    lo: int = 1  # price range (shopping)
    hi: int = 9


_SHOP_ITEMS = (
    _Thing("notebook", "notebooks", "笔记本", "本", 2, 6),
    _Thing("pen", "pens", "圆珠笔", "支", 1, 4),
    _Thing("T-shirt", "T-shirts", "T恤", "件", 8, 19),
    _Thing("toy car", "toy cars", "玩具车", "辆", 5, 14),
    _Thing("cupcake", "cupcakes", "纸杯蛋糕", "个", 2, 5),
    _Thing("bottle of water", "bottles of water", "矿泉水", "瓶", 1, 3),
    _Thing("comic book", "comic books", "漫画书", "本", 4, 9),
)
_SINGLE_ITEMS = (
    _Thing("backpack", "backpacks", "书包", "个", 15, 39),
    _Thing("lunch box", "lunch boxes", "饭盒", "个", 6, 15),
    _Thing("umbrella", "umbrellas", "雨伞", "把", 9, 25),
    _Thing("football", "footballs", "足球", "个", 12, 30),
)
_SALE_ITEMS = (
    _Thing("jacket", "jackets", "夹克", "件"),
    _Thing("pair of shoes", "pairs of shoes", "运动鞋", "双"),
    _Thing("board game", "board games", "桌游", "盒"),
    _Thing("desk lamp", "desk lamps", "台灯", "盏"),
)
_CLASS_SUPPLIES = (
    _Thing("marker", "markers", "马克笔", "支"),
    _Thing("worksheet", "worksheets", "练习纸", "张"),
    _Thing("glue stick", "glue sticks", "胶棒", "根"),
    _Thing("ruler", "rulers", "尺子", "把"),
)
_COLLECTIBLES = (
    _Thing("sticker", "stickers", "贴纸", "张"),
    _Thing("storybook", "storybooks", "故事书", "本"),
    _Thing("marble", "marbles", "玻璃珠", "颗"),
    _Thing("postcard", "postcards", "明信片", "张"),
)
_CROPS = (
    _Thing("apple", "apples", "苹果", "个"),
    _Thing("pear", "pears", "梨", "个"),
    _Thing("potato", "potatoes", "土豆", "个"),
    _Thing("orange", "oranges", "橙子", "个"),
)
_PRODUCTS = (
    _Thing("toy", "toys", "玩具", "个"),
    _Thing("mug", "mugs", "杯子", "个"),
    _Thing("jar of jam", "jars of jam", "果酱", "瓶"),
    _Thing("pencil", "pencils", "铅笔", "支"),
)
_BILLS = (10, 20, 50, 100, 200, 500)
# 打八折 = pay 8/10 of the price; 打七五折 = 75/100.
_ZH_DISCOUNTS = ((9, 10, "九"), (8, 10, "八"), (7, 10, "七"), (6, 10, "六"), (5, 10, "五"),
                 (75, 100, "七五"), (85, 100, "八五"))
_EN_PERCENTS = (10, 20, 25, 50)


def _a(noun: str) -> str:
    """The noun with its English indefinite article."""
    return f"an {noun}" if noun[:1] in "aeiou" else f"a {noun}"


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _num(rng: random.Random, lo: int, hi: int, difficulty: int) -> int:
    """A number in [lo, hi] whose range widens with the difficulty."""
    return rng.randint(lo, hi + (hi - lo) * (difficulty - 1) // 2)


def _bill(total: int) -> int:
    for bill in _BILLS:
        if bill > total:
            return bill
    raise _Retry


# --------------------------------------------------------------------------- templates
# Each template writes one problem with exactly `n_ops` operations (2, 3 or 4) in `lang`.
# Chinese is written as a Chinese textbook would put it, not translated word by word.


def _shopping_change(rng: random.Random, lang: str, n_ops: int, d: int) -> _Draft:
    who = rng.choice(_CHILDREN + _ADULTS)
    first, second = rng.sample(_SHOP_ITEMS, 2)
    extra = rng.choice(_SINGLE_ITEMS)
    c = _Calc()
    a, p = rng.randint(2, 5 + d), _num(rng, first.lo, first.hi, d)
    cost1 = c("*", a, p)
    en_lines = [f"{a} {first.many} cost {c.eq} dollars."]
    zh_lines = [f"买{first.zh}花了:{c.eq}(元)。"]
    en_buy = f"{who.en} buys {a} {first.many} at ${p} each"
    zh_buy = f"{who.zh}买了{a}{first.mw}{first.zh},每{first.mw}{p}元"
    total = cost1
    if n_ops == 3:
        q = rng.randint(extra.lo, extra.hi)
        total = c("+", cost1, q)
        en_buy += f" and one {extra.one} for ${q}"
        zh_buy += f",还买了一{extra.mw}{extra.zh},{q}元"
        en_lines.append(f"With the {extra.one}, the total is {c.eq} dollars.")
        zh_lines.append(f"一共花了:{c.eq}(元)。")
    elif n_ops == 4:
        b, q = rng.randint(2, 4 + d), _num(rng, second.lo, second.hi, d)
        cost2 = c("*", b, q)
        en_lines.append(f"{b} {second.many} cost {c.eq} dollars.")
        zh_lines.append(f"买{second.zh}花了:{c.eq}(元)。")
        total = c("+", cost1, cost2)
        en_lines.append(f"Together that is {c.eq} dollars.")
        zh_lines.append(f"一共花了:{c.eq}(元)。")
        en_buy += f" and {b} {second.many} at ${q} each"
        zh_buy += f",又买了{b}{second.mw}{second.zh},每{second.mw}{q}元"
    bill = _bill(total)
    change = c("-", bill, total)
    en_lines.append(f"The change is {c.eq} dollars.")
    zh_lines.append(f"应找回:{c.eq}(元)。")
    if lang == "en":
        question = (f"{en_buy}. {_cap(who.he)} pays with a ${bill} bill. "
                    f"How much change, in dollars, does {who.he} get?")
        return _Draft(question, (*en_lines, _en_answer(change)), tuple(c.steps))
    question = f"{zh_buy}。{who.ta}付了{bill}元,应该找回多少元?"
    return _Draft(question, (*zh_lines, _zh_answer(change)), tuple(c.steps))


def _shopping_discount(rng: random.Random, lang: str, n_ops: int, d: int) -> _Draft:
    who = rng.choice(_CHILDREN + _ADULTS)
    c = _Calc()
    if n_ops == 2:  # a whole number of dollars off each item
        item = rng.choice(_SHOP_ITEMS + _SINGLE_ITEMS)
        p = rng.randint(max(item.lo, 4), item.hi + 5 * d)
        off, k = rng.randint(1, max(1, p // 3)), rng.randint(2, 5 + d)
        unit = c("-", p, off)
        en_lines = [f"Each {item.one} costs {c.eq} dollars on sale."]
        zh_lines = [f"每{item.mw}现价:{c.eq}(元)。"]
        total = c("*", unit, k)
        en_lines.append(f"{k} of them cost {c.eq} dollars.")
        zh_lines.append(f"{k}{item.mw}一共:{c.eq}(元)。")
        if lang == "en":
            question = (f"{_cap(_a(item.one))} costs ${p}. During a sale the shop takes ${off} "
                        f"off each {item.one}. {who.en} buys {k} {item.many}. How many "
                        f"dollars does {who.he} pay?")
            return _Draft(question, (*en_lines, _en_answer(total)), tuple(c.steps))
        question = (f"一{item.mw}{item.zh}原价{p}元,促销期间每{item.mw}便宜{off}元。"
                    f"{who.zh}买了{k}{item.mw},一共要付多少元?")
        return _Draft(question, (*zh_lines, _zh_answer(total)), tuple(c.steps))
    item = rng.choice(_SALE_ITEMS)
    p = 20 * rng.randint(2, 5 + 2 * d)  # a multiple of 20: every discount below is exact
    if lang == "en":
        pct = rng.choice(_EN_PERCENTS)
        scaled = c("*", p, pct)
        off = c("/", scaled, 100)
        en_lines = [f"The discount is {pct}% of ${p}: {c.steps[-2].render()}, and {c.eq} "
                    "dollars."]
        price = c("-", p, off)
        en_lines.append(f"The sale price is {c.eq} dollars.")
        if n_ops == 3:
            question = (f"{_cap(_a(item.one))} costs ${p}. It is on sale for {pct}% off. "
                        "What is the sale price in dollars?")
            return _Draft(question, (*en_lines, _en_answer(price)), tuple(c.steps))
        k = rng.randint(2, 3 + d)
        total = c("*", price, k)
        en_lines.append(f"{k} {item.many} cost {c.eq} dollars.")
        question = (f"{_cap(_a(item.one))} costs ${p}. This week everything in the shop is "
                    f"{pct}% off. {who.en} buys {k} {item.many}. How many dollars does "
                    f"{who.he} pay?")
        return _Draft(question, (*en_lines, _en_answer(total)), tuple(c.steps))
    rate, base, word = rng.choice(_ZH_DISCOUNTS)
    scaled = c("*", p, rate)
    unit = c("/", scaled, base)
    zh_lines = [f"打{word}折就是按原价的{rate * 100 // base}%付款,每{item.mw}:"
                f"{c.steps[-2].render()},{c.eq}(元)。"]
    k = rng.randint(2, 3 + d)
    total = c("*", unit, k)
    zh_lines.append(f"{k}{item.mw}一共:{c.eq}(元)。")
    question = f"一{item.mw}{item.zh}原价{p}元,现在打{word}折出售。{who.zh}买了{k}{item.mw}"
    if n_ops == 3:
        question += ",一共要付多少元?"
        return _Draft(question, (*zh_lines, _zh_answer(total)), tuple(c.steps))
    coupon = rng.choice((5, 10, 15, 20))
    paid = c("-", total, coupon)
    zh_lines.append(f"用优惠券后:{c.eq}(元)。")
    question += f",结账时又用了一张{coupon}元的优惠券。{who.ta}实际付了多少元?"
    return _Draft(question, (*zh_lines, _zh_answer(paid)), tuple(c.steps))


def _school_groups(rng: random.Random, lang: str, n_ops: int, d: int) -> _Draft:
    thing = rng.choice(_CLASS_SUPPLIES)
    g = rng.choice((2, 3, 4, 5, 6))
    m = rng.randint(2, 4 + d)
    c = _Calc()
    if n_ops == 2:
        n = g * rng.randint(4, 6 + 2 * d)
        groups = c("/", n, g)
        en_lines = [f"There are {c.eq} groups."]
        zh_lines = [f"一共分成:{c.eq}(组)。"]
        en_q = (f"There are {n} students in a class. The teacher puts them into groups of {g}. "
                f"Each group gets {m} {thing.many}.")
        zh_q = (f"一个班有{n}名学生,老师把他们每{g}人分成一组,每组发{m}{thing.mw}"
                f"{thing.zh}。")
    else:
        groups_wanted = rng.randint(6, 9 + 2 * d)
        n = g * groups_wanted
        n1 = rng.randint(n // 3, 2 * n // 3)
        n2 = n - n1
        students = c("+", n1, n2)
        en_lines = [f"The two classes have {c.eq} students."]
        zh_lines = [f"两个班一共有:{c.eq}(名)学生。"]
        groups = c("/", students, g)
        en_lines.append(f"That makes {c.eq} groups.")
        zh_lines.append(f"一共分成:{c.eq}(组)。")
        en_q = (f"Class A has {n1} students and Class B has {n2} students. For a project the "
                f"teachers put all the students into groups of {g}. Each group gets {m} "
                f"{thing.many}.")
        zh_q = (f"四年级一班有{n1}名学生,二班有{n2}名学生。做手工时,老师把两个班的学生每{g}人"
                f"分成一组,每组发{m}{thing.mw}{thing.zh}。")
    needed = c("*", groups, m)
    en_lines.append(f"The groups need {c.eq} {thing.many}.")
    zh_lines.append(f"各组一共要发:{c.eq}({thing.mw})。")
    answer = needed
    if n_ops == 4:
        spare = rng.randint(3, 10)
        answer = c("+", needed, spare)
        en_lines.append(f"With the spares that is {c.eq} {thing.many}.")
        zh_lines.append(f"加上备用的:{c.eq}({thing.mw})。")
        en_q += f" The teachers also keep {spare} spare {thing.many}."
        zh_q += f"老师另外还要准备{spare}{thing.mw}备用。"
    if lang == "en":
        question = f"{en_q} How many {thing.many} are needed in total?"
        return _Draft(question, (*en_lines, _en_answer(answer)), tuple(c.steps))
    question = f"{zh_q}一共需要多少{thing.mw}{thing.zh}?"
    return _Draft(question, (*zh_lines, _zh_answer(answer)), tuple(c.steps))


def _school_comparison(rng: random.Random, lang: str, n_ops: int, d: int) -> _Draft:
    a, b, third = rng.sample(_CHILDREN, 3)
    thing = rng.choice(_COLLECTIBLES)
    c = _Calc()
    n = 2 * _num(rng, 4, 15, d)  # even, so "half as many" divides
    kind = rng.choice(("twice", "three times", "half"))
    if kind == "half":
        b_count = c("/", n, 2)
        en_rel, zh_rel = "half as many", f"只有{a.zh}的一半"
    else:
        factor = 2 if kind == "twice" else 3
        b_count = c("*", n, factor)
        en_rel, zh_rel = f"{kind} as many", f"是{a.zh}的{factor}倍"
    en_lines = [f"{b.en} has {c.eq} {thing.many}."]
    zh_lines = [f"{b.zh}有:{c.eq}({thing.mw})。"]
    en_q = (f"{a.en} has {n} {thing.many}. {b.en} has {en_rel} {thing.many} as {a.en}.")
    zh_q = f"{a.zh}有{n}{thing.mw}{thing.zh},{b.zh}的{thing.zh}{zh_rel}。"
    if n_ops == 2:
        answer = c("+", n, b_count)
        en_lines.append(f"Together they have {c.eq} {thing.many}.")
        zh_lines.append(f"两人一共有:{c.eq}({thing.mw})。")
        en_ask = f"How many {thing.many} do {a.en} and {b.en} have altogether?"
        zh_ask = f"两人一共有多少{thing.mw}{thing.zh}?"
    else:
        fewer = rng.randint(1, max(1, b_count - 1))
        c_count = c("-", b_count, fewer)
        en_lines.append(f"{third.en} has {c.eq} {thing.many}.")
        zh_lines.append(f"{third.zh}有:{c.eq}({thing.mw})。")
        en_q += f" {third.en} has {fewer} fewer {thing.many} than {b.en}."
        zh_q += f"{third.zh}比{b.zh}少{fewer}{thing.mw}。"
        pair = c("+", b_count, c_count)
        if n_ops == 3:
            answer = pair
            en_lines.append(f"{b.en} and {third.en} have {c.eq} {thing.many}.")
            zh_lines.append(f"{b.zh}和{third.zh}一共有:{c.eq}({thing.mw})。")
            en_ask = f"How many {thing.many} do {b.en} and {third.en} have together?"
            zh_ask = f"{b.zh}和{third.zh}一共有多少{thing.mw}?"
        else:
            en_lines.append(f"{b.en} and {third.en} have {c.eq} {thing.many}.")
            zh_lines.append(f"{b.zh}和{third.zh}一共有:{c.eq}({thing.mw})。")
            answer = c("+", pair, n)
            en_lines.append(f"With {a.en}'s, all three have {c.eq} {thing.many}.")
            zh_lines.append(f"三人一共有:{c.eq}({thing.mw})。")
            en_ask = f"How many {thing.many} do the three of them have in total?"
            zh_ask = f"他们三人一共有多少{thing.mw}{thing.zh}?"
    if lang == "en":
        return _Draft(f"{en_q} {en_ask}", (*en_lines, _en_answer(answer)), tuple(c.steps))
    return _Draft(f"{zh_q}{zh_ask}", (*zh_lines, _zh_answer(answer)), tuple(c.steps))


def _farm_eggs(rng: random.Random, lang: str, n_ops: int, d: int) -> _Draft:
    who = rng.choice(_FARMERS)
    per_box = rng.choice((6, 10, 12))
    c = _Calc()
    hens, eggs = _num(rng, 4, 12, d), rng.randint(3, 7)
    laid = c("*", hens, eggs)
    en_lines = [f"The hens lay {c.eq} eggs a week."]
    zh_lines = [f"一周一共下蛋:{c.eq}(个)。"]
    en_q = f"{who.en} has {hens} hens. Each hen lays {eggs} eggs a week."
    zh_q = f"{who.zh}家养了{hens}只母鸡,每只母鸡一周下{eggs}个蛋。"
    to_pack = laid
    if n_ops == 4:
        kept = laid % per_box or per_box
        if kept >= laid:
            raise _Retry
        to_pack = c("-", laid, kept)
        en_lines.append(f"{_cap(who.he)} packs {c.eq} eggs.")
        zh_lines.append(f"拿去装盒的有:{c.eq}(个)。")
        en_q += f" The family keeps {kept} eggs each week and packs the rest"
        zh_q += f"每周自家留下{kept}个蛋,其余的装盒出售"
    else:
        en_q += " The eggs are packed"
        zh_q += f"{who.ta}把鸡蛋全部装盒出售"
    boxes = c("/", to_pack, per_box)
    en_lines.append(f"That fills {c.eq} cartons.")
    zh_lines.append(f"能装:{c.eq}(盒)。")
    en_q += f" in cartons of {per_box}."
    zh_q += f",每盒装{per_box}个。"
    if n_ops == 2:
        if lang == "en":
            question = f"{en_q} How many cartons are filled in a week?"
            return _Draft(question, (*en_lines, _en_answer(boxes)), tuple(c.steps))
        question = f"{zh_q}一周能装满多少盒?"
        return _Draft(question, (*zh_lines, _zh_answer(boxes)), tuple(c.steps))
    price = rng.randint(2, 5 + d)
    money = c("*", boxes, price)
    en_lines.append(f"The cartons sell for {c.eq} dollars.")
    zh_lines.append(f"一周收入:{c.eq}(元)。")
    if lang == "en":
        question = (f"{en_q} Each carton sells for ${price}. How many dollars does "
                    f"{who.en} make from eggs in a week?")
        return _Draft(question, (*en_lines, _en_answer(money)), tuple(c.steps))
    question = f"{zh_q}每盒卖{price}元。{who.ta}一周卖鸡蛋能收入多少元?"
    return _Draft(question, (*zh_lines, _zh_answer(money)), tuple(c.steps))


def _farm_harvest(rng: random.Random, lang: str, n_ops: int, d: int) -> _Draft:
    who = rng.choice(_FARMERS)
    crop = rng.choice(_CROPS)
    c = _Calc()
    n = _num(rng, 10, 60, d)
    baskets, per_basket = rng.randint(2, 5 + d), rng.randint(8, 20 + 5 * d)
    if n_ops == 4:  # choose the crates first so the last division is exact
        crates = rng.choice((3, 4, 5, 6, 8))
        total = n + baskets * per_basket
        sold_max = total - crates
        if sold_max < 1:
            raise _Retry
        sold = rng.randint(1, sold_max)
        sold += (total - sold) % crates  # round so the rest fills the crates evenly
        if sold >= total:
            raise _Retry
    picked = c("*", baskets, per_basket)
    en_lines = [f"{_cap(who.he)} picks {c.eq} {crop.many}."]
    zh_lines = [f"又摘了:{c.eq}({crop.mw})。"]
    now = c("+", n, picked)
    en_lines.append(f"Now {who.he} has {c.eq} {crop.many}.")
    zh_lines.append(f"现在一共有:{c.eq}({crop.mw})。")
    en_q = (f"{who.en} has {n} {crop.many} in the barn. {_cap(who.he)} picks {baskets} more "
            f"baskets with {per_basket} {crop.many} in each.")
    zh_q = (f"{who.zh}的仓库里有{n}{crop.mw}{crop.zh},{who.ta}又摘了{baskets}筐,"
            f"每筐{per_basket}{crop.mw}。")
    if n_ops == 2:
        if lang == "en":
            question = f"{en_q} How many {crop.many} does {who.he} have now?"
            return _Draft(question, (*en_lines, _en_answer(now)), tuple(c.steps))
        question = f"{zh_q}现在一共有多少{crop.mw}{crop.zh}?"
        return _Draft(question, (*zh_lines, _zh_answer(now)), tuple(c.steps))
    if n_ops == 3:
        sold = rng.randint(1, now - 1)
    left = c("-", now, sold)
    en_lines.append(f"After the market {c.eq} {crop.many} are left.")
    zh_lines.append(f"还剩:{c.eq}({crop.mw})。")
    en_q += f" {_cap(who.he)} sells {sold} {crop.many} at the market."
    zh_q += f"{who.ta}在集市上卖掉了{sold}{crop.mw}。"
    if n_ops == 3:
        if lang == "en":
            question = f"{en_q} How many {crop.many} are left?"
            return _Draft(question, (*en_lines, _en_answer(left)), tuple(c.steps))
        question = f"{zh_q}还剩多少{crop.mw}{crop.zh}?"
        return _Draft(question, (*zh_lines, _zh_answer(left)), tuple(c.steps))
    each = c("/", left, crates)
    en_lines.append(f"Each crate holds {c.eq} {crop.many}.")
    zh_lines.append(f"每箱装:{c.eq}({crop.mw})。")
    if lang == "en":
        question = (f"{en_q} {_cap(who.he)} packs the rest equally into {crates} crates. How "
                    f"many {crop.many} go into each crate?")
        return _Draft(question, (*en_lines, _en_answer(each)), tuple(c.steps))
    question = f"{zh_q}{who.ta}把剩下的{crop.zh}平均装进{crates}个箱子里,每箱装多少{crop.mw}?"
    return _Draft(question, (*zh_lines, _zh_answer(each)), tuple(c.steps))


def _travel_distance(rng: random.Random, lang: str, n_ops: int, d: int) -> _Draft:
    c = _Calc()
    if n_ops == 2:
        speed, hours = 10 * rng.randint(4, 9 + d), rng.randint(2, 5)
        distance, later = speed * hours, rng.randint(hours + 1, hours + 4)
        per_hour = c("/", distance, hours)
        en_lines = [f"The train's speed is {c.eq} km per hour."]
        zh_lines = [f"火车每小时行驶:{c.eq}(千米)。"]
        answer = c("*", per_hour, later)
        en_lines.append(f"In {later} hours it travels {c.eq} km.")
        zh_lines.append(f"{later}小时行驶:{c.eq}(千米)。")
        if lang == "en":
            question = (f"A train travels {distance} km in {hours} hours at a steady speed. How "
                        f"many km does it travel in {later} hours at the same speed?")
            return _Draft(question, (*en_lines, _en_answer(answer)), tuple(c.steps))
        question = (f"一列火车匀速行驶,{hours}小时行驶了{distance}千米。照这样的速度,{later}小时"
                    "能行驶多少千米?")
        return _Draft(question, (*zh_lines, _zh_answer(answer)), tuple(c.steps))
    s1, h1 = 5 * rng.randint(8, 16 + 2 * d), rng.randint(2, 4)
    s2, h2 = 5 * rng.randint(6, 14 + 2 * d), rng.randint(2, 3)
    leg1 = c("*", s1, h1)
    en_lines = [f"The first part is {c.eq} km."]
    zh_lines = [f"前一段:{c.eq}(千米)。"]
    leg2 = c("*", s2, h2)
    en_lines.append(f"The second part is {c.eq} km.")
    zh_lines.append(f"后一段:{c.eq}(千米)。")
    driven = c("+", leg1, leg2)
    en_lines.append(f"In total that is {c.eq} km.")
    zh_lines.append(f"一共行驶了:{c.eq}(千米)。")
    if n_ops == 3:
        if lang == "en":
            question = (f"A bus travels at {s1} km per hour for {h1} hours, then at {s2} km per "
                        f"hour for {h2} hours. How many km does it travel in total?")
            return _Draft(question, (*en_lines, _en_answer(driven)), tuple(c.steps))
        question = (f"一辆大巴车先以每小时{s1}千米的速度行驶了{h1}小时,又以每小时{s2}千米的速度"
                    f"行驶了{h2}小时。大巴车一共行驶了多少千米?")
        return _Draft(question, (*zh_lines, _zh_answer(driven)), tuple(c.steps))
    who = rng.choice(_ADULTS)
    trip = 10 * ((driven + rng.randint(20, 200)) // 10)
    left = c("-", trip, driven)
    en_lines.append(f"They still have {c.eq} km to go.")
    zh_lines.append(f"还要开:{c.eq}(千米)。")
    if lang == "en":
        question = (f"{who.en} is driving to a city {trip} km away. {_cap(who.he)} drives at "
                    f"{s1} km per hour for {h1} hours, stops for lunch, then drives at {s2} km "
                    f"per hour for {h2} hours. How many more km does {who.he} have to drive?")
        return _Draft(question, (*en_lines, _en_answer(left)), tuple(c.steps))
    question = (f"{who.zh}开车去{trip}千米外的城市。{who.ta}先以每小时{s1}千米的速度开了{h1}小时,"
                f"吃过午饭后又以每小时{s2}千米的速度开了{h2}小时。{who.ta}还要开多少千米?")
    return _Draft(question, (*zh_lines, _zh_answer(left)), tuple(c.steps))


def _travel_tickets(rng: random.Random, lang: str, n_ops: int, d: int) -> _Draft:
    c = _Calc()
    if n_ops == 2:
        friends, price, tour = rng.randint(3, 8 + d), rng.randint(6, 18 + 4 * d), rng.randint(
            10, 40)
        tickets = c("*", friends, price)
        en_lines = [f"The tickets cost {c.eq} dollars."]
        zh_lines = [f"门票一共:{c.eq}(元)。"]
        total = c("+", tickets, tour)
        en_lines.append(f"With the tour they pay {c.eq} dollars.")
        zh_lines.append(f"加上讲解费:{c.eq}(元)。")
        if lang == "en":
            question = (f"{friends} friends visit a museum. Each ticket costs ${price}, and they "
                        f"also pay ${tour} for a guided tour. How many dollars do they pay in "
                        "total?")
            return _Draft(question, (*en_lines, _en_answer(total)), tuple(c.steps))
        question = (f"{friends}个朋友一起去博物馆,门票每张{price}元,他们还花{tour}元请了一位"
                    "讲解员。他们一共花了多少元?")
        return _Draft(question, (*zh_lines, _zh_answer(total)), tuple(c.steps))
    adults, kids = rng.randint(2, 3), rng.randint(2, 4)
    p_adult = rng.randint(10, 25 + 5 * d)
    p_kid = rng.randint(4, p_adult - 2)
    cost_a = c("*", adults, p_adult)
    en_lines = [f"Adult tickets cost {c.eq} dollars."]
    zh_lines = [f"成人票:{c.eq}(元)。"]
    cost_k = c("*", kids, p_kid)
    en_lines.append(f"Child tickets cost {c.eq} dollars.")
    zh_lines.append(f"儿童票:{c.eq}(元)。")
    one_way = c("+", cost_a, cost_k)
    if n_ops == 3:
        en_lines.append(f"All the tickets cost {c.eq} dollars.")
        zh_lines.append(f"一共:{c.eq}(元)。")
        if lang == "en":
            question = (f"A family of {adults} adults and {kids} children visits a zoo. Adult "
                        f"tickets cost ${p_adult} and child tickets cost ${p_kid}. How many "
                        "dollars do the tickets cost in total?")
            return _Draft(question, (*en_lines, _en_answer(one_way)), tuple(c.steps))
        question = (f"一家人去动物园,有{adults}个大人和{kids}个小孩。成人票每张{p_adult}元,儿童票"
                    f"每张{p_kid}元。买门票一共要多少元?")
        return _Draft(question, (*zh_lines, _zh_answer(one_way)), tuple(c.steps))
    en_lines.append(f"One way costs {c.eq} dollars.")
    zh_lines.append(f"单程一共:{c.eq}(元)。")
    both = c("*", one_way, 2)
    en_lines.append(f"There and back costs {c.eq} dollars.")
    zh_lines.append(f"往返一共:{c.eq}(元)。")
    if lang == "en":
        question = (f"A family of {adults} adults and {kids} children takes the train to the "
                    f"beach and back. A one-way ticket costs ${p_adult} for an adult and "
                    f"${p_kid} for a child. How many dollars do they pay for the train in total?")
        return _Draft(question, (*en_lines, _en_answer(both)), tuple(c.steps))
    question = (f"一家人坐火车去海边玩,来回都坐火车,一共{adults}个大人和{kids}个小孩。单程票成人"
                f"每张{p_adult}元,儿童每张{p_kid}元。往返车票一共要多少元?")
    return _Draft(question, (*zh_lines, _zh_answer(both)), tuple(c.steps))


def _work_wages(rng: random.Random, lang: str, n_ops: int, d: int) -> _Draft:
    who = rng.choice(_ADULTS)
    c = _Calc()
    wage, hours, days = rng.randint(9, 20 + 5 * d), rng.randint(3, 8), rng.randint(2, 6)
    daily = c("*", wage, hours)
    en_lines = [f"{_cap(who.he)} earns {c.eq} dollars a day."]
    zh_lines = [f"每天挣:{c.eq}(元)。"]
    earned = c("*", daily, days)
    en_lines.append(f"In {days} days {who.he} earns {c.eq} dollars.")
    zh_lines.append(f"{days}天一共挣:{c.eq}(元)。")
    en_q = (f"{who.en} earns ${wage} an hour. {_cap(who.he)} works {hours} hours a day for "
            f"{days} days.")
    zh_q = f"{who.zh}每小时挣{wage}元,每天工作{hours}小时,一共工作了{days}天。"
    if n_ops == 2:
        if lang == "en":
            question = f"{en_q} How many dollars does {who.he} earn?"
            return _Draft(question, (*en_lines, _en_answer(earned)), tuple(c.steps))
        question = f"{zh_q}{who.ta}一共挣了多少元?"
        return _Draft(question, (*zh_lines, _zh_answer(earned)), tuple(c.steps))
    spent = rng.randint(5, earned // 2)
    if n_ops == 4 and (earned - spent) % 2:
        spent += 1
    left = c("-", earned, spent)
    en_lines.append(f"After shopping {who.he} has {c.eq} dollars left.")
    zh_lines.append(f"还剩:{c.eq}(元)。")
    en_q += f" {_cap(who.he)} spends ${spent} on groceries."
    zh_q += f"{who.ta}花了{spent}元买菜"
    if n_ops == 3:
        if lang == "en":
            question = f"{en_q} How many dollars does {who.he} have left?"
            return _Draft(question, (*en_lines, _en_answer(left)), tuple(c.steps))
        question = f"{zh_q},还剩多少元?"
        return _Draft(question, (*zh_lines, _zh_answer(left)), tuple(c.steps))
    saved = c("/", left, 2)
    en_lines.append(f"Half of it is {c.eq} dollars.")
    zh_lines.append(f"存起来的:{c.eq}(元)。")
    if lang == "en":
        question = (f"{en_q} {_cap(who.he)} puts half of the rest into savings. How many "
                    f"dollars does {who.he} save?")
        return _Draft(question, (*en_lines, _en_answer(saved)), tuple(c.steps))
    question = f"{zh_q},又把剩下的钱的一半存了起来。{who.ta}存了多少元?"
    return _Draft(question, (*zh_lines, _zh_answer(saved)), tuple(c.steps))


def _work_packing(rng: random.Random, lang: str, n_ops: int, d: int) -> _Draft:
    who = rng.choice(_ADULTS)
    thing = rng.choice(_PRODUCTS)
    c = _Calc()
    per_box, per_hour, hours = rng.choice((6, 8, 10, 12, 24)), rng.randint(3, 9), rng.randint(
        2, 4 + d)
    boxes = c("*", per_hour, hours)
    en_lines = [f"{_cap(who.he)} packs {c.eq} boxes."]
    zh_lines = [f"一共装了:{c.eq}(箱)。"]
    packed = c("*", boxes, per_box)
    en_lines.append(f"That is {c.eq} {thing.many}.")
    zh_lines.append(f"一共有:{c.eq}({thing.mw})。")
    en_q = (f"{who.en} works at a factory and packs {per_box} {thing.many} into each box. "
            f"{_cap(who.he)} packs {per_hour} boxes an hour for {hours} hours.")
    zh_q = (f"{who.zh}在工厂上班,每箱装{per_box}{thing.mw}{thing.zh},每小时装{per_hour}箱,"
            f"一共装了{hours}小时。")
    if n_ops == 2:
        if lang == "en":
            question = f"{en_q} How many {thing.many} does {who.he} pack?"
            return _Draft(question, (*en_lines, _en_answer(packed)), tuple(c.steps))
        question = f"{zh_q}{who.ta}一共装了多少{thing.mw}{thing.zh}?"
        return _Draft(question, (*zh_lines, _zh_answer(packed)), tuple(c.steps))
    shops = rng.choice((2, 3, 4, 5, 6))
    broken = rng.randint(1, 9)
    if n_ops == 4:
        broken = (packed % shops) or shops
    good = c("-", packed, broken)
    en_lines.append(f"{c.eq} {thing.many} are good.")
    zh_lines.append(f"合格的有:{c.eq}({thing.mw})。")
    en_q += f" {broken} of the {thing.many} are damaged and thrown away."
    zh_q += f"其中有{broken}{thing.mw}有破损,被挑了出来。"
    if n_ops == 3:
        if lang == "en":
            question = f"{en_q} How many good {thing.many} are left?"
            return _Draft(question, (*en_lines, _en_answer(good)), tuple(c.steps))
        question = f"{zh_q}合格的{thing.zh}有多少{thing.mw}?"
        return _Draft(question, (*zh_lines, _zh_answer(good)), tuple(c.steps))
    each = c("/", good, shops)
    en_lines.append(f"Each shop gets {c.eq} {thing.many}.")
    zh_lines.append(f"每家商店分到:{c.eq}({thing.mw})。")
    if lang == "en":
        question = (f"{en_q} The good {thing.many} are shared equally among {shops} shops. How "
                    f"many {thing.many} does each shop get?")
        return _Draft(question, (*en_lines, _en_answer(each)), tuple(c.steps))
    question = f"{zh_q}把合格的{thing.zh}平均分给{shops}家商店,每家商店分到多少{thing.mw}?"
    return _Draft(question, (*zh_lines, _zh_answer(each)), tuple(c.steps))


def _en_answer(answer: int) -> str:
    return f"The answer is {answer}."


def _zh_answer(answer: int) -> str:
    return f"所以答案是{answer}。"


_Template = Callable[[random.Random, str, int, int], _Draft]

#: template name -> (domain, writer).
TEMPLATES: dict[str, tuple[str, _Template]] = {
    "shopping_change": ("shopping", _shopping_change),
    "shopping_discount": ("shopping", _shopping_discount),
    "school_groups": ("school", _school_groups),
    "school_comparison": ("school", _school_comparison),
    "farm_eggs": ("farm", _farm_eggs),
    "farm_harvest": ("farm", _farm_harvest),
    "travel_distance": ("travel", _travel_distance),
    "travel_tickets": ("travel", _travel_tickets),
    "work_wages": ("work", _work_wages),
    "work_packing": ("work", _work_packing),
}


# --------------------------------------------------------------------------- generation


def normalize_question(text: str) -> str:
    """The dedupe key of a question: NFKC, case-folded, punctuation and spacing collapsed."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return re.sub(r"[\W_]+", " ", text).strip()


def _problem_id(prefix: str, question: str) -> str:
    digest = hashlib.sha1(normalize_question(question).encode("utf-8")).hexdigest()
    return f"{prefix}-{digest[:12]}"


def _check_choice(name: str, values: Sequence[object], allowed: Sequence[object]) -> None:
    if not values:
        raise TaskError(f"no {name} given (choose from {', '.join(map(str, allowed))})")
    unknown = [v for v in values if v not in allowed]
    if unknown:
        raise TaskError(f"unknown {name} {', '.join(map(str, unknown))} "
                        f"(choose from {', '.join(map(str, allowed))})")


def _signature(template: str, steps: Sequence[Step]) -> str:
    """The arithmetic of a generated problem: two problems with the same template and steps
    differ only in names and items (or language) and count as one problem."""
    return f"{template}:" + ";".join(step.render() for step in steps)


def _keys(problem: Problem) -> set[str]:
    keys = {normalize_question(problem.question)}
    if problem.steps:
        keys.add(_signature(problem.template, problem.steps))
    return keys


def generate_problems(n: int, seed: int = 0, *, langs: Sequence[str] = LANGS,
                      difficulties: Sequence[int] = DIFFICULTIES,
                      domains: Sequence[str] = DOMAINS,
                      exclude: Iterable[Problem] = ()) -> list[Problem]:
    """`n` distinct problems, deterministic for `seed`.

    Languages and difficulties take turns (balanced mix); the template is drawn at random
    among those of `domains`. Two problems are the same when their normalised questions are
    (:func:`normalize_question`) or when they share template and arithmetic (the same numbers
    with other names, items or language). Nothing the same as a problem of `exclude` (e.g. a
    test split) is produced."""
    if n < 0:
        raise TaskError(f"the number of problems must be >= 0, got {n}")
    _check_choice("language", list(langs), LANGS)
    _check_choice("difficulty", list(difficulties), DIFFICULTIES)
    _check_choice("domain", list(domains), DOMAINS)
    names = [name for name, (domain, _) in TEMPLATES.items() if domain in domains]
    mix = [(lang, d) for d in difficulties for lang in langs]
    rng = random.Random(f"pathrl.llm.tasks:{seed}")
    seen: set[str] = set()
    for problem in exclude:
        seen |= _keys(problem)
    problems: list[Problem] = []
    attempts = 0
    while len(problems) < n:
        attempts += 1
        if attempts > 200 * n + 1000:
            raise TaskError(f"could not write {n} distinct problems (got {len(problems)}); "
                            "allow more languages, difficulties or domains")
        lang, difficulty = mix[len(problems) % len(mix)]
        name = rng.choice(names)
        domain, write = TEMPLATES[name]
        try:
            draft = write(rng, lang, difficulty + 1, difficulty)
        except _Retry:
            continue
        problem = Problem(
            id=_problem_id(f"{name}-{lang}", draft.question), question=draft.question,
            answer=draft.steps[-1].result, lang=lang, steps=draft.steps,
            solution="\n".join(draft.lines), domain=domain, template=name,
            difficulty=difficulty)
        keys = _keys(problem)
        if keys & seen:
            continue
        seen |= keys
        problems.append(problem)
    return problems


def make_splits(n_train: int, n_test: int, seed: int = 0, *, langs: Sequence[str] = LANGS,
                difficulties: Sequence[int] = DIFFICULTIES,
                domains: Sequence[str] = DOMAINS) -> TaskSplit:
    """Generated train and test splits with no problem in common.

    The test split is drawn first from its own stream, so it does not change when `n_train`
    does; the train split is then drawn excluding every test problem."""
    options = {"langs": langs, "difficulties": difficulties, "domains": domains}
    test = generate_problems(n_test, seed=seed * 2 + 1, **options)
    train = generate_problems(n_train, seed=seed * 2, exclude=test, **options)
    return TaskSplit(tuple(train), tuple(test))


def split_problems(problems: Iterable[Problem], test_fraction: float = 0.1,
                   seed: int = 0) -> TaskSplit:
    """Split given problems (e.g. loaded from GSM8K) after dropping repeated questions
    (normalised text; the first one is kept), so train and test never share a problem."""
    if not 0.0 <= test_fraction <= 1.0:
        raise TaskError(f"test_fraction must be within [0, 1], got {test_fraction}")
    unique: dict[str, Problem] = {}
    for problem in problems:
        unique.setdefault(normalize_question(problem.question), problem)
    ordered = list(unique.values())
    random.Random(f"pathrl.llm.split:{seed}").shuffle(ordered)
    n_test = round(len(ordered) * test_fraction)
    return TaskSplit(tuple(ordered[n_test:]), tuple(ordered[:n_test]))


# --------------------------------------------------------------------------- GSM8K files

_CALCULATOR = re.compile(r"<<[^<>]*>>")  # GSM8K's calculator annotations: 48/2 = <<48/2=24>>24
_GOLD = re.compile(r"^[+-]?\d+$")
_CJK = re.compile(r"[\u4e00-\u9fff]")


def _gsm8k_answer(raw: str) -> tuple[str, int]:
    """(solution text, integer answer) of a GSM8K answer field; ValueError if malformed."""
    if "####" not in raw:
        raise ValueError("the answer has no '#### <number>' line")
    reasoning, final = raw.rsplit("####", 1)
    final = final.strip().replace(",", "")
    if not _GOLD.fullmatch(final):
        raise ValueError(f"the final answer {final!r} is not an integer")
    solution = "\n".join(line.strip() for line in _CALCULATOR.sub("", reasoning).splitlines()
                         if line.strip())
    return solution, int(final)


def load_gsm8k(path: str | Path, lang: str | None = None) -> list[Problem]:
    """Problems from a GSM8K-format JSONL file: one ``{"question", "answer"}`` object a line,
    the answer ending in ``#### <integer>``. Blank lines are skipped; `lang` defaults to "zh"
    for a question with Chinese characters, else "en". A missing file or a bad line raises
    :class:`TaskError` naming the file and the line."""
    path = Path(path)
    if not path.is_file():
        raise TaskError(f"GSM8K file not found: {path}")
    problems: list[Problem] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise TaskError(f"cannot read GSM8K file {path}: {exc}") from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if not isinstance(record, dict):
                raise ValueError("expected a JSON object")
            question, answer = record.get("question"), record.get("answer")
            if not isinstance(question, str) or not question.strip():
                raise ValueError("'question' is missing or not a non-empty string")
            if not isinstance(answer, str):
                raise ValueError("'answer' is missing or not a string")
            solution, gold = _gsm8k_answer(answer)
        except ValueError as exc:  # json.JSONDecodeError is a ValueError
            raise TaskError(f"{path}, line {number}: {exc}") from None
        question = question.strip()
        line_lang = lang or ("zh" if _CJK.search(question) else "en")
        if solution:
            solution += "\n"
        solution += _zh_answer(gold) if line_lang == "zh" else _en_answer(gold)
        problems.append(Problem(
            id=_problem_id(f"gsm8k-{line_lang}", question), question=question, answer=gold,
            lang=line_lang, steps=(), solution=solution, source=str(path.name)))
    return problems


# --------------------------------------------------------------------------- chat format


def to_messages(problem: Problem) -> list[ChatMessage]:
    """The prompt: the system prompt, then the question as the user's message."""
    return [ChatMessage(role="system", content=SYSTEM_PROMPT),
            ChatMessage(role="user", content=problem.question)]


def format_completion(reasoning: str, answer: str | int) -> str:
    """The exact layout the strict format reward accepts."""
    return f"<reasoning>\n{reasoning.strip()}\n</reasoning>\n<answer>\n{answer}\n</answer>"


def sft_target(problem: Problem) -> str:
    """The ideal completion: the worked solution as reasoning, the integer as answer."""
    return format_completion(problem.solution, problem.answer)


def grpo_row(problem: Problem) -> dict[str, object]:
    """A row of a TRL GRPO dataset: `prompt` (chat) plus the columns the rewards read
    (`answer`) and the ones the evaluation groups by."""
    return {"prompt": to_messages(problem), "answer": problem.answer, "id": problem.id,
            "lang": problem.lang}


def sft_row(problem: Problem) -> dict[str, object]:
    """A row of a TRL SFT dataset in prompt-completion chat form."""
    return {"prompt": to_messages(problem),
            "completion": [ChatMessage(role="assistant", content=sft_target(problem))]}


# --------------------------------------------------------------------------- preferences

#: How a rejected completion is broken. `wrong_answer` and `near_miss` keep the format and get
#: the number wrong (far off / off by one) in the closing sentence and the answer block, while
#: the reasoning's last line still shows the right result: a reward model can tell them by
#: that contradiction alone. `wrong_result` also changes the last line's result (far off, like
#: wrong_answer), so only that line's arithmetic gives it away. `no_tags`, `truncated` and
#: `verbose_answer` keep the number and break the form.
REJECTION_KINDS: tuple[str, ...] = (
    "wrong_answer", "near_miss", "no_tags", "truncated", "verbose_answer", "wrong_result"
)
#: The default mix of `preference_pairs` (and of the reward model's and DPO's generated data).
DEFAULT_REJECTION_KINDS: tuple[str, ...] = REJECTION_KINDS[:5]


@dataclass(frozen=True)
class PreferencePair:
    """A DPO / reward-model triple: chosen is correct and well formatted, rejected is not."""

    id: str
    problem_id: str
    prompt: tuple[ChatMessage, ...]
    chosen: str
    rejected: str
    rejection: str  # one of REJECTION_KINDS

    def to_row(self) -> dict[str, object]:
        """A row of a TRL preference dataset (conversational, explicit prompt)."""
        return {"prompt": list(self.prompt),
                "chosen": [ChatMessage(role="assistant", content=self.chosen)],
                "rejected": [ChatMessage(role="assistant", content=self.rejected)]}


def _replace_last(text: str, old: str, new: str) -> str:
    head, sep, tail = text.rpartition(old)
    return f"{head}{new}{tail}" if sep else text


def _replace_last_result(text: str, answer: int, wrong: int) -> str:
    """The last "= answer" of the worked solution (its final computation) with "= wrong"."""
    matches = list(re.finditer(rf"=\s*{answer}(?![\d.])", text))
    if not matches:
        return text
    last = matches[-1]
    return f"{text[:last.start()]}= {wrong}{text[last.end():]}"


def _rejected(problem: Problem, kind: str, rng: random.Random) -> str:
    answer = problem.answer
    if kind in ("wrong_answer", "near_miss", "wrong_result"):
        if kind == "near_miss":
            wrong = answer + rng.choice((-1, 1)) if answer > 0 else answer + 1
        else:
            delta = rng.randint(3, max(3, abs(answer) // 2 + 3))
            wrong = answer + delta if rng.random() < 0.5 or answer - delta < 0 else answer - delta
        reasoning = _replace_last(problem.solution, str(answer), str(wrong))
        if kind == "wrong_result":
            reasoning = _replace_last_result(reasoning, answer, wrong)
        return format_completion(reasoning, wrong)
    if kind == "no_tags":
        return f"{problem.solution}\n{answer}"
    if kind == "truncated":
        lines = problem.solution.splitlines()
        kept = lines[: max(1, len(lines) // 2)]
        text = "\n".join(kept)
        return f"<reasoning>\n{text[: max(1, len(text) * 2 // 3)]}"
    if kind == "verbose_answer":
        sentence = problem.solution.splitlines()[-1]
        return format_completion(problem.solution, sentence)
    raise TaskError(f"unknown rejection kind {kind!r} (choose from {', '.join(REJECTION_KINDS)})")


def check_rejection_kinds(kinds: Sequence[str]) -> None:
    """A `TaskError` unless `kinds` is a non-empty list of `REJECTION_KINDS`."""
    _check_choice("rejection kind", list(kinds), REJECTION_KINDS)


def preference_pairs(problems: Iterable[Problem], seed: int = 0,
                     kinds: Sequence[str] = DEFAULT_REJECTION_KINDS) -> list[PreferencePair]:
    """One pair per problem; the rejection kinds take turns in a seeded order (an even mix)."""
    check_rejection_kinds(kinds)
    rng = random.Random(f"pathrl.llm.pairs:{seed}")
    pairs: list[PreferencePair] = []
    order: list[str] = []
    for problem in problems:
        if not order:
            order = list(kinds)
            rng.shuffle(order)
        kind = order.pop()
        pairs.append(PreferencePair(
            id=f"{problem.id}-{kind}", problem_id=problem.id,
            prompt=tuple(to_messages(problem)), chosen=sft_target(problem),
            rejected=_rejected(problem, kind, rng), rejection=kind))
    return pairs
