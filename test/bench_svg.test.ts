import { describe, expect, it } from 'vitest';

import { projectMpt } from '../lib/bench/projection.js';
import { barChart, escapeXml, lineChart, linearTicks, logTicks } from '../lib/bench/svg.js';
import { sweepCharts, type SweepReport, type SweepRow } from '../lib/bench/sweep.js';

/**
 * A strict-enough XML well-formedness check for generated SVG: one root, every tag closed in order,
 * attributes quoted and unique per element, no stray '<' or '&' in text, entities known.
 */
function checkWellFormed(xml: string): void {
  const stack: string[] = [];
  let roots = 0;
  const re = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>|([^<]+)/gy;
  let pos = 0;
  while (pos < xml.length) {
    re.lastIndex = pos;
    const m = re.exec(xml);
    if (!m) throw new Error(`not well-formed at ${pos}: ${xml.slice(pos, pos + 40)}`);
    pos = re.lastIndex;
    const [, close, name, attrs, selfClose, text] = m;
    if (text !== undefined) {
      if (stack.length === 0 && text.trim() !== '') throw new Error(`text outside the root: ${text.slice(0, 20)}`);
      for (const ent of text.match(/&[^;\s]*;?/g) ?? []) if (!/^&(amp|lt|gt|quot|apos);$/.test(ent)) throw new Error(`bad entity ${ent}`);
      continue;
    }
    const names = [...(attrs ?? '').matchAll(/([\w:-]+)="/g)].map((a) => a[1]);
    if (new Set(names).size !== names.length) throw new Error(`duplicate attribute in <${name}>`);
    for (const v of (attrs ?? '').matchAll(/="([^"]*)"/g)) for (const ent of v[1]!.match(/&[^;\s]*;?/g) ?? []) if (!/^&(amp|lt|gt|quot|apos);$/.test(ent)) throw new Error(`bad entity ${ent}`);
    if (close) {
      if (stack.pop() !== name) throw new Error(`</${name}> does not close the open element`);
    } else if (!selfClose) {
      if (stack.length === 0) roots++;
      stack.push(name!);
    } else if (stack.length === 0) roots++;
  }
  if (stack.length) throw new Error(`unclosed <${stack.join('>, <')}>`);
  if (roots !== 1) throw new Error(`${roots} root elements`);
}

describe('ticks', () => {
  it('linear ticks are 1/2/5 steps that cover the range', () => {
    const u = linearTicks(0, 1);
    expect(u).toHaveLength(6);
    u.forEach((v, i) => expect(v).toBeCloseTo(0.2 * i, 12));
    const t = linearTicks(0, 14254);
    expect(t[0]).toBe(0);
    expect(t[1]! - t[0]!).toBe(5000);
    expect(t[t.length - 1]).toBeGreaterThanOrEqual(10000);
    expect(linearTicks(0.55, 1.45, 5).every((v, i, a) => i === 0 || Math.abs(v - a[i - 1]! - 0.2) < 1e-12)).toBe(true);
  });
  it('log ticks are powers of the base inside the range', () => {
    expect(logTicks(128, 4096, 2)).toEqual([128, 256, 512, 1024, 2048, 4096]);
    expect(logTicks(100, 100000, 10)).toEqual([100, 1000, 10000, 100000]);
    expect(logTicks(1000, 10000, 10)).toEqual([1000, 2000, 5000, 10000]);
  });
});

describe('lineChart', () => {
  const series = [
    { name: 'a <small> & "quoted"', points: [[128, 100], [256, 90], [512, 70]] as [number, number][] },
    { name: 'b', points: [[128, 1000], [256, Number.NaN], [512, 800], [1024, 600]] as [number, number][], dashed: true },
  ];
  const svg = lineChart({ title: 'T & throughput', xLabel: 'sequence length', yLabel: 'tokens/s', series, logX: true, logY: true });

  it('is well-formed XML with an svg root', () => {
    expect(() => checkWellFormed(svg)).not.toThrow();
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(() => checkWellFormed('<svg><g></svg>')).toThrow(); // the checker itself can fail
    expect(() => checkWellFormed('<svg>a & b</svg>')).toThrow();
  });

  it('draws every series with its finite points, a legend entry, axes and ticks', () => {
    const groups = [...svg.matchAll(/<g class="series" data-name="([^"]*)"[^>]*>([\s\S]*?)<\/g>/g)];
    expect(groups.map((g) => g[1])).toEqual([escapeXml(series[0]!.name), 'b']);
    expect(groups[0]![2]!.match(/<circle/g)).toHaveLength(3);
    expect(groups[1]![2]!.match(/<circle/g)).toHaveLength(3); // the NaN point is left out
    const poly = /points="([^"]*)"/.exec(groups[1]![2]!)![1]!.split(' ');
    expect(poly).toHaveLength(3);
    expect(groups[1]![2]).toContain('stroke-dasharray');
    expect(svg).toContain(`<text x="`);
    expect(svg).toContain('a &lt;small&gt; &amp; &quot;quoted&quot;');
    for (const x of ['128', '256', '512', '1024']) expect(svg).toContain(`>${x}</text>`);
    for (const y of ['100', '1000']) expect(svg).toContain(`>${y}</text>`);
    expect(svg).toContain('T &amp; throughput');
  });

  it('maps larger values higher on the page and longer lengths to the right', () => {
    const pts = /points="([^"]*)"/.exec(svg)![1]!.split(' ').map((p) => p.split(',').map(Number));
    expect(pts[1]![0]!).toBeGreaterThan(pts[0]![0]!);
    expect(pts[1]![1]!).toBeGreaterThan(pts[0]![1]!); // y = 90 is below y = 100: larger page y
  });

  it('handles an empty chart', () => {
    expect(() => checkWellFormed(lineChart({ title: 'empty', xLabel: 'x', yLabel: 'y', series: [] }))).not.toThrow();
  });
});

