"""Two players on one machine: device login, a score, the top 10 and a duel.

Run `gameserver up` first, then: python examples/quickstart.py [http://127.0.0.1:8000]
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

from gameserver_client import GameClient, JsonFileStorage, MatchFound


async def play(url: str, save_dir: Path, name: str, score: int) -> None:
    async with GameClient(url) as client:
        # The device id is made on the first run and kept in the file: same account later.
        storage = JsonFileStorage(save_dir / f"{name}.json")
        session = await client.login_device(storage, display_name=name)
        print(f"{name} is {session.player_id} (new account: {session.created})")

        result = await client.score_submit("global", score)
        print(f"{name} submitted {result.score}: rank {result.rank}")

        top = await client.board_top("global", limit=10)
        for entry in top.entries:
            print(f"  {entry.rank:>3}. {entry.display_name or entry.player_id}: {entry.score}")

        # Listen before joining, so the push cannot be missed.
        matches = client.events(MatchFound)
        await client.match_join("duel")
        found = await matches.next(timeout=60)
        print(f"{name} is in match {found.match_id}: teams {found.teams}")


async def main() -> None:
    url = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8000"
    save_dir = Path(tempfile.gettempdir()) / "gameserver-quickstart"
    await asyncio.gather(play(url, save_dir, "Ann", 120), play(url, save_dir, "Bob", 90))


if __name__ == "__main__":
    asyncio.run(main())
