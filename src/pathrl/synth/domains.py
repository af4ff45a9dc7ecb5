"""Business domains: pools of realistic tables a generated schema draws from.

Each domain lists `TableSpec`s in canonical snake_case (`sales_order`, `order_line`); the
generator picks a connected subset, renames it in a naming style and turns it into a
`pathrl.schema.Schema`. Columns carry a value kind (see `pathrl.synth.values`) so the populator
can fill them with believable data whatever the naming style made of their names.

Spec strings keep the pools readable: a column is `name:kind`, `?name:kind` is optional (kept at
random), the first column is the display field and `^` marks the time field; a parent is a table
name, or `table:role` for a role-named foreign key (`employee:reviewer` -> `reviewer_id`).
"""

from __future__ import annotations

from dataclasses import dataclass

from pathrl.synth.values import value_type


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    kind: str
    optional: bool = False


@dataclass(frozen=True)
class ParentRef:
    """A foreign key to `table`; the column is `<role>_id` (role defaults to the table)."""

    table: str
    role: str = ""

    @property
    def column(self) -> str:
        return f"{self.role or self.table}_id"


@dataclass(frozen=True)
class TableSpec:
    name: str
    description: str
    columns: tuple[ColumnSpec, ...]
    parents: tuple[ParentRef, ...] = ()
    time_field: str | None = None
    junction: bool = False  # a many-to-many link: only picked once both ends are in
    anchor: bool = True
    target: bool = True

    @property
    def display(self) -> str | None:
        """The natural name/title/code column; a junction row is named by its key."""
        return None if self.junction else self.columns[0].name


def _t(name: str, description: str, columns: str, parents: str = "", *,
       junction: bool = False, anchor: bool = True) -> TableSpec:
    cols: list[ColumnSpec] = []
    time_field = None
    for token in columns.split():
        optional = token.startswith("?")
        cname, kind = token.lstrip("?").split(":", 1)
        if kind.endswith("^"):
            kind, time_field = kind[:-1], cname
        value_type(kind)  # fail at import on a typo in a pool
        cols.append(ColumnSpec(cname, kind, optional))
    refs = tuple(ParentRef(*p.split(":", 1)) for p in parents.split())
    if junction:
        return TableSpec(name, description, tuple(cols), refs, time_field, True, False, False)
    return TableSpec(name, description, tuple(cols), refs, time_field, False, anchor)


SALES = (
    _t("customer", "A business customer.",
       "customer_name:company customer_code:code ?city:city ?country:country ?email:email "
       "?phone:phone ?segment:pick:segment ?credit_limit:amount ?created_at:datetime"),
    _t("contact_person", "A person to talk to at a customer.",
       "full_name:person ?email:email ?phone:phone ?job_title:pick:job_title", "customer"),
    _t("sales_region", "A sales territory.", "region_name:name:region ?region_code:code"),
    _t("sales_rep", "A salesperson.",
       "full_name:person hire_date:date^ ?email:email ?sales_quota:amount", "sales_region"),
    _t("product_category", "A group of products.", "category_name:name:product_category"),
    _t("supplier", "A company that supplies products.",
       "supplier_name:company ?city:city ?country:country ?supplier_rating:score"),
    _t("product", "An item the company sells.",
       "product_name:name:product sku:code unit_price:price ?unit:pick:unit "
       "?launch_date:date^", "product_category supplier"),
    _t("warehouse", "A warehouse goods ship from.",
       "warehouse_name:name:warehouse ?city:city ?capacity:count"),
    _t("sales_order", "A customer order.",
       "order_no:code order_date:date^ order_status:status:order total_amount:amount "
       "?currency:pick:currency ?shipped_at:datetime", "customer sales_rep"),
    _t("order_line", "One product line of a sales order.",
       "line_code:code quantity:quantity unit_price:price ?discount_percent:percent "
       "?line_amount:amount", "sales_order product", anchor=False),
    _t("invoice", "A bill sent for an order.",
       "invoice_no:code invoice_date:date^ ?due_date:date_after amount:amount "
       "invoice_status:status:invoice", "sales_order"),
    _t("payment", "Money received against an invoice.",
       "payment_ref:code payment_date:date^ amount:amount ?payment_method:pick:payment_method",
       "invoice"),
    _t("shipment", "Goods sent for an order.",
       "tracking_no:code ship_date:date^ shipment_status:status:shipment ?carrier_name:company",
       "sales_order warehouse"),
    _t("quotation", "A price offer made to a customer.",
       "quote_no:code quote_date:date^ ?valid_until:date_after quoted_amount:amount "
       "quote_status:status:quote", "customer sales_rep"),
    _t("promotion", "A discount campaign.",
       "promotion_name:name:promotion start_date:date^ ?end_date:date_after "
       "discount_percent:percent"),
    _t("product_promotion", "Which products a promotion covers.", "?added_on:date^",
       "product promotion", junction=True),
    _t("sales_return", "Goods a customer sent back.",
       "return_no:code return_date:date^ return_reason:pick:return_reason ?refund_amount:amount",
       "sales_order"),
    _t("price_list", "A list of agreed prices.",
       "price_list_name:name:price_list valid_from:date^ ?currency:pick:currency"),
    _t("price_list_item", "A product's price on a price list.", "list_price:price",
       "price_list product", junction=True),
)

