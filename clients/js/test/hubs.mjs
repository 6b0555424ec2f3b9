// What the Node suites share: real hubs started from TICKERHUB_BIN_DIR, the `ws` package, waiting.
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { once } from "node:events";

export const WebSocket = createRequire(import.meta.url)("ws");   // require() honours NODE_PATH; import does not
const BIN_DIR = process.env.TICKERHUB_BIN_DIR || new URL("../../../.build/debug", import.meta.url).pathname;
export const sleep = ms => new Promise(r => setTimeout(r, ms));

/** Polls `condition` every 50 ms until it holds or `timeoutMs` passes; returns whether it held. */
export async function eventually(condition, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) { if (condition()) return true; await sleep(50); }
  return condition();
}

export async function freePort() {
  const server = createServer().listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address();
  server.close();
  return port;
}

/** A tickerhub process on `port` (0: any), with `url` and `http` set once it listens, and `stop()`. */
export async function startHub(args, port = 0) {
  const hub = spawn(`${BIN_DIR}/tickerhub`, ["--port", String(port), ...args], { stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  hub.stderr.setEncoding("utf8");
  const bound = new Promise((resolve, reject) => {
    hub.stderr.on("data", chunk => {
      log += chunk;
      const match = log.match(/address=127\.0\.0\.1:(\d+)/);
      if (match) resolve(Number(match[1]));
    });
    hub.on("exit", code => reject(new Error(`tickerhub exited with ${code}: ${log}`)));
  });
  hub.port = await bound;
  hub.url = `ws://127.0.0.1:${hub.port}/ws`;
  hub.http = `http://127.0.0.1:${hub.port}`;
  hub.stop = async () => { if (hub.exitCode === null) { hub.kill("SIGTERM"); await once(hub, "exit"); } };
  return hub;
}

export function collect(client, event = "update") {
  const seen = [];
  client.on(event, u => seen.push(u));
  return seen;
}
