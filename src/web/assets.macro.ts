// A Bun macro: runs when the server's code is transpiled (at `bun src/index.ts` start and at `bun build --compile`)
// and inlines the browser's script and stylesheet as strings, so the single binary carries them and needs no files
// beside it (docs/architecture.md "Web app"). Bun.build cannot run inside a macro (the bundler waits on the macro),
// so the macro runs the `bun build` command of the same Bun binary.
import { join } from "node:path";

function build(entry: string, extra: string[] = []): string {
  const result = Bun.spawnSync([process.execPath, "build", join(import.meta.dir, "client", entry), "--minify", ...extra], {
    env: { ...process.env, NODE_ENV: "production" },
  });
  if (result.exitCode !== 0) throw new Error(`bundling ${entry} failed:\n${result.stderr.toString()}`);
  return result.stdout.toString();
}

/** The client bundle (src/web/client/main.ts, ES module for browsers) and the stylesheet (app.css), minified. */
export function clientAssets(): { js: string; css: string } {
  return { js: build("main.ts", ["--target=browser", "--format=esm"]), css: build("app.css") };
}
