"""Shared RL machinery: PPO losses, run logging, metric names."""
