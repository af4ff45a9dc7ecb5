"""Route-injected query generation (docs/method.md §1.4, docs/generate.md): ask the router
first, then let an LLM write the SQL / MongoDB query along the legal path; run it safely; and
the A/B that compares it with direct generation and with pathrl's own generator.

- `prompt`: the prompts (schema, and for the routed condition the join keys hop by hop);
- `backends`: LLMs behind `generate(prompts) -> list[str]` (an OpenAI-compatible endpoint or
  a local Hugging Face model, the packaged SmolLM2 by default);
- `safety`: parse the completion, refuse anything but a read-only query, run it with a row
  limit and a timeout;
- `runner`: `RoutedGenerator`, question -> route -> prompt -> completion -> rows;
- `ab`: the A/B on a labelled split (`pathrl ab`).
"""
