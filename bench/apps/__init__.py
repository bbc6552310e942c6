"""One module per benchmarked configuration, each exposing ``app``.

Every configuration serves the same route, ``GET /api/v1/items/{item_id}``,
registered through two levels of ``include_router`` prefixes, so route-label
resolution is exercised the way real services use it.
"""
