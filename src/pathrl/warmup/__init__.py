"""RL warm-up lab (LunarLander reward shaping, algorithm comparison)."""
