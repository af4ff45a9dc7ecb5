"""pathrl doctor: diagnose RL training runs from their logs."""
