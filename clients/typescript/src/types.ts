// The shapes of wire contract v2: replies of every op and every server push.

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** The answer of `POST /v1/sessions` (and of the admin login of a trusted server). */
export interface Session {
  token: string;
  session_id: string;
  player_id: string;
  /** Seconds a session lives without any message on its socket. */
  expires_in: number;
  /** Whether this login created the account. */
  created: boolean;
}

export interface LoginOptions {
  /** Used only when the login creates the account. */
  displayName?: string;
  region?: string;
}

// --- Leaderboards ---------------------------------------------------------------

export interface Entry {
  rank: number;
  player_id: string;
  display_name: string | null;
  score: number;
  metadata?: JsonObject | null;
}

export interface SubmitResult {
  board: string;
  score: number;
  rank: number;
  previous_rank: number | null;
}

export interface TopResult {
  entries: Entry[];
  next_cursor: string | null;
}

export interface EntriesResult {
  entries: Entry[];
}

export interface RankResult {
  player_id?: string;
  rank: number;
  score: number;
}

export interface SubscribeResult {
  rank: number | null;
}

export type BoardOrder = "desc" | "asc";
export type BoardOperator = "best" | "set" | "incr" | "decr";
export type BoardReset = "never" | "daily" | "weekly" | "monthly";

export interface BoardInfo {
  name: string;
  order: BoardOrder;
  operator: BoardOperator;
  reset: BoardReset;
  period: string;
  period_ends_at: number | null;
  start_at: number | null;
  end_at: number | null;
  players: number;
  max_players: number | null;
  joined: boolean;
  join_required?: boolean;
}

export interface BoardListResult {
  boards: BoardInfo[];
}

export interface JoinBoardResult {
  board: string;
  players: number;
  joined: boolean;
}

// --- Matchmaking ----------------------------------------------------------------

export interface MatchProperties {
  region?: string;
  /** Region to round-trip milliseconds. */
  latency?: Record<string, number>;
  /** The string values a queue matches on (its `match_on`), e.g. `mode`, `map`. */
  [key: string]: JsonValue | undefined;
}

export interface MatchJoinResult {
  ticket: string;
}

export type TicketState = "searching" | "matched" | "cancelled" | "expired";

export interface MatchStatusResult {
  state: TicketState;
  /** Once `matched`: the match as `match.found` told it (for a player offline then). */
  match_id?: string;
  queue?: string;
  teams?: string[][];
  server?: MatchServer | null;
}

/** What a queue's allocator returned for a match, e.g. `{address, port, token}`. */
export type MatchServer = { address?: string; port?: number; token?: string } & JsonObject;

// --- Parties --------------------------------------------------------------------

export interface PartyCreateResult {
  party_id: string;
}

export interface PartyInfo {
  party_id: string;
  leader: string;
  members: string[];
  invited: string[];
}

// --- Accounts, sessions, presence -------------------------------------------------

export type AccountLink = { kind: "device" } | { kind: "provider"; provider: string };

export interface Account {
  player_id: string;
  display_name: string | null;
  created_at: number;
  links: AccountLink[];
}

export type LinkCredential = { device_id: string } | { provider: string; id_token: string };
export type UnlinkCredential = { kind: "device" } | { kind: "provider"; provider: string };

export interface PingResult {
  /** Unix milliseconds. */
  server_time: number;
}

export interface SessionValuesResult {
  values: JsonObject;
}

export type Presence = "online" | "offline" | "in_match";

export interface PresenceResult {
  players: Record<string, Presence>;
}

// --- Pushes ---------------------------------------------------------------------

interface PushBase {
  /** Server time of the push, Unix milliseconds. */
  ts?: number;
}

export interface RankChangedEvent extends PushBase {
  event: "rank.changed";
  board: string;
  /** null when the entry was removed, the board reset or deleted. */
  rank: number | null;
  previous_rank: number | null;
  score: number | null;
}

export interface BoardTopEvent extends PushBase {
  event: "board.top";
  board: string;
  entries: Entry[];
}

export interface BoardPeriodEndedEvent extends PushBase {
  event: "board.period_ended";
  board: string;
  period: string;
  rank: number | null;
  score: number | null;
}

export interface MatchFoundEvent extends PushBase {
  event: "match.found";
  match_id: string;
  queue: string;
  teams: string[][];
  ticket: string;
  /** What the queue's allocator returned, or null without one (absent on older servers). */
  server?: MatchServer | null;
  /** True for players added to a running match. */
  backfill?: boolean;
  properties?: JsonObject;
}

export interface MatchExpiredEvent extends PushBase {
  event: "match.expired";
  ticket: string;
}

export interface PartyInvitedEvent extends PushBase {
  event: "party.invited";
  party_id: string;
  from: string;
}

export interface PartyUpdatedEvent extends PushBase {
  event: "party.updated";
  party_id: string;
  leader: string | null;
  members: string[];
  invited?: string[];
}

export interface SessionReplacedEvent extends PushBase {
  event: "session.replaced";
}

export interface SessionKickedEvent extends PushBase {
  event: "session.kicked";
}

export type PushEvent =
  | RankChangedEvent
  | BoardTopEvent
  | BoardPeriodEndedEvent
  | MatchFoundEvent
  | MatchExpiredEvent
  | PartyInvitedEvent
  | PartyUpdatedEvent
  | SessionReplacedEvent
  | SessionKickedEvent;

// --- Connection lifecycle ---------------------------------------------------------

export interface OpenEvent {
  /** True when this open follows a reconnect. */
  reconnected: boolean;
  /** True when the session was gone and the client logged in again (a new session). */
  relogged: boolean;
  session: Session;
}

export interface DisconnectEvent {
  code: number;
  reason: string;
  /** Whether the client will try again (false after 4403, 4409, logout or `close()`). */
  willReconnect: boolean;
}

export interface ReconnectingEvent {
  attempt: number;
  delayMs: number;
}

export interface ClientEvents {
  "rank.changed": RankChangedEvent;
  "board.top": BoardTopEvent;
  "board.period_ended": BoardPeriodEndedEvent;
  "match.found": MatchFoundEvent;
  "match.expired": MatchExpiredEvent;
  "party.invited": PartyInvitedEvent;
  "party.updated": PartyUpdatedEvent;
  "session.replaced": SessionReplacedEvent;
  "session.kicked": SessionKickedEvent;
  /** Any push, including ones this version does not name. */
  push: { event: string } & JsonObject;
  open: OpenEvent;
  disconnect: DisconnectEvent;
  reconnecting: ReconnectingEvent;
  /** The client is done: `close()`, logout, a kick, a ban, a replacement, or reconnects ran out. */
  closed: DisconnectEvent;
  /** A failure the client handled itself (a failed re-login, a re-subscribe refused). */
  error: Error;
}
