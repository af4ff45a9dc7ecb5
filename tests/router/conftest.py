"""A tiny random BERT saved as a local Hugging Face directory: the router mechanics tests run in
seconds, and the "any local HF directory" backbone path is exercised on the way."""

import pytest


@pytest.fixture(scope="session")
def tiny_backbone(tmp_path_factory) -> str:
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    from pathrl.backbones import resolve_backbone

    out = tmp_path_factory.mktemp("tiny-bert")
    tokenizer = AutoTokenizer.from_pretrained(resolve_backbone("minilm").path)
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=64, num_hidden_layers=6,
                        num_attention_heads=2, intermediate_size=128,
                        max_position_embeddings=128)
    torch.manual_seed(0)
    BertModel(config).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return str(out)
