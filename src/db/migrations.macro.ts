// A Bun macro: runs at bundle/transpile time and inlines the SQL migrations from drizzle/ into the code, so the
// compiled binary carries them and needs no drizzle/ folder next to it. Each carries its journal tag (its file
// name, e.g. "0026_stories"), which names it in messages and in the backup taken before an upgrade.
import { readFileSync } from "node:fs";
import { readMigrationFiles } from "drizzle-orm/migrator";
import { join } from "node:path";

export function embeddedMigrations() {
  const folder = join(import.meta.dir, "../../drizzle");
  const journal = JSON.parse(readFileSync(join(folder, "meta/_journal.json"), "utf8")) as { entries: { tag: string }[] };
  // readMigrationFiles reads the journal's entries in order, one migration each.
  return readMigrationFiles({ migrationsFolder: folder }).map((m, i) => ({ ...m, tag: journal.entries[i]!.tag }));
}
