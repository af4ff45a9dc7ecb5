"""A small English -> Chinese dictionary of business nouns, for Chinese questions on schemas
without Chinese synonyms.

`zh_phrase("order item")` translates word by word from the right ("订单" + "明细") and returns
None when a word is unknown; callers then keep the English words inside the Chinese sentence
(code-mixing: "查询所有 order items"), which is what Chinese users of English-named databases
write anyway.
"""

from __future__ import annotations

from pathrl.naming import singular

ZH_NOUNS: dict[str, str] = {
    # people and organisations
    "employee": "员工", "staff": "员工", "worker": "工人", "person": "人员", "people": "人员",
    "user": "用户", "customer": "客户", "client": "客户", "supplier": "供应商", "vendor": "供应商",
    "manufacturer": "制造商", "maker": "制造商", "partner": "合作伙伴", "contact": "联系人",
    "manager": "经理", "department": "部门", "dept": "部门", "team": "团队", "company": "公司",
    "organization": "组织", "organisation": "组织", "branch": "分支机构", "office": "办公室",
    "division": "事业部", "unit": "单位", "member": "成员", "student": "学生", "teacher": "教师",
    "instructor": "讲师", "author": "作者", "owner": "所有者", "agent": "代理", "driver": "司机",
    "doctor": "医生", "patient": "病人", "player": "球员", "artist": "艺术家", "singer": "歌手",
    "candidate": "候选人", "applicant": "申请人", "buyer": "买家", "seller": "卖家",
    "subcontractor": "分包商", "contractor": "承包商", "shareholder": "股东", "director": "主管",
    # commerce
    "order": "订单", "item": "明细", "line": "行", "product": "产品", "goods": "货物",
    "category": "类别", "price": "价格", "invoice": "发票", "payment": "付款", "bill": "账单",
    "receipt": "收据", "contract": "合同", "agreement": "协议", "quote": "报价",
    "quotation": "报价单", "sale": "销售", "purchase": "采购", "shipment": "发货",
    "delivery": "交付", "return": "退货", "refund": "退款", "discount": "折扣", "coupon": "优惠券",
    "cart": "购物车", "store": "门店", "shop": "商店", "warehouse": "仓库", "inventory": "库存",
    "stock": "库存", "brand": "品牌", "model": "型号", "car": "汽车", "vehicle": "车辆",
    "account": "账户", "transaction": "交易", "budget": "预算", "cost": "成本", "expense": "费用",
    "revenue": "收入", "income": "收入", "salary": "工资", "payroll": "工资单", "wage": "工资",
    "bonus": "奖金", "tax": "税", "fee": "费用", "amount": "金额", "total": "总额",
    "balance": "余额", "currency": "货币", "rate": "费率", "loan": "贷款", "asset": "资产",
    "ledger": "账簿", "journal": "日记账", "credit": "信用", "debit": "借方",
    # projects and operations
    "project": "项目", "task": "任务", "milestone": "里程碑", "phase": "阶段", "plan": "计划",
    "schedule": "日程", "event": "事件", "meeting": "会议", "issue": "问题", "ticket": "工单",
    "request": "请求", "approval": "审批", "review": "评审", "report": "报告",
    "inspection": "检验", "audit": "审计", "log": "日志", "record": "记录", "history": "历史",
    "change": "变更", "version": "版本", "document": "文档", "file": "文件", "note": "备注",
    "comment": "评论", "message": "消息", "notification": "通知", "status": "状态",
    "type": "类型", "kind": "种类", "level": "级别", "grade": "等级", "rating": "评级",
    "score": "分数", "result": "结果", "reason": "原因", "description": "描述",
    "construction": "施工", "work": "工作", "job": "职位", "position": "岗位", "role": "角色",
    "title": "标题", "assignment": "分配", "shift": "班次", "attendance": "考勤",
    "leave": "请假", "training": "培训", "course": "课程", "class": "班级", "exam": "考试",
    "enrollment": "选课", "skill": "技能", "certificate": "证书", "equipment": "设备",
    "machine": "机器", "device": "设备", "asset_tag": "资产标签", "maintenance": "维护",
    "repair": "维修", "material": "材料", "part": "零件", "component": "组件",
    "batch": "批次", "lot": "批号", "production": "生产", "factory": "工厂", "plant": "工厂",
    "route": "路线", "trip": "行程", "flight": "航班", "airport": "机场", "airline": "航空公司",
    "hotel": "酒店", "room": "房间", "booking": "预订", "reservation": "预订",
    "service": "服务", "subscription": "订阅", "plan_tier": "套餐", "campaign": "活动",
    "lead": "线索", "opportunity": "商机", "deal": "交易", "survey": "调查", "question": "问题",
    "answer": "答案", "policy": "政策", "claim": "理赔", "insurance": "保险",
    # places and time
    "region": "区域", "country": "国家", "city": "城市", "state": "州", "province": "省份",
    "address": "地址", "location": "地点", "site": "现场", "area": "区域", "zone": "区域",
    "street": "街道", "district": "区", "building": "建筑", "floor": "楼层",
    "date": "日期", "time": "时间", "year": "年份", "month": "月份", "day": "日",
    "start": "开始", "end": "结束", "hire": "入职", "birth": "出生", "due": "到期",
    "created": "创建", "updated": "更新", "deadline": "截止日期", "period": "期间",
    # attributes
    "name": "名称", "code": "编码", "number": "编号", "no": "编号", "id": "编号",
    "email": "邮箱", "phone": "电话", "quantity": "数量", "qty": "数量", "count": "数量",
    "weight": "重量", "height": "高度", "length": "长度", "width": "宽度", "size": "尺寸",
    "age": "年龄", "gender": "性别", "color": "颜色", "colour": "颜色", "capacity": "容量",
    "duration": "时长", "distance": "距离", "speed": "速度", "horsepower": "马力",
    "mpg": "油耗", "fuel": "燃油", "economy": "经济性", "population": "人口",
    "percent": "百分比", "progress": "进度", "value": "数值", "unit_price": "单价",
    "first": "名", "last": "姓", "full": "全", "method": "方式", "priority": "优先级",
    "stage": "阶段", "step": "步骤", "group": "分组", "tag": "标签", "label": "标签",
    "language": "语言", "genre": "类型", "album": "专辑", "song": "歌曲", "track": "曲目",
    "movie": "电影", "film": "电影", "book": "图书", "library": "图书馆", "museum": "博物馆",
    "team_member": "团队成员", "game": "比赛", "match": "比赛", "season": "赛季",
    "school": "学校", "university": "大学", "college": "学院", "faculty": "院系",
    "hospital": "医院", "appointment": "预约", "treatment": "治疗", "medicine": "药品",
}


def zh_word(word: str) -> str | None:
    """Chinese for one English word (singular or plural), or None."""
    low = word.lower()
    return ZH_NOUNS.get(low) or ZH_NOUNS.get(singular(low))


def zh_phrase(phrase: str) -> str | None:
    """Chinese for a (multi-word) English noun phrase, or None when any word is unknown."""
    parts = phrase.lower().split()
    if not parts:
        return None
    whole = ZH_NOUNS.get("_".join(parts))
    if whole:
        return whole
    out = []
    for p in parts:
        zh = zh_word(p)
        if zh is None:
            return None
        out.append(zh)
    # "order item" -> 订单明细; drop a repeat ("employee staff" -> 员工员工 -> 员工)
    merged: list[str] = []
    for zh in out:
        if not merged or merged[-1] != zh:
            merged.append(zh)
    return "".join(merged)
