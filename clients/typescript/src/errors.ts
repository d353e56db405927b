// Errors as typed exceptions that carry the contract's `code`.

/** The error codes of the contract, plus two that only the client raises. */
export type ErrorCode =
  | "bad_request"
  | "unauthorized"
  | "forbidden"
  | "not_found"
  | "conflict"
  | "rate_limited"
  | "unavailable"
  | "internal"
  // Client side: no reply within the call's timeout, or the socket closed first.
  | "timeout"
  | "disconnected";

/** A refused request: the server's `error` object (or a client-side failure). */
export class GameServerError extends Error {
  readonly code: ErrorCode;
  /** The op or HTTP path that failed. */
  readonly op: string | undefined;
  /** HTTP status for login failures; undefined on the socket. */
  readonly status: number | undefined;
  /** The whole `error` object, e.g. `banned_until` and `reason` of a banned login. */
  readonly details: Record<string, unknown>;

  constructor(
    code: ErrorCode,
    message: string,
    options: { op?: string; status?: number; details?: Record<string, unknown> } = {},
  ) {
    super(message);
    this.name = "GameServerError";
    this.code = code;
    this.op = options.op;
    this.status = options.status;
    this.details = options.details ?? {};
  }
}

/** No reply within the call's timeout; the request may still have been applied. */
export class RequestTimeoutError extends GameServerError {
  constructor(op: string, timeoutMs: number) {
    super("timeout", `${op}: no reply within ${timeoutMs} ms`, { op });
    this.name = "RequestTimeoutError";
  }
}

/** The socket closed (or was not open) before the reply came. */
export class DisconnectedError extends GameServerError {
  readonly closeCode: number | undefined;

  constructor(op: string, closeCode?: number, message = "the game socket is not open") {
    super("disconnected", `${op}: ${message}`, { op });
    this.name = "DisconnectedError";
    this.closeCode = closeCode;
  }
}

const KNOWN: ReadonlySet<string> = new Set([
  "bad_request",
  "unauthorized",
  "forbidden",
  "not_found",
  "conflict",
  "rate_limited",
  "unavailable",
  "internal",
]);

/** The error of a reply or an HTTP body; an unknown code reads as `internal`. */
export function errorFromWire(
  raw: unknown,
  options: { op?: string; status?: number } = {},
): GameServerError {
  const error = (typeof raw === "object" && raw !== null ? raw : {}) as Record<string, unknown>;
  const code = typeof error.code === "string" && KNOWN.has(error.code) ? error.code : "internal";
  const message = typeof error.message === "string" ? error.message : String(error.code ?? "error");
  return new GameServerError(code as ErrorCode, message, { ...options, details: error });
}
