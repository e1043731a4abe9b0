import { describe, expect, it } from 'vitest';

import { projectMpt } from '../lib/bench/projection.js';
import { escapeXml, lineChart, linearTicks, logTicks } from '../lib/bench/svg.js';
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

describe('sweepCharts', () => {
  const row = (size: string, params: number, layers: number, dim: number, T: number, tps: number, rel: number): SweepRow => ({
    size, params, layers, dim, T, batch: 4096 / T, stepSeconds: 4096 / tps, tokensPerSec: tps, gflops: 1, gflopsCausal: 1, mfu: 0.5,
    attentionFlopShare: 0.1, attentionTimeShare: 0.1, peakBytes: 1, estimatedBytes: 2, relative: rel,
  });
  const report: SweepReport = {
    machine: { cpu: 'test', cores: 2, tier: 'avx2', node: 'v0', date: '2026-01-01T00:00:00Z' }, threads: 2, peak: 100,
    options: { tokensPerStep: 4096, vocab: 8192, position: 'rope', activation: 'swiglu', optimizer: 'adamw', steps: 3 },
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
