// The game client: HTTP logins, the game socket, typed ops and pushes, reconnects.

import { Emitter } from "./emitter.js";
import { DisconnectedError, GameServerError, RequestTimeoutError, errorFromWire } from "./errors.js";
import { DEVICE_ID_KEY, type KeyValueStorage, MemoryStorage, deviceIdFrom } from "./storage.js";
import {
  OPEN,
  type SocketConstructor,
  type SocketLike,
  defaultSocketConstructor,
  frameText,
  socketUrl,
} from "./transport.js";
import type {
  Account,
  BoardListResult,
  ClientEvents,
  DisconnectEvent,
  EntriesResult,
  JoinBoardResult,
  JsonObject,
  LinkCredential,
  LoginOptions,
  MatchExpiredEvent,
  MatchFoundEvent,
  MatchJoinResult,
  MatchProperties,
  MatchStatusResult,
  PartyCreateResult,
  PartyInfo,
  PingResult,
  PresenceResult,
  RankResult,
  Session,
  SessionValuesResult,
  SubmitResult,
  SubscribeResult,
  TopResult,
  UnlinkCredential,
} from "./types.js";

export interface ReconnectOptions {
  /** false: a dropped socket stays closed. Default true. */
  enabled?: boolean;
  /** First delay; each further attempt doubles it up to `maxDelayMs`. Default 500. */
  initialDelayMs?: number;
  /** Default 15000. */
  maxDelayMs?: number;
  /** Attempts in a row before the client gives up and emits `closed`. Default 50. */
  maxAttempts?: number;
}

export interface ClientOptions {
  /** The server's base URL, e.g. `http://127.0.0.1:8000` (the socket URL follows from it). */
  url: string;
  /** Where the device id is kept (e.g. `localStorage`). Default: in memory only. */
  storage?: KeyValueStorage;
  /** The storage key of the device id. Default `gameserver.device_id`. */
  deviceIdKey?: string;
  /** The deployment's client key (`GAMESERVER_CLIENT_KEY`), if it sets one. */
  clientKey?: string;
  /** Per-call timeout of socket ops. Default 10000. */
  requestTimeoutMs?: number;
  reconnect?: ReconnectOptions;
  /** How often to `ping`. Default: a third of the session's `expires_in`. */
  keepaliveIntervalMs?: number;
  /** A WebSocket constructor; default the global one, or `ws` in Node 20. */
  WebSocket?: SocketConstructor;
  /** A fetch function; default the global one. */
  fetch?: typeof fetch;
}

export interface CallOptions {
  /** This call's timeout instead of the client's `requestTimeoutMs`. */
  timeoutMs?: number;
}

export type ClientState = "idle" | "connecting" | "open" | "reconnecting" | "closed";

/** Close codes after which the client does not reconnect (docs/protocol.md, close codes). */
const FINAL_CLOSE_CODES: ReadonlySet<number> = new Set([1000, 4403, 4409]);
const CLOSE_BAD_TOKEN = 4401;

interface Pending {
  op: string;
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

type Credential =
  | { device_id: string }
  | { provider: string; id_token: string | (() => Promise<string>) };

/** A game client for one player: log in, `connect()`, then call ops and listen to pushes. */
export class GameClient extends Emitter<ClientEvents> {
  readonly url: string;
  private readonly options: ClientOptions;
  private readonly storage: KeyValueStorage;
  private readonly fetchImpl: typeof fetch;
  private socketConstructor: SocketConstructor | undefined;

  private currentSession: Session | null = null;
  private credential: Credential | null = null;
  private loginOptions: LoginOptions = {};

  private socket: SocketLike | null = null;
  private nextRequestId = 0;
  private readonly pending = new Map<string, Pending>();
  private readonly subscriptions = new Map<string, number>();
  private readonly lastRanks = new Map<string, number | null>();
  /** Tickets queued here and not yet matched, expired or cancelled: checked on reconnect. */
  private readonly liveTickets = new Set<string>();
  /** Tickets whose match was told from `match.status`: their late push is dropped. */
  private readonly toldTickets = new Set<string>();

  private currentState: ClientState = "idle";
  private stopping = false;
  private reconnectAttempt = 0;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private keepaliveTimer: ReturnType<typeof setInterval> | undefined;

  constructor(options: ClientOptions) {
    super();
    this.options = options;
    this.url = options.url;
    this.storage = options.storage ?? new MemoryStorage();
    this.fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.socketConstructor = options.WebSocket;
  }

