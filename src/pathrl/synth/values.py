"""Realistic cell values for generated tables, keyed by a column's *value kind*.

A kind is a short string such as `person`, `code`, `amount`, `pick:payment_method` or
`name:product`; `value_type(kind)` gives the schema field type it needs and `ValueMaker` draws a
value for it. Person and company names come from Faker (en_US, optionally zh_CN); everything
business-specific (products, wards, courses, statuses, ...) comes from the pools below, so a
value reads like something a user would type into a question.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, datetime, timedelta
from functools import lru_cache
from itertools import product

from faker import Faker

from pathrl.errors import PathrlError

# -- plain pools (a value is drawn at random; repeats are fine) --------------------------------
POOLS: dict[str, tuple[str, ...]] = {
    "payment_method": ("bank transfer", "credit card", "cash", "cheque", "direct debit"),
    "currency": ("USD", "EUR", "CNY", "GBP", "JPY", "SGD"),
    "unit": ("piece", "box", "kg", "litre", "metre", "set", "pallet"),
    "segment": ("enterprise", "mid-market", "small business", "public sector", "retail"),
    "return_reason": ("damaged", "wrong item", "late delivery", "not as described",
                      "changed mind"),
    "job_title": ("Accountant", "Sales Manager", "Software Engineer", "HR Specialist",
                  "Project Manager", "Data Analyst", "Buyer", "Logistics Coordinator",
                  "Quality Engineer", "Operations Manager", "Consultant", "Designer"),
    "gender": ("female", "male"),
    "leave_type": ("annual", "sick", "parental", "unpaid", "compassionate"),
    "skill_category": ("technical", "language", "management", "finance", "safety"),
    "outcome": ("passed", "rejected", "on hold", "offer made"),
    "specialty": ("cardiology", "neurology", "oncology", "paediatrics", "orthopaedics",
                  "dermatology", "general surgery", "radiology", "internal medicine"),
    "shift": ("day", "night", "evening", "weekend"),
    "bed_type": ("standard", "ICU", "pediatric", "maternity", "isolation"),
    "diagnosis": ("hypertension", "type 2 diabetes", "pneumonia", "fractured wrist",
                  "migraine", "asthma", "appendicitis", "influenza", "anaemia", "gastritis"),
    "visit_reason": ("check-up", "follow-up", "chest pain", "fever", "vaccination",
                     "back pain", "lab review"),
    "severity": ("low", "medium", "high", "critical"),
    "dosage_form": ("tablet", "capsule", "syrup", "injection", "cream", "inhaler"),
    "dosage": ("5 mg once daily", "10 mg twice daily", "250 mg three times daily",
               "1 tablet at night", "2 puffs as needed"),
    "building": ("North Hall", "Science Block", "Main Building", "Arts Centre", "East Wing"),
    "academic_title": ("Lecturer", "Senior Lecturer", "Professor", "Teaching Assistant"),
    "course_level": ("introductory", "intermediate", "advanced"),
    "semester": ("2023 spring", "2023 autumn", "2024 spring", "2024 autumn", "2025 spring"),
    "exam_type": ("midterm", "final", "quiz", "oral"),
    "relationship": ("mother", "father", "guardian", "grandparent"),
    "weekday": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday"),
    "vehicle_type": ("van", "box truck", "tractor unit", "refrigerated truck", "cargo bike"),
    "incident_type": ("delay", "damage", "lost parcel", "address issue", "customs hold"),
    "industry": ("construction", "energy", "banking", "retail", "healthcare", "telecom",
                 "manufacturing", "public sector"),
    "priority": ("low", "medium", "high", "urgent"),
    "project_role": ("developer", "tester", "analyst", "architect", "project manager",
                     "designer"),
    "country": ("United States", "Germany", "China", "Brazil", "India", "Kenya", "Japan",
                "France", "Indonesia", "Saudi Arabia", "Mexico", "Vietnam"),
}

STATUSES: dict[str, tuple[str, ...]] = {
    "generic": ("active", "inactive", "pending", "closed"),
    "order": ("pending", "confirmed", "shipped", "delivered", "cancelled"),
    "invoice": ("draft", "issued", "paid", "overdue", "void"),
    "shipment": ("booked", "picked up", "in transit", "delivered", "returned"),
    "quote": ("draft", "sent", "accepted", "rejected", "expired"),
    "employment": ("active", "on leave", "probation", "terminated"),
    "approval": ("submitted", "approved", "rejected", "withdrawn"),
    "opening": ("open", "on hold", "filled", "closed"),
    "candidate": ("applied", "screening", "interview", "offer", "hired", "rejected"),
    "appointment": ("scheduled", "completed", "cancelled", "no-show"),
    "lab": ("ordered", "collected", "resulted", "cancelled"),
    "prescription": ("active", "dispensed", "expired", "cancelled"),
    "enrollment": ("enrolled", "completed", "dropped", "failed"),
    "attendance": ("present", "absent", "late", "excused"),
    "trip": ("planned", "on route", "completed", "cancelled"),
    "maintenance": ("open", "in progress", "waiting for parts", "done"),
    "project": ("planning", "in progress", "on hold", "completed", "cancelled"),
    "task": ("to do", "in progress", "in review", "done"),
    "issue": ("open", "triaged", "fixed", "closed", "won't fix"),
    "document": ("draft", "submitted", "approved", "posted", "cancelled"),
}

_CITIES_EN = ("New York", "London", "Berlin", "Paris", "Madrid", "Rotterdam", "Chicago",
              "Toronto", "Sydney", "Singapore", "Dubai", "Mumbai", "Nairobi", "Lagos",
              "Sao Paulo", "Mexico City", "Tokyo", "Seoul", "Jakarta", "Hanoi", "Riyadh",
              "Istanbul", "Warsaw", "Milan", "Houston", "Seattle", "Denver", "Lisbon")
_CITIES_ZH = ("北京", "上海", "广州", "深圳", "成都", "武汉", "杭州", "西安", "重庆", "天津",
              "南京", "青岛", "苏州", "长沙")

# -- unique-name pools: display values, built from parts so they rarely repeat -------------------
_PARTS: dict[str, tuple[tuple[str, ...], ...]] = {
    "product": (("Apex", "Nova", "Vertex", "Orion", "Zenith", "Atlas", "Summit", "Lumen"),
                ("Cordless Drill", "Steel Valve", "LED Panel", "Office Chair", "Laptop Stand",
                 "Water Pump", "Safety Helmet", "Copper Cable", "Label Printer", "Air Filter",
                 "Hand Truck", "Tool Kit")),
    "position": (("Junior", "Senior", "Lead", "Principal", "Chief"),
                 ("Accountant", "Sales Manager", "Software Engineer", "HR Specialist",
                  "Project Manager", "Data Analyst", "Buyer", "Quality Engineer",
                  "Designer")),
    "product_category": (("Power Tools", "Lighting", "Office Furniture", "Electrical",
                          "Plumbing", "Safety Gear", "Packaging", "Computer Accessories",
                          "Cleaning Supplies", "Fasteners", "Garden", "Kitchen"),),
    "region": (("North", "South", "East", "West", "Central"),
               ("America", "Europe", "Asia Pacific", "Africa", "Middle East", "China")),
    "department": (("Finance", "Human Resources", "Sales", "Marketing", "Procurement",
                    "Engineering", "Legal", "Customer Service", "Logistics", "Quality",
                    "Research", "IT", "Facilities", "Internal Audit"),),
    "warehouse": (_CITIES_EN, ("Distribution Center", "Warehouse", "Fulfilment Center")),
    "promotion": (("Spring", "Summer", "Autumn", "Winter", "Back to School", "Black Friday",
                   "New Year"), ("Sale", "Clearance", "Bundle Deal", "Flash Offer")),
    "price_list": (("2023", "2024", "2025"), ("Retail", "Wholesale", "Partner", "Export"),
                   ("Price List",)),
    "office": (_CITIES_EN, ("Office", "Headquarters", "Branch")),
    "skill": (("Python", "SQL", "Negotiation", "Excel", "Public Speaking", "Forklift Driving",
               "Project Planning", "Spanish", "Mandarin", "Accounting", "First Aid",
               "Welding", "Data Visualisation", "Contract Law"),),
    "training": (("Leadership", "Fire Safety", "Advanced Excel", "Customer Care",
                  "Data Protection", "Agile", "Negotiation", "Time Management"),
                 ("Workshop", "Bootcamp", "Course", "Seminar")),
    "benefit": (("Health", "Dental", "Vision", "Pension", "Life Insurance", "Gym"),
                ("Basic", "Plus", "Premium")),
    "clinical_department": (("Cardiology", "Neurology", "Oncology", "Paediatrics",
                             "Orthopaedics", "Emergency", "Radiology", "Maternity",
                             "Dermatology", "Intensive Care", "General Surgery"),),
    "ward": (("Ward",), ("1", "2", "3", "4", "5", "6", "7", "8", "9"), ("A", "B", "C", "D")),
    "medication": (("Amoxicillin", "Metformin", "Atorvastatin", "Lisinopril", "Omeprazole",
                    "Ibuprofen", "Paracetamol", "Salbutamol", "Amlodipine", "Sertraline",
                    "Cetirizine", "Insulin Glargine"), ("",)),
    "lab_test": (("Complete Blood Count", "Lipid Panel", "HbA1c", "Liver Function Test",
                  "Urinalysis", "Thyroid Panel", "Vitamin D", "CRP", "Blood Culture",
                  "Electrolytes"),),
    "academic_department": (("Mathematics", "Physics", "Chemistry", "Biology", "History",
                             "Literature", "Computer Science", "Economics", "Geography",
                             "Music", "Art", "Languages"),),
    "homeroom": (("Class",), ("7", "8", "9", "10", "11", "12"), ("A", "B", "C", "D", "E", "F")),
    "course": (("Algebra", "Geometry", "World History", "Chemistry", "Physics", "Biology",
                "English Literature", "Programming", "Economics", "French", "Statistics",
                "Art History"), ("I", "II", "III", "Honours")),
    "room": (("A", "B", "C", "D"), ("101", "102", "204", "205", "310", "312")),
    "assignment": (("Fractions", "Photosynthesis", "Essay", "Lab Report", "Map Reading",
                    "Poetry", "Loops", "Supply and Demand"),
                   ("Worksheet", "Project", "Quiz Prep", "Homework")),
    "club": (("Chess", "Robotics", "Drama", "Debate", "Football", "Choir", "Photography",
              "Coding", "Astronomy"), ("Club", "Society")),
    "depot": (_CITIES_EN, ("Depot", "Hub", "Cross-dock")),
    "route": (_CITIES_EN, ("to",), _CITIES_EN),
    "rate_card": (("Domestic", "Europe", "Asia", "Express", "Economy"),
                  ("Parcel", "Pallet", "Full Truckload"), ("Rates",)),
    "zone": (("Zone",), ("A", "B", "C", "D", "E"), ("1", "2", "3", "4")),
    "project": (_CITIES_EN, ("Metro Line", "Data Centre", "Bridge", "ERP Rollout",
                             "Hospital Wing", "Solar Farm", "Office Tower", "Port Upgrade")),
    "team": (("Platform", "Payments", "Mobile", "Data", "Infrastructure", "Design",
              "Field Services", "Procurement"), ("Team", "Squad", "Group")),
    "milestone": (("Phase 1", "Phase 2", "Phase 3", "Release 1", "Release 2"),
                  ("design approval", "kick-off", "prototype ready", "go-live",
                   "user acceptance", "final handover")),
    "task": (("Design", "Implement", "Test", "Review", "Document", "Migrate", "Deploy"),
             ("login page", "billing module", "data import", "API gateway", "report layout",
              "site survey", "load test", "user manual")),
    "issue": (("Checkout", "Login", "Invoice PDF", "Search", "Dashboard", "Sync job",
               "Mobile app"), ("timeout", "crash", "wrong totals", "slow response",
                               "missing data")),
    "risk": (("Supplier delay", "Budget overrun", "Key staff leaving", "Scope creep",
              "Permit delay", "Currency swing", "Weather disruption"),
             ("in design", "in procurement", "on site", "in testing", "at handover")),
    "deliverable": (("Design specification", "Test report", "Training material",
                     "Site plan", "Data model", "User guide", "Handover dossier"),
                    ("draft", "v1", "v2", "final")),
    "document": (("Requirements", "Architecture", "Meeting minutes", "Risk register",
                  "Status report"), ("v1", "v2", "v3", "final")),
    "machine": (("CNC Lathe", "Press", "Injection Moulder", "Conveyor", "Packaging Line",
                 "Robot Arm"), ("01", "02", "03", "04", "05")),
}

# How a name pool's parts are joined (default: with spaces).
_FORMATS = {"ward": "{0} {1}{2}", "homeroom": "{0} {1}{2}", "zone": "{0} {1}{2}",
            "room": "{0}-{1}", "route": "{0} - {2}"}


def _compose(pool: str, parts: tuple[str, ...]) -> str:
    if pool in _FORMATS:
        return _FORMATS[pool].format(*parts)
    return " ".join(p for p in parts if p)


NUMERIC_KINDS: dict[str, tuple[str, float, float]] = {
    # kind: (field type, low, high)
    "amount": ("float", 100.0, 250_000.0),
    "price": ("float", 1.0, 2_500.0),
    "salary": ("float", 2_500.0, 18_000.0),
    "percent": ("float", 0.0, 100.0),
    "score": ("float", 0.0, 100.0),
    "hours": ("float", 0.5, 12.0),
    "weight": ("float", 0.2, 2_000.0),
    "quantity": ("int", 1, 500),
    "count": ("int", 0, 300),
    "small_int": ("int", 1, 9),
    "year": ("int", 2015, 2025),
}
_STR_KINDS = {"person", "first_name", "last_name", "company", "city", "country", "address",
              "email", "phone", "code", "text"}
_DATE_KINDS = {"date", "date_after", "birth_date"}
_START = date(2019, 1, 1)
_SPAN_DAYS = (date(2025, 12, 31) - _START).days


def value_type(kind: str, datetime_type: str = "date") -> str:
    """The schema field type a kind's values need (`datetime_type` for kind `datetime`)."""
    head = kind.split(":", 1)[0]
    if head in ("pick", "name", "status"):
        _check_pool(kind)
        return "str"
    if kind in _STR_KINDS:
        return "str"
    if kind in NUMERIC_KINDS:
        return NUMERIC_KINDS[kind][0]
    if kind in _DATE_KINDS:
        return "date"
    if kind == "datetime":
        return datetime_type
    if kind == "flag":
        return "bool"
    raise PathrlError(f"unknown value kind '{kind}'")


