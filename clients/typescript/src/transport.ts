// The WebSocket the client uses: the platform's where there is one, `ws` in Node 20.

/** The part of the WebSocket API the client needs (browser WebSocket and `ws` both fit). */
export interface SocketLike {
  readonly readyState: number;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export type SocketConstructor = new (url: string) => SocketLike;

export const OPEN = 1;

let cached: SocketConstructor | undefined;

/** The global WebSocket, or the `ws` package's where there is none (Node before 22). */
export async function defaultSocketConstructor(): Promise<SocketConstructor> {
  if (cached !== undefined) {
    return cached;
  }
  const global = (globalThis as { WebSocket?: unknown }).WebSocket;
  if (typeof global === "function") {
    cached = global as SocketConstructor;
    return cached;
  }
  // A variable specifier keeps browsers' module loaders from resolving `ws` up front.
  const name = "ws";
  const module = (await import(name)) as { WebSocket?: unknown; default?: unknown };
  cached = (module.WebSocket ?? module.default) as SocketConstructor;
  return cached;
}

/** The game socket's URL for an http(s) base URL. */
export function socketUrl(baseUrl: string, token: string): string {
  const url = new URL("/v1/ws", baseUrl);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  url.searchParams.set("token", token);
  return url.toString();
}

export function frameText(data: unknown): string {
  if (typeof data === "string") {
    return data;
  }
  if (data instanceof ArrayBuffer) {
    return new TextDecoder().decode(data);
  }
  if (ArrayBuffer.isView(data)) {
    return new TextDecoder().decode(data);
  }
  return String(data);
}
