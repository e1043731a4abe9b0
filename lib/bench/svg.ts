/**
 * Line and bar charts as standalone SVG text, no dependencies: axes with "nice" ticks (linear: 1/2/2.5/5 × 10^k
 * steps; log axes in base 2 or 10: powers of the base, with 2× and 5× minor labels on log10 when few decades
 * show), optional error bars, a legend on the right. Used by the sweep, `compare runs`, `context` and `ablate`.
 */
import { ArgumentTypeError, ValueError } from '../errors.js';
import { checkFinite, checkInt, checkNumber, checkObject, checkOptions, checkString, describe, showValue } from '../ops/util.js';

export interface ChartSeries {
  name: string;
  /** [x, y] pairs; pairs with a non-finite or null coordinate (or ≤ 0 on a log axis) are left out. */
  points: readonly (readonly [number, number])[];
  /** Half-height of an error bar per point (same order as points; missing, 0 or non-finite: no bar). */
  yError?: readonly number[];
  /** Dashed line (e.g. published or projected figures beside measured ones). */
  dashed?: boolean;
  /** A marker on each point (default true; off for dense curves such as a per-step loss). */
  markers?: boolean;
}

/** A log axis: `true` takes the chart's default base for that axis, or name the base. */
export type LogScale = boolean | 2 | 10;

interface AxesOptions {
  title: string;
  yLabel: string;
  /** Logarithmic y axis (`true`: base 10, for throughputs spanning decades). */
  logY?: LogScale;
  /** Include y = 0 on a linear y axis (default true). */
  yFromZero?: boolean;
  width?: number;
  height?: number;
}

export interface LineChartOptions extends AxesOptions {
  xLabel: string;
  series: readonly ChartSeries[];
  /** Logarithmic x axis (`true`: base 2, for sequence lengths). */
  logX?: LogScale;
}

export interface Bar {
  label: string;
  value: number;
  /** Half-height of the error bar (e.g. a standard deviation over seeds). */
  error?: number;
  /** Bars of one group share a colour and a legend entry; no groups, no legend. */
  group?: string;
}

export interface BarChartOptions extends AxesOptions {
  bars: readonly Bar[];
  /** Axis title under the bar labels. */
  xLabel?: string;
}

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#7f7f7f', '#bcbd22'];
const color = (i: number): string => PALETTE[i % PALETTE.length]!;

