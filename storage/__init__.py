"""Records, the canonical skeleton, Arrow/Parquet schemas, and shard writing and reading.

The contract every stage exchanges motion through. Imports only the standard library, numpy,
pyarrow and fsspec.
"""
