"""pathrl: teach a model the join paths of a business database (SFT then PPO)."""

__version__ = "0.1.0"
