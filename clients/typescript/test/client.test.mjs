// The SDK against a real `gameserver up` started from this checkout.

import assert from "node:assert/strict";
import { generateKeyPairSync, sign } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { after, before, describe, test } from "node:test";

import {
  DisconnectedError,
  GameClient,
  GameServerError,
  MemoryStorage,
  DEVICE_ID_KEY,
  errorFromWire,
} from "../dist/index.js";
import { startServer } from "./server.mjs";

const SESSION_TTL_S = 3;
const QUICKSTART = fileURLToPath(new URL("../examples/quickstart.mjs", import.meta.url));
const WAIT_MS = 15_000;

// An identity provider of the tests: an Ed25519 key whose public half the server reads.
const ISSUER = "https://id.example.test";
const AUDIENCE = "sdk-tests";
const signingKey = generateKeyPairSync("ed25519");
const keysDir = mkdtempSync(join(tmpdir(), "gameserver-sdk-jwks-"));

function base64url(value) {
  return Buffer.from(typeof value === "string" ? value : JSON.stringify(value)).toString("base64url");
}

function idToken(subject) {
  const now = Math.floor(Date.now() / 1000);
  const header = base64url({ alg: "EdDSA", typ: "JWT", kid: "k1" });
  const claims = base64url({ iss: ISSUER, aud: AUDIENCE, sub: subject, iat: now, exp: now + 300 });
  const signature = sign(null, Buffer.from(`${header}.${claims}`), signingKey.privateKey);
  return `${header}.${claims}.${signature.toString("base64url")}`;
}

// The contract as the repository states it: every op of the game socket (the first cell
// of docs/protocol.md's op tables) and every push it names (`{"event": "..."}`).
const PROTOCOL = readFileSync(
  resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "docs", "protocol.md"),
  "utf8",
);
const SOCKET_SECTION = PROTOCOL.slice(
  PROTOCOL.indexOf("## The game socket"),
  PROTOCOL.indexOf("## Operators and trusted"),
);
const CONTRACT_OPS = [...SOCKET_SECTION.matchAll(/^\| `([a-z_]+(?:\.[a-z_]+)?)` \|/gm)].map((m) => m[1]);
const ERROR_CODES_PARAGRAPH = SOCKET_SECTION.slice(SOCKET_SECTION.indexOf("Error codes:")).split("\n\n")[0];
const CONTRACT_ERROR_CODES = [
  ...ERROR_CODES_PARAGRAPH.replace(/\([^)]*\)/g, "").matchAll(/`([a-z_]+)`/g),
].map((m) => m[1]);
const CONTRACT_PUSHES = [...new Set([...PROTOCOL.matchAll(/\{"event": "([a-z_.]+)"/g)].map((m) => m[1]))];

// What these tests saw: ops answered `ok` through the SDK's methods, and pushes delivered
// to listeners of their typed event names. The last test checks both cover the contract.
const answeredOps = new Set();
const heardPushes = new Set();

let server;
const clients = [];

before(async () => {
  const jwks = join(keysDir, "jwks.json");
  const publicJwk = signingKey.publicKey.export({ format: "jwk" });
  writeFileSync(jwks, JSON.stringify({ keys: [{ ...publicJwk, kid: "k1", use: "sig" }] }));
  const providers = { tests: { issuer: ISSUER, audience: AUDIENCE, jwks_file: jwks } };
  server = await startServer({
    GAMESERVER_SESSION_TTL_S: String(SESSION_TTL_S),
    GAMESERVER_AUTH_PROVIDERS: JSON.stringify(providers),
  });
});

after(async () => {
  for (const client of clients) {
    client.close();
  }
  await server?.stop();
  rmSync(keysDir, { recursive: true, force: true });
});

function newClient(options = {}) {
  const client = new GameClient({
    url: server.url,
    storage: new MemoryStorage(),
    reconnect: { initialDelayMs: 200, maxDelayMs: 1000, maxAttempts: 100 },
    ...options,
  });
  clients.push(client);
  const request = client.request.bind(client);
  client.request = async (op, fields, callOptions) => {
    const result = await request(op, fields, callOptions);
    answeredOps.add(op);
    return result;
  };
  for (const name of CONTRACT_PUSHES) {
    client.on(name, () => heardPushes.add(name));
  }
  return client;
}

async function player(displayName, options = {}) {
  const client = newClient(options);
  await client.loginDevice({ displayName });
  await client.connect();
  return client;
}

/** The next `name` event that satisfies `match`, or a rejection after `ms`. */
function nextEvent(client, name, match = () => true, ms = WAIT_MS) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      stop();
      reject(new Error(`no ${name} within ${ms} ms`));
    }, ms);
    const stop = client.on(name, (event) => {
      if (match(event)) {
        clearTimeout(timer);
        stop();
        resolve(event);
      }
    });
  });
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

