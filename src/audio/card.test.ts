// The share card (docs/architecture.md "Share cards"): its layout as SVG (hostile text stays text, long text is cut
// to fit) and the PNG resvg draws from it, decoded by a real ffmpeg and looked at pixel by pixel.
import { describe, expect, test } from "bun:test";
import { ffmpegDecode, pixel } from "../../test/support/images.ts";
import { CARD_SIZE, type CardInput, renderShareCard, shareCardSvg } from "./card.ts";

const peaks = Array.from({ length: 400 }, (_, i) => (i < 200 ? 0.9 : 0));
const input: CardInput = { title: "Midnight chords", username: "mira", displayName: "Mira", facts: ["8 bars", "92 BPM", "A minor"], site: "Sidechain", peaks };

/** The card's <text> elements in order, as an SVG reader sees them, and every element name used. */
async function textsOf(svg: string) {
  const texts: string[] = [];
  const elements = new Set<string>();
  await new HTMLRewriter()
    .on("*", { element: (e) => void elements.add(e.tagName) })
    .on("text", {
      element: () => void texts.push(""),
      text: (t) => void (texts[texts.length - 1] += t.text),
    })
    .transform(new Response(svg))
    .text();
  const decode = (s: string) =>
    s
      .replace(/&lt;/g, "<")
      .replace(/&gt;/g, ">")
      .replace(/&quot;/g, '"')
      .replace(/&apos;/g, "'")
      .replace(/&amp;/g, "&");
  return { texts: texts.map(decode), elements };
}

describe("the share card's layout", () => {
  test("the site, title, producer (display name and @username) and facts, top to bottom", async () => {
    const { texts } = await textsOf(await shareCardSvg(input));
    expect(texts).toEqual(["Sidechain", "Midnight chords", "Mira · @mira", "8 bars · 92 BPM · A minor"]);
  });

  test("hostile text is text: no element, attribute or entity of it reaches the SVG", async () => {
    const title = `"/><image href="file:///etc/passwd"/><script>alert(1)</script> &amp; ]]>`;
    const svg = await shareCardSvg({ ...input, title, displayName: "<b>M</b>", site: "Night <Shift>" });
    const { texts, elements } = await textsOf(svg);
    // Drawn as the characters it is (over two lines here: it is long).
    expect(`${texts[1]} ${texts[2]}`.startsWith('"/><image href="file:///etc/passwd"/><s')).toBe(true);
    expect(texts[0]).toBe("Night <Shift>");
    expect([...elements].sort()).toEqual(["defs", "g", "lineargradient", "rect", "stop", "svg", "text"]);
  });

  test("a long title wraps to two lines, the second cut with …; a long name is cut too; nothing runs off the card", async () => {
    const long = "Night drive in Köln with dusty keys and a 909 that would not stop until the sun came up over the Rhine";
    const { texts } = await textsOf(await shareCardSvg({ ...input, title: long, username: "a".repeat(30), displayName: "B".repeat(60) }));
    expect(texts).toHaveLength(5);
    expect(`${texts[1]} ${texts[2]}`.startsWith("Night drive in Köln")).toBe(true);
    expect(texts[2]).toEndWith("…");
    expect(texts[3]).toEndWith("…");
    // One word longer than a line is broken inside the word.
    const word = await textsOf(await shareCardSvg({ ...input, title: "x".repeat(80) }));
    expect(word.texts[1]).toMatch(/^x+$/);
    expect(word.texts[2]).toMatch(/^x+…?$/);
  });

  test("an empty title is 'Untitled loop'; no facts, no facts line", async () => {
    const { texts } = await textsOf(await shareCardSvg({ ...input, title: "  \n ", facts: [] }));
    expect(texts).toEqual(["Sidechain", "Untitled loop", "Mira · @mira"]);
  });
});

describe("the share card's pixels", () => {
  test("a 1200×630 opaque PNG: accent bar at the left, the waveform where the loop is loud, background where it is silent", async () => {
    const png = await renderShareCard(input);
    const img = ffmpegDecode(png);
    expect([img.width, img.height]).toEqual([CARD_SIZE.width, CARD_SIZE.height]);
    // Opaque everywhere (a card has no transparency for a chat app to fill with its own colour).
    for (let i = 3; i < img.rgba.length; i += 4 * 997) expect(img.rgba[i]).toBe(255);
    expect(pixel(img, 4, 300)).toEqual([0x9d, 0x87, 0xff, 255]);
    // The waveform's middle line, in the loud first half and the silent second half.
    const mid = 500;
    const loud = Array.from({ length: 40 }, (_, i) => pixel(img, 80 + i * 12, mid)).filter(([r, , b]) => b! > 200 && r! > 120);
    expect(loud.length).toBeGreaterThan(10);
    const band = Array.from({ length: 40 }, (_, i) => pixel(img, 700 + i * 10, mid - 60));
    expect(band.every(([r, g, b]) => r! < 60 && g! < 60 && b! < 70)).toBe(true);
  });

  test("the same input draws the same bytes (a redraw after a rename changes only what changed)", async () => {
    const [a, b, c] = await Promise.all([renderShareCard(input), renderShareCard(input), renderShareCard({ ...input, username: "mira2" })]);
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
    expect(Buffer.from(a).equals(Buffer.from(c))).toBe(false);
  });
});
