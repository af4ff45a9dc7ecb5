"""The generative router (docs/generative_router.md): a chat LLM reads the question and the
schema's legal paths and writes the route as JSON; trained SFT then GRPO with the router's
layered reward. A `pathrl.router.protocol.Router` of kind "generative".

    from pathrl.llm.genrouter.router import GenerativeRouter
    from pathrl.llm.genrouter.train import train_generative_sft, train_generative_grpo

Submodules are imported on demand: `prompt` (prompt and answer parsing), `prefix` (the
shared-prefix LM), `router` (routing, scoring, save/load), `train` (SFT, GRPO, rewards).
"""
