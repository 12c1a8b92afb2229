// The database schema (drizzle). `npm run db:generate` turns changes here into a new SQL migration in drizzle/.
// Conventions (shared/DESIGN.md "Data rules"): ids are our own ULID-like strings, timestamps are integer ms.
import { integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

/** Facts about this installation (e.g. its id), written once at first start. */
export const meta = sqliteTable("meta", {
  key: text("key").primaryKey(),
  value: text("value").notNull(),
  updatedAt: integer("updated_at").notNull(),
});
