"""HTTP clients of our own services: one class per target, one httpx.AsyncClient each."""
