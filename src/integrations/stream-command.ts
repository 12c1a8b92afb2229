// `sidechain stream status|backfill` (README "Stream.io mirror"). Same configuration as the server; may run while
// the server runs. `backfill` sends in the foreground what the server's stream-backfill job would, from where the
// backfill stands (both may run at once: every call is an upsert, so the work is only repeated, never wrong).
import type { CliTools } from "../admin/cli.ts";
import { ConfigError } from "../config.ts";
import { errorMessage } from "../log.ts";
import { streamClient } from "./stream.ts";
import { type BackfillState, currentBackfill, describeBackfill, readBackfill, runBackfill, streamStatus } from "./stream-backfill.ts";

export const STREAM_USAGE = `  sidechain stream status            where the Stream.io backfill stands, and the mirror jobs waiting or failed
  sidechain stream backfill [--restart]
                                     send what existed before Stream.io was on (users, loops, follows, reactions),
                                     resuming where the backfill stopped; --restart sends everything again`;

type Output = { out(line: string): void; err(line: string): void };
type Env = Record<string, string | undefined>;

export async function streamCommand(args: string[], env: Env, io: Output, tools: CliTools): Promise<number> {
  const [sub, ...rest] = args;
  const usage = (problem: string) => (io.err(`sidechain stream: ${problem}\n\nUsage:\n${STREAM_USAGE}`), 2);
  if (sub !== "status" && sub !== "backfill") return usage(`unknown subcommand "${sub ?? ""}"`);
  const unknown = rest.find((a) => !(sub === "backfill" && a === "--restart"));
  if (unknown) return usage(`unknown option "${unknown}"`);
  let deps: Awaited<ReturnType<CliTools["buildDeps"]>>;
  try {
    deps = await tools.buildDeps(env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    io.err(`sidechain: ${err.message}`);
    return 2;
  }
  try {
    const client = streamClient(deps.config);
    if (!client) {
      io.err('sidechain stream: Stream.io is off here: set STREAM_API_KEY and STREAM_API_SECRET (README "Stream.io mirror")');
      return 2;
    }
    if (sub === "status") {
      const { backfill, jobs } = await streamStatus(deps);
      io.out(`Backfill: ${backfill}`);
      io.out(`Mirror jobs: ${jobs}`);
      return 0;
    }
    const restart = rest.includes("--restart");
    const state = await currentBackfill(deps, { restart });
    if (state?.phase === "done") {
      io.out(`The backfill is already done (${describeBackfill(state)}). --restart sends everything again.`);
      return 0;
    }
    io.out(restart ? "Sending everything to Stream.io again." : `Backfill: ${describeBackfill(state!)}`);
    let shown = 0;
    let phase: BackfillState["phase"] = state!.phase;
    try {
      const done = await runBackfill(deps, client, {
        onProgress: (s) => {
          // A line a second, and one whenever a phase ends.
          if (s.phase === phase && performance.now() - shown < 1000) return;
          shown = performance.now();
          phase = s.phase;
          if (s.phase !== "done") io.out(`  ${describeBackfill(s)}`);
        },
      });
      io.out(`Backfill ${describeBackfill(done)}`);
      return 0;
    } catch (err) {
      const now = await readBackfill(deps);
      io.err(`sidechain stream backfill: stopped: ${errorMessage(err)}`);
      io.err(`Nothing sent is lost: run it again to resume (${now ? describeBackfill(now) : "from the start"}).`);
      return 1;
    }
  } finally {
    await deps.close();
  }
}
