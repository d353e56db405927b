// The shipped types (dist/*.d.ts) as a game's TypeScript sees them: `npm test` compiles
// this file (tsc --noEmit -p test) before it runs the tests. Each `@ts-expect-error` marks
// a mistake the types must refuse; if they stopped refusing it, tsc fails.

import {
  type ClientEvents,
  type ErrorCode,
  GameClient,
  GameServerError,
  type KeyValueStorage,
  MemoryStorage,
  type PushEvent,
} from "../dist/index.js";

// Every push of the contract (docs/protocol.md) is an event name with its own payload.
type ContractPush =
  | "rank.changed"
  | "board.top"
  | "board.period_ended"
  | "match.found"
  | "match.expired"
  | "party.invited"
  | "party.updated"
  | "session.replaced"
  | "session.kicked";
export const pushesAreEvents: [ContractPush] extends [keyof ClientEvents] ? true : false = true;
export const eventsArePushes: [PushEvent["event"]] extends [ContractPush] ? true : false = true;

// A storage is anything with getItem/setItem, sync (localStorage) or async.
const asyncStorage: KeyValueStorage = {
  getItem: async (key: string) => key,
  setItem: async () => undefined,
};

export async function aGameUsesTheTypes(): Promise<void> {
  const client = new GameClient({ url: "http://127.0.0.1:8000", storage: new MemoryStorage() });
  new GameClient({ url: "http://127.0.0.1:8000", storage: asyncStorage, requestTimeoutMs: 5000 });
  // @ts-expect-error the URL is required
  new GameClient({ storage: new MemoryStorage() });

  const session = await client.loginDevice({ displayName: "Ann" });
  const playerId: string = session.player_id;
  const expiresIn: number = session.expires_in;
  await client.loginProvider("studio", async () => "token");

  const submitted = await client.submitScore("global", 120, { metadata: { ms: 300 }, timeoutMs: 500 });
  const rank: number = submitted.rank;
  const previous: number | null = submitted.previous_rank;
  // @ts-expect-error previous_rank is null for a new entry
  const previousNotNull: number = submitted.previous_rank;
  // @ts-expect-error a score is a number
  await client.submitScore("global", "120");

  const top = await client.boardTop("global", { limit: 10 });
  const name: string | null = top.entries[0]!.display_name;
  const cursor: string | null = top.next_cursor;
  const { rank: myRank } = await client.subscribe("global", { top: 10 });
  const subscribedRank: number | null = myRank;
  // @ts-expect-error the subscribe reply's rank may be null (not on the board)
  const subscribedNotNull: number = myRank;

  const { ticket } = await client.matchJoin("duel", { properties: { region: "eu", mode: "ranked" } });
  const state: "searching" | "matched" | "cancelled" | "expired" = (await client.matchStatus(ticket)).state;
  const { party_id: partyId } = await client.partyCreate();
  const members: string[] = (await client.partyGet(partyId)).members;
  const presence = (await client.presenceGet([playerId])).players[playerId];
  const online: "online" | "offline" | "in_match" | undefined = presence;
  await client.accountLink({ provider: "studio", id_token: "t" });
  // @ts-expect-error unlinking a provider names it
  await client.accountUnlink({ kind: "provider" });

  client.on("rank.changed", (event) => {
    const now: number | null = event.rank;
    const board: string = event.board;
    void [now, board];
  });
  client.on("board.top", (event) => void event.entries.map((entry) => entry.score + 1));
  client.on("board.period_ended", (event) => void event.period.toUpperCase());
  client.on("match.found", (event) => {
    const teams: string[][] = event.teams;
    void teams;
  });
  client.on("match.expired", (event) => void event.ticket.length);
  client.on("party.invited", (event) => void event.from.length);
  client.on("party.updated", (event) => void event.members.length);
  client.on("closed", (event) => void (event.code === 4403));
  // @ts-expect-error not an event
  client.on("match.founded", () => undefined);
  // @ts-expect-error a match.found push has no `rank`
  client.on("match.found", (event) => void event.rank);

  try {
    await client.boardTop("no-such-board");
  } catch (error) {
    if (error instanceof GameServerError) {
      const code: ErrorCode = error.code;
      // @ts-expect-error codes are the contract's (and the client's timeout/disconnected)
      const unknown: typeof error.code = "no_such_code";
      void [code, unknown];
    }
  }
  void [expiresIn, rank, previous, previousNotNull, name, cursor, subscribedRank];
  void [subscribedNotNull, state, members, online];
  client.close();
}