HR = (
    _t("department", "An organisational unit.",
       "department_name:name:department ?department_code:code ?annual_budget:amount"),
    _t("job_position", "A role in the organisation.",
       "position_title:name:position ?grade_level:small_int ?min_salary:salary "
       "?max_salary:salary"),
    _t("office", "An office location.",
       "office_name:name:office ?city:city ?country:country ?street_address:address"),
    _t("employee", "A person employed by the company.",
       "full_name:person employee_no:code hire_date:date^ ?email:email ?phone:phone "
       "?birth_date:birth_date ?gender:pick:gender employment_status:status:employment",
       "department job_position office"),
    _t("payroll_payment", "A salary payment.",
       "payroll_ref:code pay_date:date^ gross_amount:salary ?net_amount:salary", "employee"),
    _t("leave_request", "A request for time off.",
       "request_no:code start_date:date^ end_date:date_after leave_type:pick:leave_type "
       "approval_status:status:approval", "employee"),
    _t("attendance_record", "One working day of an employee.",
       "record_code:code work_date:date^ ?check_in_at:datetime hours_worked:hours",
       "employee", anchor=False),
    _t("skill", "A skill employees may have.",
       "skill_name:name:skill ?skill_category:pick:skill_category"),
    _t("employee_skill", "Which employee has which skill.", "?proficiency:small_int",
       "employee skill", junction=True),
    _t("training_course", "A training course.",
       "training_title:name:training ?training_provider:company ?duration_hours:hours "
       "?course_cost:amount"),
    _t("training_enrollment", "An employee enrolled in a training course.",
       "enrolled_on:date^ ?final_score:score", "employee training_course", junction=True),
    _t("performance_review", "A yearly review of an employee by a reviewer.",
       "review_code:code review_date:date^ rating:score ?review_comments:text",
       "employee employee:reviewer"),
    _t("benefit_plan", "A benefit the company offers.",
       "plan_name:name:benefit ?benefit_provider:company ?monthly_cost:price"),
    _t("benefit_enrollment", "An employee enrolled in a benefit plan.", "start_date:date^",
       "employee benefit_plan", junction=True),
    _t("job_opening", "An open vacancy.",
       "opening_code:code posted_on:date^ opening_status:status:opening",
       "department job_position"),
    _t("candidate", "A person applying for a job opening.",
       "full_name:person applied_on:date^ ?email:email candidate_status:status:candidate",
       "job_opening"),
    _t("interview", "An interview of a candidate.",
       "interview_code:code interview_date:date^ ?scheduled_at:datetime "
       "?interview_outcome:pick:outcome", "candidate employee:interviewer"),
)