describe("logins", () => {
  test("a device login keeps its device id in the storage and finds the same account again", async () => {
    const storage = new MemoryStorage();
    const first = newClient({ storage });
    const made = await first.loginDevice();
    const deviceId = storage.getItem(DEVICE_ID_KEY);
    assert.match(deviceId, /^[0-9a-f]{64}$/);
    assert.equal(made.created, true);
    assert.match(made.player_id, /^[a-z0-9]{16}$/);

    const again = await newClient({ storage }).loginDevice();
    assert.equal(again.player_id, made.player_id);
    assert.equal(again.created, false);
    assert.equal(storage.getItem(DEVICE_ID_KEY), deviceId);
  });

  test("a login that cannot reach the server fails as disconnected, saying so", async () => {
    const url = new URL(server.url);
    const nowhere = newClient({ url: `${url.protocol}//${url.hostname}:1` });
    await assert.rejects(nowhere.loginDevice(), (error) => {
      assert.ok(error instanceof DisconnectedError);
      assert.equal(error.op, "POST /v1/sessions");
      assert.match(error.message, /could not be reached/);
      return true;
    });
  });

  test("a kept device id that is not valid is refused and left as it is, not replaced", async () => {
    const storage = new MemoryStorage();
    storage.setItem(DEVICE_ID_KEY, "short");
    await assert.rejects(newClient({ storage }).loginDevice(), (error) => {
      assert.ok(error instanceof GameServerError);
      assert.equal(error.code, "bad_request");
      return true;
    });
    assert.equal(storage.getItem(DEVICE_ID_KEY), "short");
  });

  test("a provider login creates the account of the token's subject, then logs into it", async () => {
    const first = newClient();
    const made = await first.loginProvider("tests", idToken("user-42"), { displayName: "Pat" });
    assert.equal(made.created, true);
    await first.connect();
    const account = await first.accountGet();
    assert.equal(account.display_name, "Pat");
    assert.deepEqual(account.links, [{ kind: "provider", provider: "tests" }]);

    const again = await newClient().loginProvider("tests", async () => idToken("user-42"));
    assert.equal(again.player_id, made.player_id);
    assert.equal(again.created, false);
  });

  test("a refused provider login is a typed error with the contract's code", async () => {
    const client = newClient();
    await assert.rejects(client.loginProvider("nobody", "not.a.jwt"), (error) => {
      assert.ok(error instanceof GameServerError);
      assert.equal(error.code, "bad_request");
      assert.equal(error.status, 400);
      return true;
    });
  });
});

describe("leaderboards", () => {
  test("submit, then top, around and rank carry display names", async () => {
    const ann = await player("Ann");
    const bob = await player("Bob");
    const submitted = await ann.submitScore("global", 900);
    assert.equal(submitted.board, "global");
    assert.equal(submitted.score, 900);
    assert.equal(submitted.previous_rank, null);
    await bob.submitScore("global", 950);

    const top = await ann.boardTop("global", { limit: 10 });
    const names = top.entries.map((entry) => [entry.player_id, entry.display_name]);
    assert.deepEqual(names.slice(0, 2), [
      [bob.playerId, "Bob"],
      [ann.playerId, "Ann"],
    ]);
    const rank = await ann.boardRank("global");
    assert.equal(rank.rank, 2);
    assert.equal(rank.score, 900);
    const around = await bob.boardAround("global", { playerId: ann.playerId, radius: 1 });
    assert.ok(around.entries.some((entry) => entry.display_name === "Ann"));
  });

  test("an unknown board is a not_found error", async () => {
    const client = await player();
    await assert.rejects(client.boardTop("no-such-board"), (error) => {
      assert.ok(error instanceof GameServerError);
      assert.equal(error.code, "not_found");
      assert.equal(error.op, "board.top");
      return true;
    });
    // The socket stays usable after a refused request.
    assert.equal(typeof (await client.ping()).server_time, "number");
  });

  test("a subscriber hears rank.changed when another player passes it", async () => {
    const low = await player("Low");
    const high = await player("High");
    await low.submitScore("weekly", 10);
    const subscribed = await low.subscribe("weekly", { top: 5 });
    assert.equal(typeof subscribed.rank, "number");

    const passed = nextEvent(low, "rank.changed", (event) => event.board === "weekly");
    const topMoved = nextEvent(low, "board.top", (event) =>
      event.entries.some((entry) => entry.player_id === high.playerId),
    );
    await high.submitScore("weekly", 10_000);
    const changed = await passed;
    assert.equal(changed.previous_rank, subscribed.rank);
    assert.equal(changed.rank, subscribed.rank + 1);
    assert.equal((await topMoved).entries[0].display_name, "High");
  });
});

