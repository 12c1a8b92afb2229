// Readiness tells the truth about the audio tools (README "Audio tools"): with ffmpeg missing, not ffmpeg, or built
// without what the pipeline needs, /readyz answers 503 naming it, the start log says so as an error, and an upload
// is refused with 503 ffmpeg_unavailable before its body is read. With working tools /readyz lists "audio": "ok"
// and the start log names the ffmpeg and ffprobe in use, path and version.
import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../src/config.ts";
import { start } from "../../src/index.ts";
import { bins, shellScript } from "../support/audio.ts";
import { expectError, registerUser } from "../support/auth.ts";
import { createTestEnv, type TestEnv } from "../support/deps.ts";

const work = mkdtempSync(join(tmpdir(), "sc-audio-tools-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const script = (name: string, body: string) => shellScript(work, name, body);
const missing = join(work, "no-such-ffmpeg");
const withoutVorbis = script("ffmpeg-without-vorbis", `"${bins.ffmpeg}" "$@" | grep -v ' libvorbis '`);

let env: TestEnv | undefined;
afterEach(async () => {
  await env?.close();
  env = undefined;
});

describe("the audio tools in readiness and uploads", () => {
  test("working tools: /readyz lists audio ok", async () => {
    env = await createTestEnv("sqlite");
    const res = await env.request("/readyz");
    expect(res.status).toBe(200);
    expect((await res.json()).checks).toMatchObject({ audio: "ok", database: "ok" });
  });

  for (const [what, ffmpegPath, named] of [
    ["a missing ffmpeg", missing, /audio \(ffmpeg \(.*no-such-ffmpeg\) does not run: .*\) failing/],
    ["an ffmpeg without libvorbis", withoutVorbis, /audio \(ffmpeg lacks encoder libvorbis\) failing/],
  ] as const) {
    test(`${what}: /readyz answers 503 naming it; an upload is refused with 503 before its body is read`, async () => {
      const audioTmp = mkdtempSync(join(work, "tmp-"));
      env = await createTestEnv("sqlite", { FFMPEG_PATH: ffmpegPath, AUDIO_TMP_DIR: audioTmp });
      const body = await expectError(await env.request("/readyz"), 503, "not_ready");
      expect(body.message).toMatch(named);
      const { auth } = await registerUser(env);
      // A body that never ends: had the server started reading it, the answer would never come.
      const endless = new ReadableStream({ pull: () => new Promise(() => {}) });
      const res = await env.request("/api/v1/audio/upload", {
        method: "POST",
        token: auth.token,
        headers: { "content-type": "multipart/form-data; boundary=x" },
        body: endless,
        duplex: "half",
      } as RequestInit);
      const refused = await expectError(res, 503, "ffmpeg_unavailable");
      expect(refused.message).toBe("Audio processing is not available on this server");
      expect(readdirSync(audioTmp)).toEqual([]); // no private temp dir was made for it
    });
  }

  test("the start log names the ffmpeg in use, or says as an error that there is none", async () => {
    for (const [ffmpegPath, level] of [
      [bins.ffmpeg, "info"],
      [missing, "error"],
    ] as const) {
      const logs: Record<string, unknown>[] = [];
      const at = (lvl: string) => (msg: string, fields?: Record<string, unknown>) => void logs.push({ level: lvl, msg, ...fields });
      const log = { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
      const config = loadConfig({ DATA_DIR: mkdtempSync(join(work, "data-")), PORT: "0", LOG_LEVEL: "debug", FFMPEG_PATH: ffmpegPath });
      const running = await start(config, { log });
      try {
        const line = logs.find((l) => /^audio tools/.test(String(l.msg)));
        expect(line?.level).toBe(level);
        if (level === "info") {
          expect(String(line?.ffmpeg)).toStartWith(`${bins.ffmpeg} (`);
          expect(String(line?.ffmpeg)).not.toContain("no version");
        } else expect(line).toMatchObject({ msg: expect.stringContaining("uploads are refused"), problems: [expect.stringContaining("no-such-ffmpeg")] });
        expect(String(line?.ffprobe)).toStartWith(`${bins.ffprobe} (`);
      } finally {
        await running.stop();
      }
    }
  });
});