  /** The session of the last login, or null. */
  get session(): Session | null {
    return this.currentSession;
  }

  get playerId(): string | null {
    return this.currentSession?.player_id ?? null;
  }

  get state(): ClientState {
    return this.currentState;
  }

  /** The boards this client watches (re-subscribed after each reconnect), with their `top`. */
  get subscribedBoards(): ReadonlyMap<string, number> {
    return this.subscriptions;
  }

  // --- Logins ---------------------------------------------------------------------

  /** Logs in with this device's id, made once and kept in the client's storage. */
  async loginDevice(options: LoginOptions = {}): Promise<Session> {
    const deviceId = await deviceIdFrom(this.storage, this.options.deviceIdKey ?? DEVICE_ID_KEY);
    return this.login({ device_id: deviceId }, options);
  }

  /**
   * Logs in with an identity token of a configured provider. Pass a function to get a
   * fresh token for each login (the client logs in again when its session is gone).
   */
  async loginProvider(
    provider: string,
    idToken: string | (() => Promise<string>),
    options: LoginOptions = {},
  ): Promise<Session> {
    return this.login({ provider, id_token: idToken }, options);
  }

  /**
   * Uses a session made elsewhere (e.g. a trusted server's `POST /admin/v1/sessions`).
   * Without a credential, the client cannot log in again once that session is gone.
   */
  useSession(session: Session): void {
    this.credential = null;
    this.currentSession = session;
  }

  private async login(credential: Credential, options: LoginOptions): Promise<Session> {
    this.credential = credential;
    this.loginOptions = options;
    this.currentSession = await this.postSession(credential, options);
    return this.currentSession;
  }

  private async postSession(credential: Credential, options: LoginOptions): Promise<Session> {
    const body: Record<string, unknown> = {};
    if ("device_id" in credential) {
      body.device_id = credential.device_id;
    } else {
      body.provider = credential.provider;
      body.id_token =
        typeof credential.id_token === "function" ? await credential.id_token() : credential.id_token;
    }
    if (options.displayName !== undefined) {
      body.display_name = options.displayName;
    }
    if (options.region !== undefined) {
      body.region = options.region;
    }
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (this.options.clientKey !== undefined) {
      headers.authorization = `Bearer ${this.options.clientKey}`;
    }
    let response: Response;
    try {
      response = await this.fetchImpl(new URL("/v1/sessions", this.url).toString(), {
        method: "POST",
        headers,
        body: JSON.stringify(body),
      });
    } catch (error) {
      throw new DisconnectedError("POST /v1/sessions", undefined, `the server could not be reached (${error})`);
    }
    const payload = (await response.json().catch(() => ({}))) as Record<string, unknown>;
    if (!response.ok) {
      throw errorFromWire(payload.error, { op: "POST /v1/sessions", status: response.status });
    }
    return payload as unknown as Session;
  }

  // --- The socket -------------------------------------------------------------------

  /** Opens the game socket with the session of the last login; resolves once it answers. */
  async connect(): Promise<void> {
    if (this.currentSession === null) {
      throw new Error("GameClient.connect() needs a session: call loginDevice() first");
    }
    if (this.currentState !== "idle" && this.currentState !== "closed") {
      throw new Error(`GameClient.connect() while ${this.currentState}`);
    }
    this.stopping = false;
    this.reconnectAttempt = 0;
    this.currentState = "connecting";
    try {
      await this.establish(false);
    } catch (error) {
      this.currentState = "closed";
      throw error;
    }
  }

  /** Closes the socket for good: no reconnect; pending calls fail as `disconnected`. */
  close(): void {
    if (this.stopping && this.currentState === "closed") {
      return;
    }
    this.stopping = true;
    clearTimeout(this.reconnectTimer);
    this.stopKeepalive();
    const socket = this.socket;
    this.socket = null;
    if (socket !== null) {
      socket.onclose = null;
      socket.onmessage = null;
      socket.close(1000, "client closed");
    }
    this.failPending(1000);
    this.finish({ code: 1000, reason: "client closed", willReconnect: false });
  }