describe("matchmaking and parties", () => {
  test("two clients in the duel queue are matched with each other", async () => {
    const one = await player();
    const two = await player();
    const foundOne = nextEvent(one, "match.found");
    const foundTwo = nextEvent(two, "match.found");
    const ticket = await one.matchJoin("duel");
    await two.matchJoin("duel");
    const [a, b] = await Promise.all([foundOne, foundTwo]);
    assert.equal(a.match_id, b.match_id);
    assert.equal(a.queue, "duel");
    assert.equal(a.ticket, ticket.ticket);
    assert.deepEqual(a.teams.flat().sort(), [one.playerId, two.playerId].sort());
    assert.equal((await one.matchStatus(ticket.ticket)).state, "matched");
  });

  test("a match found while the socket was down is told once the client is back", async () => {
    // Slow to come back (4 to 8 s), so that the match is made while it is away.
    const away = await player(undefined, { reconnect: { initialDelayMs: 8000, maxAttempts: 5 } });
    const other = await player();
    const { ticket } = await away.matchJoin("duel");
    const reconnecting = nextEvent(away, "reconnecting");
    away.socket.terminate();
    await reconnecting;
    const theirs = nextEvent(other, "match.found");
    await other.matchJoin("duel");
    const otherFound = await theirs;
    assert.equal(away.state, "reconnecting", "the match came too late to test this");
    const found = await nextEvent(away, "match.found");
    assert.equal(found.ts, undefined); // told from match.status, not pushed
    assert.equal(found.ticket, ticket);
    assert.equal(found.match_id, otherFound.match_id);
    assert.deepEqual(found.teams, otherFound.teams);
    assert.equal(found.server, null);
    const status = await away.matchStatus(ticket);
    assert.deepEqual([status.state, status.match_id], ["matched", found.match_id]);
  });

  test("a party invite reaches the invitee, and accepting it updates the leader", async () => {
    const leader = await player();
    const friend = await player();
    const { party_id: partyId } = await leader.partyCreate();
    const invited = nextEvent(friend, "party.invited");
    await leader.partyInvite(partyId, friend.playerId);
    const invite = await invited;
    assert.equal(invite.party_id, partyId);
    assert.equal(invite.from, leader.playerId);

    const updated = nextEvent(leader, "party.updated", (event) => event.members.length === 2);
    await friend.partyAccept(partyId);
    assert.deepEqual((await updated).members, [leader.playerId, friend.playerId]);
    assert.deepEqual((await friend.partyGet(partyId)).members, [leader.playerId, friend.playerId]);
  });
});

