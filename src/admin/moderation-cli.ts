// The reports queue and the audit log from the command line (README "Reports"), so an owner with no browser can work
// the queue: `sidechain report list [--closed] [--limit N]`, `sidechain report resolve ID --action A [--note TEXT]`
// and `sidechain audit [--limit N]`. Same services as the /admin pages and the admin API (src/admin/reports.ts,
// src/admin/audit.ts); a resolution is audited with the actor `cli`. Exit codes as the other owner's commands:
// 0 done, 1 refused (printed why), 2 usage.
import { ApiError } from "../http/errors.ts";
import { CLI_ACTOR, listAudit } from "./audit.ts";
import { type CliIo, type CliTools, limitFlag, parseFlags } from "./cli.ts";
import { listReports, REPORT_ACTIONS, type ReportAction, resolveReport } from "./reports.ts";

export const MODERATION_USAGE = `  sidechain report list [--closed] [--limit N]
                                     open reports, oldest first (--closed: the closed ones)
  sidechain report resolve ID --action ${REPORT_ACTIONS.join("|")} [--note TEXT]
                                     close a report (the note is required except to dismiss; the producer is told)
  sidechain audit [--limit N]        what staff did, newest first`;

const RESOLVE_FLAGS = new Set(["--action", "--note"]);
const LIST_FLAGS = new Set(["--limit"]);
const CLOSED = new Set(["--closed"]);
const NONE = new Set<string>();

const when = (ms: number | null) => (ms === null ? "" : new Date(ms).toISOString().replace("T", " ").slice(0, 16));

/** `sidechain report ...` and `sidechain audit ...`: the exit code. */
export async function moderationCli(
  command: "report" | "audit",
  args: string[],
  env: Record<string, string | undefined>,
  io: CliIo,
  tools: CliTools,
): Promise<number> {
  const sub = command === "report" ? args[0] : undefined;
  const name = command === "report" ? `report ${sub ?? ""}` : "audit";
  const usage = (problem: string) => (io.err(`sidechain ${name}: ${problem}\n\n${MODERATION_USAGE}`), 2);
  if (command === "report" && sub !== "list" && sub !== "resolve") return usage(`unknown subcommand "${sub ?? ""}"`);
  const p = parseFlags(command === "report" ? args.slice(1) : args, sub === "resolve" ? RESOLVE_FLAGS : LIST_FLAGS, sub === "list" ? CLOSED : NONE);
  if (typeof p === "string") return usage(p);
  const limit = limitFlag(p, 50, 1000);
  if (typeof limit === "string") return usage(limit);
  if (sub === "resolve") {
    if (p.positional.length !== 1) return usage("name one report by its id (see `sidechain report list`)");
    const action = p.values.get("--action");
    if (!action || !(REPORT_ACTIONS as readonly string[]).includes(action)) return usage(`--action is one of ${REPORT_ACTIONS.join(", ")}`);
  } else if (p.positional.length) return usage(`unexpected "${p.positional[0]}"`);

  const deps = await tools.buildDeps(env);
  try {
    if (command === "audit") {
      const rows = await listAudit(deps, { limit });
      if (!rows.length) io.out("Nothing in the audit log yet.");
      for (const r of rows) {
        const target = r.targetLabel ? `${r.targetType} ${r.targetLabel}` : `${r.targetType} ${r.targetId}`;
        io.out(`${when(r.createdAt)}  ${r.actor.padEnd(16)} ${r.action.padEnd(18)} ${target}${r.reason ? `: ${r.reason}` : ""}`);
      }
      return 0;
    }
    if (sub === "list") {
      const rows = await listReports(deps, { status: p.switches.has("--closed") ? "closed" : "open", limit });
      if (!rows.length) io.out(p.switches.has("--closed") ? "No closed reports." : "No open reports.");
      for (const r of rows) {
        const about = r.targetType === "post" ? `loop "${r.targetLabel}"` : `${r.targetType === "user" ? "account" : r.targetType} ${r.targetLabel}`;
        const outcome = r.status === "closed" ? `  → ${r.resolution} by ${r.resolvedBy}${r.resolutionNote ? `: ${r.resolutionNote}` : ""}` : "";
        io.out(`${r.id}  ${when(r.createdAt)}  ${about}  ${r.reason}${r.note ? `: ${r.note.replaceAll("\n", " ")}` : ""}${outcome}`);
      }
      return 0;
    }
    const closed = await resolveReport(deps, CLI_ACTOR, p.positional[0]!, p.values.get("--action") as ReportAction, p.values.get("--note") ?? "");
    io.out(`Report ${closed.id} closed: ${closed.resolution}.`);
    return 0;
  } catch (err) {
    if (err instanceof ApiError) {
      const fields = err.fields ? ` (${Object.values(err.fields).join("; ")})` : "";
      io.err(`sidechain ${name}: ${err.message}${fields}`);
      return 1;
    }
    throw err;
  } finally {
    await deps.close({ graceMs: 1000 });
  }
}