def _check_pool(kind: str) -> None:
    head, _, arg = kind.partition(":")
    pools = {"pick": POOLS, "name": _PARTS, "status": STATUSES}[head]
    if arg not in pools:
        raise PathrlError(f"unknown value kind '{kind}' (no pool '{arg}')")


@lru_cache(maxsize=256)
def distinct_values(kind: str) -> int | None:
    """How many different values a pool kind can draw (None: practically unlimited)."""
    head, _, arg = kind.partition(":")
    if head == "pick":
        return len(POOLS[arg])
    if head == "name":
        return sum(1 for parts in product(*_PARTS[arg]) if len(set(parts)) == len(parts))
    return None


def code_prefix(words: list[str]) -> str:
    """'sales order' -> 'SO', 'customer' -> 'CUS': the letters of a table's codes."""
    words = [w for w in words if w and w.lower() != "tbl"]
    if not words:
        return "ID"
    if len(words) == 1:
        return words[0][:3].upper()
    return "".join(w[0] for w in words[:3]).upper()


class ValueMaker:
    """Draws values for one table from a seeded RNG (and Faker instances seeded from it).

    `zh_ratio` is the share of person names, company names and cities drawn in Chinese.
    """

    def __init__(self, rng: random.Random, fakers: dict[str, Faker], prefix: str,
                 zh_ratio: float = 0.0):
        self.rng = rng
        self.fakers = fakers
        self.prefix = prefix
        self.zh_ratio = zh_ratio
        self._seen: dict[str, set[str]] = {}
        self._unused: dict[str, list[str]] = {}

    def _faker(self) -> Faker:
        zh = self.zh_ratio > 0 and self.rng.random() < self.zh_ratio
        return self.fakers["zh_CN" if zh else "en_US"]

    def make(self, kind: str, row: int, base_day: date, unique: bool = False) -> object:
        """A value of `kind` for row number `row` (0-based); `base_day` is the row's own date,
        so an end date follows its start date. `unique` retries (then numbers) repeats."""
        if unique and (distinct_values(kind) or 0) > 0:
            return self._next_unused(kind, row)
        value = self._draw(kind, row, base_day)
        if not unique or not isinstance(value, str):
            return value
        seen = self._seen.setdefault(kind, set())
        for _ in range(20):
            if value not in seen:
                break
            value = self._draw(kind, row, base_day)
        else:
            value = f"{value} {row + 1}"
        seen.add(value)
        return value

    def _next_unused(self, kind: str, row: int) -> str:
        """A pool value not used yet in this table (drawn without replacement)."""
        if kind not in self._unused:
            head, _, arg = kind.partition(":")
            options = (list(POOLS[arg]) if head == "pick" else
                       [_compose(arg, parts) for parts in product(*_PARTS[arg])
                        if len(set(parts)) == len(parts)])  # no "Berlin - Berlin" route
            self.rng.shuffle(options)
            self._unused[kind] = options
        unused = self._unused[kind]
        return unused.pop() if unused else f"{self._draw(kind, row, self.base_day())} {row + 1}"

    def _draw(self, kind: str, row: int, base_day: date) -> object:
        rng = self.rng
        head, _, arg = kind.partition(":")
        draw: Callable[[], object] | None = {
            "person": lambda: self._faker().name(),
            "first_name": lambda: self._faker().first_name(),
            "last_name": lambda: self._faker().last_name(),
            "company": lambda: self._faker().company(),
            "address": lambda: self.fakers["en_US"].street_address(),
            "email": lambda: self.fakers["en_US"].email(),
            "phone": lambda: self.fakers["en_US"].numerify("+1-###-###-####"),
            "text": lambda: self.fakers["en_US"].sentence(nb_words=6),
            "code": lambda: f"{self.prefix}-{base_day.year}-{row + 1:03d}",
            "flag": lambda: rng.random() < 0.7,
        }.get(kind)
        if draw is not None:
            return draw()
        if kind == "city":
            zh = self.zh_ratio > 0 and rng.random() < self.zh_ratio
            return rng.choice(_CITIES_ZH if zh else _CITIES_EN)
        if kind == "country":
            return rng.choice(POOLS["country"])
        if head == "pick":
            return rng.choice(POOLS[arg])
        if head == "status":
            return rng.choice(STATUSES[arg])
        if head == "name":
            parts = tuple(rng.choice(options) for options in _PARTS[arg])
            while len(set(parts)) < len(parts):
                parts = tuple(rng.choice(options) for options in _PARTS[arg])
            return _compose(arg, parts)
        if kind in NUMERIC_KINDS:
            ftype, low, high = NUMERIC_KINDS[kind]
            return rng.randint(int(low), int(high)) if ftype == "int" else round(
                rng.uniform(low, high), 2)
        if kind == "date":
            return base_day
        if kind == "date_after":
            return base_day + timedelta(days=rng.randint(1, 180))
        if kind == "birth_date":
            return date(1950, 1, 1) + timedelta(days=rng.randrange(55 * 365))
        if kind == "datetime":
            return datetime(base_day.year, base_day.month, base_day.day,
                            rng.randint(7, 19), rng.choice((0, 15, 30, 45)))
        raise PathrlError(f"unknown value kind '{kind}'")

    def base_day(self) -> date:
        return _START + timedelta(days=self.rng.randrange(_SPAN_DAYS))


def infer_kind(words: list[str], ftype: str) -> str:
    """Guess the kind of a column this package did not generate, from its name's words."""
    last = words[-1] if words else ""
    if ftype == "bool":
        return "flag"
    if ftype in ("date", "datetime"):
        if "birth" in words:
            return "birth_date"
        return "date_after" if {"end", "due", "until", "discharged"} & set(words) else (
            "datetime" if ftype == "datetime" else "date")
    if ftype == "int":
        return "quantity" if {"quantity", "qty"} & set(words) else "count"
    if ftype == "float":
        for kind in ("price", "salary", "percent", "score", "hours", "weight"):
            if kind in words:
                return kind
        return "amount"
    if last in ("code", "no", "number", "ref", "key", "sku"):
        return "code"
    if last in ("email", "phone", "city", "country", "address"):
        return last
    if last == "status":
        return "status:generic"
    if "name" in words and {"full", "person", "contact", "first", "last"} & set(words):
        return "person"
    if last in ("description", "notes", "note", "comment", "comments", "remarks"):
        return "text"
    return "code" if last in ("id",) else "company" if "company" in words else "text"
