// /readyz with each part the server needs to serve broken for real (README "Audio tools" for ffmpeg, covered in
// audio-tools.test.ts): an S3 bucket that does not exist, a Redis server that went away. Each answers 503 naming
// the part within the probe's time limit (a Redis that went away would otherwise hold the probe, and the stop). A dead SMTP server does not make the server unready (mail waits in the
// outbox and is retried: README "Mail"); `sidechain doctor` reports it (test/doctor.test.ts).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { expectError } from "../support/auth.ts";
import { createTestEnv } from "../support/deps.ts";
import { freePort } from "../support/net.ts";
import { startRedis } from "../support/redis.ts";
import { type S3rverHandle, s3StorageEnv, startS3rver } from "../support/s3.ts";

let s3: S3rverHandle;
beforeAll(async () => {
  s3 = await startS3rver("ready-bucket");
});
afterAll(() => s3?.stop());

describe("/readyz names the broken part", () => {
  test("S3: a bucket that does not exist is 503 naming storage; the right one is ready", async () => {
    const wrong = await createTestEnv("sqlite", { ...s3StorageEnv({ endpoint: s3.endpoint, bucket: "no-such-bucket" }) });
    try {
      expect((await expectError(await wrong.request("/readyz"), 503, "not_ready")).message).toBe("Not ready: storage failing");
    } finally {
      await wrong.close();
    }
    const right = await createTestEnv("sqlite", s3StorageEnv(s3));
    try {
      expect((await right.request("/readyz")).status).toBe(200);
    } finally {
      await right.close();
    }
  });

  test("Redis: ready while it answers, 503 naming redis once it is gone", async () => {
    const redis = await startRedis();
    const env = await createTestEnv("sqlite", { REDIS_URL: redis.url, REDIS_LIMIT_TIMEOUT_MS: "200" });
    try {
      const ok = await env.request("/readyz");
      expect(ok.status).toBe(200);
      expect((await ok.json()).checks.redis).toBe("ok");
      await redis.stop();
      expect((await expectError(await env.request("/readyz"), 503, "not_ready")).message).toBe("Not ready: redis failing");
    } finally {
      await env.close();
    }
  });

  test("SMTP: a mail server that is down leaves the server ready", async () => {
    const env = await createTestEnv("sqlite", { SMTP_URL: `smtp://127.0.0.1:${await freePort()}`, MAIL_FROM: "loops@example.com" });
    try {
      const res = await env.request("/readyz");
      expect(res.status).toBe(200);
      expect(Object.keys((await res.json()).checks).sort()).toEqual(["audio", "data_dir", "database", "storage"]);
    } finally {
      await env.close();
    }
  });
});
