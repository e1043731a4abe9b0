import { describe, expect, it } from 'vitest';

import { main as autogradExample } from '../examples/autograd.js';
import { main as gptExample } from '../examples/gpt.js';
import { main as tensorsExample } from '../examples/tensors.js';

describe('README examples run', () => {
  it('tensors', () => {
    expect(Number.isFinite(tensorsExample())).toBe(true);
  });
  it('gpt: AdamW lowers the loss and generate extends the prompt', () => {
    const r = gptExample();
    expect(r.last).toBeLessThan(r.first);
    expect(r.generated.length).toBe(8 + 16);
  });
  it('autograd: the loss falls and gradcheck passes', () => {
    const r = autogradExample();
    expect(r.last).toBeLessThan(r.first * 0.7);
    expect(r.gradcheckOk).toBe(true);
  });
});
