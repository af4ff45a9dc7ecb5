"""The embedded demo: a 12-table project-management schema and its rows, generated from a seed.

`demo_schema()` loads `schema.yaml` beside this file; `demo_rows(seed)` generates the same rows
for the same seed (a few thousand in total, Chinese and English names, overseas and domestic
projects); `demo_sqlite_url()` builds (once, cached) the SQLite file every command uses when the
user gives no database.
"""

from __future__ import annotations

import os
import random
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from pathrl.io import cache_dir
from pathrl.schema import Schema

SCHEMA_FILE = Path(__file__).with_name("schema.yaml")
DEFAULT_SEED = 7

Rows = dict[str, list[dict[str, Any]]]

_OVERSEAS = [
    ("Jakarta", "Indonesia", "雅加达", "印尼"), ("Nairobi", "Kenya", "内罗毕", "肯尼亚"),
    ("Riyadh", "Saudi Arabia", "利雅得", "沙特"), ("Karachi", "Pakistan", "卡拉奇", "巴基斯坦"),
    ("Sao Paulo", "Brazil", "圣保罗", "巴西"), ("Astana", "Kazakhstan", "阿斯塔纳", "哈萨克斯坦"),
    ("Belgrade", "Serbia", "贝尔格莱德", "塞尔维亚"), ("Dhaka", "Bangladesh", "达卡", "孟加拉"),
    ("Lagos", "Nigeria", "拉各斯", "尼日利亚"), ("Hanoi", "Vietnam", "河内", "越南"),
]
_DOMESTIC = [("Shenzhen", "深圳"), ("Chengdu", "成都"), ("Wuhan", "武汉"), ("Xi'an", "西安"),
             ("Hangzhou", "杭州"), ("Chongqing", "重庆"), ("Tianjin", "天津"), ("Qingdao", "青岛")]
_WORKS = [("Metro Line", "地铁线"), ("Highway", "高速公路"), ("Power Plant", "电厂"),
          ("Port Terminal", "港口码头"), ("Water Treatment Plant", "水厂"),
          ("Railway", "铁路"), ("Bridge", "大桥"), ("Industrial Park", "产业园"),
          ("Airport Terminal", "机场航站楼"), ("Hospital", "医院")]
_SUPPLIER_EN = ["Apex", "Blue River", "Crown", "Delta", "Evergreen", "Falcon", "Granite",
                "Harbor", "Ironclad", "Jade", "Keystone", "Lotus", "Meridian", "Northstar",
                "Orion", "Pioneer"]
_SUPPLIER_KIND_EN = ["Steel Co.", "Engineering Ltd.", "Logistics", "Cables Inc.", "Machinery"]
_SUPPLIER_ZH = ["中联", "华建", "长江", "东方", "宏达", "恒通", "金石", "天成", "振华", "远航"]
_SUPPLIER_KIND_ZH = ["钢铁有限公司", "建设工程公司", "物流公司", "电缆厂", "机械设备公司"]
_SURNAMES_ZH = "王李张刘陈杨赵黄周吴徐孙马朱胡郭何林高罗"
_GIVEN_ZH = list("伟芳娜敏静强磊洋艳军杰涛明超霞")
_NAMES_EN = ["Alice", "Bob", "Carlos", "Diana", "Ethan", "Fatima", "George", "Hana", "Ivan",
             "Julia", "Kofi", "Lena", "Mohammed", "Nina", "Omar", "Priya"]
_SURNAMES_EN = ["Smith", "Garcia", "Khan", "Okafor", "Novak", "Silva", "Tanaka", "Muller"]
_DEPARTMENTS = ["Engineering", "Procurement", "Quality", "Finance", "Site Management"]
_TITLES = ["Engineer", "Senior Engineer", "Project Manager", "QA Inspector", "Buyer"]
_ITEMS = ["steel beams", "cement", "cables", "transformers", "pumps", "rebar", "glass panels",
          "rail sleepers", "valves", "cranes"]