  /** Sends `op` with `fields` and resolves with the reply's result fields. While the
   * client reconnects, the call waits for the socket within its timeout. */
  request<T>(op: string, fields: object = {}, options: CallOptions = {}): Promise<T> {
    const timeoutMs = options.timeoutMs ?? this.options.requestTimeoutMs ?? 10_000;
    const socket = this.socket;
    if (socket !== null && socket.readyState === OPEN) {
      return this.send<T>(socket, op, fields, timeoutMs);
    }
    if (this.currentState !== "reconnecting") {
      return Promise.reject(new DisconnectedError(op));
    }
    const started = Date.now();
    return this.reopened(op, timeoutMs).then(() => {
      const left = Math.max(1, timeoutMs - (Date.now() - started));
      return this.request<T>(op, fields, { timeoutMs: left });
    });
  }

  /** Resolves once the client is open again (boards subscribed again), rejects when it
   * closes for good or after `timeoutMs`. */
  private reopened(op: string, timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const settle = (error?: Error) => {
        clearTimeout(timer);
        stopOpen();
        stopClosed();
        if (error === undefined) {
          resolve();
        } else {
          reject(error);
        }
      };
      const timer = setTimeout(() => settle(new RequestTimeoutError(op, timeoutMs)), timeoutMs);
      const stopOpen = this.on("open", () => settle());
      const stopClosed = this.on("closed", () => settle(new DisconnectedError(op)));
    });
  }

  private send<T>(socket: SocketLike, op: string, fields: object, timeoutMs: number): Promise<T> {
    this.nextRequestId += 1;
    const id = `r${this.nextRequestId}`;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new RequestTimeoutError(op, timeoutMs));
      }, timeoutMs);
      this.pending.set(id, { op, resolve: resolve as (value: unknown) => void, reject, timer });
      try {
        socket.send(JSON.stringify({ ...fields, op, id }));
      } catch {
        clearTimeout(timer);
        this.pending.delete(id);
        reject(new DisconnectedError(op));
      }
    });
  }

  private async establish(reconnected: boolean): Promise<void> {
    let relogged = false;
    try {
      await this.openOnce();
    } catch (error) {
      // The session is gone (it idled out, or the server lost it): log in again, once.
      const gone = error instanceof DisconnectedError && error.closeCode === CLOSE_BAD_TOKEN;
      if (!gone || this.credential === null) {
        throw error;
      }
      this.currentSession = await this.postSession(this.credential, this.loginOptions);
      relogged = true;
      await this.openOnce();
    }
    this.reconnectAttempt = 0;
    this.currentState = "open";
    this.startKeepalive();
    const socket = this.socket;
    if (reconnected) {
      await this.resubscribe();
      await this.recheckTickets();
    }
    if (this.socket !== socket || socket === null) {
      // It closed again while re-subscribing; its close has already been handled.
      return;
    }
    this.emit("open", { reconnected, relogged, session: this.currentSession as Session });
  }

  private async openSocket(url: string): Promise<SocketLike> {
    if (this.socketConstructor === undefined) {
      this.socketConstructor = await defaultSocketConstructor();
    }
    return new this.socketConstructor(url);
  }

  /** One socket, open and answering a `ping`; rejects with the close code otherwise. */
  private async openOnce(): Promise<void> {
    const session = this.currentSession as Session;
    const socket = await this.openSocket(socketUrl(this.url, session.token));
    if (this.stopping) {
      socket.close(1000);
      throw new DisconnectedError("connect", 1000);
    }
    this.socket = socket;
    await new Promise<void>((resolve, reject) => {
      let settled = false;
      socket.onopen = () => {
        this.request<PingResult>("ping").then(
          () => {
            if (!settled) {
              settled = true;
              resolve();
            }
          },
          (error: Error) => {
            if (!settled) {
              settled = true;
              reject(error);
            }
          },
        );
      };
      socket.onmessage = (event) => this.onFrame(frameText(event.data));
      // A close event follows every error; it decides what happens next.
      socket.onerror = () => undefined;
      socket.onclose = (event) => {
        if (this.socket === socket) {
          this.socket = null;
        }
        this.failPending(event.code);
        if (!settled) {
          settled = true;
          reject(new DisconnectedError("connect", event.code));
          return;
        }
        this.onClosed(event.code, event.reason);
      };
    });
  }

  private onClosed(code: number, reason: string): void {
    this.stopKeepalive();
    const willReconnect =
      !this.stopping && !FINAL_CLOSE_CODES.has(code) && this.options.reconnect?.enabled !== false;
    this.emit("disconnect", { code, reason, willReconnect });
    if (willReconnect) {
      this.scheduleReconnect(code, reason);
    } else {
      this.finish({ code, reason, willReconnect: false });
    }
  }

  private scheduleReconnect(code: number, reason: string): void {
    const settings = this.options.reconnect ?? {};
    const maxAttempts = settings.maxAttempts ?? 50;
    this.reconnectAttempt += 1;
    if (this.reconnectAttempt > maxAttempts) {
      this.finish({ code, reason: `gave up after ${maxAttempts} reconnects`, willReconnect: false });
      return;
    }
    this.currentState = "reconnecting";
    const initial = settings.initialDelayMs ?? 500;
    const ceiling = Math.min(settings.maxDelayMs ?? 15_000, initial * 2 ** (this.reconnectAttempt - 1));
    // "Equal jitter": half the delay fixed, half random, so clients dropped together
    // by one gateway do not all come back in the same instant.
    const delayMs = Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
    this.emit("reconnecting", { attempt: this.reconnectAttempt, delayMs });
    this.reconnectTimer = setTimeout(() => {
      if (this.stopping) {
        return;
      }
      this.establish(true).catch((error: unknown) => {
        if (this.stopping) {
          return;
        }
        // A gone session (4401) with no credential to log in again never comes back.
        const noLogin =
          this.credential === null &&
          error instanceof DisconnectedError &&
          error.closeCode === CLOSE_BAD_TOKEN;
        if (isFinal(error) || noLogin) {
          this.emit("error", error as Error);
          const closeCode = error instanceof DisconnectedError ? (error.closeCode ?? code) : code;
          this.finish({ code: closeCode, reason: (error as Error).message, willReconnect: false });
          return;
        }
        this.scheduleReconnect(code, reason);
      });
    }, delayMs);
  }

  private async resubscribe(): Promise<void> {
    for (const [board, top] of [...this.subscriptions]) {
      try {
        const reply = await this.request<SubscribeResult>("board.subscribe", { board, top });
        const known = this.lastRanks.get(board);
        this.lastRanks.set(board, reply.rank);
        if (known !== undefined && known !== reply.rank) {
          // Pushes missed while away: tell the rank that holds now.
          this.emit("rank.changed", {
            event: "rank.changed",
            board,
            rank: reply.rank,
            previous_rank: known,
            score: null,
          });
        }
      } catch (error) {
        if (error instanceof GameServerError && error.code === "not_found") {
          this.subscriptions.delete(board);
        }
        this.emit("error", error as Error);
      }
    }
  }

  /** A `match.found` or `match.expired` pushed while the socket was down is lost: ask
   * each ticket still waiting here for its state, and tell what happened. */
  private async recheckTickets(): Promise<void> {
    for (const ticket of [...this.liveTickets]) {
      let status: MatchStatusResult;
      try {
        status = await this.request<MatchStatusResult>("match.status", { ticket });
      } catch (error) {
        if (!(error instanceof RequestTimeoutError) && !(error instanceof DisconnectedError)) {
          this.liveTickets.delete(ticket); // refused: not a ticket to watch any more
        }
        this.emit("error", error as Error);
        continue;
      }
      if (!this.liveTickets.has(ticket) || status.state === "searching") {
        continue; // its push came first, or it still waits
      }
      this.liveTickets.delete(ticket);
      if (status.state === "matched" && status.match_id !== undefined) {
        this.toldTickets.add(ticket);
        const found: MatchFoundEvent = {
          event: "match.found",
          match_id: status.match_id,
          queue: status.queue ?? "",
          teams: status.teams ?? [],
          ticket,
          server: status.server ?? null,
          backfill: false,
        };
        this.emit("push", found as unknown as { event: string } & JsonObject);
        this.emit("match.found", found);
      } else if (status.state === "expired") {
        const expired: MatchExpiredEvent = { event: "match.expired", ticket };
        this.emit("push", expired as unknown as { event: string } & JsonObject);
        this.emit("match.expired", expired);
      }
    }
  }

  private finish(event: DisconnectEvent): void {
    if (this.currentState === "closed") {
      return;
    }
    this.currentState = "closed";
    this.stopping = true;
    clearTimeout(this.reconnectTimer);
    this.stopKeepalive();
    this.emit("closed", event);
  }

  private startKeepalive(): void {
    this.stopKeepalive();
    const expiresIn = this.currentSession?.expires_in ?? 60;
    const interval = this.options.keepaliveIntervalMs ?? Math.max(1000, (expiresIn * 1000) / 3);
    this.keepaliveTimer = setInterval(() => {
      const socket = this.socket;
      this.ping().catch((error: unknown) => {
        // No answer in time: the connection is dead; drop it so a reconnect starts.
        if (error instanceof RequestTimeoutError && socket !== null && this.socket === socket) {
          const terminate = (socket as { terminate?: () => void }).terminate;
          if (typeof terminate === "function") {
            terminate.call(socket);
          } else {
            socket.close(4000, "keepalive timeout");
          }
        }
      });
    }, interval);
    (this.keepaliveTimer as { unref?: () => void }).unref?.();
  }

  private stopKeepalive(): void {
    clearInterval(this.keepaliveTimer);
    this.keepaliveTimer = undefined;
  }

  private failPending(closeCode: number): void {
    for (const [id, call] of this.pending) {
      clearTimeout(call.timer);
      this.pending.delete(id);
      call.reject(new DisconnectedError(call.op, closeCode));
    }
  }

  private onFrame(text: string): void {
    let message: Record<string, unknown>;
    try {
      message = JSON.parse(text) as Record<string, unknown>;
    } catch {
      this.emit("error", new Error("the server sent a frame that is not JSON"));
      return;
    }
    if (typeof message.event === "string") {
      this.onPush(message as { event: string } & JsonObject);
      return;
    }
    const id = typeof message.id === "string" ? message.id : undefined;
    const call = id === undefined ? undefined : this.pending.get(id);
    if (id === undefined || call === undefined) {
      if (message.ok === false) {
        this.emit("error", errorFromWire(message.error));
      }
      return;
    }
    clearTimeout(call.timer);
    this.pending.delete(id);
    if (message.ok === true) {
      const { ok: _ok, id: _id, ...result } = message;
      call.resolve(result);
    } else {
      call.reject(errorFromWire(message.error, { op: call.op }));
    }
  }

  private onPush(message: { event: string } & JsonObject): void {
    if (message.event === "rank.changed" && typeof message.board === "string") {
      this.lastRanks.set(message.board, message.rank as number | null);
    }
    if ((message.event === "match.found" || message.event === "match.expired") && typeof message.ticket === "string") {
      this.liveTickets.delete(message.ticket);
      if (this.toldTickets.delete(message.ticket)) {
        return; // told already, from match.status after a reconnect
      }
    }
    if (message.event === "session.replaced" || message.event === "session.kicked") {
      // The close (4409 or 4403) follows; nothing should try to come back.
      this.stopping = true;
    }
    this.emit("push", message);
    this.emit(message.event as keyof ClientEvents, message as never);
  }

  // --- Leaderboards -----------------------------------------------------------------

  submitScore(
    board: string,
    score: number,
    options: { metadata?: JsonObject; requestId?: string } & CallOptions = {},
  ): Promise<SubmitResult> {
    const fields = { board, score, metadata: options.metadata, request_id: options.requestId };
    return this.request("score.submit", fields, options);
  }

  boardTop(
    board: string,
    options: { limit?: number; cursor?: string } & CallOptions = {},
  ): Promise<TopResult> {
    return this.request("board.top", { board, limit: options.limit, cursor: options.cursor }, options);
  }

  boardAround(
    board: string,
    options: { playerId?: string; radius?: number } & CallOptions = {},
  ): Promise<EntriesResult> {
    const fields = { board, player_id: options.playerId, radius: options.radius };
    return this.request("board.around", fields, options);
  }

  /** A player's rank (yours by default); `not_found` if they have no entry. */
  boardRank(board: string, options: { playerId?: string } & CallOptions = {}): Promise<RankResult> {
    return this.request("board.rank", { board, player_id: options.playerId }, options);
  }

  boardPlayers(board: string, playerIds: string[], options: CallOptions = {}): Promise<EntriesResult> {
    return this.request("board.players", { board, player_ids: playerIds }, options);
  }

  /** Watches a board: `rank.changed` for you, `board.top` for its first `top` entries. */
  async subscribe(
    board: string,
    options: { top?: number } & CallOptions = {},
  ): Promise<SubscribeResult> {
    const top = options.top ?? 10;
    const reply = await this.request<SubscribeResult>("board.subscribe", { board, top }, options);
    this.subscriptions.set(board, top);
    this.lastRanks.set(board, reply.rank);
    return reply;
  }

  async unsubscribe(board: string, options: CallOptions = {}): Promise<void> {
    this.subscriptions.delete(board);
    this.lastRanks.delete(board);
    await this.request("board.unsubscribe", { board }, options);
  }

  listBoards(options: CallOptions = {}): Promise<BoardListResult> {
    return this.request("board.list", {}, options);
  }

  joinBoard(board: string, options: CallOptions = {}): Promise<JoinBoardResult> {
    return this.request("board.join", { board }, options);
  }

  // --- Matchmaking ------------------------------------------------------------------

  /** Queues you (or, with `partyId`, the party you lead); `match.found` follows. */
  async matchJoin(
    queue: string,
    options: { partyId?: string; properties?: MatchProperties } & CallOptions = {},
  ): Promise<MatchJoinResult> {
    const fields = { queue, party_id: options.partyId, properties: options.properties };
    const reply = await this.request<MatchJoinResult>("match.join", fields, options);
    this.liveTickets.add(reply.ticket);
    return reply;
  }

  async matchCancel(ticket: string, options: CallOptions = {}): Promise<void> {
    await this.request("match.cancel", { ticket }, options);
    this.liveTickets.delete(ticket);
  }

  matchStatus(ticket: string, options: CallOptions = {}): Promise<MatchStatusResult> {
    return this.request("match.status", { ticket }, options);
  }

  // --- Parties ----------------------------------------------------------------------

  partyCreate(options: CallOptions = {}): Promise<PartyCreateResult> {
    return this.request("party.create", {}, options);
  }

  async partyInvite(partyId: string, playerId: string, options: CallOptions = {}): Promise<void> {
    await this.request("party.invite", { party_id: partyId, player_id: playerId }, options);
  }

  async partyAccept(partyId: string, options: CallOptions = {}): Promise<void> {
    await this.request("party.accept", { party_id: partyId }, options);
  }

  async partyDecline(partyId: string, options: CallOptions = {}): Promise<void> {
    await this.request("party.decline", { party_id: partyId }, options);
  }

  async partyLeave(partyId: string, options: CallOptions = {}): Promise<void> {
    await this.request("party.leave", { party_id: partyId }, options);
  }

  async partyKick(partyId: string, playerId: string, options: CallOptions = {}): Promise<void> {
    await this.request("party.kick", { party_id: partyId, player_id: playerId }, options);
  }

  partyGet(partyId: string, options: CallOptions = {}): Promise<PartyInfo> {
    return this.request("party.get", { party_id: partyId }, options);
  }

  // --- Accounts ---------------------------------------------------------------------

  accountGet(options: CallOptions = {}): Promise<Account> {
    return this.request("account.get", {}, options);
  }

  accountUpdate(displayName: string, options: CallOptions = {}): Promise<Account> {
    return this.request("account.update", { display_name: displayName }, options);
  }

  accountLink(credential: LinkCredential, options: CallOptions = {}): Promise<Account> {
    return this.request("account.link", credential, options);
  }

  accountUnlink(credential: UnlinkCredential, options: CallOptions = {}): Promise<Account> {
    return this.request("account.unlink", credential, options);
  }

  /** Ends the session at once (its token is refused from then on); no reconnect. While
   * the client reconnects, the logout waits for the socket like any call; whatever its
   * outcome, the client is closed afterwards. */
  async logout(options: CallOptions = {}): Promise<void> {
    try {
      await this.request("session.logout", {}, options);
    } finally {
      this.currentSession = null;
      this.close();
    }
  }

  // --- Sessions and presence --------------------------------------------------------

  ping(options: CallOptions = {}): Promise<PingResult> {
    return this.request("ping", {}, options);
  }

  async sessionSet(values: JsonObject, options: CallOptions = {}): Promise<void> {
    await this.request("session.set", { values }, options);
  }

  sessionGet(keys?: string[], options: CallOptions = {}): Promise<SessionValuesResult> {
    return this.request("session.get", { keys }, options);
  }

  presenceGet(playerIds: string[], options: CallOptions = {}): Promise<PresenceResult> {
    return this.request("presence.get", { player_ids: playerIds }, options);
  }
}

/** Whether a failed reconnect should stop trying (refused login, kicked, replaced). */
function isFinal(error: unknown): boolean {
  if (error instanceof DisconnectedError) {
    return error.closeCode !== undefined && FINAL_CLOSE_CODES.has(error.closeCode);
  }
  if (error instanceof GameServerError && error.status !== undefined) {
    return error.status === 400 || error.status === 401 || error.status === 403;
  }
  return false;
}