HOSPITAL = (
    _t("clinical_department", "A medical department of the hospital.",
       "clinic_name:name:clinical_department ?floor_no:small_int ?phone:phone"),
    _t("doctor", "A physician.",
       "full_name:person license_no:code ?specialty:pick:specialty ?hire_date:date^ "
       "?email:email", "clinical_department"),
    _t("nurse", "A nurse.",
       "full_name:person staff_no:code ?shift:pick:shift ?hire_date:date^",
       "clinical_department"),
    _t("ward", "A hospital ward.", "ward_name:name:ward ?floor_no:small_int ?bed_count:count",
       "clinical_department"),
    _t("bed", "A bed in a ward.", "bed_code:code ?bed_type:pick:bed_type", "ward"),
    _t("patient", "A person treated at the hospital.",
       "full_name:person medical_record_no:code registered_on:date^ ?birth_date:birth_date "
       "?gender:pick:gender ?phone:phone ?city:city"),
    _t("admission", "A patient's stay in the hospital.",
       "admission_no:code admitted_on:date^ ?discharged_on:date_after "
       "?admission_diagnosis:pick:diagnosis", "patient bed doctor"),
    _t("appointment", "A scheduled visit.",
       "appointment_no:code appointment_date:date^ ?scheduled_at:datetime "
       "appointment_status:status:appointment ?visit_reason:pick:visit_reason",
       "patient doctor"),
    _t("diagnosis", "A condition diagnosed in a patient.",
       "diagnosis_code:code diagnosis_name:pick:diagnosis diagnosed_on:date^ "
       "?severity:pick:severity", "patient doctor"),
    _t("medication", "A drug the pharmacy stocks.",
       "medication_name:name:medication ?dosage_form:pick:dosage_form ?unit_price:price "
       "?manufacturer:company"),
    _t("prescription", "A doctor's prescription.",
       "prescription_no:code prescribed_on:date^ prescription_status:status:prescription",
       "patient doctor"),
    _t("prescription_item", "A medication on a prescription.",
       "quantity:quantity ?dosage:pick:dosage", "prescription medication", junction=True),
    _t("lab_test", "A laboratory test offered.",
       "test_name:name:lab_test ?test_code:code ?test_price:price"),
    _t("lab_order", "A lab test ordered for a patient.",
       "lab_order_no:code ordered_on:date^ ?result_value:score lab_status:status:lab",
       "patient lab_test doctor"),
    _t("insurance_provider", "A health insurer.",
       "provider_name:company ?phone:phone ?coverage_percent:percent"),
    _t("patient_insurance", "A patient's insurance policy.",
       "policy_no:code ?valid_until:date_after", "patient insurance_provider", junction=True),
    _t("medical_bill", "The bill for an admission.",
       "bill_no:code bill_date:date^ total_amount:amount ?is_paid:flag", "admission"),
    _t("nurse_assignment", "Which nurse works on which ward.", "assigned_on:date^",
       "nurse ward", junction=True),
)

SCHOOL = (
    _t("academic_department", "A subject department.",
       "faculty_name:name:academic_department ?building:pick:building"),
    _t("teacher", "A member of the teaching staff.",
       "full_name:person staff_no:code hire_date:date^ ?email:email "
       "?academic_title:pick:academic_title", "academic_department"),
    _t("homeroom", "A class group of students.",
       "homeroom_name:name:homeroom ?grade_level:small_int", "teacher:head_teacher"),
    _t("student", "A student.",
       "full_name:person student_no:code enrolled_on:date^ ?birth_date:birth_date "
       "?gender:pick:gender ?email:email ?city:city", "homeroom"),
    _t("course", "A course the school teaches.",
       "course_title:name:course course_code:code ?credits:small_int "
       "?course_level:pick:course_level", "academic_department"),
    _t("classroom", "A room lessons take place in.",
       "room_no:name:room ?building:pick:building ?seat_count:count"),
    _t("course_section", "One taught instance of a course.",
       "section_code:code ?semester:pick:semester start_date:date^ ?capacity:count",
       "course teacher classroom"),
    _t("enrollment", "A student taking a course section.",
       "enrolled_on:date^ ?final_grade:score enrollment_status:status:enrollment",
       "student course_section", junction=True),
    _t("exam", "An exam of a course section.",
       "exam_code:code exam_date:date^ ?exam_type:pick:exam_type ?max_score:count",
       "course_section"),
    _t("exam_result", "A student's result in an exam.", "score:score ?graded_on:date^",
       "student exam", junction=True),
    _t("homework", "A homework assignment.",
       "homework_title:name:assignment due_on:date^ ?max_points:count", "course_section"),
    _t("submission", "A student's homework submission.",
       "submitted_on:date^ ?submitted_at:datetime ?points:score", "student homework",
       junction=True),
    _t("guardian", "A parent or guardian.",
       "full_name:person ?phone:phone ?email:email ?relationship:pick:relationship"),
    _t("student_guardian", "Which guardian looks after which student.", "?since_date:date^",
       "student guardian", junction=True),
    _t("club", "An after-school club.",
       "club_name:name:club ?founded_on:date^ ?meeting_day:pick:weekday", "teacher:advisor"),
    _t("club_membership", "A student's membership of a club.", "joined_on:date^",
       "student club", junction=True),
    _t("tuition_payment", "A tuition fee payment.",
       "receipt_no:code paid_on:date^ amount:amount ?payment_method:pick:payment_method",
       "student"),
    _t("class_attendance", "Whether a student attended a lesson.",
       "record_code:code attendance_date:date^ attendance_status:status:attendance",
       "student course_section", anchor=False),
)

