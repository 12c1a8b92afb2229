import { describe, expect, test } from "bun:test";
import { REDIRECT_CASES, staysOnServer } from "../../test/support/redirects.ts";
import { safeRedirectPath } from "./redirect.ts";

describe("safeRedirectPath", () => {
  test("checks the normalised path: dot segments, backslashes, controls, schemes and unicode look-alikes", () => {
    for (const [input, expected] of REDIRECT_CASES) {
      const result = safeRedirectPath(input);
      expect({ input, result }).toEqual({ input, result: expected });
      if (result !== null) expect(staysOnServer(result)).toBe(true);
    }
  });

  test("refuses what is not a string, and overlong input", () => {
    for (const v of [undefined, null, 42, ["/feed"], { a: 1 }]) expect(safeRedirectPath(v)).toBeNull();
    expect(safeRedirectPath(`/${"a".repeat(2047)}`)).toBe(`/${"a".repeat(2047)}`);
    expect(safeRedirectPath(`/${"a".repeat(2048)}`)).toBeNull();
  });
});
