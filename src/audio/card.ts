// The share card (docs/architecture.md "Share cards"): the 1200×630 PNG a loop's link unfurls into on Discord,
// forums and social sites (og:image, twitter:image, the oEmbed thumbnail). It shows the waveform, the title, the
// producer and the loop's facts, drawn by the loop's job from the peaks it computed.
//
// Why resvg (@resvg/resvg-wasm) and DejaVu Sans (dejavu-fonts-ttf): text needs real glyphs, shaping and
// anti-aliasing, which a hand-written PNG encoder (png.ts) cannot give without a font engine of our own. The card is
// an SVG (a template with every value escaped, lib/xml.ts) that resvg rasterises; resvg's WebAssembly build has no
// native part and reads only the font buffers it is handed (no system fonts), so the card looks the same on every
// machine. The wasm and the two fonts are embedded in the binary (imports `with { type: "file" }`) and loaded once,
// when the first card is drawn.
import { initWasm, Resvg } from "@resvg/resvg-wasm";
import wasmPath from "@resvg/resvg-wasm/index_bg.wasm" with { type: "file" };
import boldPath from "dejavu-fonts-ttf/ttf/DejaVuSans-Bold.ttf" with { type: "file" };
import regularPath from "dejavu-fonts-ttf/ttf/DejaVuSans.ttf" with { type: "file" };
import { type Xml, xml } from "../lib/xml.ts";

export const CARD_SIZE = { width: 1200, height: 630 } as const;

export interface CardInput {
  title: string;
  /** The producer's username, drawn as "@name". */
  username: string;
  /** The producer's display name, drawn before the username when set. */
  displayName?: string;
  /** "8 bars", "92 BPM", "A minor": drawn joined by " · ". */
  facts: string[];
  /** The instance's name, in the corner. */
  site: string;
  peaks: readonly number[];
}

const FONT = "DejaVu Sans";
const COLORS = { background: "#111318", panel: "#1b1730", text: "#f3f2f8", muted: "#a9a6bd", accent: "#9d87ff", wave: "#b4a6ff" };
const MARGIN = 72;
const TITLE_SIZE = 60;
const TEXT_WIDTH = CARD_SIZE.width - 2 * MARGIN;

let ready: Promise<Uint8Array[]> | null = null;
/** The wasm started and the fonts read, once per process. */
function engine(): Promise<Uint8Array[]> {
  ready ??= (async () => {
    await initWasm(Bun.file(wasmPath).arrayBuffer());
    return Promise.all([regularPath, boldPath].map(async (p) => new Uint8Array(await Bun.file(p).arrayBuffer())));
  })();
  ready.catch(() => (ready = null));
  return ready;
}

const options = (fontBuffers: Uint8Array[]) => ({
  font: { fontBuffers, defaultFontFamily: FONT, sansSerifFamily: FONT },
  fitTo: { mode: "original" as const },
});

const svg = (body: Xml) =>
  xml`<svg xmlns="http://www.w3.org/2000/svg" width="${CARD_SIZE.width}" height="${CARD_SIZE.height}"
 viewBox="0 0 ${CARD_SIZE.width} ${CARD_SIZE.height}">${body}</svg>`.text;

const text = (s: string, size: number, weight: "bold" | "normal", y: number, fill: string) =>
  xml`<text x="${MARGIN}" y="${y}" font-family="${FONT}" font-size="${size}" font-weight="${weight}" fill="${fill}">${s}</text>`;

/** How wide `s` is drawn, in pixels (resvg lays the text out; nothing is rasterised). */
function measure(fonts: Uint8Array[], s: string, size: number, weight: "bold" | "normal"): number {
  const r = new Resvg(svg(text(s, size, weight, size, "#000")), options(fonts));
  try {
    return r.getBBox()?.width ?? 0;
  } finally {
    r.free();
  }
}

/** `s` cut at a word or character with "…" so it fits `width` (binary search over its code points). */
function fit(fonts: Uint8Array[], s: string, size: number, weight: "bold" | "normal", width: number): string {
  if (measure(fonts, s, size, weight) <= width) return s;
  const chars = [...s];
  let lo = 0,
    hi = chars.length;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (measure(fonts, `${chars.slice(0, mid).join("").trimEnd()}…`, size, weight) <= width) lo = mid;
    else hi = mid - 1;
  }
  return `${chars.slice(0, lo).join("").trimEnd()}…`;
}

/** `s` in at most `lines` lines that fit `width`: broken between words (inside a word only when one word is wider
 *  than a line), the last line cut with "…" when the text does not end there. */
