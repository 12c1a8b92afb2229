// `sidechain <args>` in process, on a server's DATA_DIR (a second set of deps, like a second process): the owner's
// commands as the tests run them; exit code and what was printed.
import { runCli } from "../../src/cli.ts";
import { loadConfig } from "../../src/config.ts";
import { buildDeps } from "../../src/index.ts";

export async function sidechain(env: Record<string, string>, ...args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const io = { out: (l: string) => void out.push(l), err: (l: string) => void err.push(l) };
  const tools = { buildDeps: (e: Record<string, string | undefined>) => buildDeps(loadConfig({ ...e, LOG_LEVEL: "error" })) };
  const code = await runCli(args, env, io, tools);
  return { code, out: out.join("\n"), err: err.join("\n") };
}
