/**
 * Line charts as standalone SVG text, no dependencies: axes with "nice" ticks (linear: 1/2/2.5/5 × 10^k steps;
 * log2 or log10 axes: powers of the base, with 2× and 5× minor labels on log10 when few decades show),
 * one polyline per series with point markers, a legend on the right. Used by the sweep for its charts.
 */

export interface ChartSeries {
  name: string;
  /** [x, y] pairs; pairs with a non-finite coordinate (or ≤ 0 on a log axis) are left out. */
  points: readonly (readonly [number, number])[];
  /** Dashed line (e.g. published or projected figures beside measured ones). */
  dashed?: boolean;
}

export interface LineChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: readonly ChartSeries[];
  /** Logarithmic x axis in base 2 (sequence lengths). */
  logX?: boolean;
  /** Logarithmic y axis in base 10 (throughputs spanning decades). */
  logY?: boolean;
  /** Include y = 0 on a linear y axis (default true). */
  yFromZero?: boolean;
  width?: number;
  height?: number;
}

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#7f7f7f', '#bcbd22'];

export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

/** Ticks for a linear axis: about `target` steps of 1, 2, 2.5 or 5 × 10^k covering [lo, hi]. */
export function linearTicks(lo: number, hi: number, target = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / target;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  const ticks: number[] = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) ticks.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return ticks;
}

/** Ticks for a log axis: the powers of `base` within [lo, hi]; on log10 with under two decades, 2× and 5× too. */
export function logTicks(lo: number, hi: number, base: 2 | 10): number[] {
  const ticks: number[] = [];
  const first = Math.floor(Math.log(lo) / Math.log(base) + 1e-9), last = Math.ceil(Math.log(hi) / Math.log(base) - 1e-9);
  const mult = base === 10 && last - first <= 2 ? [1, 2, 5] : [1];
  for (let e = first; e <= last; e++)
    for (const m of mult) {
      const v = m * base ** e;
      if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) ticks.push(v);
    }
  return ticks;
}

function fmt(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e6) return `${+(v / 1e6).toPrecision(3)}M`;
  if (a >= 1e4) return `${+(v / 1e3).toPrecision(3)}k`;
  if (a >= 1 || a === 0) return `${+v.toPrecision(4)}`;
  return `${+v.toPrecision(2)}`;
}

export function lineChart(o: LineChartOptions): string {
  const W = o.width ?? 720, H = o.height ?? 440;
  const left = 72, right = 170, top = 40, bottom = 56;
  const pw = W - left - right, ph = H - top - bottom;
  const ok = (x: number, y: number): boolean => Number.isFinite(x) && Number.isFinite(y) && (!o.logX || x > 0) && (!o.logY || y > 0);
  const series = o.series.map((s) => ({ ...s, points: s.points.filter(([x, y]) => ok(x, y)) }));
  const xs = series.flatMap((s) => s.points.map((p) => p[0])), ys = series.flatMap((s) => s.points.map((p) => p[1]));
  let [x0, x1] = xs.length ? [Math.min(...xs), Math.max(...xs)] : [1, 2];
  let [y0, y1] = ys.length ? [Math.min(...ys), Math.max(...ys)] : [0, 1];
  if (!o.logY && (o.yFromZero ?? true)) y0 = Math.min(0, y0);
  if (x0 === x1) [x0, x1] = o.logX ? [x0 / 2, x1 * 2] : [x0 - 1, x1 + 1];
  if (y0 === y1) [y0, y1] = o.logY ? [y0 / 2, y1 * 2] : [y0 - 1, y1 + 1];
  let yt: number[];
  if (o.logY) {
    // Widen to whole decades (or the 1/2/5 steps inside them) so the ends carry labels.
    y0 = 10 ** Math.floor(Math.log10(y0));
    y1 = 10 ** Math.ceil(Math.log10(y1));
    yt = logTicks(y0, y1, 10);
  } else {
    yt = linearTicks(y0, y1);
    y0 = Math.min(y0, yt[0]!);
    y1 = Math.max(y1, yt[yt.length - 1]!);
  }
  const xt = o.logX ? logTicks(x0, x1, 2) : linearTicks(x0, x1);
  if (!o.logX) [x0, x1] = [Math.min(x0, xt[0]!), Math.max(x1, xt[xt.length - 1]!)];
  const tx = (x: number): number => left + (o.logX ? Math.log2(x / x0) / Math.log2(x1 / x0) : (x - x0) / (x1 - x0)) * pw;
  const ty = (y: number): number => top + ph - (o.logY ? Math.log10(y / y0) / Math.log10(y1 / y0) : (y - y0) / (y1 - y0)) * ph;
  const r = (v: number): string => v.toFixed(1);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect x="0" y="0" width="${W}" height="${H}" fill="white"/>`,
    `<text x="${r(left + pw / 2)}" y="22" text-anchor="middle" font-size="15">${escapeXml(o.title)}</text>`,
    `<g class="grid" stroke="#e5e5e5">`,
    ...yt.map((v) => `<line x1="${left}" y1="${r(ty(v))}" x2="${left + pw}" y2="${r(ty(v))}"/>`),
    ...xt.map((v) => `<line x1="${r(tx(v))}" y1="${top}" x2="${r(tx(v))}" y2="${top + ph}"/>`),
    `</g>`,
    `<g class="axes" stroke="black"><line x1="${left}" y1="${top + ph}" x2="${left + pw}" y2="${top + ph}"/><line x1="${left}" y1="${top}" x2="${left}" y2="${top + ph}"/></g>`,
    `<g class="xticks" text-anchor="middle">`,
    ...xt.map((v) => `<line x1="${r(tx(v))}" y1="${top + ph}" x2="${r(tx(v))}" y2="${top + ph + 5}" stroke="black"/><text x="${r(tx(v))}" y="${top + ph + 19}">${fmt(v)}</text>`),
    `</g>`,
    `<g class="yticks" text-anchor="end">`,
    ...yt.map((v) => `<line x1="${left - 5}" y1="${r(ty(v))}" x2="${left}" y2="${r(ty(v))}" stroke="black"/><text x="${left - 8}" y="${r(ty(v) + 4)}">${fmt(v)}</text>`),
    `</g>`,
    `<text x="${r(left + pw / 2)}" y="${H - 14}" text-anchor="middle">${escapeXml(o.xLabel)}</text>`,
    `<text x="18" y="${r(top + ph / 2)}" text-anchor="middle" transform="rotate(-90 18 ${r(top + ph / 2)})">${escapeXml(o.yLabel)}</text>`,
  ];
  series.forEach((s, i) => {
    const color = PALETTE[i % PALETTE.length]!;
    const pts = s.points.map(([x, y]) => `${r(tx(x))},${r(ty(y))}`).join(' ');
    out.push(`<g class="series" data-name="${escapeXml(s.name)}" stroke="${color}" fill="${color}">`);
    if (s.points.length > 1) out.push(`<polyline fill="none" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''} points="${pts}"/>`);
    for (const [x, y] of s.points) out.push(`<circle cx="${r(tx(x))}" cy="${r(ty(y))}" r="3"/>`);
    out.push('</g>');
    const ly = top + 8 + i * 18;
    out.push(
      `<g class="legend"><line x1="${left + pw + 12}" y1="${ly}" x2="${left + pw + 36}" y2="${ly}" stroke="${color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>` +
        `<text x="${left + pw + 42}" y="${ly + 4}">${escapeXml(s.name)}</text></g>`,
    );
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
