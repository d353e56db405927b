// Where a client keeps its device id: any get/set store the caller passes.

import { GameServerError } from "./errors.js";

/** A key-value store; `localStorage` fits as is, and so does `new MemoryStorage()`. */
export interface KeyValueStorage {
  getItem(key: string): string | null | undefined | Promise<string | null | undefined>;
  setItem(key: string, value: string): void | Promise<void>;
}

/** A store that lives as long as the process (tests, servers, bots). */
export class MemoryStorage implements KeyValueStorage {
  private readonly values = new Map<string, string>();

  getItem(key: string): string | null {
    return this.values.get(key) ?? null;
  }

  setItem(key: string, value: string): void {
    this.values.set(key, value);
  }
}

export const DEVICE_ID_KEY = "gameserver.device_id";

const DEVICE_ID_PATTERN = /^[A-Za-z0-9_.:-]{16,128}$/;

/** A new device id: 32 random bytes from the platform's CSPRNG, as 64 hex characters. */
export function newDeviceId(): string {
  const bytes = new Uint8Array(32);
  globalThis.crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function isValidDeviceId(value: string): boolean {
  return DEVICE_ID_PATTERN.test(value);
}

/** The device id kept in `storage`, made and stored on first use. A kept value that is
 * not a valid device id is refused (`bad_request`) and left as it is: replacing it would
 * silently log the player into a new account. */
export async function deviceIdFrom(storage: KeyValueStorage, key = DEVICE_ID_KEY): Promise<string> {
  const kept = await storage.getItem(key);
  if (typeof kept === "string" && kept !== "") {
    if (!isValidDeviceId(kept)) {
      throw new GameServerError(
        "bad_request",
        `the device id kept under ${key} is not 16 to 128 of A-Z a-z 0-9 _ . : -`,
        { op: "loginDevice" },
      );
    }
    return kept;
  }
  const made = newDeviceId();
  await storage.setItem(key, made);
  return made;
}
