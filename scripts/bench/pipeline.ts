// Loop upload to `ready` through the HTTP API of a real server process, next to the same ffmpeg steps run directly
// (processAudio() with a runner on the same file: the physical floor, without HTTP, database, storage or queue), in
// the same run and interleaved, so background load hits both alike. Then 20 concurrent uploads from one producer:
// total time until all are ready, failures, the server's peak RSS. Prints figures, asserts nothing.
// Each upload yields the MP3, the Ogg Vorbis the plugin plays and the SVG and PNG waveforms; the floor is also run
// with one ffmpeg slot (the MP3 and Ogg encodes then take turns) to show what running them side by side saves.
// First of all, on the fresh server: the memory of one 50 MB upload (a 96 kHz 24-bit stereo WAV of 86.8 s, under
// the default UPLOAD_MAX_BYTES and LOOP_MAX_SECONDS), from the first byte sent until its post is ready: the
// server's idle RSS, its peak RSS (VmHWM reset just before, and VmRSS sampled every 10 ms) and the ratio to issue
// #12's target, peak ≤ 1.3 × idle + the upload's size.
// Usage: bun scripts/bench/pipeline.ts [runs] [concurrent] [seconds]
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createFfmpegRunner } from "../../src/audio/ffmpeg.ts";
import { processAudio, type ProcessedAudio } from "../../src/audio/pipeline.ts";
import { lavfi, signals } from "../../test/support/audio.ts";
import { machine, peakRss, resetPeakRss, rssNow, sampleRss, startSidechain } from "./lib.ts";

const runs = Number(process.argv[2] ?? 7);
const concurrent = Number(process.argv[3] ?? 20);
const seconds = Number(process.argv[4] ?? 8);

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const ms = (x: number) => `${Math.round(x)} ms`;
const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;

// The loop: 8 s by default, stereo, 44.1 kHz, 16-bit WAV (drums, bass, chord through soft saturation).
const work = mkdtempSync(join(tmpdir(), "sc-bench-pipeline-"));
const wavPath = await lavfi(join(work, "loop.wav"), signals.produced(seconds), ["-c:a", "pcm_s16le", "-ar", "44100", "-ac", "2", "-f", "wav"]);
const wav = new Uint8Array(await Bun.file(wavPath).arrayBuffer());
// The 50 MB loop: 86.8 s × 96,000 frames × 2 channels × 3 bytes = 50,000,000 bytes of PCM plus the header.
const bigPath = await lavfi(join(work, "big.wav"), signals.produced(86.8), ["-c:a", "pcm_s24le", "-ar", "96000", "-ac", "2", "-f", "wav"]);
const bigBytes = Bun.file(bigPath).size;

// (b) The floor: the pipeline's ffmpeg steps on the same file, same options and concurrency as the server's defaults.
const runner = createFfmpegRunner();
const oneSlot = createFfmpegRunner({ concurrency: 1 });
async function direct(r = runner): Promise<ProcessedAudio> {
  return processAudio(r, { path: wavPath });
}

