import { defineConfig } from "drizzle-kit";

// Only used by `npm run db:generate` (drizzle-kit generate): turns src/db/schema.ts into SQL migrations in
// drizzle/. The server never reads this file; it applies the generated migrations embedded in the binary.
export default defineConfig({
  dialect: "sqlite",
  schema: "./src/db/schema.ts",
  out: "./drizzle",
});
