// The README's configuration table is the operator's reference: every variable the server reads is in a row
// there (a row may name several), with its default when it has one.
import { expect, test } from "bun:test";
import { EnvSchema } from "../src/config.ts";

test("every config variable is in the README's table, with its default", async () => {
  const readme = await Bun.file(new URL("../README.md", import.meta.url)).text();
  const rows = new Map<string, string>();
  for (const line of readme.split("\n")) {
    const m = /^\| (`[A-Z0-9_]+`(?:, `[A-Z0-9_]+`)*) \| ([^|]*) \|/.exec(line);
    if (m) for (const name of m[1]!.matchAll(/`([A-Z0-9_]+)`/g)) rows.set(name[1]!, m[2]!);
  }
  const documented = (row: string, value: unknown) =>
    row.includes(`\`${String(value)}\``) ||
    (value === "" && row.startsWith("none")) ||
    (value === Math.max(1, navigator.hardwareConcurrency || 2) && row.includes("number of cores")); // computed from the machine
  const problems: string[] = [];
  for (const [name, schema] of Object.entries(EnvSchema.properties as Record<string, { default?: unknown }>)) {
    const row = rows.get(name);
    if (row === undefined) problems.push(`${name}: no row`);
    else if (schema.default !== undefined && !documented(row, schema.default))
      problems.push(`${name}: default ${JSON.stringify(schema.default)} not in "${row.trim()}"`);
  }
  expect(problems).toEqual([]);
});