LOGISTICS = (
    _t("depot", "A logistics depot.",
       "depot_name:name:depot ?city:city ?country:country ?street_address:address "
       "?capacity:count"),
    _t("carrier", "A transport company.",
       "carrier_name:company carrier_code:code ?phone:phone ?carrier_rating:score"),
    _t("vehicle", "A truck or van.",
       "plate_no:code vehicle_type:pick:vehicle_type ?capacity_kg:weight "
       "?purchase_date:date^", "carrier depot"),
    _t("driver", "A driver.",
       "full_name:person license_no:code hire_date:date^ ?phone:phone", "carrier"),
    _t("shipper", "A client who ships goods.",
       "shipper_name:company ?city:city ?email:email ?contract_start:date^"),
    _t("consignment", "Goods moved from one depot to another.",
       "consignment_no:code pickup_date:date^ ?delivery_due:date_after weight_kg:weight "
       "?declared_value:amount consignment_status:status:shipment",
       "shipper depot:origin_depot depot:destination_depot"),
    _t("parcel", "One parcel of a consignment.",
       "parcel_code:code weight_kg:weight ?is_fragile:flag", "consignment", anchor=False),
    _t("delivery_route", "A regular route.",
       "route_name:name:route ?distance_km:weight ?estimated_hours:hours", "depot"),
    _t("trip", "A vehicle driving a route.",
       "trip_no:code trip_date:date^ ?departed_at:datetime trip_status:status:trip",
       "vehicle driver delivery_route"),
    _t("trip_stop", "A consignment delivered on a trip.",
       "stop_sequence:small_int ?delivered_on:date^", "trip consignment", junction=True),
    _t("fuel_log", "A refuelling.",
       "fuel_receipt_no:code fueled_on:date^ litres:weight fuel_cost:amount", "vehicle",
       anchor=False),
    _t("maintenance_order", "Repair work on a vehicle.",
       "work_order_no:code opened_on:date^ ?repair_cost:amount "
       "maintenance_status:status:maintenance ?work_description:text", "vehicle"),
    _t("freight_invoice", "A bill for a consignment.",
       "invoice_no:code invoice_date:date^ ?due_date:date_after amount:amount "
       "invoice_status:status:invoice", "consignment"),
    _t("customs_declaration", "A customs declaration for a consignment.",
       "declaration_no:code declared_on:date^ ?duty_amount:amount", "consignment"),
    _t("delivery_incident", "Something that went wrong on a delivery.",
       "incident_no:code reported_on:date^ incident_type:pick:incident_type "
       "?reported_at:datetime", "consignment driver"),
    _t("rate_card", "A carrier's tariff.",
       "rate_card_name:name:rate_card rate_per_kg:price ?valid_from:date^", "carrier"),
    _t("storage_zone", "A zone inside a depot.",
       "zone_name:name:zone ?is_refrigerated:flag", "depot"),
)

