// Starts a real `gameserver up` from this checkout for the tests, and stops it by pid.

import { spawn, execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { randomBytes } from "node:crypto";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const READY_TIMEOUT_MS = 60_000;
const RESTART_ATTEMPTS = 25;

/** The Python of the repo's .venv, or GAMESERVER_PYTHON. */
export function python() {
  if (process.env.GAMESERVER_PYTHON) {
    return process.env.GAMESERVER_PYTHON;
  }
  const venv = join(REPO, ".venv", "bin", "python");
  if (existsSync(venv)) {
    return venv;
  }
  throw new Error(`no Python for gameserver: set GAMESERVER_PYTHON or create ${venv}`);
}

export function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
  });
}

function freeValkeyBasePort(py) {
  const code = "from gameserver.embedded import find_free_base_port; print(find_free_base_port())";
  return Number(execFileSync(py, ["-c", code], { cwd: REPO, encoding: "utf8" }).trim());
}

/**
 * A running `gameserver up` on free ports with a temporary data dir.
 * `env` adds variables (e.g. GAMESERVER_SESSION_TTL_S); `restart()` stops it and starts
 * it again on the same ports and data; `stop()` ends it and removes the data dir.
 */
export async function startServer(env = {}) {
  const py = python();
  const port = await freePort();
  const valkeyPort = freeValkeyBasePort(py);
  const dataDir = mkdtempSync(join(tmpdir(), "gameserver-sdk-"));
  const adminKey = randomBytes(24).toString("hex");
  const childEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith("GAMESERVER_") && !key.startsWith("VALKEY_")) {
      childEnv[key] = value;
    }
  }
  Object.assign(childEnv, { GAMESERVER_ADMIN_KEY: adminKey }, env);
  const args = ["-m", "gameserver", "up", "--port", String(port)];
  args.push("--valkey-port", String(valkeyPort), "--data-dir", dataDir);

  let child = null;
  let output = "";

  async function launch() {
    output = "";
    child = spawn(py, args, { cwd: REPO, env: childEnv, stdio: ["ignore", "pipe", "pipe"] });
    const started = child;
    await new Promise((ready, fail) => {
      const timer = setTimeout(() => {
        fail(new Error(`gameserver up did not say it was up in time:\n${output}`));
      }, READY_TIMEOUT_MS);
      const onData = (chunk) => {
        output += chunk.toString();
        // The banner's last line: the cluster, the gateway and the worker all run. The admin
        // key is ours (GAMESERVER_ADMIN_KEY), so `up` does not print it.
        if (/^Ctrl-C stops everything/m.test(output)) {
          clearTimeout(timer);
          ready();
        }
      };
      started.stdout.on("data", onData);
      started.stderr.on("data", onData);
      started.once("exit", (code) => {
        clearTimeout(timer);
        fail(new Error(`gameserver up exited with ${code}:\n${output}`));
      });
    });
  }

  async function halt() {
    const running = child;
    child = null;
    if (running === null || running.exitCode !== null) {
      return;
    }
    const exited = new Promise((done) => running.once("exit", done));
    running.kill("SIGTERM");
    const timer = setTimeout(() => running.kill("SIGKILL"), 30_000);
    await exited;
    clearTimeout(timer);
  }

  await launch();
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    adminKey,
    get output() {
      return output;
    },
    /** Calls the admin API; resolves with the response. */
    admin(method, path, body) {
      const headers = { authorization: `Bearer ${adminKey}` };
      if (body !== undefined) {
        headers["content-type"] = "application/json";
      }
      return fetch(url + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    },
    /** Stops the server, waits `downMs`, and starts it again on the same ports and data. */
    async restart(downMs = 0) {
      await halt();
      await new Promise((wait) => setTimeout(wait, downMs));
      // A port of the stopped cluster can stay taken for a while (a connection still
      // closing on a bus port): `up` then refuses to start, and a later try succeeds.
      for (let attempt = 1; ; attempt += 1) {
        try {
          await launch();
          return;
        } catch (error) {
          if (attempt >= RESTART_ATTEMPTS || !/is in use/.test(String(error.message))) {
            throw error;
          }
          await new Promise((wait) => setTimeout(wait, 3000));
        }
      }
    },
    async stop() {
      await halt();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
