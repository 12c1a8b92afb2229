// docs/architecture.md "Where things start" is the map a newcomer reads to find the code behind a behaviour; these
// checks fail when the code grows something the map does not name: a job type, a file that schedules repeating
// work, a CLI command.
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { JOB_HANDLERS } from "../src/app.ts";
import { USAGE } from "../src/cli.ts";
import type { Deps } from "../src/deps.ts";
import { SEND_MAIL } from "../src/integrations/mailer.ts";
import { BACKUP_JOB } from "../src/backup/schedule.ts";

const ROOT = join(import.meta.dir, "..");
const architecture = readFileSync(join(ROOT, "docs/architecture.md"), "utf8");
const section = architecture.slice(
  architecture.indexOf("\n## Where things start\n"),
  architecture.indexOf("\n## ", architecture.indexOf("\n## Where things start\n") + 1),
);

/** The source files under src/ (tests excluded). */
const sources = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith(".ts") && !e.name.endsWith(".test.ts") ? [join(dir, e.name)] : [],
  );

describe("docs/architecture.md, Where things start", () => {
  test("the section exists", () => {
    expect(section.length).toBeGreaterThan(100);
  });

  test("each entry of JOB_HANDLERS registers the job type it is listed under", () => {
    for (const [type, register] of Object.entries(JOB_HANDLERS)) {
      const registered: string[] = [];
      const deps = {
        // Enough configuration for every handler to register (the Stream mirror only registers when configured).
        config: { FFMPEG_TIMEOUT_MS: 1000, STREAM_API_KEY: "key", STREAM_API_SECRET: "secret" },
        jobs: { register: (name: string) => void registered.push(name) },
      } as unknown as Deps;
      register(deps);
      expect(registered).toEqual([type]);
    }
  });

  test("it names every job type", () => {
    for (const type of [...Object.keys(JOB_HANDLERS), SEND_MAIL, BACKUP_JOB]) expect(section).toContain(`\`${type}\``);
  });

  test("it names every file that schedules repeating work", () => {
    // src/web/client/ is the browser's script: its timers run in the page, not in the server.
    const scheduling = sources(join(ROOT, "src"))
      .filter((file) => !relative(ROOT, file).startsWith("src/web/client/"))
      .filter((file) => /(?<![.\w]|function )(?:setInterval|every)\(/.test(readFileSync(file, "utf8")))
      .map((file) => relative(ROOT, file));
    expect(scheduling.length).toBeGreaterThan(0);
    for (const file of scheduling) expect(section).toContain(`\`${file}\``);
  });

  test("it names every CLI command", () => {
    const commands = [...USAGE.matchAll(/^\s+sidechain (\w+(?: \w+)?)/gm)].map((m) => m[1]!.replace(/ --?\w.*$/, ""));
    expect(commands).toContain("mail list");
    for (const command of commands) expect(section).toContain(`sidechain ${command}`);
  });
});
