// `npm run lint`'s second half: Biome formats to 160 columns but leaves long strings and comments alone, so this
// fails on any line in src/ longer than the configured width (biome.json formatter.lineWidth), counted in
// characters. Written here because Biome has no line-length rule.
import { Glob } from "bun";
import { join } from "node:path";

const root = join(import.meta.dir, "..");
const width: number = (await Bun.file(join(root, "biome.json")).json()).formatter.lineWidth;
const long: string[] = [];
for await (const file of new Glob("src/**/*.{ts,tsx}").scan(root)) {
  const lines = (await Bun.file(join(root, file)).text()).split("\n");
  lines.forEach((line, i) => {
    if ([...line].length > width) long.push(`${file}:${i + 1}: ${[...line].length} characters`);
  });
}
if (long.length) {
  console.error(`Lines over ${width} characters (biome.json formatter.lineWidth):\n${long.join("\n")}`);
  process.exit(1);
}
console.log(`no line in src/ over ${width} characters`);
