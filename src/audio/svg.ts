// The waveform image: one filled path, mirrored around the middle line, one x unit per peak. The viewBox
// stretches to whatever size the page or plugin draws it at (preserveAspectRatio="none"). It is served as
// image/svg+xml from our own origin, so it contains no text, links or scripts: only numbers we computed and a
// colour checked against a strict pattern.

export interface WaveformSvgOptions {
  /** Height of the viewBox in units (the width is the number of peaks). */
  height: number;
  /** Fill colour: #rgb, #rrggbb, #rrggbbaa or a CSS colour keyword. */
  color: string;
  /** Half-height drawn for silence, so a silent stretch still shows as a thin line. */
  minHalfHeight: number;
}

export const DEFAULT_SVG_OPTIONS: Readonly<WaveformSvgOptions> = Object.freeze({
  height: 100,
  color: "#ff5b2e",
  minHalfHeight: 0.5,
});

const COLOR = /^(#[0-9a-fA-F]{3}|#[0-9a-fA-F]{6}|#[0-9a-fA-F]{8}|[a-zA-Z]{3,20})$/;

const r1 = (x: number) => Math.round(x * 10) / 10;

export function renderWaveformSvg(peaks: readonly number[], options: Partial<WaveformSvgOptions> = {}): string {
  const o = { ...DEFAULT_SVG_OPTIONS, ...options };
  if (!COLOR.test(o.color)) throw new RangeError(`waveform colour ${JSON.stringify(o.color)} is not #hex or a keyword`);
  if (!(o.height > 0)) throw new RangeError(`waveform height must be positive: ${o.height}`);
  const n = Math.max(1, peaks.length);
  const mid = o.height / 2;
  const half = (p: number) => Math.max(o.minHalfHeight, Math.min(1, Math.max(0, Number.isFinite(p) ? p : 0)) * mid);
  // Top edge left to right through the centre of each peak's column, bottom edge back right to left.
  const top: string[] = [];
  const bottom: string[] = [];
  for (let i = 0; i < peaks.length; i++) {
    const x = r1(i + 0.5);
    const h = half(peaks[i]!);
    top.push(`${x} ${r1(mid - h)}`);
    bottom.push(`${x} ${r1(mid + h)}`);
  }
  bottom.reverse();
  const d = peaks.length
    ? `M0 ${r1(mid)}L${top.join("L")}L${n} ${r1(mid)}L${bottom.join("L")}Z`
    : `M0 ${r1(mid - o.minHalfHeight)}H${n}V${r1(mid + o.minHalfHeight)}H0Z`;
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${n} ${o.height}" preserveAspectRatio="none">` + `<path fill="${o.color}" d="${d}"/></svg>`;
}
