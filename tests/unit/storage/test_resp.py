"""Commands are packed byte for byte as valkey-py packs them."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from valkey.asyncio.connection import Connection
from valkey.exceptions import DataError

from domain.storage.resp import pack_command

arguments = st.one_of(
    st.text(),
    st.binary(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False),
)


@given(st.sampled_from(["GET", "FCALL_RO", "EVALSHA"]), st.lists(arguments, max_size=12))
def test_packing_matches_valkey_py(name: str, rest: list[object]) -> None:
    # (valkey-py also splits a first argument like "CLUSTER INFO" in two; ours never are.)
    args = [name, *rest]
    expected = b"".join(Connection().pack_command(*args))
    assert pack_command(args) == expected


@pytest.mark.parametrize("bad", [True, None, {"a": 1}])
def test_what_valkey_cannot_take_is_refused(bad: object) -> None:
    with pytest.raises(DataError):
        pack_command(("SET", "k", bad))
