"""RLHF for generative LLMs: offline tasks, rule rewards, evaluation, trainers.

Submodules are imported on demand (``from pathrl.llm.rewards import RewardSet``); nothing is
imported here, so the light task and reward modules never pull in model loading.
"""
