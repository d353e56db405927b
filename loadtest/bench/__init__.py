"""`gameserver bench`: the gateway against raw Valkey on one cluster, and socket capacity.

Runs on asyncio (uvloop when present) with `websockets` and valkey-py: no Locust, so the
client's own overhead stays low; its CPU is measured and reported beside the figures.
"""
