"""The schema-reading router: a path scorer.

Method §4.1's router is a classifier over one schema's label ids: nothing it learns carries to
another schema and column names are invisible to it. The path scorer reads the schema instead.

    question (+ value hint) --encoder--> token states --role attention--> q_anchor, q_target, q_via
    every table: "project: name, country, budget" --frozen sentence encoder--> e_t (cached)
    s_role(q, t) = <W_role q_role, U_role e_t> / sqrt(d) + w_role . links(q, t)
    score(path) = s_anchor(anchor) + s_target(target) + mean_v s_via(v) + hop_bias(q)[hops]
                  + w_cover . missed(q, path) + c_order(q) * order(q, path)
                  - penalty * extra_named_missed(q, path)
    policy      = softmax(score) over the legal paths

`links(q, t)` are the schema-linking features of `pathrl.linking` (the question names the table,
one of its columns, or one of its values). `missed(q, path)` counts, per link feature, the
mentions of the question the path leaves uncovered: "employee 杨磊明 project members projects
contracts" names contract, so a path that stops at project misses it (keyword questions and
value-only mentions were the largest error class on multi-hop paths). A mention that may refer
to several tables is covered by any of them: "How many allergies are there?" names the column
"allergy" of both allergy_type and has_allergy, and the single table allergy_type covers it
(counting tables instead pushed such questions onto a join through both). `order(q, path)` in
[-1, 1] says whether the question names the path's tables in the path's order (+1: "Ironclad
Machinery 施工记录的项目的协议" = supplier > construction > project > contract) or reversed (-1:
"the contracts of the projects of the construction logs of Ironclad"); `c_order(q)` is read from
the question, since its sign depends on the wording (Chinese 的 chains run forward, English "of"
chains backward). Without it the scorer confused target and via on three-hop paths that pass
through the same four tables in another order. `extra_named_missed(q, path)` is the number of
tables the question names by their table word that the path leaves out, beyond the fewest any
legal path leaves out; at the default penalty of 20 logits it rules such paths out of the
policy that routes and that PPO trains (eval mode; SFT's loss is computed without it, in train
mode, so those paths stay negatives the encoder learns from). It is a rule, not a learned
weight, because it holds on the generated data (no gold path of the demo's training split
leaves a named table out) yet SFT has no reason to learn it: the encoder fits the training
questions without it, and on unseen wordings ("员工杨磊明 项目成员 项目 合同", keyword
questions) it then stopped at project with the learned coverage weight at -1.3.

Tables are embedded by the pretrained sentence encoder, frozen, so their vectors mean the same
on a schema the scorer never saw; only the question side, the role projections and the link
weights learn. Every legal path is scored (a gather and a sum per path), so no candidate pruning
is needed even at 15,000 paths, and an illegal route cannot be returned: legality holds by
construction.

The module has the same training surface as the three-head `RouterModel` (`policy`,
`label_tensors`, `supervised_loss`, `sample`, `log_prob`, `triples_of`, value head, actor/critic
parameter groups), so `SFTTrainer` and `RouterPPOTrainer` train either. Bind it to a schema (and
optionally its database, for value retrieval) with `bind()`; one scorer can be bound to many
schemas in turn, which is how a general router is trained (`fit_schemas` in
`pathrl.router.workflows`).
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path

import torch
from torch import nn

from pathrl.backbones import BackboneSource, load_encoder, load_tokenizer, resolve_backbone
from pathrl.errors import PathrlError
from pathrl.linking import LINK_FEATURES, SchemaLinker, column_phrases
from pathrl.naming import column_phrase, table_noun
from pathrl.paths import PathVocab, Triple
from pathrl.rl.batching import restore_order, sorted_micro_batches
from pathrl.router.model import (
    ExtendedEmbedding,
    _transformer_layers,
    _with_plain_embeddings,
    add_tokens,
    unknown_characters,
)
from pathrl.router.protocol import (
    RankedRoute,
    Routing,
    check_questions,
    read_router_meta,
    read_weights,
    saved_config,
)
from pathrl.schema import Schema

KIND = "scorer"
ACTION_HEADS = ("path",)
_MAX_HOP_BUCKETS = 8
_MAX_ORDER_MENTIONS = 8  # the order term reads the first 8 mentions (28 pairs) of a question
_TABLE_WORD = LINK_FEATURES.index("table_word")


@dataclass
class ScorerConfig:
    """Architecture of a path scorer. Saved with the weights."""

    backbone: str = "minilm"
    """Alias (`minilm`, `smollm2`) or a local Hugging Face directory; the question encoder
    starts from it and the (frozen) table encoder is a copy of it."""
    role_dim: int = 128
    """Width of the anchor/target/via matching space."""
    freeze_layers: int = 0
    """Freeze the first N transformer layers of the question encoder."""
    max_length: int = 80
    """Question (+ value hint) tokens."""
    table_max_length: int = 48
    """Tokens of a table's text ("contract change log: change type, amount change, ...")."""
    head_dropout: float = 0.1
    value_hints: bool = True
    """Append the database values found in the question and their table ("Riyadh Railway =
    project name") before encoding; needs a database at `bind()`."""
    extend_vocab: bool = True
    """Add characters of the training questions (and common Chinese characters) the
    tokenizer maps to [UNK] as trainable tokens."""
    added_tokens: list[str] = field(default_factory=list)
    critic: str = "shared"
    """`shared` value head on the question encoder, or `separate` (its own encoder copy)."""
    link_prior: float = 0.0
    """Initial weight of every link feature in every role's score (0: the linking evidence
    starts ignored and is learned). A prior of 1 (naming a table is evidence for it) helps
    routers trained on a few hundred questions, whose link weights barely move from 0, but
    makes the encoder lean on exact word matches: see docs/router.md for both measured."""
    coverage_prior: float = 0.0
    """Initial weight of each uncovered mention in a path's score (e.g. -1 with
    `link_prior` 1)."""
    mention_order: bool = True
    """Score whether the question names a path's tables in its order or reversed (module
    doc); off: the term is left out."""
    named_table_penalty: float = 20.0
    """Logits a path loses per table the question names by its table word that the path
    leaves out, counted beyond the path that leaves out the fewest (module doc): 20 rules such
    paths out; 0 turns the rule off (the learned coverage weight still counts them)."""

    def __post_init__(self) -> None:
        if self.role_dim < 8:
            raise PathrlError(f"role_dim must be >= 8, got {self.role_dim}")
        if self.critic not in ("shared", "separate"):
            raise PathrlError(f"critic must be shared|separate, got '{self.critic}'")
        if not (math.isfinite(self.link_prior) and math.isfinite(self.coverage_prior)):
            raise PathrlError(f"link_prior and coverage_prior must be finite numbers, got "
                              f"{self.link_prior} and {self.coverage_prior}")
        if not (math.isfinite(self.named_table_penalty) and self.named_table_penalty >= 0):
            raise PathrlError(f"named_table_penalty must be a finite number >= 0, got "
                              f"{self.named_table_penalty}")
        if self.freeze_layers < 0:
            raise PathrlError(f"freeze_layers must be >= 0, got {self.freeze_layers}")


