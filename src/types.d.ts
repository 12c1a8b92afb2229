// Bun imports files as text when asked (`with { type: "text" }`); they are embedded in the compiled binary.
declare module "*.txt" {
  const text: string;
  export default text;
}
declare module "*.html" {
  const text: string;
  export default text;
}
// ... and as a path to the embedded file (`with { type: "file" }`), read with Bun.file: the share card's renderer
// and fonts (src/audio/card.ts).
declare module "*.wasm" {
  const path: string;
  export default path;
}
declare module "*.ttf" {
  const path: string;
  export default path;
}
// ... and the bundled ffmpeg and ffprobe, embedded by the one-executable release that scripts/bench/release.ts
// measures (README "The single binary").
declare module "*/ffmpeg" {
  const path: string;
  export default path;
}
declare module "*/ffprobe" {
  const path: string;
  export default path;
}