PROJECTS = (
    _t("client_company", "A client projects are delivered for.",
       "client_name:company ?industry:pick:industry ?city:city ?country:country"),
    _t("team", "A delivery team.", "team_name:name:team ?created_on:date^"),
    _t("staff_member", "A person working on projects.",
       "full_name:person employee_no:code ?email:email ?job_title:pick:job_title "
       "?hourly_rate:price ?hire_date:date^", "team"),
    _t("project", "A project delivered for a client.",
       "project_name:name:project project_code:code start_date:date^ ?end_date:date_after "
       "?budget:amount project_status:status:project ?priority:pick:priority",
       "client_company staff_member:project_manager"),
    _t("project_member", "A staff member working on a project.",
       "?project_role:pick:project_role joined_on:date^ ?allocation_percent:percent",
       "project staff_member", junction=True),
    _t("milestone", "A milestone of a project.",
       "milestone_title:name:milestone target_date:date^ ?is_completed:flag", "project"),
    _t("work_task", "A task in a project.",
       "task_title:name:task task_key:code created_on:date^ ?estimate_hours:hours "
       "task_status:status:task ?priority:pick:priority",
       "project milestone staff_member:assignee"),
    _t("time_entry", "Hours booked on a task.",
       "entry_code:code work_date:date^ hours:hours ?is_billable:flag ?entry_note:text",
       "work_task staff_member", anchor=False),
    _t("issue", "A problem found in a project.",
       "issue_title:name:issue issue_key:code reported_on:date^ ?severity:pick:severity "
       "issue_status:status:issue", "project staff_member:reporter"),
    _t("project_risk", "A risk of a project.",
       "risk_title:name:risk risk_code:code identified_on:date^ ?probability_percent:percent "
       "?impact:pick:severity", "project"),
    _t("project_contract", "A contract signed for a project.",
       "contract_no:code signed_on:date^ contract_value:amount ?currency:pick:currency",
       "project client_company"),
    _t("project_invoice", "An invoice under a project contract.",
       "invoice_no:code invoice_date:date^ ?due_date:date_after amount:amount "
       "invoice_status:status:invoice", "project_contract"),
    _t("vendor", "A company projects buy from.",
       "vendor_name:company ?city:city ?email:email"),
    _t("purchase_request", "A request to buy from a vendor for a project.",
       "request_no:code requested_on:date^ amount:amount approval_status:status:approval",
       "project vendor staff_member:requester"),
    _t("deliverable", "Something handed over at a milestone.",
       "deliverable_name:name:deliverable handover_date:date^ ?is_accepted:flag", "milestone"),
    _t("project_document", "A document of a project.",
       "document_title:name:document document_no:code uploaded_on:date^",
       "project staff_member:author"),
    _t("change_request", "A requested change to a project's scope.",
       "change_no:code submitted_on:date^ ?cost_impact:amount approval_status:status:approval",
       "project"),
)

DOMAINS: dict[str, tuple[TableSpec, ...]] = {
    "sales": SALES, "hr": HR, "hospital": HOSPITAL, "school": SCHOOL,
    "logistics": LOGISTICS, "projects": PROJECTS,
}


# -- ERP: hub tables plus modules of documents, for scale tests -----------------------------------
ERP_HUBS = (
    _t("company", "A legal entity of the group.",
       "company_name:company company_code:code ?country:country ?founded_on:date^"),
    _t("department", "An organisational unit.",
       "department_name:name:department ?department_code:code ?annual_budget:amount",
       "company"),
    _t("employee", "A person employed by the group.",
       "full_name:person employee_no:code hire_date:date^ ?email:email "
       "employment_status:status:employment", "department"),
    _t("customer", "A business customer.",
       "customer_name:company customer_code:code ?city:city ?credit_limit:amount", "company"),
    _t("supplier", "A company the group buys from.",
       "supplier_name:company ?city:city ?supplier_rating:score", "company"),
    _t("product", "An item the group makes or sells.",
       "product_name:name:product sku:code unit_price:price ?unit:pick:unit ?launch_date:date^",
       "company"),
    _t("warehouse", "A warehouse.", "warehouse_name:name:warehouse ?city:city ?capacity:count",
       "company"),
    _t("cost_center", "A unit costs are booked to.",
       "cost_center_code:code ?annual_budget:amount", "department"),
)