def table_text(schema: Schema, table_name: str, max_columns: int = 12) -> str:
    """What the scorer reads of a table: its noun, synonyms and column phrases."""
    table = schema.table(table_name)
    names = [table_noun(table.name), *table.synonyms_en[:3]]
    columns = sorted(column_phrases(table)) or [column_phrase(f.name, table.name)
                                              for f in table.fields]
    head = " / ".join(dict.fromkeys(n for n in names if n))
    return f"{head}: {', '.join(columns[:max_columns])}"


@dataclass
class SchemaContext:
    """A schema as the scorer sees it: its legal triples as index tensors over its tables,
    the frozen table embeddings and the linker."""

    schema: Schema
    vocab: PathVocab
    linker: SchemaLinker
    tables: list[str]
    anchor_index: torch.Tensor  # [n_paths]
    target_index: torch.Tensor  # [n_paths]
    via_index: torch.Tensor  # [n_paths, max_via] (0 where padded)
    via_mask: torch.Tensor  # [n_paths, max_via]
    hops: torch.Tensor  # [n_paths]
    path_tables: torch.Tensor  # [n_paths, n_tables]: 1 where the path passes through the table
    path_ranks: torch.Tensor  # [n_paths, n_tables]: 1 + the table's place in the path, else 0
    table_embeddings: torch.Tensor  # [n_tables, hidden], frozen
    triple_index: dict[Triple, int]

    @property
    def n_paths(self) -> int:
        return len(self.vocab.triples)


