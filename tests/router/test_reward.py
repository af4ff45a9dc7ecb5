"""The layered reward table and its anti-hacking rules (docs/method.md §7)."""

import pytest

from pathrl.demo import demo_schema
from pathrl.errors import PathrlError
from pathrl.paths import PathVocab
from pathrl.router.reward import LayeredReward, RewardConfig

VOCAB = PathVocab.from_schema(demo_schema())
MULTI = ("project", "contract_change_log", ("contract",))
SINGLE = ("project", "contract", ())


def raw(pred, label, **cfg):
    return LayeredReward(RewardConfig(**cfg), VOCAB).components(pred, label)


def test_exact_match_single_hop():
    c = raw(SINGLE, SINGLE)
    assert c == {"anchor": 1.0, "target": 1.0, "via": 1.0, "legal": 0.2, "exact": 10.0,
                 "exec": 0.0}


def test_exact_match_nonnull_via_gets_dynamic_weight():
    c = raw(MULTI, MULTI)
    assert c["via"] == 10.0 and c["exact"] == 10.0


def test_wrong_target_legal_path():
    c = raw(("project", "contract_change_log", ("contract",)), ("project", "delivery",
                                                               ("contract",)))
    assert c["target"] == -0.5 and c["via"] == 10.0 and c["legal"] == 0.2 and c["exact"] == 0


def test_illegal_triple_penalised():
    c = raw(("project", "contract_change_log", ()), MULTI)
    assert c["legal"] == -2.0
    assert c["via"] == -5.0  # none predicted for a non-null label: -0.5 x 10


def test_conditional_granting_anchor_wrong_via_earns_nothing():
    c = raw(("supplier", "contract_change_log", ("contract",)), MULTI)
    assert c["anchor"] == -0.5 and c["via"] == 0.0
    off = raw(("supplier", "contract_change_log", ("contract",)), MULTI,
              conditional_granting=False)
    assert off["via"] == 10.0


def test_always_none_hack_pays_less_with_anti_hacking_on():
    """With dynamic weighting and conditional granting off, 'always predict via = none' scores
    higher than with them on (method §7.4's reward hack)."""
    labels = [ex for ex in (SINGLE, MULTI, ("supplier", "contract", ()),
                            ("contract", "invoice", ("payment",)))]
    always_none = [(a, t, ()) for a, t, _ in labels]

    def mean_reward(**cfg):
        fn = LayeredReward(RewardConfig(**cfg), VOCAB)
        return sum(fn.raw(p, lab) for p, lab in zip(always_none, labels, strict=True)) / 4

    hacked = mean_reward(dynamic_weighting=False, conditional_granting=False)
    guarded = mean_reward()
    assert hacked > guarded
    # and the honest policy beats the hack under the guarded reward
    honest = sum(LayeredReward(RewardConfig(), VOCAB).raw(lab, lab) for lab in labels) / 4
    assert honest > guarded


def test_scaling_and_clipping():
    fn = LayeredReward(RewardConfig(), VOCAB)
    rewards, means = fn([MULTI, SINGLE], [MULTI, SINGLE])
    assert rewards[0].item() == pytest.approx(2.0)  # max raw maps to the clip bound
    assert 0 < rewards[1].item() < 2.0
    assert means["exact"] == 10.0
    outlier = LayeredReward(RewardConfig(scale=1.0), VOCAB)([MULTI], [MULTI])[0]
    assert outlier.item() == 2.0  # 22.2 clipped


def test_execution_feedback_component():
    fn = LayeredReward(RewardConfig(), VOCAB, executor=lambda triple, i: "empty")
    assert fn.components(MULTI, MULTI)["exec"] == -0.5
    fn_ok = LayeredReward(RewardConfig(), VOCAB, executor=lambda triple, i: "ok")
    assert fn_ok.components(MULTI, MULTI)["exec"] == 0.5
    # illegal routes are never executed
    calls = []
    fn_spy = LayeredReward(RewardConfig(), VOCAB, executor=lambda t, i: calls.append(t) or "ok")
    fn_spy.components(("project", "contract_change_log", ()), MULTI)
    assert calls == []


def test_bad_reward_config():
    with pytest.raises(PathrlError, match="clip"):
        RewardConfig(clip=0)