/** The [x, yLow, yHigh] of each error-bar path in an SVG (stem drawn from y − e to y + e). */
function errorBars(svg: string): [number, number, number][] {
  return [...svg.matchAll(/class="error"[^>]* d="M([\d.]+),([\d.]+)V([\d.]+)/g)].map((m) => [Number(m[1]), Number(m[2]), Number(m[3])]);
}

describe('lineChart error bars and log bases', () => {
  it('draws an error bar per point with a positive error, centred on the point, and widens the y range to hold it', () => {
    const svg = lineChart({
      title: 'e', xLabel: 'x', yLabel: 'y', yFromZero: false,
      series: [{ name: 's', points: [[1, 10], [2, 12], [3, 11]], yError: [1, 0, Number.NaN] }],
    });
    checkWellFormed(svg);
    const bars = errorBars(svg);
    expect(bars).toHaveLength(1);
    const circle = /<circle cx="([\d.]+)" cy="([\d.]+)"/.exec(svg)!;
    const [x, lo, hi] = bars[0]!;
    expect(x).toBeCloseTo(Number(circle[1]), 1);
    expect((lo + hi) / 2).toBeCloseTo(Number(circle[2]), 0); // symmetric about y = 10
    expect(lo).toBeGreaterThan(hi); // y − e sits lower on the page
    expect(svg).toContain('>9</text>'); // the axis reaches down to 10 − 1
  });

  it('keeps the error of each point aligned when points are dropped', () => {
    const svg = lineChart({ title: 'e', xLabel: 'x', yLabel: 'y', series: [{ name: 's', points: [[1, Number.NaN], [2, 5]], yError: [3, 1] }] });
    const [[, lo, hi]] = errorBars(svg) as [[number, number, number]];
    const cy = Number(/<circle cx="[\d.]+" cy="([\d.]+)"/.exec(svg)![1]);
    // The bar belongs to (2, 5) with error 1: from 4 to 6, not 2 to 8.
    const unit = (lo - cy); // pixels per unit of y
    expect(hi).toBeCloseTo(cy - unit, 0);
    expect(svg).not.toContain('>8</text>');
  });

  it('takes a named log base per axis', () => {
    const svg = lineChart({ title: 't', xLabel: 'tokens', yLabel: 'loss', logX: 10, logY: 2, series: [{ name: 's', points: [[300, 3], [20000, 5]] }] });
    checkWellFormed(svg);
    const xt = [...svg.matchAll(/<g class="xticks"[\s\S]*?<\/g>/g)][0]![0];
    // The x axis spans the data (300 to 20000): its powers of 10 inside, none beyond.
    expect([...xt.matchAll(/>([\w.]+)<\/text>/g)].map((m) => m[1])).toEqual(['1000', '10k']);
    const yt = [...svg.matchAll(/<g class="yticks"[\s\S]*?<\/g>/g)][0]![0];
    expect([...yt.matchAll(/>([\d.]+)<\/text>/g)].map((m) => Number(m[1]))).toEqual([2, 4, 8]);
    // logX: true stays base 2.
    const s2 = lineChart({ title: 't', xLabel: 'T', yLabel: 'y', logX: true, series: [{ name: 's', points: [[128, 1], [512, 2]] }] });
    expect(s2).toContain('>256</text>');
  });
});

describe('lineChart markers and the x range', () => {
  it('draws no markers on a series with markers: false (but keeps a lone point), and ends the x axis at the data', () => {
    const svg = lineChart({
      title: 't', xLabel: 'tokens', yLabel: 'loss', series: [
        { name: 'dense', markers: false, points: [[0, 5], [300000, 3], [614400, 2]] },
        { name: 'lone', markers: false, points: [[614400, 2.5]] },
      ],
    });
    checkWellFormed(svg);
    const groups = [...svg.matchAll(/<g class="series"[^>]*>([\s\S]*?)<\/g>/g)];
    expect(groups[0]![1]).toContain('<polyline');
    expect(groups[0]![1]).not.toContain('<circle');
    expect(groups[1]![1]!.match(/<circle/g)).toHaveLength(1);
    const xt = [...svg.matchAll(/<g class="xticks"[\s\S]*?<\/g>/g)][0]![0];
    expect([...xt.matchAll(/>([\w.]+)<\/text>/g)].map((m) => m[1])).toEqual(['0', '200k', '400k', '600k']);
    // The last point sits on the right end of the plot, not short of an 800k tick.
    const pts = /points="([^"]*)"/.exec(groups[0]![1]!)![1]!.split(' ').map((p) => Number(p.split(',')[0]));
    expect(pts[2]).toBeCloseTo(720 - 170, 0);
  });
});

