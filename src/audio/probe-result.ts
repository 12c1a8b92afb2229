// What ffprobe found out about an upload (probe.ts makes it, the command builders of plan.ts read it), in its
// own module so plan.ts does not import probe.ts, which imports plan.ts's probeArgs.
import type { AudioFormat } from "./sniff.ts";

export interface ProbeResult {
  format: AudioFormat;
  codec: string;
  sampleRate: number;
  channels: number;
  /** From the header; null when the container does not say (the decode step then bounds it). */
  durationSeconds: number | null;
  /** Bits per sample for PCM and FLAC, null for lossy codecs. */
  bitsPerSample: number | null;
  /** Bits per second as the header says or ffprobe estimates, null when unknown. */
  bitRate: number | null;
}
