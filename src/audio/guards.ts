// The guard constants ffmpeg.ts enforces on every command and the command builders (plan.ts, and the other
// media commands) write into them: a leaf module, so the runner does not import the builders.

/** The only protocols an ffmpeg input may use (`-protocol_whitelist`), checked before every `-i` by ffmpeg.ts. */
export const PROTOCOL_WHITELIST = "file,pipe";
