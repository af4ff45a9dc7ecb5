"""The Router model (docs/method.md §4): backbone -> pooled question vector -> three
classification heads (anchor, target, via-sequence) + a value head.

The same module serves SFT and PPO, so SFT weights load straight into PPO. The critic (value head)
sits on the shared backbone (method §4.1's setup, where critic gradients reach the actor's features)
or on a separate copy of the backbone (the fix); either way it starts from the SFT weights.
Decoding is constrained to the legal triples: the joint score of a triple is the sum of the three
heads' log-probs, so an illegal path is never returned by `route`.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from functools import cache, partial
from pathlib import Path

import torch
from torch import nn

from pathrl.backbones import (
    BackboneSource,
    is_decoder,
    load_encoder,
    load_tokenizer,
    resolve_backbone,
)
from pathrl.errors import PathrlError
from pathrl.paths import LegalPath, PathVocab, Triple, Via
from pathrl.rl.batching import restore_order, sorted_micro_batches
from pathrl.router.protocol import (
    RankedRoute,
    Routing,
    check_questions,
    read_router_meta,
    read_weights,
    saved_config,
)

HEADS = ("anchor", "target", "via")


@cache
def gb2312_hanzi() -> tuple[str, ...]:
    """The 6,763 GB2312 hanzi (level 1: rows 0xB0-0xD7, level 2: 0xD8-0xF7), generated from
    Python's codec: the common simplified Chinese characters, with no data file."""
    out = []
    for hi in range(0xB0, 0xF8):
        for lo in range(0xA1, 0xFF):
            try:
                out.append(bytes([hi, lo]).decode("gb2312"))
            except UnicodeDecodeError:  # the five unassigned cells at the end of row 0xD7
                continue
    return tuple(out)


def unknown_characters(tokenizer, questions: Sequence[str]) -> list[str]:
    """The GB2312 hanzi and the characters of `questions` that `tokenizer` maps to [UNK]
    (none for byte-level tokenizers): the tokens `extend_vocab` adds."""
    if tokenizer.unk_token is None:
        return []
    candidates = sorted(set(gb2312_hanzi()) | {ch for q in questions for ch in q
                                               if not ch.isspace()})
    # One batched call: per-character tokenize() over ~7k characters is ~10x slower.
    ids = tokenizer(candidates, add_special_tokens=False)["input_ids"]
    return [ch for ch, i in zip(candidates, ids, strict=True) if i == [tokenizer.unk_token_id]]


def add_tokens(tokenizer, backbone: nn.Module, tokens: list[str]) -> int:
    """Add `tokens` to the tokenizer and rows for them to the backbone's embeddings, sampled
    from the old embeddings' mean and covariance (distinct, in-distribution)."""
    added = tokenizer.add_tokens(tokens)
    if added:
        backbone.resize_token_embeddings(len(tokenizer), mean_resizing=True)
    return added


@dataclass
class RouterConfig:
    """Architecture of a Router. Saved with the weights."""

    backbone: str = "minilm"
    """Alias (`minilm`, `smollm2`) or a local Hugging Face model directory."""
    pooling: str = "auto"
    """`mean` (encoders), `last` (last non-pad token, decoders), `cls`; `auto` picks by model."""
    freeze_layers: int = 0
    """Freeze the first N transformer layers (method §6.1: first 10 of a 0.5B model)."""
    lora: bool = False
    """Train LoRA adapters (peft) instead of the backbone's own weights (~1% of parameters)."""
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.05
    extend_vocab: bool = True
    """Add characters of the training questions the tokenizer maps to [UNK] as new tokens (an
    English WordPiece vocab knows few Chinese characters); their embeddings are learned."""
    train_embeddings: bool = False
    """Train the word-embedding matrix. Off by default: it is over half of MiniLM's parameters
    (slow on CPU), and characters added by `extend_vocab` already get distinct random vectors
    that the trainable layers above learn to read."""
    max_length: int = 64
    """Questions are truncated to this many tokens."""
    head_dropout: float = 0.1
    critic: str = "shared"
    """`shared`: value head on the policy backbone (critic gradients reach the actor's features);
    `separate`: value head on its own copy of the backbone (the fix of method §5.4)."""
    added_tokens: list[str] = field(default_factory=list)
    """Filled by `extend_vocab`; saved so a reloaded router tokenizes identically."""

    def __post_init__(self) -> None:
        if self.pooling not in ("auto", "mean", "last", "cls"):
            raise PathrlError(f"pooling must be auto|mean|last|cls, got '{self.pooling}'")
        if self.critic not in ("shared", "separate"):
            raise PathrlError(f"critic must be shared|separate, got '{self.critic}'")
        if self.freeze_layers < 0:
            raise PathrlError(f"freeze_layers must be >= 0, got {self.freeze_layers}")
        if self.max_length < 8:
            raise PathrlError(f"max_length must be >= 8, got {self.max_length}")


