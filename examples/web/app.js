// The demo page: a reaction game on the TypeScript SDK (served at /demo/sdk/ by `up --demo`).

import { GameClient, GameServerError } from "./sdk/index.js";

const BOARD = "global";
const $ = (id) => document.getElementById(id);

// One device id per browser and slot: `?slot=2` is a second player in the same browser.
const slot = new URLSearchParams(location.search).get("slot") ?? "1";
$("slot-link").href = `?slot=${Number(slot) + 1 || 2}`;

const client = new GameClient({
  url: location.origin,
  storage: localStorage,
  deviceIdKey: `gameserver.demo.device_id.${slot}`,
});

const state = { rank: null, score: null, ticket: null, partyId: null };
// The party this slot is in, kept so that a reload finds it again.
const partyKey = `gameserver.demo.party_id.${slot}`;

function log(text) {
  const line = `${new Date().toLocaleTimeString()} ${text}\n`;
  $("log").textContent = line + $("log").textContent.slice(0, 4000);
}

function setStatus(text, ok) {
  $("status").textContent = text;
  $("status").className = ok ? "ok" : "bad";
}

function showRank(rank, score) {
  state.rank = rank;
  if (score !== undefined && score !== null) {
    state.score = score;
  }
  $("my-rank").textContent = rank ?? "–";
  $("my-score").textContent = state.score ?? "–";
}

function showTop(entries) {
  const rows = entries.map((entry) => {
    const row = document.createElement("tr");
    row.className = entry.player_id === client.playerId ? "me" : "";
    row.dataset.playerId = entry.player_id;
    for (const text of [entry.rank, entry.display_name ?? entry.player_id, entry.score]) {
      const cell = document.createElement("td");
      cell.textContent = String(text);
      row.append(cell);
    }
    return row;
  });
  $("top").replaceChildren(...rows);
}

function failed(what) {
  return (error) => {
    const code = error instanceof GameServerError ? error.code : "error";
    log(`${what} failed: ${code}: ${error.message}`);
  };
}

// --- Pushes ---------------------------------------------------------------------

client.on("board.top", (event) => event.board === BOARD && showTop(event.entries));
client.on("rank.changed", (event) => {
  if (event.board === BOARD) {
    log(`rank.changed ${event.previous_rank ?? "–"} -> ${event.rank ?? "–"}`);
    showRank(event.rank, event.score);
  }
});
client.on("match.found", (event) => {
  state.ticket = null;
  const others = event.teams.flat().filter((id) => id !== client.playerId);
  $("duel-state").textContent = `matched: ${event.match_id} vs ${others.join(", ")}`;
  $("duel-state").dataset.matchId = event.match_id;
  $("duel").disabled = false;
  $("cancel-duel").disabled = true;
  log(`match.found ${event.match_id}`);
});
client.on("match.expired", () => {
  state.ticket = null;
  $("duel-state").textContent = "nobody came: ticket expired";
  $("duel").disabled = false;
  $("cancel-duel").disabled = true;
});
client.on("party.invited", (event) => {
  log(`party.invited to ${event.party_id} by ${event.from}`);
  const item = document.createElement("li");
  item.textContent = `from ${event.from} `;
  const accept = document.createElement("button");
  accept.textContent = "Accept";
  accept.className = "accept";
  accept.onclick = () =>
    client.partyAccept(event.party_id).then(() => item.remove(), failed("accept"));
  item.append(accept);
  $("invites").append(item);
});
function showParty(party) {
  const mine = party !== null && party.members.includes(client.playerId);
  state.partyId = mine ? party.party_id : null;
  if (mine) {
    localStorage.setItem(partyKey, party.party_id);
  } else {
    localStorage.removeItem(partyKey);
  }
  $("party-info").textContent = mine
    ? `party ${party.party_id}: ${party.members.join(", ")} (leader ${party.leader})`
    : "no party";
}

client.on("party.updated", showParty);
client.on("disconnect", (event) => setStatus(`disconnected (${event.code})`, false));
client.on("reconnecting", (event) => setStatus(`reconnecting (try ${event.attempt})…`, false));
client.on("open", () => setStatus("online", true));
client.on("closed", (event) => setStatus(`closed (${event.code}): reload to play`, false));

// --- The reaction game ------------------------------------------------------------

let shownAt = 0;
let timer = null;

$("start").onclick = () => {
  $("start").disabled = true;
  $("result").textContent = "";
  $("target").className = "";
  $("target").textContent = "wait for green…";
  timer = setTimeout(() => {
    shownAt = performance.now();
    $("target").className = "go";
    $("target").textContent = "CLICK!";
  }, 700 + Math.random() * 1500);
};

$("target").onclick = async () => {
  if ($("target").className === "go") {
    const ms = Math.round(performance.now() - shownAt);
    const score = Math.max(1, 1000 - ms);
    $("target").className = "idle";
    $("target").textContent = `${ms} ms`;
    $("start").disabled = false;
    try {
      const reply = await client.submitScore(BOARD, score, { metadata: { ms } });
      $("result").textContent = `score ${score}, rank ${reply.rank}`;
      showRank(reply.rank, reply.score);
    } catch (error) {
      failed("submit")(error);
    }
  } else if ($("target").className === "") {
    clearTimeout(timer);
    $("target").className = "idle";
    $("target").textContent = "too early!";
    $("start").disabled = false;
  }
};

// --- Duel and party -----------------------------------------------------------------

$("duel").onclick = async () => {
  try {
    const { ticket } = await client.matchJoin("duel");
    state.ticket = ticket;
    $("duel").disabled = true;
    $("cancel-duel").disabled = false;
    $("duel-state").textContent = "searching for an opponent…";
  } catch (error) {
    failed("duel")(error);
  }
};

$("cancel-duel").onclick = async () => {
  if (state.ticket !== null) {
    await client.matchCancel(state.ticket).catch(failed("cancel"));
  }
  state.ticket = null;
  $("duel").disabled = false;
  $("cancel-duel").disabled = true;
  $("duel-state").textContent = "not queued";
};

async function createParty() {
  const { party_id } = await client.partyCreate();
  showParty({ party_id, leader: client.playerId, members: [client.playerId] });
}

$("party-create").onclick = () => createParty().catch(failed("party"));

$("invite").onclick = async () => {
  const playerId = $("invite-id").value.trim();
  try {
    if (state.partyId === null) {
      await createParty();
    }
    await client.partyInvite(state.partyId, playerId);
    log(`invited ${playerId}`);
  } catch (error) {
    failed("invite")(error);
  }
};

$("save-name").onclick = () =>
  client.accountUpdate($("name").value).then(() => log("name saved"), failed("rename"));

// --- Start ---------------------------------------------------------------------------

async function start() {
  try {
    const session = await client.loginDevice();
    $("player-id").textContent = session.player_id;
    document.body.dataset.playerId = session.player_id;
    await client.connect();
    const account = await client.accountGet();
    $("name").value = account.display_name ?? "";
    const { rank } = await client.subscribe(BOARD, { top: 10 });
    showRank(rank);
    showTop((await client.boardTop(BOARD, { limit: 10 })).entries);
    if (rank !== null) {
      showRank(rank, (await client.boardRank(BOARD)).score);
    }
    const partyId = localStorage.getItem(partyKey);
    if (partyId !== null) {
      // Still in it? Only members may read a party.
      showParty(await client.partyGet(partyId).catch(() => null));
    }
    document.body.dataset.ready = "true";
  } catch (error) {
    setStatus(`login failed: ${error.message}`, false);
  }
}

start();
