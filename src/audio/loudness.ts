// Loudness arithmetic, pure: reading ffmpeg's EBU R128 summary and deciding the gain. The pipeline calls these
// between ffmpeg steps; the tests call them with numbers.

export interface Loudness {
  /** Integrated loudness (LUFS). ffmpeg reports -70 when every block is below the absolute gate. */
  lufs: number;
  /** True peak (dBTP); -Infinity for digital silence. */
  truePeakDb: number;
}

/**
 * Reads the summary the `ebur128` filter prints when it closes. ffmpeg may build the filter graph twice and print
 * an empty summary for the first one, so the last summary wins. null when there is none (the step failed).
 */
export function parseEbur128Summary(stderr: string): Loudness | null {
  const at = stderr.lastIndexOf("Summary:");
  if (at < 0) return null;
  const tail = stderr.slice(at);
  const i = /\bI:\s*(-?(?:\d+(?:\.\d+)?|inf))\s*LUFS/.exec(tail);
  const p = /\bPeak:\s*(-?(?:\d+(?:\.\d+)?|inf))\s*dBFS/.exec(tail);
  if (!i || !p) return null;
  const value = (s: string) => (s === "-inf" ? -Infinity : s === "inf" ? Infinity : Number(s));
  return { lufs: value(i[1]!), truePeakDb: value(p[1]!) };
}

/** Where the pre-encode signal is aimed: a loudness and a true-peak ceiling (both before MP3 encoding). */
export interface Aim {
  lufs: number;
  ceilingDb: number;
}

export type GainDecision = { mode: "linear"; gainDb: number } | { mode: "limiter"; gainDb: number };

/**
 * A plain gain when it reaches the loudness without pushing the true peak over the ceiling (the signal is
 * untouched apart from its level); otherwise the limiter, starting from the same gain.
 */
export function decideGain(input: Loudness, aim: Aim): GainDecision {
  const gainDb = aim.lufs - input.lufs;
  return input.truePeakDb + gainDb <= aim.ceilingDb ? { mode: "linear", gainDb } : { mode: "limiter", gainDb };
}

/** One limiter run at a given gain (the limit is fixed for a search) and what came out. */
export interface LimiterPoint {
  gainDb: number;
  out: Loudness;
}

/** Close enough before encoding; the encoder's own drift is corrected after it, if needed. */
export const LIMITER_LOUDNESS_TOLERANCE_LU = 0.2;

/**
 * The limiter's threshold under the pre-encode ceiling. The limiter works on 4× oversampled sample peaks; after
 * the return to 44.1 kHz the meter's true peak lands up to ~0.7 dB above the threshold when it limits hard.
 */
export const LIMIT_MARGIN_DB = 0.7;

/** A limiter run that can be encoded: under the ceiling and on the loudness aim. */
export function isGoodLimiterPoint(aim: Aim, p: LimiterPoint): boolean {
  return p.out.truePeakDb <= aim.ceilingDb && Math.abs(aim.lufs - p.out.lufs) <= LIMITER_LOUDNESS_TOLERANCE_LU;
}

/**
 * The gains to try next. Loudness rises monotonically but ever more slowly with gain once the limiter works, so
 * the gain is found by interpolation on (gain → loudness). One point is known without running anything: at the
 * "knee", where the input's true peak just reaches the limit, loudness is input + gain exactly. The first round
 * tries two gains at once (2 cores), assuming the limiter keeps 85 % and 55 % of each extra dB; those bracket
 * the aim for most material. Later rounds interpolate between the closest points around the aim (or
 * extrapolate from the last two), one gain at a time.
 */
export function nextLimiterGains(input: Loudness, aim: Aim, limitDb: number, points: readonly LimiterPoint[]): number[] {
  const knee = { g: limitDb - input.truePeakDb, l: input.lufs + limitDb - input.truePeakDb };
  const need = aim.lufs - knee.l;
  if (points.length === 0) return need <= 0 ? [knee.g + need] : [knee.g + need / 0.85, knee.g + need / 0.55];
  const all = [knee, ...points.map((p) => ({ g: p.gainDb, l: p.out.lufs }))].sort((a, b) => a.g - b.g);
  for (let i = 0; i + 1 < all.length; i++) {
    const a = all[i]!,
      b = all[i + 1]!;
    if (a.l <= aim.lufs && aim.lufs <= b.l && b.l > a.l) return [a.g + ((aim.lufs - a.l) * (b.g - a.g)) / (b.l - a.l)];
  }
  // Above every point: extrapolate along the last slope, kept within sane bounds.
  const a = all[all.length - 2]!,
    b = all[all.length - 1]!;
  const slope = Math.min(1, Math.max(0.1, (b.l - a.l) / (b.g - a.g || 1)));
  return [b.g + Math.min(12, (aim.lufs - b.l) / slope)];
}

/** The run to encode: a good one if any, else the closest in loudness among those under the ceiling. */
export function pickLimiterPoint<P extends LimiterPoint>(aim: Aim, points: readonly P[]): P | null {
  const under = points.filter((p) => p.out.truePeakDb <= aim.ceilingDb);
  if (!under.length) return null;
  return under.reduce((x, y) => (Math.abs(aim.lufs - y.out.lufs) < Math.abs(aim.lufs - x.out.lufs) ? y : x));
}

/**
 * After measuring the delivered MP3: whether it meets the contract, and if not, the aim for the next encode.
 * `preEncode` is what went into the encoder (measured for a limiter run, exact for a plain gain), so the
 * encoder's own effect on this material is known: the loudness it took (its quantiser rounds down and it drops
 * noise-like content in the top bands) and the true peak it added (up to ~2 dB on heavily limited noise). The
 * next aim compensates both; the peak allowance gets a quarter more than was seen, because the encoder's
 * overshoot varies from one encode to the next.
 */
export function correctAim(
  aim: Aim,
  preEncode: Loudness,
  delivered: Loudness,
  contract: { targetLufs: number; truePeakDb: number; toleranceLu: number },
): { ok: true } | { ok: false; aim: Aim } {
  const overshoot = delivered.truePeakDb - contract.truePeakDb;
  const miss = contract.targetLufs - delivered.lufs;
  if (overshoot <= 0 && Math.abs(miss) <= contract.toleranceLu) return { ok: true };
  const loss = preEncode.lufs - delivered.lufs;
  const rise = Math.max(0, delivered.truePeakDb - preEncode.truePeakDb);
  return {
    ok: false,
    aim: {
      lufs: Number.isFinite(loss) ? contract.targetLufs + loss : aim.lufs + miss,
      // ffmpeg prints the peak to 0.1 dB: always at least that much further under than before.
      ceilingDb: overshoot > 0 ? Math.min(aim.ceilingDb - overshoot - 0.1, contract.truePeakDb - rise * 1.25 - 0.1) : aim.ceilingDb,
    },
  };
}

/**
 * A limiter is homogeneous: limiting x·g at a threshold t+d dB gives the same audio as at t, d dB louder. So
 * runs measured at one threshold predict the curve at another, shifted by d in gain and in level.
 */
export function shiftLimiterPoint<P extends LimiterPoint>(p: P, d: number): P {
  return { ...p, gainDb: p.gainDb + d, out: { lufs: p.out.lufs + d, truePeakDb: p.out.truePeakDb + d } };
}
