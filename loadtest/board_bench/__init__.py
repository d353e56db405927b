"""The leaderboard benchmark (`python -m loadtest.board_bench`): a big board, exact reads.

Loads N players into one sharded board (and the same players into one raw sorted set),
measures memory per player, then the service's exact reads and durable writes beside
raw valkey-py commands at the same concurrency. Figures go to stdout (markdown) and JSON.
"""
