"""pathrl: teach a model the join paths of a business database (SFT then PPO).

Importing pathrl, or any of its modules, changes nothing in the process: no environment
variables, no matplotlib backend or rcParams, no logging or warnings configuration, no torch
threads. The one registration made at import is Gymnasium's convention: `pathrl.router.env`
registers the namespaced id `pathrl/Router-v0` (idempotent). The `pathrl` command sets its
process-wide defaults (`OMP_WAIT_POLICY=PASSIVE`, offline Hugging Face Hub, quiet transformers)
in `pathrl.environment` before it loads torch; see README's "Environment".
"""

__version__ = "0.1.0"