describe('barChart', () => {
  const bars = [
    { label: 'rope + swiglu', value: 2.0, error: 0.1, group: 'rope' },
    { label: 'rope + relu', value: 2.2, error: 0.05, group: 'rope' },
    { label: 'alibi + <swiglu>', value: 1.8, group: 'alibi' },
    { label: 'broken', value: Number.NaN, group: 'alibi' },
  ];
  const svg = barChart({ title: 'bits per byte & more', yLabel: 'bits/byte', bars });

  it('is well-formed, one bar per finite value, in order, with escaped labels', () => {
    checkWellFormed(svg);
    expect([...svg.matchAll(/class="bar" data-label="([^"]*)"/g)].map((m) => m[1])).toEqual(['rope + swiglu', 'rope + relu', 'alibi + &lt;swiglu&gt;']);
    expect(svg).toContain('bits per byte &amp; more');
  });

  it('draws heights proportional to the values from zero, and error bars only where given', () => {
    const rects = [...svg.matchAll(/class="bar"[^>]*>\n<rect x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" height="([\d.]+)"/g)].map((m) => m.slice(1).map(Number));
    expect(rects).toHaveLength(3);
    const bottoms = rects.map(([, y, , h]) => y! + h!);
    expect(bottoms[1]).toBeCloseTo(bottoms[0]!, 1); // one baseline: y = 0
    expect(rects[1]![3]! / rects[0]![3]!).toBeCloseTo(2.2 / 2.0, 2);
    expect(rects[2]![3]! / rects[0]![3]!).toBeCloseTo(1.8 / 2.0, 2);
    expect(rects[1]![0]).toBeGreaterThan(rects[0]![0]!);
    const eb = errorBars(svg);
    expect(eb).toHaveLength(2);
    const top0 = rects[0]![1]!, perUnit = rects[0]![3]! / 2.0;
    expect(eb[0]![1]).toBeCloseTo(top0 + 0.1 * perUnit, 0);
    expect(eb[0]![2]).toBeCloseTo(top0 - 0.1 * perUnit, 0);
  });

  it('colours bars by group with one legend entry per group, and has no legend without groups', () => {
    const fills = [...svg.matchAll(/class="bar" data-label="[^"]*" fill="([^"]*)"/g)].map((m) => m[1]);
    expect(fills[0]).toBe(fills[1]);
    expect(fills[2]).not.toBe(fills[0]);
    expect([...svg.matchAll(/class="legend">.*?<text[^>]*>([^<]*)</g)].map((m) => m[1])).toEqual(['rope', 'alibi']);
    const plain = barChart({ title: 't', yLabel: 'y', bars: [{ label: 'a', value: 1 }, { label: 'b', value: 2 }] });
    checkWellFormed(plain);
    expect(plain).not.toContain('class="legend"');
    expect(plain).not.toContain('rotate(-35'); // short labels stay level
  });

  it('slants long labels, supports a log axis and yFromZero false, and draws an empty chart', () => {
    const long = barChart({ title: 't', yLabel: 'y', bars: Array.from({ length: 12 }, (_, i) => ({ label: `a fairly long cell name ${i}`, value: i + 1 })) });
    checkWellFormed(long);
    expect(long).toContain('rotate(-35');
    const log = barChart({ title: 't', yLabel: 'y', logY: true, bars: [{ label: 'a', value: 10 }, { label: 'b', value: 1000 }, { label: 'z', value: 0 }] });
    checkWellFormed(log);
    expect([...log.matchAll(/class="bar"/g)]).toHaveLength(2); // 0 has no place on a log axis
    for (const v of ['10', '100', '1000']) expect(log).toContain(`>${v}</text>`);
    const tight = barChart({ title: 't', yLabel: 'y', yFromZero: false, bars: [{ label: 'a', value: 1.9 }, { label: 'b', value: 2.1 }] });
    expect(tight).not.toContain('>0</text>');
    // A linear axis reaches out to whole steps, so both ends carry a label (2.22..2.36 in steps of 0.05: 2.2 to 2.4).
    const ends = barChart({ title: 't', yLabel: 'y', yFromZero: false, bars: [{ label: 'a', value: 2.22 }, { label: 'b', value: 2.36 }] });
    const yt = [...ends.matchAll(/<g class="yticks"[\s\S]*?<\/g>/g)][0]![0];
    expect([...yt.matchAll(/>([\d.]+)<\/text>/g)].map((m) => Number(m[1]))).toEqual([2.2, 2.25, 2.3, 2.35, 2.4]);
    // 1.887..2.699 widens to 1.8..2.8 in steps of 0.2, not to ticks of another step that leave the ends bare.
    const wide = barChart({ title: 't', yLabel: 'y', yFromZero: false, bars: [{ label: 'a', value: 1.887 }, { label: 'b', value: 2.699 }] });
    const wt = [...wide.matchAll(/<g class="yticks"[\s\S]*?<\/g>/g)][0]![0];
    expect([...wt.matchAll(/>([\d.]+)<\/text>/g)].map((m) => Number(m[1]))).toEqual([1.8, 2, 2.2, 2.4, 2.6, 2.8]);
    expect(() => checkWellFormed(barChart({ title: 'empty', yLabel: 'y', bars: [] }))).not.toThrow();
  });
});

describe('sweepCharts', () => {
  const row = (size: string, params: number, layers: number, dim: number, T: number, tps: number, rel: number): SweepRow => ({
    size, params, layers, dim, T, batch: 4096 / T, stepSeconds: 4096 / tps, repeatSeconds: [4096 / tps], spread: 0, tokensPerSec: tps, gflops: 1, gflopsCausal: 1, mfu: 0.5,
    attentionFlopShare: 0.1, attentionTimeShare: 0.1, peakBytes: 1, estimatedBytes: 2, relative: rel,
  });
  const report: SweepReport = {
    machine: { cpu: 'test', cores: 2, tier: 'avx2', node: 'v0', date: '2026-01-01T00:00:00Z' }, threads: 2, peak: 100,
    options: { tokensPerStep: 4096, vocab: 8192, position: 'rope', activation: 'swiglu', optimizer: 'adamw', steps: 3, repeats: 1 },
    rows: [
      row('1M', 1.5e6, 2, 128, 128, 10000, 1), row('1M', 1.5e6, 2, 128, 1024, 8000, 0.8), row('1M', 1.5e6, 2, 128, 4096, 5000, 0.5),
      row('5M', 5.3e6, 4, 256, 128, 5000, 1), row('5M', 5.3e6, 4, 256, 1024, 4500, 0.9), row('5M', 5.3e6, 4, 256, 4096, 3500, 0.7),
    ],
    skipped: [],
  };

  it('writes the throughput and relative charts with one series per size', () => {
    const charts = sweepCharts(report);
    expect(charts.map((c) => c.file)).toEqual(['sweep_throughput.svg', 'sweep_relative.svg']);
    for (const c of charts) {
      checkWellFormed(c.svg);
      expect([...c.svg.matchAll(/class="series" data-name="([^"]*)"/g)].map((m) => m[1])).toEqual(['1M', '5M']);
    }
  });

  it('adds MosaicML and projected MPT series to the relative chart when given a projection', () => {
    const svg = sweepCharts(report, projectMpt(report.rows))[1]!.svg;
    checkWellFormed(svg);
    const names = [...svg.matchAll(/class="series" data-name="([^"]*)"/g)].map((m) => m[1]);
    expect(names).toEqual(['1M', '5M', 'MPT 125M MosaicML', 'MPT 125M projected', 'MPT 13B MosaicML', 'MPT 13B projected', 'MPT 30B MosaicML', 'MPT 30B projected']);
  });
});