export function escapeXml(s: string): string {
  return checkString('escapeXml', 's', s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

/** Ticks for a linear axis: about `target` steps of 1, 2, 2.5 or 5 × 10^k covering [lo, hi]. */
export function linearTicks(lo: number, hi: number, target = 5): number[] {
  const op = 'linearTicks';
  checkRange(op, checkFinite(op, 'lo', lo), checkFinite(op, 'hi', hi));
  checkInt(op, 'target', target, 1, 1000);
  return hi === lo ? [lo] : ticksOf(op, lo, hi, target);
}

function checkRange(op: string, lo: number, hi: number): void {
  if (hi < lo) throw new ValueError(op, `hi must be >= lo, got lo ${lo}, hi ${hi}`);
}

/**
 * linearTicks for finite lo < hi. Ticks are counted by index rather than by adding steps: a step below
 * the spacing of float64 near lo would never advance. A range wider than float64 holds, or narrower than
 * labels can tell apart, is a ValueError naming the chart's op.
 */
function ticksOf(op: string, lo: number, hi: number, target: number): number[] {
  const raw = (hi - lo) / target;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw);
  if (step === undefined || !(step > 0) || !Number.isFinite(step) || step < Math.max(Math.abs(lo), Math.abs(hi)) * 1e-12)
    throw new ValueError(op, `cannot tick the range [${lo}, ${hi}] in float64: it is ${Number.isFinite(hi - lo) ? 'too narrow for its magnitude' : 'too wide'}`);
  const i0 = Math.ceil(lo / step - 1e-9), i1 = Math.floor(hi / step + 1e-9);
  return Array.from({ length: Math.max(0, i1 - i0 + 1) }, (_, k) => {
    const v = (i0 + k) * step;
    return Math.abs(v) < step * 1e-9 ? 0 : v;
  });
}

/** Ticks for a log axis: the powers of `base` within [lo, hi]; on log10 with under two decades, 2× and 5× too. */
export function logTicks(lo: number, hi: number, base: 2 | 10): number[] {
  const op = 'logTicks';
  if (base !== 2 && base !== 10) throw new ValueError(op, `base must be 2 or 10, got ${showValue(base)}`);
  checkRange(op, checkFinite(op, 'lo', lo), checkFinite(op, 'hi', hi));
  if (!(lo > 0)) throw new ValueError(op, `lo must be > 0 on a log axis, got ${lo}`);
  const ticks: number[] = [];
  const first = Math.floor(Math.log(lo) / Math.log(base) + 1e-9), last = Math.ceil(Math.log(hi) / Math.log(base) - 1e-9);
  const mult = base === 10 && last - first <= 2 ? [1, 2, 5] : [1];
  for (let e = first; e <= last; e++)
    for (const m of mult) {
      const v = m * base ** e;
      // As ratios: hi * (1 + 1e-9) overflows to Infinity near the float64 maximum.
      if (v / lo >= 1 - 1e-9 && v / hi <= 1 + 1e-9) ticks.push(v);
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

const r = (v: number): string => v.toFixed(1);
const baseOf = (log: LogScale | undefined, dflt: 2 | 10): 0 | 2 | 10 => (log === true ? dflt : log || 0);

interface Axis {
  lo: number;
  hi: number;
  ticks: number[];
  /** Value to the fraction 0..1 along the axis. */
  frac(v: number): number;
}

/**
 * An axis covering `values`. With `widen` (y axes), a log axis reaches out to whole powers of its base and a
 * linear one to whole steps, so both ends carry a label; without (x axes), it spans the data, ticked inside.
 */
function makeAxis(op: string, values: readonly number[], base: 0 | 2 | 10, fromZero: boolean, widen = true): Axis {
  let [lo, hi] = values.length ? [Math.min(...values), Math.max(...values)] : base ? [1, base] : [0, 1];
  if (!base && fromZero) [lo, hi] = [Math.min(0, lo), Math.max(0, hi)];
  // A lone value, or values that differ only in rounding (which ticksOf cannot tell apart), get room around
  // them; ±1 would vanish in rounding beside a value of 2^53 or more.
  const pad = Math.max(1, Math.abs(lo) * 1e-3);
  if (hi - lo <= Math.max(Math.abs(lo), Math.abs(hi)) * 1e-12) [lo, hi] = base ? [lo / base, hi * base] : [lo - pad, hi + pad];
  const beyond = (): ValueError => new ValueError(op, `values from ${Math.min(...values)} to ${Math.max(...values)} make an axis from ${lo} to ${hi}, beyond what float64 can draw`);
  if (base) {
    const lb = Math.log(base);
    if (widen) [lo, hi] = [base ** Math.floor(Math.log(lo) / lb + 1e-9), base ** Math.ceil(Math.log(hi) / lb - 1e-9)];
    // Near the float64 limits an end can widen to 0 or Infinity.
    if (!(lo > 0 && Number.isFinite(hi))) throw beyond();
    // Differences of logs: hi / lo overflows for an axis spanning more than float64's range.
    return { lo, hi, ticks: logTicks(lo, hi, base), frac: (v) => (Math.log(v) - Math.log(lo)) / (Math.log(hi) - Math.log(lo)) };
  }
  if (!Number.isFinite(hi - lo)) throw beyond();
  const inner = ticksOf(op, lo, hi, 5);
  if (!widen) return { lo, hi, ticks: inner, frac: (v) => (v - lo) / (hi - lo) };
  const step = inner.length > 1 ? inner[1]! - inner[0]! : hi - lo;
  // Out to the next multiples of the step, ticked with that same step (1e-9: a value on a tick stays there).
  const i0 = Math.floor(lo / step + 1e-9), i1 = Math.ceil(hi / step - 1e-9);
  [lo, hi] = [i0 * step, i1 * step];
  if (!Number.isFinite(hi - lo)) throw beyond();
  const ticks = Array.from({ length: i1 - i0 + 1 }, (_, k) => (i0 + k) * step);
  return { lo, hi, ticks, frac: (v) => (v - lo) / (hi - lo) };
}

interface Frame {
  left: number;
  top: number;
  pw: number;
  ph: number;
  ty(y: number): number;
}

/** Background, title, horizontal grid, axes lines, y ticks and the y label; the caller adds the x side. */
function frame(o: AxesOptions, y: Axis, margins: { bottom: number; right: number }): { f: Frame; out: string[]; W: number; H: number } {
  const W = o.width ?? 720, H = o.height ?? 440;
  const left = 72, top = 40;
  const pw = W - left - margins.right, ph = H - top - margins.bottom;
  const ty = (v: number): number => top + ph - y.frac(v) * ph;
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect x="0" y="0" width="${W}" height="${H}" fill="white"/>`,
    `<text x="${r(left + pw / 2)}" y="22" text-anchor="middle" font-size="15">${escapeXml(o.title)}</text>`,
    `<g class="grid" stroke="#e5e5e5">`,
    ...y.ticks.map((v) => `<line x1="${left}" y1="${r(ty(v))}" x2="${left + pw}" y2="${r(ty(v))}"/>`),
    `</g>`,
    `<g class="axes" stroke="black"><line x1="${left}" y1="${top + ph}" x2="${left + pw}" y2="${top + ph}"/><line x1="${left}" y1="${top}" x2="${left}" y2="${top + ph}"/></g>`,
    `<g class="yticks" text-anchor="end">`,
    ...y.ticks.map((v) => `<line x1="${left - 5}" y1="${r(ty(v))}" x2="${left}" y2="${r(ty(v))}" stroke="black"/><text x="${left - 8}" y="${r(ty(v) + 4)}">${fmt(v)}</text>`),
    `</g>`,
    `<text x="18" y="${r(top + ph / 2)}" text-anchor="middle" transform="rotate(-90 18 ${r(top + ph / 2)})">${escapeXml(o.yLabel)}</text>`,
  ];
  return { f: { left, top, pw, ph, ty }, out, W, H };
}

/** A vertical error bar with caps from y − e to y + e, clipped to the axis (a log axis has no room below 0). */
function errorBar(f: Frame, y: Axis, px: number, v: number, e: number | undefined, cap: number): string {
  if (!(e !== undefined && Number.isFinite(e) && e > 0)) return '';
  const clip = (w: number): number => f.ty(Math.min(y.hi, Math.max(y.lo, w)));
  const y1 = clip(v - e), y2 = clip(v + e);
  return `<path class="error" fill="none" stroke-width="1.5" d="M${r(px)},${r(y1)}V${r(y2)}M${r(px - cap)},${r(y1)}H${r(px + cap)}M${r(px - cap)},${r(y2)}H${r(px + cap)}"/>`;
}

/** One legend entry at row i, right of the plot: a line (series) or a swatch (bar groups). */
function legendEntry(f: Frame, i: number, name: string, mark: 'line' | 'box', dashed = false): string {
  const x = f.left + f.pw + 12, y = f.top + 8 + i * 18, c = color(i);
  const sym =
    mark === 'line'
      ? `<line x1="${x}" y1="${y}" x2="${x + 24}" y2="${y}" stroke="${c}" stroke-width="2"${dashed ? ' stroke-dasharray="6 4"' : ''}/>`
      : `<rect x="${x + 6}" y="${y - 6}" width="12" height="12" fill="${c}"/>`;
  return `<g class="legend">${sym}<text x="${x + 30}" y="${y + 4}">${escapeXml(name)}</text></g>`;
}

// ---- argument checks: null or undefined optional fields take their defaults ----

const AXES_KEYS = ['title', 'yLabel', 'logY', 'yFromZero', 'width', 'height'] as const;

function optional(v: unknown, check: () => unknown): void {
  if (v !== undefined && v !== null) check();
}

function checkBool(op: string, name: string, v: unknown): void {
  optional(v, () => {
    if (typeof v !== 'boolean') throw new ArgumentTypeError(op, `${name} must be a boolean, got ${describe(v)}`);
  });
}

function checkArray(op: string, name: string, v: unknown): unknown[] {
  if (!Array.isArray(v)) throw new ArgumentTypeError(op, `${name} must be an array, got ${describe(v)}`);
  return v;
}

/** The options every chart takes; width and height leave the plot some room inside the margins. */
function checkAxes(op: string, o: unknown, keys: readonly string[]): Record<string, unknown> {
  const obj = checkObject(op, 'options', o);
  checkOptions(op, obj, [...AXES_KEYS, ...keys]);
  checkString(op, 'title', obj.title);
  checkString(op, 'yLabel', obj.yLabel);
  checkLog(op, 'logY', obj.logY);
  checkBool(op, 'yFromZero', obj.yFromZero);
  for (const [name, min] of [['width', 320], ['height', 240]] as const)
    optional(obj[name], () => {
      const v = checkFinite(op, name, obj[name]);
      if (v < min || v > 16384) throw new ValueError(op, `${name} must be in [${min}, 16384] pixels, got ${v}`);
    });
  return obj;
}

function checkLog(op: string, name: string, v: unknown): void {
  optional(v, () => {
    if (v !== true && v !== false && v !== 2 && v !== 10) throw new ValueError(op, `${name} must be true, false, 2 or 10, got ${showValue(v)}`);
  });
}

function checkLineChart(op: string, o: unknown): void {
  const obj = checkAxes(op, o, ['xLabel', 'series', 'logX']);
  checkString(op, 'xLabel', obj.xLabel);
  checkLog(op, 'logX', obj.logX);
  checkArray(op, 'series', obj.series).forEach((x, i) => {
    const s = checkObject(op, `series[${i}]`, x);
    checkOptions(op, s, ['name', 'points', 'yError', 'dashed', 'markers']);
    checkString(op, `series[${i}].name`, s.name);
    checkArray(op, `series[${i}].points`, s.points).forEach((p, j) => {
      // null is a missing value, left out like a non-finite one: JSON (a run's log) writes NaN as null.
      if (!Array.isArray(p) || p.length !== 2 || !p.every((v) => typeof v === 'number' || v === null))
        throw new ArgumentTypeError(op, `series[${i}].points[${j}] must be an [x, y] pair of numbers, got ${Array.isArray(p) ? `[${p.map(showValue).join(', ')}]` : describe(p)}`);
    });
    optional(s.yError, () => checkArray(op, `series[${i}].yError`, s.yError).forEach((e, j) => optional(e, () => checkNumber(op, `series[${i}].yError[${j}]`, e))));
    checkBool(op, `series[${i}].dashed`, s.dashed);
    checkBool(op, `series[${i}].markers`, s.markers);
  });
}

function checkBarChart(op: string, o: unknown): void {
  const obj = checkAxes(op, o, ['bars', 'xLabel']);
  optional(obj.xLabel, () => checkString(op, 'xLabel', obj.xLabel));
  checkArray(op, 'bars', obj.bars).forEach((x, i) => {
    const b = checkObject(op, `bars[${i}]`, x);
    checkOptions(op, b, ['label', 'value', 'error', 'group']);
    checkString(op, `bars[${i}].label`, b.label);
    if (b.value !== null) checkNumber(op, `bars[${i}].value`, b.value); // null: missing, left out as NaN is
    optional(b.error, () => checkNumber(op, `bars[${i}].error`, b.error));
    optional(b.group, () => checkString(op, `bars[${i}].group`, b.group));
  });
}

export function lineChart(o: LineChartOptions): string {
  const op = 'lineChart';
  checkLineChart(op, o);
  const bx = baseOf(o.logX, 2), by = baseOf(o.logY, 10);
  const ok = (x: number, y: number): boolean => Number.isFinite(x) && Number.isFinite(y) && (!bx || x > 0) && (!by || y > 0);
  const series = o.series.map((s) => {
    const keep = s.points.map(([x, y]) => ok(x, y));
    return { ...s, points: s.points.filter((_, i) => keep[i]), yError: s.yError ? s.points.map((_, i) => s.yError![i] ?? 0).filter((_, i) => keep[i]) : undefined };
  });
  const x = makeAxis(op, series.flatMap((s) => s.points.map((p) => p[0])), bx, false, false);
  const yv = series.flatMap((s) =>
    s.points.flatMap(([, v], i) => {
      const e = s.yError?.[i] ?? 0;
      // Error bars widen the range, except below zero on a log axis.
      return Number.isFinite(e) && e > 0 ? [v, v + e, ...(!by || v - e > 0 ? [v - e] : [])] : [v];
    }),
  );
  const y = makeAxis(op, yv, by, !by && (o.yFromZero ?? true));
  const { f, out, H } = frame(o, y, { bottom: 56, right: 170 });
  const tx = (v: number): number => f.left + x.frac(v) * f.pw;
  out.push(
    `<g class="grid" stroke="#e5e5e5">`,
    ...x.ticks.map((v) => `<line x1="${r(tx(v))}" y1="${f.top}" x2="${r(tx(v))}" y2="${f.top + f.ph}"/>`),
    `</g>`,
    `<g class="xticks" text-anchor="middle">`,
    ...x.ticks.map((v) => `<line x1="${r(tx(v))}" y1="${f.top + f.ph}" x2="${r(tx(v))}" y2="${f.top + f.ph + 5}" stroke="black"/><text x="${r(tx(v))}" y="${f.top + f.ph + 19}">${fmt(v)}</text>`),
    `</g>`,
    `<text x="${r(f.left + f.pw / 2)}" y="${H - 14}" text-anchor="middle">${escapeXml(o.xLabel)}</text>`,
  );
  series.forEach((s, i) => {
    const pts = s.points.map(([px, py]) => `${r(tx(px))},${r(f.ty(py))}`).join(' ');
    out.push(`<g class="series" data-name="${escapeXml(s.name)}" stroke="${color(i)}" fill="${color(i)}">`);
    if (s.points.length > 1) out.push(`<polyline fill="none" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''} points="${pts}"/>`);
    s.points.forEach(([px, py], j) => {
      // A lone point keeps its marker, or it would not show at all.
      if (s.markers !== false || s.points.length === 1) out.push(`<circle cx="${r(tx(px))}" cy="${r(f.ty(py))}" r="3"/>`);
      const eb = errorBar(f, y, tx(px), py, s.yError?.[j], 4);
      if (eb) out.push(eb);
    });
    out.push('</g>', legendEntry(f, i, s.name, 'line', s.dashed));
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

/**
 * Vertical bars in the given order, one per entry, labelled underneath (slanted when they would not fit), with
 * error bars; bars with a `group` are coloured by group and the groups get a legend. Bars rise from 0 on a
 * linear axis that includes it, else from the bottom of the axis (yFromZero false, or a log axis).
 */
export function barChart(o: BarChartOptions): string {
  const op = 'barChart';
  checkBarChart(op, o);
  const by = baseOf(o.logY, 10);
  const bars = o.bars.filter((b) => Number.isFinite(b.value) && (!by || b.value > 0));
  const groups = [...new Set(bars.flatMap((b) => (b.group == null ? [] : [b.group])))];
  const yv = bars.flatMap((b) => {
    const e = b.error ?? 0;
    return Number.isFinite(e) && e > 0 ? [b.value, b.value + e, ...(!by || b.value - e > 0 ? [b.value - e] : [])] : [b.value];
  });
  const y = makeAxis(op, yv, by, !by && (o.yFromZero ?? true));
  const W = o.width ?? 720;
  const right = groups.length ? 170 : 24;
  const slot = (W - 72 - right) / Math.max(1, bars.length);
  const longest = Math.max(0, ...bars.map((b) => b.label.length));
  // About 7 px per character at 12 px: labels that do not fit their slot are slanted, and the bottom grows.
  const slant = longest * 7 > slot;
  const bottom = (slant ? Math.min(160, 20 + longest * 5) : 30) + (o.xLabel ? 26 : 0);
  const { f, out, H } = frame(o, y, { bottom, right });
  const base = f.ty(!by && y.lo <= 0 && y.hi >= 0 ? 0 : y.lo);
  const bw = Math.max(2, slot * 0.7);
  bars.forEach((b, i) => {
    const cx = f.left + (i + 0.5) * slot, top = f.ty(b.value);
    const c = color(b.group == null ? 0 : groups.indexOf(b.group));
    out.push(
      `<g class="bar" data-label="${escapeXml(b.label)}" fill="${c}" stroke="black">`,
      `<rect x="${r(cx - bw / 2)}" y="${r(Math.min(top, base))}" width="${r(bw)}" height="${r(Math.abs(base - top))}" stroke="none"/>`,
    );
    const eb = errorBar(f, y, cx, b.value, b.error, Math.min(6, bw / 3));
    if (eb) out.push(eb);
    const ly = f.top + f.ph + 16;
    out.push(
      slant
        ? `<text x="${r(cx)}" y="${ly}" text-anchor="end" stroke="none" fill="black" transform="rotate(-35 ${r(cx)} ${ly})">${escapeXml(b.label)}</text>`
        : `<text x="${r(cx)}" y="${ly}" text-anchor="middle" stroke="none" fill="black">${escapeXml(b.label)}</text>`,
      '</g>',
    );
  });
  groups.forEach((g, i) => out.push(legendEntry(f, i, g, 'box')));
  if (o.xLabel) out.push(`<text x="${r(f.left + f.pw / 2)}" y="${H - 12}" text-anchor="middle">${escapeXml(o.xLabel)}</text>`);
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
