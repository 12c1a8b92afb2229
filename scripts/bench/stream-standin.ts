// The Stream stand-in (test/support/stream-server.ts) on its own thread, for scripts/bench/stream-backfill.ts: the
// bench's sender and the stand-in then do not share an event loop. Messages: "counts" → what it holds; "stop".
import { startFakeStream } from "../../test/support/stream-server.ts";

declare const self: Worker;
const fake = await startFakeStream({ apiKey: process.env.BENCH_STREAM_KEY!, secret: process.env.BENCH_STREAM_SECRET! });
self.onmessage = async (e: MessageEvent) => {
  if (e.data === "counts") {
    const named = [...fake.users.values()].filter((u) => typeof u.name === "string").length;
    self.postMessage({
      users: fake.users.size,
      named,
      feeds: fake.feeds.size,
      activities: fake.activities.size,
      follows: fake.follows.size,
      reactions: fake.reactions.size,
      calls: fake.calls.length,
      failed: fake.calls.filter((c) => c.status >= 400).length,
    });
  }
  if (e.data === "stop") {
    await fake.stop();
    self.postMessage({ stopped: true });
  }
};
self.postMessage({ url: fake.url });
