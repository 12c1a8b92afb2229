// `sidechain relay <community URL> [--port N]`: runs the relay (src/relay/relay.ts) until SIGINT or SIGTERM.
// Needs none of the server's configuration (no DATA_DIR, no database): a producer runs it with one argument.
import type { Logger } from "../deps.ts";
import { createLogger } from "../log.ts";
import { DEFAULT_RELAY_PORT, RelayError, startRelay } from "./relay.ts";

const RELAY_HELP = `let the plugin (which only knows http://localhost:${DEFAULT_RELAY_PORT}) use the community server at URL`;
export const RELAY_USAGE = `  sidechain relay <URL> [--port N]   ${RELAY_HELP}`;

type Output = { out(line: string): void; err(line: string): void };

/** Reads `<URL> [--port N]`; a string is what was wrong. */
function parseArgs(args: string[]): { url: string; port: number } | string {
  let url: string | undefined;
  let port = DEFAULT_RELAY_PORT;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const value = arg.startsWith("--port=") ? arg.slice("--port=".length) : arg === "--port" ? (args[++i] ?? "") : undefined;
    if (value !== undefined) {
      if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 65535) return `--port wants a port number from 1 to 65535, not "${value}"`;
      port = Number(value);
    } else if (arg.startsWith("-")) return `unknown option "${arg}"`;
    else if (url === undefined) url = arg;
    else return `give one community URL, not "${url}" and "${arg}"`;
  }
  return url === undefined ? "give the community server's URL, like: sidechain relay https://loops.example.com" : { url, port };
}

/** Until one of these signals arrives. */
function signalled(): Promise<string> {
  return new Promise((resolve) => {
    for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => resolve(signal));
  });
}

/**
 * Runs the relay until `until` settles (by default SIGINT or SIGTERM) and returns the exit code: 0 after a clean
 * stop, 2 for bad arguments, 1 when it cannot start (the port is taken, the URL is not http(s)).
 */
export async function relayCommand(args: string[], io: Output, opts: { until?: Promise<unknown>; log?: Logger; port?: number } = {}): Promise<number> {
  const parsed = parseArgs(args);
  if (typeof parsed === "string") {
    io.err(`sidechain relay: ${parsed}\n\nUsage:\n${RELAY_USAGE}`);
    return 2;
  }
  let relay: Awaited<ReturnType<typeof startRelay>>;
  try {
    relay = await startRelay({ upstream: parsed.url, port: opts.port ?? parsed.port, log: opts.log ?? createLogger("info") });
  } catch (err) {
    if (err instanceof RelayError) {
      io.err(`sidechain relay: cannot start: ${err.message}`);
      return 1;
    }
    throw err;
  }
  io.out(
    `Relaying ${relay.urls.join(" and ")} (localhost:${relay.port}) to ${relay.upstream.base}. Leave this running while you use the plugin; Ctrl+C stops it.`,
  );
  await (opts.until ?? signalled());
  await relay.stop();
  return 0;
}
