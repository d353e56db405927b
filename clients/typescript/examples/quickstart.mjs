// Two players in Node: device login, a score, the top 10, live ranks and a duel.
//
// Run `gameserver up` first, then, in clients/typescript:
//   npm ci && npm run build && node examples/quickstart.mjs [http://127.0.0.1:8000]
// (In your own project: `npm install <path to clients/typescript>` and import
// "@gameserver/client" instead of "../dist/index.js".)

import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { GameClient, GameServerError } from "../dist/index.js";

const url = process.argv[2] ?? "http://127.0.0.1:8000";
const saveDir = join(tmpdir(), "gameserver-quickstart-ts");

/** Keeps the device id in a JSON file (a browser passes `localStorage` instead). */
function fileStorage(path) {
  const read = () => {
    try {
      return JSON.parse(readFileSync(path, "utf8"));
    } catch {
      return {};
    }
  };
  return {
    getItem: (key) => read()[key] ?? null,
    setItem: (key, value) => {
      mkdirSync(saveDir, { recursive: true, mode: 0o700 });
      writeFileSync(path, JSON.stringify({ ...read(), [key]: value }), { mode: 0o600 });
    },
  };
}

async function play(name, score) {
  const client = new GameClient({ url, storage: fileStorage(join(saveDir, `${name}.json`)) });
  try {
    // The device id is made on the first run and kept in the file: same account later.
    const session = await client.loginDevice({ displayName: name });
    console.log(`${name} is ${session.player_id} (new account: ${session.created})`);
    await client.connect();

    const submitted = await client.submitScore("global", score);
    console.log(`${name} submitted ${submitted.score}: rank ${submitted.rank}`);

    const { entries } = await client.boardTop("global", { limit: 10 });
    for (const entry of entries) {
      console.log(`  ${entry.rank}. ${entry.display_name ?? entry.player_id}: ${entry.score}`);
    }

    // Live: your rank as others pass you (pushes follow the subscribe's reply).
    client.on("rank.changed", (e) => console.log(`${name}: rank ${e.previous_rank} -> ${e.rank}`));
    await client.subscribe("global", { top: 10 });

    // Listen before joining, so the push cannot be missed.
    const found = new Promise((resolve) => client.on("match.found", resolve));
    await client.matchJoin("duel");
    const match = await found;
    console.log(`${name} is in match ${match.match_id}: teams ${JSON.stringify(match.teams)}`);

    // A refusal is a typed error with the contract's code.
    await client.boardTop("no-such-board").catch((error) => {
      if (!(error instanceof GameServerError)) throw error;
      console.log(`${name}: board.top of an unknown board: ${error.code}`);
    });
  } finally {
    client.close();
  }
}

await Promise.all([play("Ann", 120), play("Bob", 90)]);
