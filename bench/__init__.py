"""Side-by-side benchmarks of fastapi_sentient against bare FastAPI and its peers.

Run ``python -m bench`` (or ``make bench``); ``python -m bench --quick`` is a
short smoke run.  Every configuration is a small app module in ``bench.apps``
serving the same route, measured in a process of its own, with rounds
interleaved across configurations and medians reported.
"""
