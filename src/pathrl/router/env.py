"""The Router as a Gymnasium environment: one-step episodes (a contextual bandit).

`reset()` draws a question (from the env's seeded `np_random`, or `options={"index": i}`), the
observation is its token ids padded / truncated to `max_length` plus the attention mask, the
action is one index per head (`MultiDiscrete([n_anchor, n_target, n_via])`), and `step(action)`
scores the predicted triple with the layered reward (`LayeredReward`, scaled and clipped exactly
as `RouterPPOTrainer` does) and ends the episode (`terminated=True`).

Importing this module registers the env as `pathrl/Router-v0`:

    import gymnasium
    import pathrl.router.env  # noqa: F401  (registers pathrl/Router-v0)
    env = gymnasium.make("pathrl/Router-v0", examples=train, vocab=router.vocab,
                         tokenizer=router.tokenizer)

See docs/router_env.md (spaces, reward, SB3 usage, speed against `RouterPPOTrainer`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces

from pathrl.errors import PathrlError
from pathrl.paths import PathVocab, Triple
from pathrl.router.reward import COMPONENTS, Executor, LayeredReward, RewardConfig
from pathrl.router.types import LabelledQuestion

ENV_ID = "pathrl/Router-v0"

Observation = dict[str, np.ndarray]


class RouterEnv(gymnasium.Env[Observation, np.ndarray]):
    """One question per episode; the action is the (anchor, target, via) head indices.

    Observation (`spaces.Dict`, both int64 of shape `(max_length,)`, right-padded):
    `input_ids` (token ids, in `[0, len(tokenizer))`) and `attention_mask` (1 = real token).
    Action: `MultiDiscrete([len(vocab.anchors), len(vocab.targets), len(vocab.vias)])`; any
    combination may be sampled, an illegal one earns the reward's illegal penalty.
    Reward: `LayeredReward(reward_config, vocab)` on the predicted triple against the label,
    divided by the config's scale and clipped (the value `RouterPPOTrainer` trains on).
    `info` of `step`: `index` (of the example), `components` (raw reward components), `raw`
    (their sum), `predicted` and `label` triples, `legal`, `exact`.
    """

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(self, examples: Sequence[LabelledQuestion], vocab: PathVocab, tokenizer: Any,
                 reward_config: RewardConfig | None = None, max_length: int = 64,
                 executor: Executor | None = None):
        super().__init__()
        self.examples = list(examples)
        if not self.examples:
            raise PathrlError("RouterEnv needs at least one question")
        if max_length < 1:
            raise PathrlError(f"max_length must be >= 1, got {max_length}")
        if tokenizer is None or not callable(tokenizer):
            raise PathrlError("RouterEnv needs a Hugging Face tokenizer (e.g. router.tokenizer)")
        self.vocab = vocab
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.reward_config = reward_config if reward_config is not None else RewardConfig()
        self.reward_fn = LayeredReward(self.reward_config, vocab, executor)
        self.labels: list[Triple] = [
            (ex.triple[0], ex.triple[1], tuple(ex.triple[2])) for ex in self.examples]
        for n, (ex, label) in enumerate(zip(self.examples, self.labels, strict=True)):
            if not vocab.is_legal(*label):
                raise PathrlError(f"example {n} ('{ex.question[:60]}') is labelled "
                                  f"{label}, which is not one of the schema's legal paths")
        enc = tokenizer([ex.question for ex in self.examples], padding="max_length",
                        truncation=True, max_length=max_length, return_tensors="np")
        self._input_ids = np.asarray(enc["input_ids"], dtype=np.int64)
        self._attention_mask = np.asarray(enc["attention_mask"], dtype=np.int64)
        n_tokens = max(len(tokenizer), int(self._input_ids.max()) + 1)
        self.observation_space = spaces.Dict({
            "input_ids": spaces.Box(0, n_tokens - 1, shape=(max_length,), dtype=np.int64),
            "attention_mask": spaces.Box(0, 1, shape=(max_length,), dtype=np.int64),
        })
        self.action_space = spaces.MultiDiscrete(
            [len(vocab.anchors), len(vocab.targets), len(vocab.vias)])
        self.index: int | None = None

    def __len__(self) -> int:
        return len(self.examples)

    def _observation(self, index: int) -> Observation:
        return {"input_ids": self._input_ids[index].copy(),
                "attention_mask": self._attention_mask[index].copy()}

    def reset(self, *, seed: int | None = None,
              options: dict[str, Any] | None = None) -> tuple[Observation, dict[str, Any]]:
        """Draw a question; `options={"index": i}` picks example `i` instead."""
        super().reset(seed=seed)
        if options and options.get("index") is not None:
            index = int(options["index"])
            if not 0 <= index < len(self.examples):
                raise PathrlError(f"options['index'] must be in [0, {len(self.examples)}), "
                                  f"got {index}")
        else:
            index = int(self.np_random.integers(len(self.examples)))
        self.index = index
        return self._observation(index), {"index": index,
                                          "question": self.examples[index].question}

    def decode_action(self, action: Any) -> Triple:
        """The triple named by a `MultiDiscrete` action (anchor, target, via indices)."""
        arr = np.asarray(action).reshape(-1)
        if arr.shape != (3,):
            raise PathrlError(f"a Router action is 3 head indices, got shape {np.shape(action)}")
        a, t, v = (int(x) for x in arr)
        sizes = self.action_space.nvec
        if not (0 <= a < sizes[0] and 0 <= t < sizes[1] and 0 <= v < sizes[2]):
            raise PathrlError(f"action {[a, t, v]} outside MultiDiscrete({sizes.tolist()})")
        return (self.vocab.anchors[a], self.vocab.targets[t], self.vocab.vias[v])

    def step(self, action: Any) -> tuple[Observation, float, bool, bool, dict[str, Any]]:
        if self.index is None:
            raise PathrlError("call reset() before step()")
        index = self.index
        predicted = self.decode_action(action)
        label = self.labels[index]
        reward, means = self.reward_fn([predicted], [label], [index])  # batch of one
        info = {
            "index": index,
            "components": {k: float(means[k]) for k in COMPONENTS},
            "raw": float(means["raw"]),
            "predicted": predicted,
            "label": label,
            "legal": self.vocab.is_legal(*predicted),
            "exact": predicted == label,
        }
        self.index = None  # one step per episode: the next step needs a reset
        return self._observation(index), float(reward[0]), True, False, info


def register() -> None:
    """Register `pathrl/Router-v0` with Gymnasium (idempotent; done on import)."""
    if ENV_ID not in gymnasium.registry:
        gymnasium.register(id=ENV_ID, entry_point="pathrl.router.env:RouterEnv")


register()
