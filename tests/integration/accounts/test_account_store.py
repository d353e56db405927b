"""The accounts store on the real cluster: credentials resolve in one call, accounts and
credentials sit on their own slots, and erasure returns what it must release."""

from __future__ import annotations

import asyncio

from valkey.asyncio.cluster import ValkeyCluster
from valkey.crc import key_slot

from domain.accounts.functions import Resolved
from domain.accounts.models import CredentialKind, Link
from domain.accounts.store import AccountStore, account_key, credential_key
from domain.storage.shard_calls import ShardCaller

DEVICE = Link(CredentialKind.DEVICE)


async def store_of(valkey: ValkeyCluster) -> AccountStore:
    store = AccountStore(ShardCaller(valkey))
    await store.load_functions()
    return store


async def test_a_credential_resolves_to_its_first_candidate_only(valkey: ValkeyCluster) -> None:
    store = await store_of(valkey)
    replies = await asyncio.gather(
        *(store.resolve_credential("d1", f"cand{i}", 1.0) for i in range(10))
    )
    winners = {reply.player_id for reply in replies}
    assert len(winners) == 1
    assert sum(reply.created for reply in replies) == 1
    assert await store.resolve_credential("d1", "late", 2.0) == Resolved(winners.pop(), False)


async def test_a_claimed_credential_stays_with_its_owner(valkey: ValkeyCluster) -> None:
    store = await store_of(valkey)
    assert await store.claim_credential("d1", "ann", 1.0) == "ann"
    assert await store.claim_credential("d1", "bob", 1.0) == "ann"
    await store.release_credential("d1", "bob")  # not bob's: stays
    assert await store.claim_credential("d1", "bob", 1.0) == "ann"
    await store.release_credential("d1", "ann")
    assert await store.claim_credential("d1", "bob", 1.0) == "bob"


async def test_an_account_is_made_once_and_keeps_its_first_name(valkey: ValkeyCluster) -> None:
    store = await store_of(valkey)
    first = await store.ensure_account("ann", 1.0, "Ann", rename=False, link=DEVICE, digest="d1")
    again = await store.ensure_account("ann", 2.0, "Other", rename=False, link=None, digest="")
    assert first.created and not again.created and again.ban is None
    account = await store.account("ann")
    assert account is not None
    assert (account.display_name, account.created_at, account.links) == ("Ann", 1.0, (DEVICE,))
    assert await store.names(["ann", "nobody"]) == {"ann": "Ann", "nobody": None}


async def test_erase_returns_the_credentials_and_leaves_no_account(valkey: ValkeyCluster) -> None:
    store = await store_of(valkey)
    await store.ensure_account("ann", 1.0, None, rename=False, link=DEVICE, digest="d1")
    google = Link(CredentialKind.PROVIDER, "google")
    assert await store.link("ann", google, "g1") == ""
    assert sorted(await store.credential_digests("ann")) == ["d1", "g1"]
    assert sorted(await store.erase("ann") or []) == ["d1", "g1"]
    assert await store.account("ann") is None
    assert await store.erase("ann") is None


def test_accounts_and_credentials_spread_over_the_slots() -> None:
    slots = {key_slot(account_key(f"p{i}").encode()) for i in range(100)}
    slots |= {key_slot(credential_key(f"{i:064x}").encode()) for i in range(100)}
    assert len(slots) > 150
