"""Batch work over many models, split into shards that never talk to each other: what to do, which shard
does it, what counts as done, and the reports. Pure Python (no bpy): the CLI runs each item in a worker."""
