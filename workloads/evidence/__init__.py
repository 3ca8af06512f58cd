"""Evidence contract v1: schema, streaming reader and sinks (see docs/evidence.md)."""