@dataclass
class RouterOutput:
    logits: dict[str, torch.Tensor]  # head -> [batch, n_classes]
    value: torch.Tensor  # [batch]


@dataclass
class Route:
    """A routed question: the best legal triple, its probability, and the alternatives (the
    single-question view of a `Routing`, kept for `RouterModel.route` callers)."""

    anchor: str
    target: str
    via: Via
    path: LegalPath
    probability: float
    alternatives: list[tuple[Triple, float]]

    @property
    def triple(self) -> Triple:
        return (self.anchor, self.target, self.via)

    @classmethod
    def from_routing(cls, routing: Routing) -> Route:
        best = routing.best
        return cls(best.anchor, best.target, best.via, best.path, best.probability,
                   [(r.triple, r.probability) for r in routing.routes[1:]])

    def to_dict(self) -> dict:
        return {"anchor": self.anchor, "target": self.target, "via": list(self.via),
                "path": self.path.id, "probability": round(self.probability, 4),
                "alternatives": [{"anchor": a, "target": t, "via": list(v),
                                  "probability": round(p, 4)}
                                 for (a, t, v), p in self.alternatives]}


class ExtendedEmbedding(nn.Module):
    """Word embeddings = the pretrained matrix (frozen) + a small trainable matrix for the
    tokens `extend_vocab` added. Training only the new rows costs ~0.1M parameters instead of
    the whole vocabulary; `merged()` turns it back into one plain embedding for saving."""

    def __init__(self, base: nn.Embedding, extra: nn.Embedding):
        super().__init__()
        self.base, self.extra = base, extra
        self.n_base = base.num_embeddings

    @classmethod
    def split(cls, embedding: nn.Embedding, n_base: int) -> ExtendedEmbedding:
        weight = embedding.weight.detach()
        base = nn.Embedding.from_pretrained(weight[:n_base].clone(), freeze=True,
                                            padding_idx=embedding.padding_idx)
        extra = nn.Embedding.from_pretrained(weight[n_base:].clone(), freeze=False)
        return cls(base, extra)

    @property
    def weight(self) -> torch.Tensor:
        return torch.cat([self.base.weight, self.extra.weight])

    def merged(self) -> nn.Embedding:
        return nn.Embedding.from_pretrained(self.weight.detach().clone(), freeze=False,
                                            padding_idx=self.base.padding_idx)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        is_new = (ids >= self.n_base).unsqueeze(-1)
        out = self.base(ids.clamp(max=self.n_base - 1))
        return torch.where(is_new, self.extra((ids - self.n_base).clamp(min=0)), out)


def _transformer_layers(model: nn.Module) -> nn.ModuleList | None:
    """The stack of transformer blocks (BERT: encoder.layer, Llama/Qwen: layers)."""
    n_layers = getattr(model.config, "num_hidden_layers", None)
    for _name, module in model.named_modules():
        if isinstance(module, nn.ModuleList) and len(module) == n_layers:
            return module
    return None