describe("connection", () => {
  test("a call without a reply within its timeout fails as a timeout", async () => {
    // A socket that answers the connect's ping and then nothing: a server gone silent.
    class SilentSocket {
      readyState = 0;
      onopen = null;
      onmessage = null;
      onclose = null;
      onerror = null;
      answered = 0;
      constructor() {
        setTimeout(() => {
          this.readyState = 1;
          this.onopen?.({});
        }, 0);
      }
      send(text) {
        const { id } = JSON.parse(text);
        if (this.answered++ === 0) {
          setTimeout(() => this.onmessage?.({ data: JSON.stringify({ id, ok: true, server_time: 1 }) }));
        }
      }
      close() {
        this.readyState = 3;
      }
    }
    const client = newClient({ WebSocket: SilentSocket, requestTimeoutMs: 200 });
    client.useSession({ token: "t", session_id: "s", player_id: "p", expires_in: 60, created: false });
    await client.connect();
    await assert.rejects(client.boardTop("global"), (error) => {
      assert.equal(error.code, "timeout");
      assert.equal(error.op, "board.top");
      return true;
    });
    client.close();
  });

  test("a kicked session (4403) is not reconnected", async () => {
    const client = await player();
    const closed = nextEvent(client, "closed");
    const kicked = nextEvent(client, "session.kicked");
    const ended = await server.admin("DELETE", `/admin/v1/players/${client.playerId}/session`);
    assert.equal(ended.status, 204);
    await kicked;
    assert.equal((await closed).code, 4403);
    let reconnects = 0;
    client.on("reconnecting", () => (reconnects += 1));
    await sleep(1000);
    assert.equal(reconnects, 0);
    assert.equal(client.state, "closed");
    await assert.rejects(client.ping(), (error) => error instanceof DisconnectedError);
  });

  test("a newer login of the same device replaces the session (4409) and the old client stays closed", async () => {
    const storage = new MemoryStorage();
    const first = await player(undefined, { storage });
    const replaced = nextEvent(first, "session.replaced");
    const closed = nextEvent(first, "closed");
    const second = await player(undefined, { storage });
    assert.equal(second.playerId, first.playerId);
    await replaced;
    assert.equal((await closed).code, 4409);
    let reconnects = 0;
    first.on("reconnecting", () => (reconnects += 1));
    await sleep(1000);
    assert.equal(reconnects, 0);
    assert.equal(typeof (await second.ping()).server_time, "number");
  });

  test("logout ends the session: no reconnect, and its token opens nothing", async () => {
    const client = await player();
    const session = client.session;
    const closed = nextEvent(client, "closed");
    await client.logout();
    assert.equal((await closed).code, 1000);
    assert.equal(client.state, "closed");

    const reuse = newClient();
    reuse.useSession(session);
    await assert.rejects(reuse.connect(), (error) => {
      assert.ok(error instanceof DisconnectedError);
      assert.equal(error.closeCode, 4401);
      return true;
    });
  });

  test("a call made while the client reconnects waits for the socket", async () => {
    const client = await player();
    const reconnecting = nextEvent(client, "reconnecting");
    const reopened = nextEvent(client, "open");
    client.socket.terminate(); // the connection drops without a close frame
    await reconnecting;
    assert.equal(client.state, "reconnecting");
    const top = await client.boardTop("global", { timeoutMs: WAIT_MS });
    assert.ok(Array.isArray(top.entries));
    assert.equal(client.state, "open");
    assert.deepEqual([(await reopened).reconnected, (await reopened).relogged], [true, false]);
    // Closed for good, a waiting call fails at once as `disconnected`.
    const dropped = nextEvent(client, "reconnecting");
    client.socket.terminate();
    await dropped;
    const waiting = client.ping({ timeoutMs: 60_000 });
    client.close();
    await assert.rejects(waiting, (error) => error instanceof DisconnectedError);
  });

  test("a logout while the client reconnects waits for the socket, then ends the session and the client", async () => {
    const client = await player();
    const session = client.session;
    const reconnecting = nextEvent(client, "reconnecting");
    client.socket.terminate();
    await reconnecting;
    const closed = nextEvent(client, "closed");
    await client.logout();
    assert.equal((await closed).willReconnect, false);
    assert.equal(client.state, "closed");
    const reuse = newClient();
    reuse.useSession(session);
    await assert.rejects(reuse.connect(), (error) => error.closeCode === 4401);
  });

  test("a session made elsewhere (useSession) that is gone while away ends the client at once", async () => {
    const made = await server.admin("POST", "/admin/v1/sessions", { player_id: "elsewhere-1" });
    assert.equal(made.status, 201);
    // Back only after the session's TTL (3 s): its token is refused then (4401). The
    // first retry comes after half to all of initialDelayMs (jitter): at least 6 s, twice
    // the TTL, however late a busy server notes the socket's end.
    const client = newClient({ reconnect: { initialDelayMs: 12_000, maxAttempts: 5 } });
    client.useSession(await made.json());
    await client.connect();
    const reconnecting = nextEvent(client, "reconnecting");
    client.socket.terminate();
    await reconnecting;
    let tries = 0;
    client.on("reconnecting", () => (tries += 1));
    const closed = await nextEvent(client, "closed", () => true, 12_000 + WAIT_MS);
    assert.equal(closed.code, 4401);
    assert.equal(tries, 0);
    assert.equal(client.state, "closed");
  });

  test("close() ends the client without reconnecting", async () => {
    const client = await player();
    const closed = nextEvent(client, "closed");
    client.close();
    assert.equal((await closed).willReconnect, false);
    assert.equal(client.state, "closed");
  });

  test("after a gateway restart outlives the session, the client logs in again and re-subscribes", { timeout: 240_000 }, async () => {
    const reconnect = { initialDelayMs: 200, maxDelayMs: 1000, maxAttempts: 400 };
    const watcher = await player("Watcher", { reconnect });
    await watcher.submitScore("global", 5);
    const before = await watcher.subscribe("global", { top: 3 });
    const firstSession = watcher.session.session_id;
    const reopened = nextEvent(watcher, "open", (event) => event.reconnected, 200_000);

    // The server stays down longer than the session's TTL: the old token is refused (4401).
    await server.restart(SESSION_TTL_S * 1000 + 1000);
    const opened = await reopened;
    assert.equal(opened.relogged, true);
    assert.notEqual(opened.session.session_id, firstSession);
    assert.equal(opened.session.player_id, watcher.playerId);
    assert.equal(watcher.state, "open");

    // The subscription came back with the socket: a new leader moves the watcher down.
    const rival = await player("Rival");
    const moved = nextEvent(watcher, "rank.changed", (event) => event.board === "global");
    await rival.submitScore("global", 1_000_000);
    const changed = await moved;
    assert.equal(changed.rank, before.rank + 1);
  });
});

