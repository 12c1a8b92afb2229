// A Bun macro: runs at bundle/transpile time and inlines the SQL migrations from drizzle/ into the code, so the
// compiled binary carries them and needs no drizzle/ folder next to it.
import { readMigrationFiles } from "drizzle-orm/migrator";
import { join } from "node:path";

export function embeddedMigrations() {
  return readMigrationFiles({ migrationsFolder: join(import.meta.dir, "../../drizzle") });
}
