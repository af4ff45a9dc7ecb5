"""Router dataset: questions for every legal path (seed 000 §4.2)."""