describe("every op of the contract", () => {
  const suffix = Math.random().toString(36).slice(2, 10);

  async function adminOk(method, path, body) {
    const response = await server.admin(method, path, body);
    assert.ok(response.ok, `${method} ${path}: ${response.status} ${await response.text()}`);
  }

  test("sessions and presence: ping, session values, presence", async () => {
    const one = await player();
    const two = await player();
    assert.equal(typeof (await one.ping({ timeoutMs: 5000 })).server_time, "number");
    await one.sessionSet({ level: 3, hat: "red" });
    assert.deepEqual((await one.sessionGet(["level"])).values, { level: 3 });
    assert.deepEqual((await one.sessionGet()).values, { level: 3, hat: "red" });
    const presence = await one.presenceGet([two.playerId, "nobody-here"]);
    assert.deepEqual(presence.players, { [two.playerId]: "online", "nobody-here": "offline" });
  });

  test("leaderboards: players, unsubscribe, list, join, and a period's end pushed", async () => {
    const one = await player("One");
    const two = await player("Two");
    await one.submitScore("global", 40);
    await two.submitScore("global", 30);
    const picked = await one.boardPlayers("global", [two.playerId, one.playerId]);
    assert.deepEqual(
      picked.entries.map((entry) => entry.player_id),
      [one.playerId, two.playerId],
    );
    await one.subscribe("global", { top: 0 });
    await one.unsubscribe("global");
    assert.equal(one.subscribedBoards.has("global"), false);

    const cup = `cup-${suffix}`;
    await adminOk("POST", "/admin/v1/boards", { name: cup, join_required: true, max_players: 8 });
    await assert.rejects(one.submitScore(cup, 5), (error) => error.code === "forbidden");
    const joined = await one.joinBoard(cup);
    assert.deepEqual([joined.board, joined.players, joined.joined], [cup, 1, true]);
    await one.submitScore(cup, 5);
    const listed = (await one.listBoards()).boards.find((board) => board.name === cup);
    assert.equal(listed.joined, true);
    assert.equal(listed.join_required, true);

    const ended = nextEvent(one, "board.period_ended", (event) => event.board === cup);
    await adminOk("POST", `/admin/v1/boards/${cup}/reset`);
    const push = await ended;
    assert.equal(push.rank, 1);
    assert.equal(push.score, 5);
    assert.equal(typeof push.period, "string");
  });

  test("matchmaking: cancel, and a ticket that expires is pushed", async () => {
    const one = await player();
    const { ticket } = await one.matchJoin("duel");
    await one.matchCancel(ticket);
    assert.equal((await one.matchStatus(ticket)).state, "cancelled");

    const lonely = `lonely-${suffix}`;
    await adminOk("POST", "/admin/v1/queues", { name: lonely, team_size: 1, teams: 2, max_wait_s: 1 });
    const expired = nextEvent(one, "match.expired");
    const waiting = await one.matchJoin(lonely);
    assert.equal((await expired).ticket, waiting.ticket);
    assert.equal((await one.matchStatus(waiting.ticket)).state, "expired");
  });

  test("parties: decline, accept, kick and leave", async () => {
    const leader = await player();
    const friend = await player();
    const { party_id: partyId } = await leader.partyCreate();
    await leader.partyInvite(partyId, friend.playerId);
    await friend.partyDecline(partyId);
    assert.deepEqual((await leader.partyGet(partyId)).invited, []);
    await leader.partyInvite(partyId, friend.playerId);
    await friend.partyAccept(partyId);
    const kicked = nextEvent(friend, "party.updated", (event) => !event.members.includes(friend.playerId));
    await leader.partyKick(partyId, friend.playerId);
    assert.deepEqual((await kicked).members, [leader.playerId]);
    await leader.partyLeave(partyId);
    await assert.rejects(leader.partyGet(partyId), (error) => error.code === "not_found");
  });

  test("accounts: update, link and unlink a provider", async () => {
    const one = await player();
    assert.equal((await one.accountUpdate("Renamed")).display_name, "Renamed");
    const linked = await one.accountLink({ provider: "tests", id_token: idToken(`link-${suffix}`) });
    assert.deepEqual(linked.links, [{ kind: "device" }, { kind: "provider", provider: "tests" }]);
    const unlinked = await one.accountUnlink({ kind: "provider", provider: "tests" });
    assert.deepEqual(unlinked.links, [{ kind: "device" }]);
    await assert.rejects(
      one.accountUnlink({ kind: "device" }),
      (error) => error instanceof GameServerError && error.code === "conflict",
    );
  });

  test("the README's Node quick start logs two players in, scores, reads the top 10 and duels", { timeout: 120_000 }, async () => {
    // A fresh TMPDIR: the quick start keeps its two device ids there (new accounts).
    const run = await promisify(execFile)(process.execPath, [QUICKSTART, server.url], {
      encoding: "utf8",
      timeout: 90_000,
      env: { ...process.env, TMPDIR: mkdtempSync(join(tmpdir(), "gameserver-quickstart-")) },
    });
    for (const name of ["Ann", "Bob"]) {
      assert.match(run.stdout, new RegExp(`^${name} is [a-z0-9]{16} \\(new account: true\\)$`, "m"));
      assert.match(run.stdout, new RegExp(`^${name} submitted \\d+: rank \\d+$`, "m"));
      assert.match(run.stdout, new RegExp(`^  \\d+\\. ${name}: \\d+$`, "m"));
    }
    const matches = [...run.stdout.matchAll(/^(?:Ann|Bob) is in match (\S+):/gm)].map((m) => m[1]);
    assert.equal(matches.length, 2, run.stdout);
    assert.equal(matches[0], matches[1]);
  });

  // Last: what every test above did, checked against docs/protocol.md.
  test("every op and push of docs/protocol.md went through the SDK in these tests", () => {
    assert.ok(CONTRACT_OPS.length >= 28, `ops read from docs/protocol.md: ${CONTRACT_OPS}`);
    assert.deepEqual(CONTRACT_OPS.filter((op) => !answeredOps.has(op)), []);
    assert.deepEqual(CONTRACT_PUSHES.filter((name) => !heardPushes.has(name)), []);
    // Each error code of the contract reaches the caller as that code.
    assert.ok(CONTRACT_ERROR_CODES.length >= 8, `codes: ${CONTRACT_ERROR_CODES}`);
    for (const code of CONTRACT_ERROR_CODES) {
      assert.equal(errorFromWire({ code, message: "m" }).code, code);
    }
  });
});
