import { describe, expect, test } from "bun:test";
import { cleanDaw, errorFrame, newFrameBudget, parseClientFrame, serverFrame, takeFrameToken } from "./protocol.ts";

const errorOf = (raw: string) => {
  const r = parseClientFrame(raw);
  return "error" in r ? [r.error, r.typed] : null;
};

describe("client frames", () => {
  test("well-formed frames of every type", () => {
    expect(parseClientFrame('{"type":"heartbeat","timestamp":5}')).toEqual({ frame: { type: "heartbeat", timestamp: 5 } });
    expect(parseClientFrame('{"type":"ping","payload":[1]}')).toEqual({ frame: { type: "ping", payload: [1] } });
    expect(parseClientFrame('{"type":"presence","payload":{"status":"in_studio","daw":"Live"}}')).toEqual({
      frame: { type: "presence", payload: { status: "in_studio", daw: "Live" } },
    });
    expect(parseClientFrame('{"type":"unwatch","payload":{"post_ids":["a",1]}}')).toEqual({ frame: { type: "unwatch", payload: { post_ids: ["a", 1] } } });
  });

  test("malformed frames: not JSON, not an object, no string type", () => {
    for (const raw of ["{", "[]", "null", "3", '"x"', "{}", '{"type":1}']) expect(errorOf(raw)).toEqual(["malformed_frame", false]);
  });

  test("each type's own error once the frame is well-formed", () => {
    expect(errorOf('{"type":"dance"}')).toEqual(["unknown_type", true]);
    expect(parseClientFrame(`{"type":"${"x".repeat(100)}"}`)).toMatchObject({ message: `Unknown frame type "${"x".repeat(40)}"` });
    for (const payload of ["", ',"payload":[]', ',"payload":{"status":"offline"}', ',"payload":{"status":3}']) {
      expect(errorOf(`{"type":"presence"${payload}}`)).toEqual(["invalid_presence", true]);
    }
    for (const payload of ["", ',"payload":{"post_ids":"a"}', ',"payload":null']) {
      expect(errorOf(`{"type":"watch"${payload}}`)).toEqual(["invalid_watch", true]);
      expect(errorOf(`{"type":"unwatch"${payload}}`)).toEqual(["invalid_watch", true]);
    }
  });

  test("DAW names", () => {
    expect(cleanDaw("  Ableton Live ")).toBe("Ableton Live");
    expect(cleanDaw("Unknown")).toBe("");
    expect(cleanDaw(42)).toBe("");
    expect(cleanDaw("x".repeat(200))).toHaveLength(100);
  });
});

describe("server frames", () => {
  test("shape: type, top-level fields, payload, timestamp", () => {
    expect(JSON.parse(serverFrame("pong", { a: 1 }, 7))).toEqual({ type: "pong", payload: { a: 1 }, timestamp: 7 });
    expect(JSON.parse(errorFrame("rate_limited", "slow down", 8))).toEqual({
      type: "error",
      error: "rate_limited",
      message: "slow down",
      payload: { error: "rate_limited", message: "slow down" },
      timestamp: 8,
    });
  });
});

describe("frame budget", () => {
  test("a full bucket, spent, refilled at the rate, counting refusals in a row", () => {
    const b = newFrameBudget(2, 0);
    expect(takeFrameToken(b, 2, 0)).toBe(true);
    expect(takeFrameToken(b, 2, 0)).toBe(true);
    expect(takeFrameToken(b, 2, 0)).toBe(false);
    expect(takeFrameToken(b, 2, 1000)).toBe(false);
    expect(b.refused).toBe(2);
    expect(takeFrameToken(b, 2, 30_000)).toBe(true); // one token per 30 s at 2 a minute
    expect(b.refused).toBe(0);
    expect(takeFrameToken(b, 2, 10 * 60_000)).toBe(true);
    expect(b.tokens).toBe(1); // never more than a minute's worth saved
  });
});
