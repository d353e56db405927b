export { GameClient } from "./client.js";
export type { CallOptions, ClientOptions, ClientState, ReconnectOptions } from "./client.js";
export {
  DisconnectedError,
  GameServerError,
  RequestTimeoutError,
  errorFromWire,
} from "./errors.js";
export type { ErrorCode } from "./errors.js";
export {
  DEVICE_ID_KEY,
  MemoryStorage,
  deviceIdFrom,
  isValidDeviceId,
  newDeviceId,
} from "./storage.js";
export type { KeyValueStorage } from "./storage.js";
export { socketUrl } from "./transport.js";
export type { SocketConstructor, SocketLike } from "./transport.js";
export type * from "./types.js";