@dataclass
class ScorerOutput:
    logits: dict[str, torch.Tensor]  # {"path": [batch, n_paths]}
    value: torch.Tensor  # [batch]


class _RoleAttention(nn.Module):
    """One learned query per role attends over the question's tokens."""

    def __init__(self, hidden: int, n_roles: int):
        super().__init__()
        self.scores = nn.Linear(hidden, n_roles)

    def forward(self, states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        logits = self.scores(states)  # [b, len, roles]
        logits = logits.masked_fill(~mask.bool().unsqueeze(-1), torch.finfo(logits.dtype).min)
        weights = torch.softmax(logits, dim=1)
        return torch.einsum("blr,blh->brh", weights, states)  # [b, roles, hidden]


ROLES = ("anchor", "target", "via")


class PathScorer(nn.Module):
    """Question encoder + role matching against frozen table embeddings + value head."""

    kind = KIND
    action_heads = ACTION_HEADS

    def __init__(self, config: ScorerConfig, backbone: nn.Module | None = None,
                 table_encoder: nn.Module | None = None, tokenizer=None):
        super().__init__()
        self.config = config
        source: BackboneSource | None = None
        if backbone is None or tokenizer is None or table_encoder is None:
            source = resolve_backbone(config.backbone)
        self.tokenizer = tokenizer if tokenizer is not None else load_tokenizer(source)
        self.backbone = backbone if backbone is not None else load_encoder(source)
        # The table encoder never trains: its vectors must mean the same on any schema.
        self.table_encoder = (table_encoder if table_encoder is not None
                              else copy.deepcopy(self.backbone))
        self.table_encoder.requires_grad_(False).eval()
        self._table_vocab = len(self.tokenizer)  # table texts use the original vocabulary
        if config.added_tokens and backbone is None:
            self._add_tokens(config.added_tokens)
        hidden = self.backbone.config.hidden_size
        table_hidden = self.table_encoder.config.hidden_size
        d = config.role_dim
        self.role_attention = _RoleAttention(hidden, len(ROLES))
        self.dropout = nn.Dropout(config.head_dropout)
        self.question_proj = nn.ModuleDict({r: nn.Linear(hidden, d) for r in ROLES})
        self.table_proj = nn.ModuleDict({r: nn.Linear(table_hidden, d) for r in ROLES})
        self.link_weight = nn.Parameter(
            torch.full((len(ROLES), len(LINK_FEATURES)), float(config.link_prior)))
        # Weight of each link feature's count of mentions the path leaves uncovered (learned;
        # zero, i.e. no effect, in routers saved before it existed).
        self.coverage_weight = nn.Parameter(
            torch.full((len(LINK_FEATURES),), float(config.coverage_prior)))
        self.hop_bias = nn.Linear(hidden, _MAX_HOP_BUCKETS)
        # c_order(q): zero at the start (no effect) and in routers saved before it existed.
        self.order_head = nn.Linear(hidden, 1)
        nn.init.zeros_(self.order_head.weight)
        nn.init.zeros_(self.order_head.bias)
        self.value_head = nn.Linear(hidden, 1)
        nn.init.zeros_(self.value_head.weight)
        nn.init.zeros_(self.value_head.bias)
        self.critic_backbone: nn.Module | None = None
        self.context: SchemaContext | None = None
        self._contexts: dict[str, SchemaContext] = {}

    # -- schema binding ------------------------------------------------------------------------
    @torch.no_grad()
    def embed_tables(self, schema: Schema) -> torch.Tensor:
        texts = [table_text(schema, t) for t in schema.table_names]
        device = next(self.table_encoder.parameters()).device
        embeddings = []
        for i in range(0, len(texts), 64):
            enc = self.tokenizer(texts[i:i + 64], padding=True, truncation=True,
                                 max_length=self.config.table_max_length, return_tensors="pt")
            # Table texts use the original vocabulary (the frozen encoder knows no new rows).
            ids = enc["input_ids"].clamp(max=self._table_vocab - 1).to(device)
            mask = enc["attention_mask"].to(device)
            states = self.table_encoder(input_ids=ids, attention_mask=mask).last_hidden_state
            m = mask.unsqueeze(-1).to(states.dtype)
            embeddings.append((states * m).sum(1) / m.sum(1).clamp_min(1.0))
        return torch.cat(embeddings)

    def bind(self, schema: Schema, database=None) -> SchemaContext:
        """Make `schema` the one `policy()` scores (contexts are cached per schema)."""
        key = schema.fingerprint()
        if key in self._contexts and (database is None or self._contexts[key].linker.has_values):
            self.context = self._contexts[key]
            return self.context
        vocab = PathVocab.from_schema(schema)
        tables = list(schema.table_names)
        index = {t: i for i, t in enumerate(tables)}
        triples = vocab.triples
        max_via = max([len(v) for _, _, v in triples] + [1])
        via_index = torch.zeros(len(triples), max_via, dtype=torch.long)
        via_mask = torch.zeros(len(triples), max_via)
        for p, (_, _, via) in enumerate(triples):
            for j, t in enumerate(via):
                via_index[p, j], via_mask[p, j] = index[t], 1.0
        hops = torch.tensor([vocab.path_by_triple[t].n_hops for t in triples], dtype=torch.long)
        path_tables = torch.zeros(len(triples), len(tables))
        path_ranks = torch.zeros(len(triples), len(tables))
        for p, (anchor, target, via) in enumerate(triples):
            path_tables[p, [index[t] for t in (anchor, target, *via)]] = 1.0
            for rank, t in enumerate((anchor, *via, target), start=1):
                path_ranks[p, index[t]] = path_ranks[p, index[t]] or rank
        if int(hops.max()) >= _MAX_HOP_BUCKETS:
            raise PathrlError(f"the path scorer handles up to {_MAX_HOP_BUCKETS - 1} hops; "
                              f"this schema has paths of {int(hops.max())}")
        context = SchemaContext(
            schema=schema, vocab=vocab,
            linker=SchemaLinker(schema, database if self.config.value_hints else None),
            tables=tables,
            anchor_index=torch.tensor([index[a] for a, _, _ in triples], dtype=torch.long),
            target_index=torch.tensor([index[t] for _, t, _ in triples], dtype=torch.long),
            via_index=via_index, via_mask=via_mask, hops=hops, path_tables=path_tables,
            path_ranks=path_ranks,
            table_embeddings=self.embed_tables(schema).cpu(),
            triple_index={t: i for i, t in enumerate(triples)})
        self._contexts[key] = context
        self.context = context
        return context

    @property
    def vocab(self) -> PathVocab:
        return self._bound().vocab

    def _bound(self) -> SchemaContext:
        if self.context is None:
            raise PathrlError("the path scorer is not bound to a schema: call bind(schema)")
        return self.context

    # -- vocabulary ------------------------------------------------------------------------------
    def _add_tokens(self, tokens: list[str]) -> int:
        return add_tokens(self.tokenizer, self.backbone, tokens)

    def extend_vocab(self, questions: Sequence[str]) -> int:
        """Add common Chinese characters and the questions' unknown characters as tokens
        (see `pathrl.router.model.unknown_characters`)."""
        if not self.config.extend_vocab:
            return 0
        missing = unknown_characters(self.tokenizer, questions)
        self.config.added_tokens = sorted(set(self.config.added_tokens) | set(missing))
        return self._add_tokens(missing)

    def setup_trainable(self) -> None:
        """Train the question encoder; of its word embeddings only the added characters."""
        embeddings = self.backbone.get_input_embeddings()
        if isinstance(embeddings, ExtendedEmbedding):
            embeddings.extra.requires_grad_(True)
        elif embeddings.num_embeddings > self._table_vocab:
            self.backbone.set_input_embeddings(
                ExtendedEmbedding.split(embeddings, self._table_vocab))
        else:
            embeddings.requires_grad_(False)
        if self.config.freeze_layers:
            layers = _transformer_layers(self.backbone)
            if layers is None or self.config.freeze_layers > len(layers):
                raise PathrlError(f"cannot freeze {self.config.freeze_layers} layers of this "
                                  "backbone")
            for layer in list(layers)[: self.config.freeze_layers]:
                layer.requires_grad_(False)

    def make_separate_critic(self) -> None:
        if self.critic_backbone is None:
            self.critic_backbone = copy.deepcopy(self.backbone)
            self.critic_backbone.requires_grad_(True)
        self.config.critic = "separate"

    def fresh_parameters(self) -> list[nn.Parameter]:
        fresh = [*self.role_attention.parameters(), *self.question_proj.parameters(),
                 *self.table_proj.parameters(), *self.hop_bias.parameters(),
                 self.order_head.weight]
        for module in self.backbone.modules():
            if isinstance(module, ExtendedEmbedding):
                fresh.extend(module.extra.parameters())
        return [p for p in fresh if p.requires_grad]

    def link_parameters(self) -> list[nn.Parameter]:
        """The scalar schema-linking weights (per role and feature, and of the coverage
        counts, and the bias of the order coefficient): a handful of numbers whose useful
        values are of order 1, so SFT gives them a learning rate of their own
        (`SFTConfig.link_lr`)."""
        return [p for p in (self.link_weight, self.coverage_weight, self.order_head.bias)
                if p.requires_grad]

    def actor_parameters(self) -> list[nn.Parameter]:
        return [p for n, p in self.named_parameters()
                if p.requires_grad and not n.startswith(("value_head", "critic_backbone",
                                                         "table_encoder"))]

    def critic_parameters(self) -> list[nn.Parameter]:
        return [p for n, p in self.named_parameters()
                if p.requires_grad and n.startswith(("value_head", "critic_backbone"))]

    # -- forward -------------------------------------------------------------------------------
    def tokenize(self, questions: Sequence[str]) -> dict[str, torch.Tensor]:
        """Token ids of the questions (with value hints), their link features per table and
        their mentions (`mentions[b, m, t]`: mention m may refer to table t;
        `mention_features[b, m, f]`: it is of link feature f; all zero where padded)."""
        context = self._bound()
        texts, rows, linked = [], [], []
        for q in questions:
            text, links = context.linker.augment(q)
            texts.append(text if self.config.value_hints else q)
            rows.append(context.linker.feature_rows(links))
            linked.append(links.mentions)
        enc = self.tokenizer(texts, padding=True, truncation=True,
                             max_length=self.config.max_length, return_tensors="pt")
        n_mentions = max([len(m) for m in linked] + [0])
        mentions = torch.zeros(len(questions), n_mentions, len(context.tables))
        mention_features = torch.zeros(len(questions), n_mentions, len(LINK_FEATURES))
        for b, question_mentions in enumerate(linked):
            for m, mention in enumerate(question_mentions):
                mentions[b, m, sorted(mention.tables)] = 1.0
                mention_features[b, m, mention.feature] = 1.0
        return {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"],
                "links": torch.tensor(rows, dtype=torch.float32),
                "mentions": mentions, "mention_features": mention_features}

    def _device(self) -> torch.device:
        return self.link_weight.device

    def policy(self, batch: dict[str, torch.Tensor], with_value: bool = True) -> ScorerOutput:
        context = self._bound()
        device = self._device()
        ids = batch["input_ids"].to(device)
        mask = batch["attention_mask"].to(device)
        links = batch["links"].to(device)  # [b, tables, features]
        states = self.backbone(input_ids=ids, attention_mask=mask).last_hidden_state
        m = mask.unsqueeze(-1).to(states.dtype)
        pooled = (states * m).sum(1) / m.sum(1).clamp_min(1.0)
        roles = self.dropout(self.role_attention(states, mask))  # [b, 3, hidden]
        tables = context.table_embeddings.to(device)
        scale = 1.0 / math.sqrt(self.config.role_dim)
        role_scores = []
        for r, role in enumerate(ROLES):
            q = self.question_proj[role](roles[:, r])  # [b, d]
            k = self.table_proj[role](tables)  # [tables, d]
            role_scores.append(q @ k.T * scale + links @ self.link_weight[r])  # [b, tables]
        anchor, target, via = role_scores
        a_idx, t_idx = context.anchor_index.to(device), context.target_index.to(device)
        v_idx, v_mask = context.via_index.to(device), context.via_mask.to(device)
        via_sum = (via[:, v_idx] * v_mask).sum(-1) / v_mask.sum(-1).clamp_min(1.0)
        hop_bias = self.hop_bias(pooled)[:, context.hops.to(device)]
        mentions = batch["mentions"].to(device)
        hits = mentions @ context.path_tables.to(device).T  # [b, mentions, paths]
        missed = self._missed(hits, batch["mention_features"].to(device))
        logits = (anchor[:, a_idx] + target[:, t_idx] + via_sum + hop_bias
                  + missed @ self.coverage_weight)
        if self.config.named_table_penalty and not self.training:
            # The rule shapes the policy that routes and that PPO trains (both in eval mode);
            # SFT's cross-entropy (train mode) leaves it out, so every legal path stays a
            # negative the encoder learns from (trained with it, demo validation fell).
            logits = logits - self.config.named_table_penalty * self.extra_named_missed(missed)
        if self.config.mention_order:
            order = self._order(mentions, hits, context.path_ranks.to(device))
            logits = logits + self.order_head(pooled) * order
        if not with_value:
            value = torch.zeros(ids.shape[0], device=device)
        elif self.critic_backbone is not None:
            critic_states = self.critic_backbone(input_ids=ids,
                                                 attention_mask=mask).last_hidden_state
            critic_pooled = (critic_states * m).sum(1) / m.sum(1).clamp_min(1.0)
            value = self.value_head(critic_pooled).squeeze(-1)
        else:
            value = self.value_head(pooled).squeeze(-1)
        return ScorerOutput({"path": logits}, value)

    @staticmethod
    def _missed(hits: torch.Tensor, mention_features: torch.Tensor) -> torch.Tensor:
        """[b, paths, features]: per link feature, how many of the question's mentions the path
        leaves uncovered (passes through none of the tables the mention may refer to).
        `hits[b, m, p]`: how many of mention m's tables path p passes through."""
        covered = hits > 0  # [b, mentions, paths]
        uncovered = (~covered).to(mention_features.dtype).transpose(1, 2)  # [b, paths, mentions]
        return uncovered @ mention_features

    @staticmethod
    def extra_named_missed(missed: torch.Tensor) -> torch.Tensor:
        """[b, paths]: the tables the question names by their table word that the path leaves
        out, beyond the fewest any legal path leaves out (0 for the best-covering paths, so
        some path always stays in play)."""
        named = missed[..., _TABLE_WORD]
        return named - named.min(-1, keepdim=True).values

    @staticmethod
    def _order(mentions: torch.Tensor, hits: torch.Tensor, path_ranks: torch.Tensor,
               max_mentions: int = _MAX_ORDER_MENTIONS) -> torch.Tensor:
        """[b, paths] in [-1, 1]: over the pairs of mentions (in question order) that fall on
        two different places of the path, the share in path order minus the share reversed
        (0 when fewer than two places are named). A mention that may refer to two tables of
        the path is left out: its place is ambiguous."""
        mentions, hits = mentions[:, :max_mentions], hits[:, :max_mentions]
        places = (mentions @ path_ranks.T) * (hits == 1)  # 0 where off the path or ambiguous
        agree = torch.zeros(mentions.shape[0], path_ranks.shape[0], device=mentions.device)
        pairs = torch.zeros_like(agree)
        for i in range(places.shape[1]):
            for j in range(i + 1, places.shape[1]):
                both = (places[:, i] > 0) & (places[:, j] > 0) & (places[:, i] != places[:, j])
                agree += torch.sign(places[:, j] - places[:, i]) * both
                pairs += both
        return agree / pairs.clamp_min(1.0)

    @torch.no_grad()
    def named_table_breaks(self, examples: Sequence) -> float:
        """Share of `examples` whose labelled path leaves out a table the question names, the
        penalty's rule (0.0 on the demo's training split): a share well above 0 says the rule
        does not hold on this data and `named_table_penalty` 0 may suit it better."""
        if not examples:
            return 0.0
        context = self._bound()
        broken = 0
        for start in range(0, len(examples), 256):
            chunk = examples[start:start + 256]
            batch = self.tokenize([ex.question for ex in chunk])
            hits = batch["mentions"] @ context.path_tables.T
            extra = self.extra_named_missed(self._missed(hits, batch["mention_features"]))
            labels = self.label_tensors(chunk)["path"]
            broken += int((extra[torch.arange(len(chunk)), labels] > 0).sum())
        return broken / len(examples)

    # -- the training surface shared with RouterModel ---------------------------------------
    def label_tensors(self, examples: Sequence) -> dict[str, torch.Tensor]:
        index = self._bound().triple_index
        out = []
        for n, ex in enumerate(examples):
            triple = (ex.triple[0], ex.triple[1], tuple(ex.triple[2]))
            if triple not in index:
                raise PathrlError(f"example {n} ('{ex.question[:60]}') has a label outside the "
                                  f"schema's legal paths: {triple}")
            out.append(index[triple])
        return {"path": torch.tensor(out, dtype=torch.long)}

    @staticmethod
    def supervised_loss(logits: dict[str, torch.Tensor], labels: dict[str, torch.Tensor],
                        via_null_weight: float = 1.0) -> torch.Tensor:
        """Cross-entropy over the legal paths (`via_null_weight` concerns the three heads'
        via class only: a path has no "none" class to down-weight)."""
        return nn.functional.cross_entropy(logits["path"], labels["path"].to(
            logits["path"].device))

    def triples_of(self, actions: dict[str, torch.Tensor]) -> list[Triple]:
        triples = self._bound().vocab.triples
        return [triples[i] for i in actions["path"].tolist()]

    def decode(self, logits: dict[str, torch.Tensor], constrained: bool = True) -> list[Triple]:
        triples = self._bound().vocab.triples
        return [triples[i] for i in logits["path"].argmax(-1).tolist()]

    def _path_logits(self, questions: Sequence[str], batch_size: int,
                     block: int = 1024) -> Iterator[tuple[list[str], torch.Tensor]]:
        """(questions, [n, n_paths] logits) per block of `block` questions, in eval mode,
        run as micro-batches of neighbouring lengths (`pathrl.rl.batching`)."""
        was_training = self.training
        self.eval()
        try:
            for start in range(0, len(questions), block):
                chunk = list(questions[start:start + block])
                batches, inverse = sorted_micro_batches(self.tokenize(chunk), batch_size)
                yield chunk, restore_order(
                    [self.policy(b, with_value=False).logits["path"] for b in batches], inverse)
        finally:
            self.train(was_training)

    @torch.no_grad()
    def predict(self, questions: Sequence[str], constrained: bool = True,
                batch_size: int = 64) -> list[Triple]:
        out: list[Triple] = []
        for _chunk, logits in self._path_logits(questions, batch_size):
            out.extend(self.decode({"path": logits}))
        return out

    @torch.no_grad()
    def route_batch(self, questions: Sequence[str], top_k: int = 3,
                    batch_size: int = 64) -> list[Routing]:
        """The `Router` protocol: the `top_k` legal paths per question with their
        probabilities (softmax over every legal path), best first."""
        questions = check_questions(questions)
        if top_k < 1:
            raise PathrlError(f"top_k must be >= 1, got {top_k}")
        vocab = self._bound().vocab
        out: list[Routing] = []
        for chunk, logits in self._path_logits(questions, batch_size):
            probs = torch.softmax(logits.float(), -1)
            top = torch.topk(probs, k=min(top_k, probs.shape[-1]))
            for q, values, indices in zip(chunk, top.values.tolist(), top.indices.tolist(),
                                          strict=True):
                out.append(Routing(q, [RankedRoute(vocab.path_by_triple[vocab.triples[j]], p)
                                       for p, j in zip(values, indices, strict=True)]))
        return out

    # -- persistence ---------------------------------------------------------------------------
    def save_pretrained(self, directory: str | Path) -> Path:
        from safetensors.torch import save_model

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        backbone = _with_plain_embeddings(self.backbone)
        backbone.config.save_pretrained(directory / "backbone")
        self.tokenizer.save_pretrained(directory / "backbone")
        self.table_encoder.config.save_pretrained(directory / "table_encoder")
        heads = nn.ModuleDict({"role_attention": self.role_attention,
                               "question_proj": self.question_proj,
                               "table_proj": self.table_proj, "hop_bias": self.hop_bias})
        state = {"backbone": backbone, "table_encoder": self.table_encoder,
                 "heads": heads, "value_head": self.value_head}
        if self.critic_backbone is not None:
            state["critic_backbone"] = _with_plain_embeddings(self.critic_backbone)
        for name, module in state.items():
            save_model(module, str(directory / f"{name}.safetensors"))
        from safetensors.torch import save_file

        save_file({"link_weight": self.link_weight.detach().contiguous(),
                   "coverage_weight": self.coverage_weight.detach().contiguous(),
                   "order_weight": self.order_head.weight.detach().contiguous(),
                   "order_bias": self.order_head.bias.detach().contiguous()},
                  str(directory / "link_weight.safetensors"))
        meta = {"kind": KIND, "config": asdict(self.config),
                "table_vocab_size": self._table_vocab}
        (directory / "router.json").write_text(json.dumps(meta, ensure_ascii=False, indent=2))
        from pathrl.io import apply_umask

        apply_umask(directory)  # safetensors writes 0600 whatever the umask
        return directory

    @classmethod
    def from_pretrained(cls, directory: str | Path) -> PathScorer:
        """Load a saved scorer (schema-agnostic: `bind()` it to the schema to route)."""
        from safetensors.torch import load_file, load_model
        from transformers import AutoConfig, AutoModel

        directory = Path(directory)
        meta = read_router_meta(directory)
        if not isinstance(meta, dict) or meta.get("kind") != KIND:
            raise PathrlError(f"'{directory}' holds a '{meta.get('kind', 'factored')}' router, "
                              "not a path scorer")
        config = saved_config(ScorerConfig, meta, directory)
        tokenizer = load_tokenizer(BackboneSource(str(directory / "backbone")))
        backbone = AutoModel.from_config(AutoConfig.from_pretrained(directory / "backbone"))
        backbone.resize_token_embeddings(len(tokenizer))
        table_encoder = AutoModel.from_config(
            AutoConfig.from_pretrained(directory / "table_encoder"))
        model = cls(config, backbone=backbone, table_encoder=table_encoder, tokenizer=tokenizer)
        try:
            model._table_vocab = int(meta["table_vocab_size"])
        except (KeyError, TypeError, ValueError):
            raise PathrlError(f"{directory / 'router.json'}: 'table_vocab_size' must be an "
                              "integer") from None
        heads = nn.ModuleDict({"role_attention": model.role_attention,
                               "question_proj": model.question_proj,
                               "table_proj": model.table_proj, "hop_bias": model.hop_bias})
        for name, module in (("backbone", model.backbone),
                             ("table_encoder", model.table_encoder),
                             ("heads", heads), ("value_head", model.value_head)):
            read_weights(directory / f"{name}.safetensors", partial(load_model, module))
        if (directory / "critic_backbone.safetensors").exists():
            model.critic_backbone = copy.deepcopy(model.backbone)
            read_weights(directory / "critic_backbone.safetensors",
                         partial(load_model, model.critic_backbone))
        weights = read_weights(directory / "link_weight.safetensors", load_file)
        with torch.no_grad():
            model.link_weight.copy_(weights["link_weight"])
            if "coverage_weight" in weights:
                model.coverage_weight.copy_(weights["coverage_weight"])
            else:  # a router saved before the term existed: it had no effect there
                model.coverage_weight.zero_()
            if "order_weight" in weights:  # else zero, as initialised: no effect
                model.order_head.weight.copy_(weights["order_weight"])
                model.order_head.bias.copy_(weights["order_bias"])
        model.eval()
        return model
