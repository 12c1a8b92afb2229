// The access-token checks, one by one: every way a token can be wrong is refused, and only a well-signed token
// past its expiry is "expired" (a forged one is always "invalid").
import { expect, test } from "bun:test";
import { SignJWT } from "jose";
import { createHmac } from "node:crypto";
import { signAccessToken, verifyAccessToken } from "./tokens.ts";

const secret = "s".repeat(48);
const key = new TextEncoder().encode(secret);
const now = Date.UTC(2026, 10, 25, 12);
/** The iat a token signed at `now` carries, in ms (whole seconds). */
const iatMs = Math.floor(now / 1000) * 1000;
const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url");
const base = { sub: "u1", sid: "s1", typ: "access", iss: "sidechain", aud: "sidechain-api" };
const sign = (claims: object, header: object = { alg: "HS256", typ: "JWT" }) =>
  new SignJWT(claims as never)
    .setProtectedHeader(header as never)
    .setIssuedAt(now / 1000)
    .setExpirationTime(now / 1000 + 3600)
    .sign(key);

test("a token we signed verifies, and names its user and session", async () => {
  const { token, expiresAt } = await signAccessToken(secret, { userId: "u1", sessionId: "s1" }, now, 60);
  expect(expiresAt.getTime()).toBe(now + 60_000);
  expect(await verifyAccessToken(secret, token, now)).toEqual({ ok: true, claims: { userId: "u1", sessionId: "s1", issuedAt: iatMs } });
  expect(await verifyAccessToken(secret, token, now + 61_000)).toEqual({ ok: false, reason: "expired" });
  // a short grace (the refresh route's trade) lets a just-expired token through, no more
  expect((await verifyAccessToken(secret, token, now + 61_000, { graceMs: 60_000 })).ok).toBe(true);
  expect(await verifyAccessToken(secret, token, now + 121_000, { graceMs: 60_000 })).toEqual({ ok: false, reason: "expired" });
});

test("an access token and a browser-session token never stand in for each other; the jti is the token id", async () => {
  const access = (await signAccessToken(secret, { userId: "u1", sessionId: "s1", tokenId: "t1" }, now, 60)).token;
  const browser = (await signAccessToken(secret, { userId: "u1", sessionId: "s1", tokenId: "t2" }, now, 60, "browser")).token;
  expect(await verifyAccessToken(secret, access, now)).toEqual({ ok: true, claims: { userId: "u1", sessionId: "s1", tokenId: "t1", issuedAt: iatMs } });
  expect(await verifyAccessToken(secret, browser, now, { type: "browser" })).toEqual({
    ok: true,
    claims: { userId: "u1", sessionId: "s1", tokenId: "t2", issuedAt: iatMs },
  });
  expect(await verifyAccessToken(secret, browser, now)).toEqual({ ok: false, reason: "invalid" });
  expect(await verifyAccessToken(secret, access, now, { type: "browser" })).toEqual({ ok: false, reason: "invalid" });
  // even when expired, the wrong type is "invalid"
  expect(await verifyAccessToken(secret, browser, now + 3_600_000)).toEqual({ ok: false, reason: "invalid" });
});

test.each([
  ["alg none", async () => `${b64({ alg: "none", typ: "JWT" })}.${b64({ ...base, iat: 1, exp: 9e9 })}.`],
  ["HS512", () => sign(base, { alg: "HS512" })],
  [
    "a crit header",
    async () => {
      // jose refuses to sign with an unknown crit, so this one is signed by hand (correctly: only crit is wrong)
      const unsigned = `${b64({ alg: "HS256", crit: ["x"], x: 1 })}.${b64({ ...base, iat: now / 1000, exp: now / 1000 + 3600 })}`;
      return `${unsigned}.${createHmac("sha256", secret).update(unsigned).digest("base64url")}`;
    },
  ],
  ["another typ header", () => sign(base, { alg: "HS256", typ: "at+jwt" })],
  ["wrong audience", () => sign({ ...base, aud: "other" })],
  ["wrong issuer", () => sign({ ...base, iss: "other" })],
  ["a refresh typ claim", () => sign({ ...base, typ: "refresh" })],
  ["a numeric jti", () => sign({ ...base, jti: 7 })],
  ["no session id", () => sign({ ...base, sid: undefined })],
  ["a numeric subject", () => sign({ ...base, sub: 1 })],
  [
    "another key",
    () =>
      new SignJWT(base)
        .setProtectedHeader({ alg: "HS256" })
        .setIssuedAt()
        .setExpirationTime("1h")
        .sign(new TextEncoder().encode("x".repeat(48))),
  ],
  [
    "a tampered payload",
    async () => {
      const [h, , s] = (await sign(base)).split(".");
      return `${h}.${b64({ ...base, sub: "admin", iat: 1, exp: 9e9 })}.${s}`;
    },
  ],
  ["two parts", async () => "abc.def"],
  ["not base64url", async () => "a+b.c/d.e=f"],
  ["a non-JSON header", async () => `${Buffer.from("nope").toString("base64url")}.${b64(base)}.sig`],
])("%s is invalid", async (_name, make) => {
  const token = await make();
  expect(await verifyAccessToken(secret, token, now)).toEqual({ ok: false, reason: "invalid" });
  expect(await verifyAccessToken(secret, token, now, { type: "browser" })).toEqual({ ok: false, reason: "invalid" });
});

test("a token not valid yet (nbf in the future) is invalid", async () => {
  expect(await verifyAccessToken(secret, await sign({ ...base, nbf: now / 1000 + 600 }), now)).toEqual({ ok: false, reason: "invalid" });
});

test("an audience list that includes ours is accepted, like jose does", async () => {
  const token = await sign({ ...base, aud: ["other", "sidechain-api"] });
  expect((await verifyAccessToken(secret, token, now)).ok).toBe(true);
});

test("a forged token that is also expired is invalid, not expired", async () => {
  const forged = await new SignJWT(base)
    .setProtectedHeader({ alg: "HS256" })
    .setIssuedAt(1)
    .setExpirationTime(2)
    .sign(new TextEncoder().encode("x".repeat(48)));
  expect(await verifyAccessToken(secret, forged, now)).toEqual({ ok: false, reason: "invalid" });
});

test("a token checked before is remembered only for the secret that signed it, and its time claims still count", async () => {
  const token = await sign({ ...base, nbf: now / 1000 + 60 });
  const later = now + 120_000;
  expect((await verifyAccessToken(secret, token, later)).ok).toBe(true); // checked, then remembered
  expect(await verifyAccessToken(secret, token, now)).toEqual({ ok: false, reason: "invalid" }); // nbf still counts
  expect(await verifyAccessToken(secret, token, now + 3_600_000)).toEqual({ ok: false, reason: "expired" });
  expect(await verifyAccessToken("t".repeat(48), token, later)).toEqual({ ok: false, reason: "invalid" }); // another secret
  // One character off the remembered token: checked afresh, and refused.
  const at = token.length - 10; // inside the signature, away from its last character's padding bits
  const other = `${token.slice(0, at)}${token[at] === "A" ? "B" : "A"}${token.slice(at + 1)}`;
  expect(await verifyAccessToken(secret, other, later)).toEqual({ ok: false, reason: "invalid" });
  expect((await verifyAccessToken(secret, token, later)).ok).toBe(true);
});