def _with_plain_embeddings(model: nn.Module) -> nn.Module:
    """A copy of `model` whose ExtendedEmbedding is merged into one plain embedding."""
    embeddings = model.get_input_embeddings()
    if not isinstance(embeddings, ExtendedEmbedding):
        return model
    plain = copy.deepcopy(model)
    plain.set_input_embeddings(embeddings.merged())
    plain.config.vocab_size = embeddings.weight.shape[0]
    return plain


class RouterModel(nn.Module):
    """Backbone + pooled representation + anchor/target/via heads + value head."""

    def __init__(self, config: RouterConfig, vocab: PathVocab, schema_fingerprint: str,
                 backbone: nn.Module | None = None, tokenizer=None):
        super().__init__()
        self.config = config
        self.vocab = vocab
        self.schema_fingerprint = schema_fingerprint
        fresh = backbone is None  # a saved router brings its own (already extended) vocab
        if backbone is None or tokenizer is None:
            source: BackboneSource = resolve_backbone(config.backbone)
            tokenizer = tokenizer if tokenizer is not None else load_tokenizer(source)
            backbone = backbone if backbone is not None else load_encoder(source)
        self.tokenizer = tokenizer
        self.backbone = backbone
        if config.added_tokens and fresh:
            self._add_tokens(config.added_tokens)
        self.decoder = is_decoder(self.backbone.config)
        self.pooling = config.pooling if config.pooling != "auto" else (
            "last" if self.decoder else "mean")
        hidden = self.backbone.config.hidden_size
        self.dropout = nn.Dropout(config.head_dropout)
        self.heads = nn.ModuleDict({
            "anchor": nn.Linear(hidden, len(vocab.anchors)),
            "target": nn.Linear(hidden, len(vocab.targets)),
            "via": nn.Linear(hidden, len(vocab.vias)),
        })
        self.value_head = nn.Linear(hidden, 1)
        nn.init.zeros_(self.value_head.weight)  # values start at 0: no random critic noise
        nn.init.zeros_(self.value_head.bias)
        self.critic_backbone: nn.Module | None = None
        idx = torch.tensor(vocab.triple_indices, dtype=torch.long)
        self.register_buffer("legal_index", idx, persistent=False)
        self._lora_applied = False

    # -- construction helpers ------------------------------------------------------------------
    def _add_tokens(self, tokens: list[str]) -> int:
        return add_tokens(self.tokenizer, self.backbone, tokens)

    def extend_vocab(self, questions: Sequence[str]) -> int:
        """Add, as new tokens, every common Chinese character (the GB2312 hanzi) and every
        other character of `questions` that the tokenizer maps to [UNK] (see
        RouterConfig.extend_vocab): a Chinese character absent from the training questions
        then still gets its own (trainable) embedding at inference instead of [UNK].
        Returns the number of tokens added; 0 when `config.extend_vocab` is off."""
        if not self.config.extend_vocab:
            return 0
        missing = unknown_characters(self.tokenizer, questions)
        self.config.added_tokens = sorted(set(self.config.added_tokens) | set(missing))
        return self._add_tokens(missing)

    def setup_trainable(self) -> None:
        """Apply freezing and LoRA from the config (call after `extend_vocab`)."""
        cfg = self.config
        if cfg.lora and not self._lora_applied:
            from peft import LoraConfig, get_peft_model

            lora = LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha,
                              lora_dropout=cfg.lora_dropout, target_modules="all-linear")
            self.backbone = get_peft_model(self.backbone, lora)
            self._lora_applied = True
        base = self.backbone.get_base_model() if self._lora_applied else self.backbone
        embeddings = base.get_input_embeddings()
        n_base = self.tokenizer.vocab_size  # without the added tokens
        if cfg.train_embeddings:
            embeddings.requires_grad_(True)
        elif isinstance(embeddings, ExtendedEmbedding):
            embeddings.extra.requires_grad_(True)
        elif embeddings.num_embeddings > n_base:
            base.set_input_embeddings(ExtendedEmbedding.split(embeddings, n_base))
        else:
            embeddings.requires_grad_(False)
        if cfg.freeze_layers:
            layers = _transformer_layers(base)
            if layers is None:
                raise PathrlError("cannot find the transformer layers to freeze in this backbone")
            if cfg.freeze_layers > len(layers):
                raise PathrlError(f"freeze_layers={cfg.freeze_layers} but the backbone has only "
                                  f"{len(layers)} layers")
            for layer in list(layers)[: cfg.freeze_layers]:
                layer.requires_grad_(False)

    def make_separate_critic(self) -> None:
        """Give the value head its own backbone, copied from the current (SFT) weights."""
        if self.critic_backbone is None:
            self.critic_backbone = copy.deepcopy(self.backbone)
            self.critic_backbone.requires_grad_(True)
        self.config.critic = "separate"

    # -- forward -------------------------------------------------------------------------------
    def tokenize(self, questions: list[str]) -> dict[str, torch.Tensor]:
        return self.tokenizer(questions, padding=True, truncation=True,
                              max_length=self.config.max_length, return_tensors="pt")

    def _pool(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if self.pooling == "cls":
            return hidden[:, 0]
        if self.pooling == "last":
            last = mask.sum(1).clamp_min(1) - 1  # right padding: last real token
            return hidden[torch.arange(hidden.shape[0], device=hidden.device), last]
        m = mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * m).sum(1) / m.sum(1).clamp_min(1.0)

    def encode(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
               backbone: nn.Module | None = None) -> torch.Tensor:
        out = (backbone or self.backbone)(input_ids=input_ids, attention_mask=attention_mask)
        return self._pool(out.last_hidden_state, attention_mask)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                with_value: bool = True) -> RouterOutput:
        device = self.value_head.weight.device  # a tokenizer's batch arrives on the CPU
        input_ids, attention_mask = input_ids.to(device), attention_mask.to(device)
        pooled = self.encode(input_ids, attention_mask)
        features = self.dropout(pooled)
        logits = {name: head(features) for name, head in self.heads.items()}
        if not with_value:
            value = torch.zeros(pooled.shape[0], device=pooled.device)
        elif self.critic_backbone is not None:
            critic_features = self.encode(input_ids, attention_mask, self.critic_backbone)
            value = self.value_head(critic_features).squeeze(-1)
        else:
            value = self.value_head(pooled).squeeze(-1)
        return RouterOutput(logits, value)

    # -- the training surface shared with the path scorer (SFTTrainer, RouterPPOTrainer) ------
    kind = "factored"
    action_heads = HEADS

    def policy(self, batch: dict[str, torch.Tensor], with_value: bool = True) -> RouterOutput:
        """`forward` on a `tokenize` batch."""
        return self(batch["input_ids"], batch["attention_mask"], with_value=with_value)

    def label_tensors(self, examples: Sequence) -> dict[str, torch.Tensor]:
        from pathrl.router.types import label_tensors

        return label_tensors(self.vocab, examples)

    def supervised_loss(self, logits: dict[str, torch.Tensor], labels: dict[str, torch.Tensor],
                        via_null_weight: float = 1.0) -> torch.Tensor:
        """Cross-entropy of the three heads; the via "none" class weighted `via_null_weight`."""
        device = logits["via"].device
        via_weights = torch.ones(len(self.vocab.vias), device=device)
        via_weights[0] = via_null_weight  # index 0 is always the empty via
        labels = {h: labels[h].to(device) for h in HEADS}
        return (nn.functional.cross_entropy(logits["anchor"], labels["anchor"])
                + nn.functional.cross_entropy(logits["target"], labels["target"])
                + nn.functional.cross_entropy(logits["via"], labels["via"], weight=via_weights))

    def triples_of(self, actions: dict[str, torch.Tensor]) -> list[Triple]:
        """The (possibly illegal) triples of sampled head actions."""
        v = self.vocab
        return [(v.anchors[a], v.targets[t], v.vias[i]) for a, t, i in zip(
            actions["anchor"].tolist(), actions["target"].tolist(), actions["via"].tolist(),
            strict=True)]

    def fresh_parameters(self) -> list[nn.Parameter]:
        """Parameters that start from nothing (heads, added-character embeddings): they need a
        learning rate well above the pretrained backbone's."""
        fresh = list(self.heads.parameters())
        for module in self.backbone.modules():
            if isinstance(module, ExtendedEmbedding):
                fresh.extend(module.extra.parameters())
        return [p for p in fresh if p.requires_grad]

    def link_parameters(self) -> list[nn.Parameter]:
        """None: the three-head classifier reads no schema-linking features."""
        return []

    def actor_parameters(self) -> list[nn.Parameter]:
        return [p for n, p in self.named_parameters()
                if p.requires_grad and not n.startswith(("value_head", "critic_backbone"))]

    def critic_parameters(self) -> list[nn.Parameter]:
        return [p for n, p in self.named_parameters()
                if p.requires_grad and n.startswith(("value_head", "critic_backbone"))]

    # -- decoding ------------------------------------------------------------------------------
    def legal_scores(self, logits: dict[str, torch.Tensor]) -> torch.Tensor:
        """[batch, n_legal] joint log-prob of every legal triple."""
        logp = {h: torch.log_softmax(logits[h], -1) for h in HEADS}
        a, t, v = self.legal_index.T
        return logp["anchor"][:, a] + logp["target"][:, t] + logp["via"][:, v]

    def decode(self, logits: dict[str, torch.Tensor], constrained: bool = True) -> list[Triple]:
        """Best triple per row: over legal triples, or per-head argmax (may be illegal)."""
        if constrained:
            best = self.legal_scores(logits).argmax(-1).tolist()
            return [self.vocab.triples[i] for i in best]
        idx = {h: logits[h].argmax(-1).tolist() for h in HEADS}
        return [(self.vocab.anchors[a], self.vocab.targets[t], self.vocab.vias[v])
                for a, t, v in zip(idx["anchor"], idx["target"], idx["via"], strict=True)]

    def _legal_probabilities(self, questions: Sequence[str], batch_size: int,
                             block: int = 1024):
        """(logits, [n, n_legal] probabilities over the legal triples) per block of `block`
        questions, run as micro-batches of neighbouring lengths (`pathrl.rl.batching`), in
        eval mode (the caller's train/eval mode is restored afterwards)."""
        was_training = self.training
        self.eval()
        try:
            for start in range(0, len(questions), block):
                batches, inverse = sorted_micro_batches(
                    self.tokenize(list(questions[start:start + block])), batch_size)
                parts = [self(b["input_ids"], b["attention_mask"], with_value=False).logits
                         for b in batches]
                logits = {h: restore_order([p[h] for p in parts], inverse) for h in parts[0]}
                yield logits, torch.softmax(self.legal_scores(logits), -1)
        finally:
            self.train(was_training)

    @torch.no_grad()
    def predict(self, questions: list[str], constrained: bool = True,
                batch_size: int = 64) -> list[Triple]:
        out: list[Triple] = []
        for logits, _probs in self._legal_probabilities(check_questions(questions), batch_size):
            out.extend(self.decode(logits, constrained))
        return out

    @torch.no_grad()
    def route_batch(self, questions: Sequence[str], top_k: int = 3,
                    batch_size: int = 64) -> list[Routing]:
        """The `Router` protocol: the `top_k` legal paths per question, probabilities
        renormalised over the legal triples (constrained decoding: never an illegal path)."""
        questions = check_questions(questions)
        if top_k < 1:
            raise PathrlError(f"top_k must be >= 1, got {top_k}")
        paths = [self.vocab.path_by_triple[t] for t in self.vocab.triples]
        out: list[Routing] = []
        for _logits, probs in self._legal_probabilities(questions, batch_size):
            top = torch.topk(probs, k=min(top_k, probs.shape[-1]), dim=-1)
            for values, indices in zip(top.values.tolist(), top.indices.tolist(), strict=True):
                question = questions[len(out)]
                out.append(Routing(question, [RankedRoute(paths[i], p)
                                              for p, i in zip(values, indices, strict=True)]))
        return out

    def route(self, question: str, top_k: int = 3) -> Route:
        """The best legal route for one question, with its probability and alternatives
        (a thin wrapper over `route_batch`)."""
        return Route.from_routing(self.route_batch([question], top_k=top_k)[0])

    # -- persistence ---------------------------------------------------------------------------
    def save_pretrained(self, directory: str | Path) -> Path:
        """Weights (safetensors), tokenizer, backbone config, label vocab, schema fingerprint."""
        from safetensors.torch import save_model

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        backbone = self.backbone
        if self._lora_applied:  # store plain weights: LoRA merged into the backbone
            backbone = copy.deepcopy(self.backbone).merge_and_unload()
        backbone = _with_plain_embeddings(backbone)
        backbone.config.save_pretrained(directory / "backbone")
        self.tokenizer.save_pretrained(directory / "backbone")
        state = {"backbone": backbone, "heads": self.heads, "value_head": self.value_head}
        if self.critic_backbone is not None:
            critic = self.critic_backbone
            critic = copy.deepcopy(critic).merge_and_unload() if self._lora_applied else critic
            state["critic_backbone"] = _with_plain_embeddings(critic)
        for name, module in state.items():
            save_model(module, str(directory / f"{name}.safetensors"))
        meta = {
            "config": {**asdict(self.config), "lora": False},  # merged: loads as plain weights
            "trained_with_lora": self.config.lora,
            "schema_fingerprint": self.schema_fingerprint,
            "anchors": self.vocab.anchors,
            "targets": self.vocab.targets,
            "vias": [list(v) for v in self.vocab.vias],
        }
        (directory / "router.json").write_text(json.dumps(meta, ensure_ascii=False, indent=2))
        from pathrl.io import apply_umask

        apply_umask(directory)  # safetensors writes 0600 whatever the umask
        return directory

    @classmethod
    def from_pretrained(cls, directory: str | Path, vocab: PathVocab,
                        schema_fingerprint: str) -> RouterModel:
        """Load a saved router; refuses one trained on a different schema."""
        from safetensors.torch import load_model
        from transformers import AutoConfig, AutoModel

        directory = Path(directory)
        meta = read_router_meta(directory)
        try:
            fingerprint = meta["schema_fingerprint"]
            saved = (meta["anchors"], meta["targets"], [tuple(v) for v in meta["vias"]])
        except (KeyError, TypeError):
            raise PathrlError(f"{directory / 'router.json'} lacks the label vocabularies of a "
                              "factored router (schema_fingerprint, anchors, targets, vias)"
                              ) from None
        if fingerprint != schema_fingerprint:
            raise PathrlError(
                f"router in '{directory}' was trained on another schema (fingerprint "
                f"{fingerprint}, this schema {schema_fingerprint}); retrain it")
        if saved != (vocab.anchors, vocab.targets, vocab.vias):
            raise PathrlError(f"router in '{directory}' has other label vocabularies than the "
                              "schema's legal paths; retrain it")
        config = saved_config(RouterConfig, meta, directory)
        tokenizer = load_tokenizer(BackboneSource(str(directory / "backbone")))
        backbone = AutoModel.from_config(AutoConfig.from_pretrained(directory / "backbone"))
        backbone.resize_token_embeddings(len(tokenizer))
        model = cls(config, vocab, schema_fingerprint, backbone=backbone, tokenizer=tokenizer)
        for name in ("backbone", "heads", "value_head"):
            read_weights(directory / f"{name}.safetensors",
                         partial(load_model, getattr(model, name)))
        if (directory / "critic_backbone.safetensors").exists():
            model.critic_backbone = copy.deepcopy(model.backbone)
            read_weights(directory / "critic_backbone.safetensors",
                         partial(load_model, model.critic_backbone))
        model.eval()
        return model
