"""Router dataset: questions for every legal path (usage questions and entity lookups).

    from pathrl.data import DatasetConfig, build_dataset, write_dataset, load_split
    splits = build_dataset(schema, database, DatasetConfig(seed=7))
    write_dataset(splits, "data/demo")        # train/val/test/heldout.jsonl + manifest.json
    examples = load_split("data/demo/train.jsonl")
    # a path that cannot get its quota warns (DatasetWarning) and is reported, never fatal

See docs/dataset.md for the pipeline, the JSONL fields and the demo dataset's statistics.
"""

from pathrl.data.build import DatasetConfig, DatasetSplits, DatasetWarning, build_dataset
from pathrl.data.example import Condition, Example, load_dataset, load_split, write_dataset

__all__ = ["Condition", "DatasetConfig", "DatasetSplits", "DatasetWarning", "Example",
           "build_dataset", "load_dataset", "load_split", "write_dataset"]
