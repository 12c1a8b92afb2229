// The guard constants ffmpeg.ts enforces on every command and the command builders (plan.ts, and the other
// media commands) write into them: a leaf module, so the runner does not import the builders.

/** The only protocols an ffmpeg input may use (`-protocol_whitelist`), checked before every `-i` by ffmpeg.ts. */
export const PROTOCOL_WHITELIST = "file,pipe";

/**
 * The environment ffmpeg and ffprobe run with, for the pipeline and for the tools check alike (so a bare name is
 * looked up on the same PATH): nothing of ours (secrets); LC_ALL=C keeps their number formatting parseable.
 */
export const toolEnv = () => ({ PATH: process.env.PATH ?? "/usr/bin:/bin", LC_ALL: "C" });
