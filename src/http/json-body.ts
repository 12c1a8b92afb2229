// An answer's JSON made once while its parts are unchanged (docs/architecture.md "Data rules": the feeds' cached
// JSON): a page of posts is the same array while a read cache keeps it (and a viewer's copies of it are the same
// frozen array while nothing changed, src/posts/enrich.ts), so the answer is checked against its response schema and
// serialized once per array and `tail` (what else the answer holds: its meta, ...), and the bytes reused.
import type { TSchema } from "elysia";
import { TypeCompiler } from "@sinclair/typebox/compiler";

export function memoizedJson<T extends object>(schema: TSchema, name: string): (answer: T, key: object, tail: unknown) => T {
  const check = TypeCompiler.Compile(schema);
  const bodies = new WeakMap<object, { tail: string; body: string }>();
  return (answer, key, tail) => {
    const t = JSON.stringify(tail);
    let memo = bodies.get(key);
    if (memo?.tail !== t) {
      if (!check.Check(answer)) {
        const paths = [...check.Errors(answer)].slice(0, 3).map((e) => e.path);
        throw new Error(`${name} does not match its response schema: ${paths.join(", ")}`);
      }
      memo = { tail: t, body: JSON.stringify(answer) };
      bodies.set(key, memo);
    }
    // (Typed as the answer: Elysia sends a returned Response as it is.)
    return new Response(memo.body, { headers: { "content-type": "application/json;charset=utf-8" } }) as unknown as T;
  };
}
