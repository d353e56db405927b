"""Valkey plumbing every feature's store shares: routing calls to shards, WAIT, retries."""