# module -> (hubs its tables usually reference, its tables in creation order)
ERP_MODULES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "sales": (("customer", "employee", "product"),
              ("quotation", "sales_order", "sales_order_line", "delivery_note", "sales_invoice",
               "sales_return", "price_list", "discount_rule", "sales_target", "commission")),
    "purchasing": (("supplier", "product", "employee"),
                   ("purchase_requisition", "request_for_quotation", "purchase_order",
                    "purchase_order_line", "goods_receipt", "supplier_invoice",
                    "supplier_evaluation", "purchase_contract")),
    "inventory": (("product", "warehouse"),
                  ("bin_location", "stock_batch", "stock_movement", "stock_count",
                   "stock_count_line", "stock_transfer", "reorder_rule", "serial_number")),
    "finance": (("company", "cost_center"),
                ("ledger_account", "fiscal_period", "journal_entry", "journal_entry_line",
                 "budget", "budget_line", "bank_account", "bank_statement", "payment",
                 "tax_code", "fixed_asset", "depreciation_run")),
    "hr": (("employee", "department"),
           ("job_position", "payroll_run", "payslip", "leave_request", "attendance_record",
            "training_session", "appraisal", "expense_claim", "expense_claim_line",
            "job_requisition")),
    "manufacturing": (("product", "warehouse"),
                      ("bill_of_materials", "bill_of_materials_line", "work_center", "routing",
                       "production_order", "production_operation", "quality_check",
                       "scrap_record", "machine", "downtime_event")),
    "projects": (("customer", "employee"),
                 ("project", "project_task", "timesheet", "timesheet_line", "project_budget",
                  "project_milestone", "project_expense")),
    "crm": (("customer", "employee"),
            ("sales_lead", "opportunity", "marketing_campaign", "campaign_member",
             "support_ticket", "ticket_comment", "customer_contact", "crm_activity")),
    "logistics": (("warehouse", "customer"),
                  ("outbound_shipment", "outbound_shipment_line", "freight_carrier",
                   "freight_rate", "transport_route", "fleet_vehicle")),
    "maintenance": (("employee", "department"),
                    ("maintenance_plan", "equipment", "maintenance_work_order", "spare_part",
                     "equipment_inspection")),
    "quality": (("supplier", "product"),
                ("nonconformance", "corrective_action", "quality_audit", "audit_finding",
                 "quality_certificate")),
}
# Satellite tables hang off a module table (`purchase_order_approval`) once modules run out.
ERP_SATELLITES = ("approval", "attachment", "history", "note", "revision", "comment", "tag",
                  "audit_log")
_LINE_SUFFIXES = ("_line", "_member", "_comment")
_DOCUMENT_WORDS = {"order", "invoice", "receipt", "entry", "requisition", "claim", "return",
                   "note", "run", "payslip", "ticket", "contract", "shipment", "transfer",
                   "count", "movement", "evaluation", "appraisal", "audit", "inspection",
                   "check", "record", "event", "expense", "timesheet", "opportunity", "lead",
                   "campaign", "quotation", "statement", "payment", "nonconformance", "action",
                   "finding", "session", "activity", "commission", "target"}

ERP_LINE = _t("erp_line", "", "line_code:code quantity:quantity unit_price:price "
              "?line_amount:amount", anchor=False)
ERP_DOCUMENT = _t("erp_document", "", "document_no:code document_date:date^ "
                  "document_status:status:document ?total_amount:amount ?remarks:text")
ERP_MASTER = _t("erp_master", "", "reference_code:code ?master_description:text "
                "?valid_from:date^ ?is_active:flag")
ERP_SATELLITE = _t("erp_satellite", "", "entry_code:code logged_on:date^ ?entry_note:text")


def erp_template(table: str, satellite: bool = False) -> TableSpec:
    """The column template of an ERP table, from what its name says it is."""
    if satellite:
        return ERP_SATELLITE
    if table.endswith(_LINE_SUFFIXES):
        return ERP_LINE
    return ERP_DOCUMENT if table.split("_")[-1] in _DOCUMENT_WORDS else ERP_MASTER


def all_table_specs() -> tuple[TableSpec, ...]:
    """Every table spec of every pool (domains, ERP hubs and templates)."""
    return (*(t for pool in DOMAINS.values() for t in pool), *ERP_HUBS, ERP_LINE, ERP_DOCUMENT,
            ERP_MASTER, ERP_SATELLITE)


def column_kinds() -> dict[str, str]:
    """Canonical column name -> value kind over all pools. A name means one kind everywhere
    (tests check it), so a field's description alone tells the populator what to draw."""
    kinds: dict[str, str] = {}
    for spec in all_table_specs():
        for col in spec.columns:
            kinds.setdefault(col.name, col.kind)
    return kinds
