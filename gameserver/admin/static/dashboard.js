// The admin dashboard: the admin API over fetch, live board tops over /admin/v1/ws.
// The admin key lives in `adminKey` only (this tab's memory): never in a URL, storage
// or a cookie. Reloading the page forgets it.
"use strict";

(() => {
  let adminKey = null;
  let socket = null;
  let timers = [];
  const boards = new Map(); // name -> {card, config, subscribed}
  const queueHistory = new Map(); // queue -> [{t, waiting, p50, p95}]
  const sessionHistory = []; // [{t, sessions, logins}]
  const HISTORY_MS = 10 * 60 * 1000;
  const MAX_SOCKET_BOARDS = 500; // the admin socket's limit (docs/protocol.md)

  const $ = (id) => document.getElementById(id);

  function el(tag, attrs = {}, text) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
    if (text !== undefined) node.textContent = String(text);
    return node;
  }

  class ApiError extends Error {}

  async function api(method, path, body) {
    const headers = { Authorization: `Bearer ${adminKey}` };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(path, {
        method, headers, body: body === undefined ? undefined : JSON.stringify(body),
        cache: "no-store", credentials: "omit",
      });
    } catch (err) {
      throw new ApiError(`${method} ${path}: ${err.message}`);
    }
    if (response.status === 204) return null;
    const text = await response.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (_) { data = null; }
    if (!response.ok) {
      const error = data && data.error ? data.error : { code: "http_error", message: text };
      throw new ApiError(`${method} ${path}: ${response.status} ${error.code}: ${error.message}`);
    }
    return data;
  }

  function showError(err) {
    const line = el("div", {}, `${new Date().toLocaleTimeString()} ${err.message || err}`);
    const box = $("errors");
    box.prepend(line);
    while (box.childElementCount > 5) box.lastElementChild.remove();
  }

  function showResult(text) {
    $("action-result").textContent = text;
  }

  // Logging in and out.

  $("login").addEventListener("submit", async (event) => {
    event.preventDefault();
    const input = $("key");
    adminKey = input.value;
    input.value = "";
    $("login-error").textContent = "";
    try {
      const listing = await api("GET", "/admin/v1/boards");
      await start(listing);
    } catch (err) {
      adminKey = null;
      $("login-error").textContent = err.message;
      document.body.dataset.state = "login-failed";
    }
  });

  $("logout").addEventListener("click", () => {
    adminKey = null;
    for (const timer of timers) clearInterval(timer);
    timers = [];
    if (socket) socket.close(1000);
    socket = null;
    setSocketState("offline");
    boards.clear();
    $("boards").replaceChildren();
    $("dashboard").hidden = true;
    $("logout").hidden = true;
    $("login-view").hidden = false;
    document.body.dataset.state = "login";
  });

  async function start(listing) {
    $("login-view").hidden = true;
    $("dashboard").hidden = false;
    $("logout").hidden = false;
    renderBoards(listing.boards);
    openSocket();
    await loadHistory();
    every(10000, refreshBoards);
    every(2000, refreshQueues);
    every(2000, refreshGateways);
    every(5000, refreshRestarts);
    every(5000, refreshCluster);
    document.body.dataset.state = "ready";
  }

  function every(ms, task) {
    const run = () => task().catch(showError);
    run();
    timers.push(setInterval(run, ms));
  }

  // Boards: metadata polled, tops pushed.

  // `only`: the boards whose per-period counts to read again (every board without it).
  async function refreshBoards(only) {
    const listing = await api("GET", "/admin/v1/boards");
    renderBoards(listing.boards, only);
  }

  function renderBoards(list, only) {
    const seen = new Set();
    for (const config of list) {
      seen.add(config.name);
      let board = boards.get(config.name);
      if (!board) {
        board = { card: boardCard(config.name), subscribed: false };
        boards.set(config.name, board);
        $("boards").append(board.card);
      }
      board.config = config;
      board.card.querySelector(".meta").textContent = describeBoard(config);
      board.card.querySelector(".window").textContent = describeWindow(config);
      if (!only || only.has(config.name) || !board.periodsRead) {
        board.periodsRead = true;
        refreshPeriods(config.name).catch(showError);
      }
    }
    for (const [name, board] of boards) {
      if (!seen.has(name)) {
        board.card.remove();
        boards.delete(name);
      }
    }
    subscribeAll();
  }

  // Player counts are read, not pushed: once a second at most while tops move, the
  // periods of the boards whose top moved only.
  let countsTimer = null;
  let moved = new Set();
  function countsSoon(name) {
    moved.add(name);
    if (countsTimer !== null) return;
    countsTimer = setTimeout(() => {
      countsTimer = null;
      const only = moved;
      moved = new Set();
      if (adminKey === null) return;
      refreshBoards(only).catch((err) => {
        // Read again with the next push or the 10 s refresh, whichever comes first.
        for (const name of only) moved.add(name);
        showError(err);
      });
    }, 1000);
  }

  function boardCard(name) {
    const card = el("article", { class: "board", "data-board": name });
    const title = el("h3", {}, name);
    const reset = el("button", { type: "button", class: "danger reset" }, "Reset");
    reset.addEventListener("click", () => resetBoard(name));
    card.append(
      title, el("div", { class: "meta" }), el("div", { class: "meta window" }),
      el("ol", { class: "top" }), el("div", { class: "periods" }), el("div", { class: "watch error" }), reset,
    );
    renderTop(card, []);
    return card;
  }

  function describeBoard(c) {
    const rules = [];
    for (const name of ["min_score", "max_score", "max_step", "writes_per_minute", "max_players", "max_attempts"]) {
      if (c[name] !== null && c[name] !== undefined) rules.push(`${name} ${c[name]}`);
    }
    if (c.sub_boards > 1) rules.push(`${c.sub_boards} sub-boards`);
    if (c.on_period_end) rules.push(`webhook ${c.on_period_end} (top ${c.on_period_end_top})`);
    if (!c.client_writes) rules.push("server writes only");
    if (c.join_required) rules.push("join required");
    return `${c.operator} · ${c.order} · reset ${c.reset} · period ${c.period || "–"} · ` +
      `${c.count} player${c.count === 1 ? "" : "s"}${rules.length ? " · " + rules.join(", ") : ""}`;
  }

  function describeWindow(c) {
    if (c.start_at == null && c.end_at == null) return "";
    const when = (s) => (s == null ? "…" : new Date(s * 1000).toISOString().replace(".000Z", "Z"));
    const now = Date.now() / 1000;
    let state = "open";
    if (c.start_at != null && now < c.start_at) state = "not started";
    if (c.end_at != null && now >= c.end_at) state = "ended";
    return `tournament ${when(c.start_at)} → ${when(c.end_at)} (${state})`;
  }

  async function refreshPeriods(name) {
    const board = boards.get(name);
    if (!board) return;
    const { periods } = await api("GET", `/admin/v1/boards/${encodeURIComponent(name)}/periods`);
    const text = periods.map((p) => `${p.period || "(all time)"}${p.live ? " (live)" : ""}: ${p.count}`);
    board.card.querySelector(".periods").textContent = "players per period: " + (text.join(" · ") || "–");
  }

  function renderTop(card, entries) {
    const list = card.querySelector(".top");
    const before = new Map([...list.children].map((li) => [li.dataset.player, li.dataset.score]));
    list.replaceChildren();
    if (!entries.length) {
      list.append(el("li", { class: "empty" }, "no entries"));
      return;
    }
    for (const entry of entries.slice(0, 10)) {
      const li = el("li", { "data-player": entry.player_id, "data-score": String(entry.score) });
      if (before.get(entry.player_id) !== String(entry.score)) li.classList.add("flash");
      const name = entry.display_name ? `${entry.display_name} (${entry.player_id})` : entry.player_id;
      li.append(el("span", { class: "rank" }, entry.rank), el("span", { class: "player" }, name),
        el("span", { class: "score" }, entry.score));
      list.append(li);
    }
    setTimeout(() => list.querySelectorAll(".flash").forEach((li) => li.classList.remove("flash")), 1200);
  }

  async function resetBoard(name) {
    try {
      await api("POST", `/admin/v1/boards/${encodeURIComponent(name)}/reset`);
      showResult(`board ${name} reset`);
      await refreshBoards();
    } catch (err) { showError(err); }
  }

  // The push socket.

  function openSocket() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${scheme}://${location.host}/admin/v1/ws`);
    socket = ws;
    let nextId = 1;
    ws.addEventListener("open", () => {
      ws.send(JSON.stringify({ id: 0, op: "admin.auth", key: adminKey }));
    });
    ws.addEventListener("message", (event) => {
      const message = JSON.parse(event.data);
      if (message.event === "board.top") {
        const board = boards.get(message.board);
        if (board) {
          renderTop(board.card, message.entries);
          board.card.dataset.pushed = "yes";
        }
        countsSoon(message.board);
        return;
      }
      const pending = ws.pending.get(message.id);
      if (pending !== undefined) {
        ws.pending.delete(message.id);
        const board = boards.get(pending);
        if (board && message.ok === false) {
          // Not watched: tried again in a second when subscribing many boards ran into
          // the socket's rate limit, else at the next refresh of the board list.
          board.subscribed = false;
          board.card.querySelector(".watch").textContent =
            `not watched yet: ${message.error.code}: ${message.error.message}`;
          if (message.error.code === "rate_limited") subscribeSoon();
        } else if (board) {
          board.card.querySelector(".watch").textContent = "";
        }
        return;
      }
      if (message.id === 0 && message.ok) {
        setSocketState("live");
        for (const board of boards.values()) board.subscribed = false;
        subscribeAll();
      } else if (message.ok === false) {
        showError(new Error(`admin socket: ${message.error.code}: ${message.error.message}`));
      }
    });
    ws.addEventListener("close", (event) => {
      if (socket !== ws) return;
      setSocketState("offline");
      for (const board of boards.values()) board.subscribed = false;
      if (event.code === 4401 || event.code === 4403) {
        showError(new Error(`admin socket closed: ${event.code} ${event.reason}`));
        return;
      }
      if (adminKey !== null) setTimeout(() => { if (socket === ws && adminKey !== null) openSocket(); }, 2000);
    });
    ws.nextId = () => nextId++;
    ws.pending = new Map(); // subscribe request id -> board
  }

  function setSocketState(state) {
    const pill = $("socket-state");
    pill.textContent = state === "live" ? "live" : "offline";
    pill.classList.toggle("live", state === "live");
    document.body.dataset.socket = state;
  }

  let subscribeTimer = null;
  function subscribeSoon() {
    if (subscribeTimer !== null) return;
    subscribeTimer = setTimeout(() => { subscribeTimer = null; subscribeAll(); }, 1000);
  }

  function subscribeAll() {
    if (!socket || socket.readyState !== WebSocket.OPEN || document.body.dataset.socket !== "live") return;
    let count = [...boards.values()].filter((b) => b.subscribed).length;
    for (const [name, board] of boards) {
      if (board.subscribed) continue;
      if (count >= MAX_SOCKET_BOARDS) {
        board.card.querySelector(".watch").textContent =
          `not watched: at most ${MAX_SOCKET_BOARDS} boards are pushed`;
        continue;
      }
      const id = socket.nextId();
      socket.pending.set(id, name);
      socket.send(JSON.stringify({ id, op: "board.subscribe", board: name, top: 10 }));
      board.subscribed = true;
      count++;
    }
  }

  // The charts' last minutes before the page opened: the gateway's own samples, taken
  // every 10 s; the page adds its own every 2 s from then on.

  async function loadHistory() {
    queueHistory.clear();
    sessionHistory.length = 0;
    let history;
    try {
      history = await api("GET", "/admin/v1/history");
    } catch (err) {
      showError(err);
      return;
    }
    // Server times, moved onto this browser's clock.
    const shift = Date.now() - history.now * 1000;
    const cutoff = Date.now() - HISTORY_MS;
    for (const sample of history.samples) {
      const t = sample.at * 1000 + shift;
      if (t < cutoff) continue;
      sessionHistory.push({ t, sessions: sample.sessions_online, logins: sample.logins_last_minute });
      for (const [queue, q] of Object.entries(sample.queues)) {
        if (!queueHistory.has(queue)) queueHistory.set(queue, []);
        queueHistory.get(queue).push({ t, waiting: q.waiting, oldest: q.oldest_wait_s,
          p50: q.wait_p50_s, p95: q.wait_p95_s });
      }
    }
    document.body.dataset.history = String(sessionHistory.length);
  }

  // Queues: sampled from the admin API every 2 s, after the gateway's history.

  async function refreshQueues() {
    const { queues } = await api("GET", "/admin/v1/queues");
    const now = Date.now();
    const container = $("queues");
    const seen = new Set();
    for (const q of queues) {
      seen.add(q.queue);
      const history = queueHistory.get(q.queue) || [];
      history.push({ t: now, waiting: q.waiting, oldest: q.oldest_wait_s, p50: q.wait_p50_s, p95: q.wait_p95_s });
      while (history.length && history[0].t < now - HISTORY_MS) history.shift();
      queueHistory.set(q.queue, history);
      let card = container.querySelector(`[data-queue="${CSS.escape(q.queue)}"]`);
      if (!card) {
        card = el("article", { class: "card queue", "data-queue": q.queue });
        card.append(el("h3", {}, q.queue), el("div", { class: "meta" }), chart(), chart(),
          el("div", { class: "legend" }));
        container.append(card);
      }
      const size = q.max_players ? `free-for-all up to ${q.max_players}` : `${q.teams}×${q.team_size}`;
      card.querySelector(".meta").textContent =
        `${size} · waiting ${q.waiting} · oldest wait ${seconds(q.oldest_wait_s)} · ` +
        `matches ${q.matches} · p50 ${seconds(q.wait_p50_s)} · p95 ${seconds(q.wait_p95_s)}`;
      const [waitChart, latencyChart] = card.querySelectorAll("svg");
      drawLines(waitChart, history, [["waiting", "waiting"]]);
      drawLines(latencyChart, history, [["p50", "p50"], ["p95", "p95"], ["oldest", "oldest"]]);
      const legend = card.querySelector(".legend");
      legend.replaceChildren(el("span", { class: "waiting" }, "■ waiting tickets  "),
        el("span", { class: "p50" }, "■ wait p50  "), el("span", { class: "p95" }, "■ wait p95  "),
        el("span", { class: "oldest" }, "■ oldest wait (s)"));
    }
    for (const card of [...container.children]) {
      if (!seen.has(card.dataset.queue)) card.remove();
    }
  }

  function seconds(value) {
    return value === null || value === undefined ? "–" : `${Number(value).toFixed(1)} s`;
  }

  const SVG = "http://www.w3.org/2000/svg";

  function chart() {
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("class", "chart");
    svg.setAttribute("viewBox", "0 0 300 60");
    svg.setAttribute("preserveAspectRatio", "none");
    return svg;
  }

  function drawLines(svg, history, series) {
    svg.replaceChildren();
    const values = history.flatMap((h) => series.map(([key]) => h[key]).filter((v) => v != null));
    const top = Math.max(1, ...values);
    const now = Date.now();
    // The x axis spans the history kept so far (at least a minute, at most ten).
    const span = Math.min(HISTORY_MS, Math.max(60000, history.length ? now - history[0].t : 0));
    for (const [key, cls] of series) {
      const points = history.filter((h) => h[key] != null)
        .map((h) => `${(300 - ((now - h.t) / span) * 300).toFixed(1)},${(58 - (h[key] / top) * 54).toFixed(1)}`);
      if (!points.length) continue;
      const line = document.createElementNS(SVG, "polyline");
      line.setAttribute("class", cls);
      line.setAttribute("points", points.length === 1 ? `${points[0]} ${points[0]}` : points.join(" "));
      svg.append(line);
    }
    const label = document.createElementNS(SVG, "text");
    label.setAttribute("x", "2");
    label.setAttribute("y", "10");
    label.setAttribute("fill", "#8b98a8");
    label.setAttribute("font-size", "9");
    label.textContent = `max ${top.toFixed(series.length > 1 ? 1 : 0)}`;
    svg.append(label);
  }

  // Sessions: every gateway's figures (GET /admin/v1/gateways), sampled into a history.

  async function refreshGateways() {
    const figures = await api("GET", "/admin/v1/gateways");
    const now = Date.now();
    sessionHistory.push({ t: now, sessions: figures.sessions_online, logins: figures.logins_last_minute });
    while (sessionHistory.length && sessionHistory[0].t < now - HISTORY_MS) sessionHistory.shift();
    $("sessions-online").textContent = String(figures.sessions_online);
    $("logins-per-min").textContent = String(figures.logins_last_minute);
    $("gateway-count").textContent = String(figures.gateways.length);
    drawLines($("sessions-chart"), sessionHistory, [["sessions", "waiting"], ["logins", "p95"]]);
    $("gateways").replaceChildren(...figures.gateways.map((g) => {
      const tr = el("tr", { "data-gateway": g.gateway_id });
      tr.append(el("td", {}, g.gateway_id), el("td", {}, g.sessions_online), el("td", {}, g.logins_last_minute));
      return tr;
    }));
  }

  // Supervisor restarts: from /metrics (`gameserver up` writes them for every process).

  async function refreshRestarts() {
    const response = await fetch("/metrics", {
      headers: { Authorization: `Bearer ${adminKey}` }, cache: "no-store", credentials: "omit",
    });
    if (!response.ok) throw new ApiError(`GET /metrics: ${response.status}`);
    const samples = parseMetrics(await response.text())
      .filter((s) => s.name === "gameserver_supervisor_restarts_total");
    $("restarts").textContent = samples.length
      ? samples.map((s) => `${s.labels.process}: ${s.value}`).join(", ")
      : "n/a (not run under gameserver up)";
  }

  function parseMetrics(text) {
    const samples = [];
    for (const line of text.split("\n")) {
      if (!line || line.startsWith("#")) continue;
      const match = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
      if (!match) continue;
      const labels = {};
      if (match[2]) {
        for (const pair of match[2].slice(1, -1).matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[pair[1]] = pair[2];
      }
      samples.push({ name: match[1], labels, value: Number(match[3]) });
    }
    return samples;
  }

  // The cluster.

  async function refreshCluster() {
    const { nodes } = await api("GET", "/admin/v1/cluster");
    const rows = nodes.map((n) => {
      const tr = el("tr", { "data-node": n.address });
      const slots = n.slots.map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`)).join(" ") || "–";
      const lag = n.role === "replica"
        ? `${n.repl_lag_bytes ?? "–"} B${n.repl_lag_s != null ? ` / ${n.repl_lag_s} s` : ""}` : "";
      tr.append(el("td", {}, n.address), el("td", {}, n.role), el("td", {}, slots),
        el("td", {}, n.used_memory == null ? "–" : `${(n.used_memory / 1048576).toFixed(1)} MiB`),
        el("td", {}, n.ops_per_s ?? "–"), el("td", {}, n.repl_offset ?? "–"), el("td", {}, lag),
        el("td", { class: n.up ? "up" : "down" }, n.up ? "up" : "down"));
      return tr;
    });
    $("cluster").replaceChildren(...rows);
  }

  // Actions.

  const NUMBER_FIELDS = ["min_score", "max_score", "max_step", "writes_per_minute", "start_at",
    "end_at", "max_players", "max_attempts", "sub_boards", "retention_s", "on_period_end_top"];

  $("create-board").addEventListener("submit", (event) => {
    event.preventDefault();
    const data = new FormData(event.target);
    const body = { name: String(data.get("name")).trim(), order: data.get("order"),
      operator: data.get("operator"), reset: data.get("reset"),
      client_writes: data.has("client_writes"), join_required: data.has("join_required") };
    for (const name of NUMBER_FIELDS) {
      if (data.get(name) !== "") body[name] = Number(data.get(name));
    }
    const webhook = String(data.get("on_period_end")).trim();
    if (webhook !== "") body.on_period_end = webhook;
    act(async () => {
      await api("POST", "/admin/v1/boards", body);
      await refreshBoards();
      return `board ${body.name} created`;
    });
  });

  $("reset-board").addEventListener("submit", (event) => {
    event.preventDefault();
    const name = event.target.board.value.trim();
    act(async () => {
      await api("POST", `/admin/v1/boards/${encodeURIComponent(name)}/reset`);
      await refreshBoards();
      return `board ${name} reset`;
    });
  });

  $("remove-player").addEventListener("submit", (event) => {
    event.preventDefault();
    const board = event.target.board.value.trim();
    const player = event.target.player.value.trim();
    act(async () => {
      await api("DELETE", `/admin/v1/boards/${encodeURIComponent(board)}/players/${encodeURIComponent(player)}`);
      return `${player} removed from ${board}`;
    });
  });

  $("player-actions").addEventListener("submit", (event) => {
    event.preventDefault();
    const form = event.target;
    const action = event.submitter ? event.submitter.value : "lookup";
    const player = form.player.value.trim();
    const path = `/admin/v1/players/${encodeURIComponent(player)}`;
    act(async () => {
      let done = `looked up ${player}`;
      if (action === "kick") {
        await api("DELETE", `${path}/session`);
        done = `${player} kicked`;
      } else if (action === "ban") {
        const body = { reason: form.reason.value || null,
          until: form.until.value === "" ? null : Number(form.until.value) };
        await api("POST", `${path}/ban`, body);
        done = `${player} banned`;
      } else if (action === "unban") {
        await api("DELETE", `${path}/ban`);
        done = `${player} unbanned`;
      }
      await lookUp(player);
      return done;
    });
  });

  async function lookUp(player) {
    const path = `/admin/v1/players/${encodeURIComponent(player)}`;
    const view = await api("GET", path);
    let exported = null;
    try { exported = await api("GET", `${path}/export`); } catch (err) { exported = { error: err.message }; }
    $("player-view").hidden = false;
    $("player-id").textContent = player;
    const ban = view.ban ? `banned ${view.ban.until ? "until " + new Date(view.ban.until * 1000).toISOString() : "until lifted"}` +
      `${view.ban.reason ? " (" + view.ban.reason + ")" : ""}` : "not banned";
    const session = view.session ? `${view.session.connected ? "connected" : "idle"} session ${view.session.id || ""}` : "offline";
    const rows = [["ban", ban], ["session", session],
      ["account", view.account ? (view.account.display_name || "(no display name)") : "none"],
      ["rating", view.rating ? `mu ${view.rating.mu.toFixed(2)} σ ${view.rating.sigma.toFixed(2)}` : "–"],
      ["boards", (view.boards || []).map((b) => `${b.board} #${b.rank} (${b.score})`).join(", ") || "none"]];
    const summary = $("player-summary");
    summary.replaceChildren();
    for (const [term, value] of rows) summary.append(el("dt", {}, term), el("dd", { "data-field": term }, value));
    $("player-export").textContent = JSON.stringify(exported, null, 2);
  }

  async function act(task) {
    showResult("");
    try {
      showResult(await task());
    } catch (err) {
      showError(err);
    }
  }
})();