// (a) The server, with the upload rate limit out of the way.
// Its own DATA_DIR, removed at the end (the run stores ~30 loops).
const dataDir = mkdtempSync(join(tmpdir(), "sc-bench-"));
const server = await startSidechain({ DATA_DIR: dataDir, UPLOAD_RATE_PER_HOUR: "1000000", RATE_LIMIT_AUTH_PER_MIN: "1000000", LOG_LEVEL: "warn" });
try {
  const reg = await fetch(`${server.url}/api/v1/auth/register`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email: "bench@example.com", username: "bench_user", password: "correct horse battery staple" }),
  });
  if (reg.status !== 201) throw new Error(`register failed: ${reg.status} ${await reg.text()}`);
  const token: string = ((await reg.json()) as { auth: { token: string } }).auth.token;
  const authorization = `Bearer ${token}`;
  const pid = server.proc.pid;
  const idleRss = await peakRss(pid);

  type Upload = { status: number; body: Record<string, unknown>; ms: number };
  async function upload(i: number, file: Blob = new Blob([wav], { type: "audio/wav" })): Promise<Upload> {
    const form = new FormData();
    form.set("filename", `bench loop ${i}`);
    form.set("bpm", "120");
    form.set("audio_file", file, "loop.wav");
    const t = performance.now();
    const res = await fetch(`${server.url}/api/v1/audio/upload`, { method: "POST", headers: { authorization }, body: form });
    const body = (await res.json().catch(() => ({ error: "not JSON" }))) as Record<string, unknown>;
    return { status: res.status, body, ms: performance.now() - t };
  }
  const failed = (u: Upload) => u.status < 200 || u.status > 299 || "error" in u.body;
  /** Polls GET /audio/status until a post answered 202 processing is no longer processing. */
  async function settled(u: Upload): Promise<Upload> {
    if (failed(u) || u.body.status === "ready") return u;
    for (;;) {
      await Bun.sleep(100);
      const r = await fetch(`${server.url}/api/v1/audio/status/${u.body.post_id}`, { headers: { authorization } });
      const body = (await r.json().catch(() => ({ error: "not JSON" }))) as Record<string, unknown>;
      if (r.status !== 200 || "error" in body || body.status !== "processing") return { status: r.status, body: { ...body, polled: true }, ms: u.ms };
    }
  }

  // (0) One 50 MB upload on the fresh server, from the first byte sent until the post is ready (the job reads the
  // stored original back too). Idle is the RSS once it has settled: right after start it is still at the start-up
  // peak and falls over the next second or so as memory is returned, so it is read every 250 ms until it has not
  // fallen for a second (at most 10 s). The peak is the higher of VmHWM (reset just before, when the kernel allows
  // it) and VmRSS sampled every 10 ms.
  let idleNow = await rssNow(pid);
  for (let steady = 0, t = 0; steady < 4 && t < 40; t++) {
    await Bun.sleep(250);
    const r = await rssNow(pid);
    steady = r < idleNow - 2 ** 20 ? 0 : steady + 1;
    idleNow = Math.min(idleNow, r);
  }
  const hwmReset = await resetPeakRss(pid);
  const bigSampler = sampleRss(pid, 10);
  const tBig = performance.now();
  const big = await settled(await upload(0, Bun.file(bigPath, { type: "audio/wav" })));
  const bigMs = performance.now() - tBig;
  const bigPeak = Math.max(await bigSampler.stop(), hwmReset ? await peakRss(pid) : 0);
  if (failed(big) || big.body.status !== "ready") throw new Error(`50 MB upload: ${big.status} ${JSON.stringify(big.body).slice(0, 300)}`);
  const bigTarget = 1.3 * idleNow + bigBytes;

  // Warm-up of both paths (first ffmpeg exec from disk, JIT, database pages), then interleaved runs.
  const warm = await upload(0);
  if (warm.status !== 201 || warm.body.status !== "ready") throw new Error(`warm-up upload: ${warm.status} ${JSON.stringify(warm.body).slice(0, 300)}`);
  await direct();
  const httpMs: number[] = [];
  const floorMs: number[] = [];
  const serialMs: number[] = [];
  const stages: ProcessedAudio["timings"][] = [];
  let last: ProcessedAudio | undefined;
  for (let i = 1; i <= runs; i++) {
    const u = await upload(i);
    if (u.status !== 201 || u.body.status !== "ready") throw new Error(`upload ${i}: ${u.status} ${JSON.stringify(u.body).slice(0, 300)}`);
    httpMs.push(u.ms);
    const t = performance.now();
    last = await direct();
    floorMs.push(performance.now() - t);
    stages.push(last.timings);
    const t1 = performance.now();
    await direct(oneSlot);
    serialMs.push(performance.now() - t1);
  }
  const http = median(httpMs);
  const floor = median(floorMs);
  const stage = (k: keyof ProcessedAudio["timings"]) => median(stages.map((s) => s[k]));

  // (c) Concurrent uploads from one producer. Those not ready within UPLOAD_WAIT_MS answer 202 processing; the
  // total is taken when every post is ready (polled on GET /audio/status).
  const t0 = performance.now();
  const results = await Promise.all(
    Array.from({ length: concurrent }, async (_, i) => {
      return settled(await upload(1000 + i));
    }),
  );
  const totalMs = performance.now() - t0;
  const failures = results.filter((u) => failed(u) || u.body.status !== "ready");
  const waited = results.filter((u) => u.status === 202 || u.body.polled).length;
  // VmHWM was reset before the 50 MB upload: the peak since start is the higher of it and the start-up peak.
  const peak = Math.max(idleRss, await peakRss(pid));

  console.log(
    `one 50 MB upload (${(bigBytes / 1e6).toFixed(1)} MB, 86.8 s 96 kHz 24-bit stereo WAV) until ready in ${ms(bigMs)}: server RSS idle ${mib(idleNow)}, ` +
      `peak ${mib(bigPeak)} (+${mib(bigPeak - idleNow)}), target 1.3 × idle + upload = ${mib(bigTarget)}: peak / target ${(bigPeak / bigTarget).toFixed(2)}` +
      `${hwmReset ? "" : " (VmHWM not resettable here: sampled VmRSS only)"}`,
  );
  console.log(`machine: ${machine()}; ${seconds} s stereo 44.1 kHz 16-bit WAV (${mib(wav.byteLength)}), ${runs} runs after a warm-up`);
  console.log(`direct processAudio (floor): median ${ms(floor)} [${floorMs.map(ms).join(", ")}]`);
  console.log(
    `  stages (median): probe ${ms(stage("probe"))}, analyse ${ms(stage("analyse"))}, limit ${ms(stage("limit"))}, encode ${ms(stage("encode"))}, verify ${ms(stage("verify"))} (MP3 and Ogg side by side); gain ${last!.gainMode}, ${last!.encodes} encode round(s)`,
  );
  console.log(`  one ffmpeg slot (MP3 and Ogg encodes in turn): median ${ms(median(serialMs))} [${serialMs.map(ms).join(", ")}]`);
  const o = last!.measuredOgg;
  console.log(
    `  delivered: MP3 ${last!.measured.lufs} LUFS / ${last!.measured.truePeakDb} dBTP, ${last!.measured.bitrateKbps} kbps; ` +
      `Ogg ${o.lufs} LUFS / ${o.truePeakDb} dBTP, ${o.averageKbps} kbps average (${o.nominalKbps} nominal), ${o.sampleCount} samples (input ${last!.input.sampleCount}); PNG ${last!.png.length} bytes`,
  );
  console.log(`POST /api/v1/audio/upload → 201 ready: median ${ms(http)} [${httpMs.map(ms).join(", ")}]`);
  console.log(`ratio upload-to-ready / floor: ${(http / floor).toFixed(2)} (targets for an 8 s loop: ≤ 1000 ms, ratio ≤ 1.25)`);
  console.log(`  HTTP + database + storage + queue overhead, run by run (median of upload − floor): ${ms(median(httpMs.map((h, i) => h - floorMs[i]!)))}`);
  console.log(
    `${concurrent} concurrent uploads, one producer: ${ms(totalMs)} until all ready (${(totalMs / concurrent).toFixed(0)} ms per loop), failures ${failures.length}, answered 202 and polled ${waited}`,
  );
  for (const f of failures.slice(0, 3)) console.log(`  failure: ${f.status} ${JSON.stringify(f.body).slice(0, 200)}`);
  console.log(`server peak RSS: ${mib(peak)} (after start: ${mib(idleRss)})`);
} finally {
  await server.stop();
  rmSync(work, { recursive: true, force: true });
  rmSync(dataDir, { recursive: true, force: true });
}