_WORK_DONE = ["foundation", "piling", "steel structure", "concrete pouring", "cabling",
              "equipment installation", "road surfacing", "testing and commissioning"]
_MILESTONES = ["Design approval", "Groundbreaking", "Structure topped out", "Equipment delivered",
               "Trial operation", "Final acceptance"]
_REASONS = ["design change", "material price adjustment", "schedule extension", "scope addition",
            "owner request", "site condition"]


def demo_schema() -> Schema:
    """The 12-table demo schema (44 legal paths with the default rules)."""
    return Schema.load(SCHEMA_FILE)


def _day(rng: random.Random, start: date, span_days: int) -> date:
    return start + timedelta(days=rng.randrange(span_days))


def demo_rows(seed: int = DEFAULT_SEED, scale: float = 1.0) -> Rows:
    """Generate every table's rows deterministically from `seed` (1,894 rows at scale 1)."""
    rng = random.Random(seed)

    def n(base: int) -> int:
        return max(2, round(base * scale))

    rows: Rows = {}
    projects, used_names = [], set()
    for i in range(n(30)):
        overseas = i % 3 != 2  # two thirds overseas: method §1.1's "overseas project" questions
        work_en, work_zh = _WORKS[rng.randrange(len(_WORKS))]
        if overseas:
            city, country, city_zh, _country_zh = _OVERSEAS[rng.randrange(len(_OVERSEAS))]
        else:
            (city, city_zh), country = _DOMESTIC[rng.randrange(len(_DOMESTIC))], "China"
        name = (f"{city} {work_en}" if i % 2 == 0 else f"{city_zh}{work_zh}项目")
        while name in used_names:  # display values are unique so an entity names one row
            name = f"{name} {'II' if name[-1] != 'I' else 'I'}"
        used_names.add(name)
        projects.append({
            "id": f"P{i + 1:04d}", "name": name,
            "region": "overseas" if overseas else "domestic", "country": country,
            "start_date": _day(rng, date(2019, 1, 1), 1800),
            "budget": round(rng.uniform(5e7, 5e9), -4),
        })
    rows["project"] = projects

    suppliers, used = [], set()
    for i in range(n(24)):
        while True:
            if i % 2 == 0:
                name = (f"{rng.choice(_SUPPLIER_EN)} "
                        f"{rng.choice(_SUPPLIER_KIND_EN)}")
            else:
                name = rng.choice(_SUPPLIER_ZH) + rng.choice(_SUPPLIER_KIND_ZH)
            if name not in used:
                break
        used.add(name)
        suppliers.append({"id": f"S{i + 1:04d}", "name": name,
                          "country": rng.choice(["China", "Germany", "Turkey", "India", "Brazil"]),
                          "rating": rng.choice("ABC")})
    rows["supplier"] = suppliers

    employees, used = [], set()
    for i in range(n(40)):
        while True:
            name = (rng.choice(_SURNAMES_ZH) + rng.choice(_GIVEN_ZH) + rng.choice(_GIVEN_ZH)
                    if i % 2 == 0 else f"{rng.choice(_NAMES_EN)} {rng.choice(_SURNAMES_EN)}")
            if name not in used:
                break
        used.add(name)
        employees.append({"id": f"E{i + 1:04d}", "name": name,
                          "department": rng.choice(_DEPARTMENTS), "title": rng.choice(_TITLES)})
    rows["employee"] = employees

    contracts = []
    for i in range(n(90)):
        project = projects[i % len(projects)] if i < len(projects) else rng.choice(projects)
        supplier = (suppliers[i % len(suppliers)] if i < len(suppliers)
                    else rng.choice(suppliers))
        signed = project["start_date"] + timedelta(days=rng.randrange(10, 700))
        contracts.append({
            "id": f"C{i + 1:04d}", "contract_no": f"HT-{signed.year}-{i + 1:03d}",
            "title": f"{rng.choice(_ITEMS).title()} supply for {project['id']}",
            "project_id": project["id"], "supplier_id": supplier["id"], "signed_date": signed,
            "amount": round(rng.uniform(1e5, 5e7), -2),
        })
    rows["contract"] = contracts

    def children(prefix: str, count: int, parents: list[dict], make) -> list[dict]:
        out = []
        for i in range(count):
            parent = parents[i % len(parents)] if i < len(parents) else rng.choice(parents)
            out.append({"id": f"{prefix}{i + 1:05d}", **make(parent, i)})
        return out

    rows["contract_change_log"] = children("CL", n(160), contracts[::2], lambda c, i: {
        "contract_id": c["id"], "change_date": c["signed_date"] + timedelta(rng.randrange(20, 500)),
        "change_type": rng.choice(["scope", "price", "schedule"]),
        "amount_delta": round(rng.uniform(-2e6, 5e6), -2), "reason": rng.choice(_REASONS)})
    rows["delivery"] = children("D", n(260), contracts, lambda c, i: {
        "contract_id": c["id"], "item": rng.choice(_ITEMS), "quantity": rng.randrange(1, 500),
        "delivery_date": c["signed_date"] + timedelta(rng.randrange(15, 400)),
        "status": rng.choice(["delivered", "delivered", "in transit", "delayed"])})
    rows["construction"] = children("CN", n(220), projects, lambda p, i: {
        "project_id": p["id"], "subcontractor_id": rng.choice(suppliers)["id"],
        "log_date": p["start_date"] + timedelta(rng.randrange(30, 900)),
        "progress": round(rng.uniform(0, 100), 1), "work": rng.choice(_WORK_DONE)})
    rows["payment"] = children("PM", n(300), contracts, lambda c, i: {
        "contract_id": c["id"], "pay_date": c["signed_date"] + timedelta(rng.randrange(10, 600)),
        "amount": round(c["amount"] * rng.uniform(0.05, 0.3), -2),
        "method": rng.choice(["wire", "letter of credit", "cheque"])})
    rows["invoice"] = children("IV", n(280), rows["payment"], lambda p, i: {
        "invoice_no": f"FP{p['pay_date'].year}{i + 1:06d}", "payment_id": p["id"],
        "issue_date": p["pay_date"] - timedelta(rng.randrange(0, 20)), "amount": p["amount"]})
    rows["milestone"] = children("M", n(130), projects, lambda p, i: {
        "project_id": p["id"], "title": _MILESTONES[i % len(_MILESTONES)],
        "due_date": p["start_date"] + timedelta(rng.randrange(60, 1500)),
        "done": rng.random() < 0.5})
    rows["inspection"] = children("IN", n(200), rows["delivery"], lambda d, i: {
        "delivery_id": d["id"], "inspector_id": rng.choice(employees)["id"],
        "inspect_date": d["delivery_date"] + timedelta(rng.randrange(0, 10)),
        "result": rng.choice(["pass", "pass", "pass", "fail", "rework"])})
    rows["project_member"] = children("PMB", n(160), employees, lambda e, i: {
        "project_id": rng.choice(projects)["id"], "employee_id": e["id"],
        "role": rng.choice(["project manager", "site engineer", "QA", "planner", "buyer"])})
    return rows


def demo_sqlite_url(seed: int = DEFAULT_SEED) -> str:
    """SQLAlchemy URL of the demo SQLite database, built on first use (atomically)."""
    from pathrl.db import write_sql

    path = cache_dir() / f"demo_pm-seed{seed}.sqlite"
    if not path.exists():
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.unlink(missing_ok=True)
        write_sql(f"sqlite:///{tmp}", demo_schema(), demo_rows(seed))
        tmp.replace(path)  # a half-written file never looks like a finished database
    return f"sqlite:///{path}"
