"""pathrl: teach a model the join paths of a business database (SFT then PPO)."""

import os

# OpenMP's default busy-waiting threads thrash when the cores are shared (a 2-core CI machine,
# a training run beside a test suite): measured here, a MiniLM forward went from 0.23 s to
# 1.45 s. Passive waiting costs nothing when the cores are free. Must be set before torch loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