function wrap(fonts: Uint8Array[], s: string, size: number, width: number, lines: number): string[] {
  const out: string[] = [];
  let rest = s;
  while (rest && out.length < lines - 1) {
    if (measure(fonts, rest, size, "bold") <= width) break;
    const words = rest.split(" ");
    let n = 0;
    while (n < words.length && measure(fonts, words.slice(0, n + 1).join(" "), size, "bold") <= width) n++;
    if (n === 0) {
      // One word wider than the line: as many of its characters as fit.
      const line = fit(fonts, words[0]!, size, "bold", width).replace(/…$/, "");
      out.push(line);
      rest = rest.slice(line.length).trimStart();
    } else {
      out.push(words.slice(0, n).join(" "));
      rest = words.slice(n).join(" ");
    }
  }
  if (rest) out.push(fit(fonts, rest, size, "bold", width));
  return out;
}

/** The waveform as bars across the card's lower half, mirrored around its middle line. */
function waveform(peaks: readonly number[], top: number, height: number): Xml {
  const bars = 120;
  const step = TEXT_WIDTH / bars;
  const mid = top + height / 2;
  const n = peaks.length;
  const rects: Xml[] = [];
  for (let i = 0; i < bars; i++) {
    let p = 0;
    const from = Math.floor((i * n) / bars);
    const to = Math.max(from + 1, Math.floor(((i + 1) * n) / bars));
    for (let j = from; j < to && j < n; j++) {
      const v = peaks[j]!;
      if (Number.isFinite(v) && v > p) p = v;
    }
    const half = Math.max(2, Math.min(1, p) * (height / 2));
    const x = MARGIN + i * step;
    rects.push(xml`<rect x="${x.toFixed(1)}" y="${(mid - half).toFixed(1)}" width="${(step * 0.6).toFixed(1)}" height="${(2 * half).toFixed(1)}" rx="3"/>`);
  }
  return xml`<g fill="url(#wave)">${rects}</g>`;
}

/** The card as SVG (every value escaped, lib/xml.ts), laid out with the fonts it will be drawn with. */
export async function shareCardSvg(input: CardInput): Promise<string> {
  const fonts = await engine();
  const title = wrap(fonts, input.title.replace(/\s+/g, " ").trim() || "Untitled loop", TITLE_SIZE, TEXT_WIDTH, 2);
  const by = input.displayName && input.displayName !== input.username ? `${input.displayName} · @${input.username}` : `@${input.username}`;
  const producer = fit(fonts, by, 40, "normal", TEXT_WIDTH);
  const facts = fit(fonts, input.facts.join(" · "), 34, "normal", TEXT_WIDTH);
  const site = fit(fonts, input.site, 28, "bold", TEXT_WIDTH);
  // Top to bottom: the site, the title's one or two lines, the producer, the facts, then the waveform to the bottom.
  const titleY = title.map((_, i) => 186 + i * 72);
  const producerY = titleY.at(-1)! + 66;
  const factsY = producerY + 56;
  const waveTop = (facts ? factsY : producerY) + 44;
  const body = xml`<defs>
<linearGradient id="bg" x1="0" y1="0" x2="1" y2="1">
<stop offset="0" stop-color="${COLORS.background}"/><stop offset="1" stop-color="${COLORS.panel}"/></linearGradient>
<linearGradient id="wave" x1="0" y1="0" x2="1" y2="0">
<stop offset="0" stop-color="${COLORS.accent}"/><stop offset="1" stop-color="${COLORS.wave}"/></linearGradient>
</defs>
<rect width="${CARD_SIZE.width}" height="${CARD_SIZE.height}" fill="url(#bg)"/>
<rect x="0" y="0" width="12" height="${CARD_SIZE.height}" fill="${COLORS.accent}"/>
${text(site, 28, "bold", 96, COLORS.muted)}
${title.map((line, i) => text(line, TITLE_SIZE, "bold", titleY[i]!, COLORS.text))}
${text(producer, 40, "normal", producerY, COLORS.accent)}
${facts ? text(facts, 34, "normal", factsY, COLORS.muted) : ""}
${waveform(input.peaks, waveTop, CARD_SIZE.height - 40 - waveTop)}`;
  return svg(body);
}

/** The card as PNG bytes. */
export async function renderShareCard(input: CardInput): Promise<Uint8Array> {
  const source = await shareCardSvg(input);
  const r = new Resvg(source, options(await engine()));
  try {
    const image = r.render();
    try {
      return image.asPng();
    } finally {
      image.free();
    }
  } finally {
    r.free();
  }
}
