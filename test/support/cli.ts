// `sidechain <args>` in process, on a server's DATA_DIR (a second set of deps, like a second process): the owner's
// commands as the tests run them; exit code and what was printed.
import { runCli } from "../../src/cli.ts";
import { loadConfig } from "../../src/config.ts";
import { buildDeps } from "../../src/index.ts";

export async function sidechain(env: Record<string, string>, ...args: string[]) {
  return sidechainWithInput(env, null, ...args);
}

/** The same with `stdin` as the line a command reads (the owner's password), or no standard input (null). */
export async function sidechainWithInput(env: Record<string, string>, stdin: string | null, ...args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const io = {
    out: (l: string) => void out.push(l),
    err: (l: string) => void err.push(l),
    ...(stdin === null ? {} : { readLine: async () => stdin }),
  };
  const tools = { buildDeps: (e: Record<string, string | undefined>) => buildDeps(loadConfig({ ...e, LOG_LEVEL: "error" })) };
  const code = await runCli(args, env, io, tools);
  return { code, out: out.join("\n"), err: err.join("\n") };
}
