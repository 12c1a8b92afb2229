// Reading the delivered Ogg Vorbis: header facts and the last granule position (the samples a Vorbis player plays),
// and refusing anything that is not one plain Ogg Vorbis stream.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { lavfi } from "../../test/support/audio.ts";
import { inspectOggVorbis } from "./ogg.ts";

const dir = mkdtempSync(join(tmpdir(), "sc-ogg-"));
let vorbis: Uint8Array, opus: Uint8Array;
beforeAll(async () => {
  const read = async (p: string) => new Uint8Array(await Bun.file(p).arrayBuffer());
  vorbis = await read(await lavfi(join(dir, "a.ogg"), "sine=f=440:r=44100:d=1.5", ["-ac", "2", "-c:a", "libvorbis", "-b:a", "96k", "-f", "ogg"]));
  opus = await read(await lavfi(join(dir, "a.opus"), "sine=f=440:r=48000:d=1", ["-c:a", "libopus", "-f", "ogg"]));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("inspectOggVorbis", () => {
  test("reads rate, channels, nominal bitrate and the exact sample count", () => {
    const info = inspectOggVorbis(vorbis)!;
    expect(info).toMatchObject({ sampleRate: 44100, channels: 2, nominalBitrate: 96_000, samples: 66150 });
    expect(info.pages).toBeGreaterThan(2);
  });

  test("refuses what is not one whole Ogg Vorbis stream", () => {
    expect(inspectOggVorbis(new Uint8Array(0))).toBeNull();
    expect(inspectOggVorbis(new TextEncoder().encode("OggS but not really, just text that is long enough"))).toBeNull();
    expect(inspectOggVorbis(opus)).toBeNull(); // Ogg, but Opus
    expect(inspectOggVorbis(vorbis.subarray(0, vorbis.length - 10))).toBeNull(); // truncated last page
    expect(inspectOggVorbis(vorbis.subarray(5))).toBeNull(); // no capture pattern at the start
    const trailing = new Uint8Array(vorbis.length + 3);
    trailing.set(vorbis);
    expect(inspectOggVorbis(trailing)).toBeNull(); // bytes after the last page
    // Two streams chained: not what our encoder writes.
    const chained = new Uint8Array(vorbis.length * 2);
    chained.set(vorbis);
    chained.set(vorbis, vorbis.length);
    new DataView(chained.buffer).setUint32(vorbis.length + 14, 0xdeadbeef, true);
    expect(inspectOggVorbis(chained)).toBeNull();
    // A header page claiming more segments than there are bytes.
    const short = vorbis.slice(0, 30);
    expect(inspectOggVorbis(short)).toBeNull();
  });
});
