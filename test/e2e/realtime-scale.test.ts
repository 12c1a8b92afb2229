// Scale-out as an operator runs it: two processes of the built binary on one DATA_DIR (one SQLite database, one
// JWT secret) and one real redis-server. A client connected to instance A receives what is caused through
// instance B (a follow, a loop uploaded and processed, a presence change), and the other way round.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bins, lavfi } from "../support/audio.ts";
import { REDIS_SERVER, startRedis, type RedisServer } from "../support/redis.ts";
import { WsClient } from "../support/ws.ts";
import { startBinary, type ServerProcess } from "./harness.ts";

type Producer = { id: string; token: string };

describe.skipIf(!REDIS_SERVER)("two server processes on one Redis", () => {
  let redis: RedisServer;
  let dataDir: string;
  let A: ServerProcess, B: ServerProcess;

  beforeAll(async () => {
    redis = await startRedis();
    dataDir = mkdtempSync(join(tmpdir(), "sc-scale-"));
    const env = {
      REDIS_URL: redis.url,
      PRESENCE_GRACE_MS: "300",
      RATE_LIMIT_AUTH_PER_MIN: "1000",
      FFMPEG_PATH: bins.ffmpeg,
      FFPROBE_PATH: bins.ffprobe,
      LOG_LEVEL: "warn",
    };
    A = await startBinary({ dataDir, env });
    B = await startBinary({ dataDir, env });
  }, 120_000);
  afterAll(async () => {
    await A?.stop();
    await B?.stop();
    await redis?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function register(on: ServerProcess, name: string): Promise<Producer> {
    const res = await fetch(`${on.url}/api/v1/auth/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: `${name}@example.com`, username: name, password: "correct horse battery staple" }),
    });
    const body = (await res.json()) as { auth: { token: string; user: { id: string } } };
    expect(res.status).toBe(201);
    return { id: body.auth.user.id, token: body.auth.token };
  }

  test("follow, new loop and presence cross instances; a non-follower gets none of it", async () => {
    const star = await register(A, "scale_star");
    const fan = await register(B, "scale_fan");
    const stranger = await register(A, "scale_stranger");
    const fanOnA = await WsClient.connect(A.url, fan.token);
    const strangerOnA = await WsClient.connect(A.url, stranger.token);
    const starOnB = await WsClient.connect(B.url, star.token);

    // Through A: fan follows star; star is connected to B.
    const f = await fetch(`${A.url}/api/v1/social/follow`, {
      method: "POST",
      headers: { authorization: `Bearer ${fan.token}`, "content-type": "application/json" },
      body: JSON.stringify({ target_user_id: star.id }),
    });
    expect(f.status).toBe(201);
    expect(await starOnB.next("follow")).toMatchObject({ payload: { followee_id: star.id, follower_id: fan.id, follower_count: 1 } });

    // Through B: star goes in the studio and uploads a loop; fan is connected to A.
    starOnB.send({ type: "presence", payload: { status: "in_studio", daw: "Ableton Live" } });
    // (The "online" of star's connection may arrive first: it raced with the follow.)
    let p = await fanOnA.next("presence");
    if (p.status === "online") p = await fanOnA.next("presence");
    expect(p).toMatchObject({ user_id: star.id, is_online: true, is_in_studio: true, status: "in_studio" });
    const wav = await lavfi(join(mkdtempSync(join(tmpdir(), "sc-scale-wav-")), "loop.wav"), "sine=frequency=220:duration=3", [
      "-ar",
      "48000",
      "-ac",
      "2",
      "-c:a",
      "pcm_s16le",
    ]);
    const form = new FormData();
    form.set("audio_file", Bun.file(wav), "loop.wav");
    const up = await fetch(`${B.url}/api/v1/audio/upload`, { method: "POST", headers: { authorization: `Bearer ${star.token}` }, body: form });
    expect(up.status).toBeLessThan(300);
    const { post_id } = (await up.json()) as { post_id: string };
    const np = await fanOnA.next("new_post", 60_000);
    expect(np.payload).toMatchObject({ id: post_id, author: { id: star.id }, post: { id: post_id, status: "ready", is_online: true, is_in_studio: true } });

    // HTTP presence agrees on both instances (for a follower; the stranger gets the offline shape).
    const presence = async (s: typeof A, viewer: { token: string }) =>
      (await fetch(`${s.url}/api/v1/users/${star.id}/presence`, { headers: { authorization: `Bearer ${viewer.token}` } })).json();
    for (const s of [A, B]) expect(await presence(s, fan)).toMatchObject({ is_online: true, is_in_studio: true, daw: "Ableton Live" });
    expect(await presence(A, stranger)).toMatchObject({ is_online: false, is_in_studio: false, status: "offline", daw: "" });

    // Star leaves B: offline for fan on A after the grace period.
    await starOnB.close();
    expect(await fanOnA.next("presence", 5000)).toMatchObject({ user_id: star.id, is_online: false, status: "offline" });

    // The stranger (on the same instance as fan) saw nothing of it: only the frames they asked for.
    strangerOnA.heartbeat();
    expect((await strangerOnA.next()).type).toBe("pong");
    expect(strangerOnA.frames.map((x) => x.type)).toEqual(["pong"]);
    await Promise.all([fanOnA.close(), strangerOnA.close()]);
  }, 120_000);
});
