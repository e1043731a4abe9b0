/**
 * The devices a suite runs on: always 'cpu', plus 'cuda' when a CUDA device is usable. Suites wrap their
 * describes in describeDevices(); on a machine without a GPU the CUDA copy is one skipped test named
 * "skipped: no CUDA device", and the CPU runs are exactly what they were.
 */
import { afterAll, beforeAll, describe, it } from 'vitest';

import { cudaAvailable, setDefaultDevice, type Device } from '../lib/index.js';

const info = cudaAvailable();
export const hasCuda = info.available;
export const devices: Device[] = hasCuda ? ['cpu', 'cuda'] : ['cpu'];

let told = false;

/**
 * describe(`${name} [device]`) once per device, with that device as the default for tensor creation
 * and modules (setDefaultDevice) while its tests run, and passed to fn for explicit uses.
 */
export function describeDevices(name: string, fn: (device: Device) => void): void {
  for (const device of devices) {
    describe(device === 'cpu' ? name : `${name} [${device}]`, () => {
      beforeAll(() => setDefaultDevice(device));
      afterAll(() => setDefaultDevice('cpu'));
      fn(device);
    });
  }
  if (!hasCuda) {
    if (!told) {
      console.log(`skipped: no CUDA device (${info.reason})`);
      told = true;
    }
    describe(`${name} [cuda]`, () => {
      it.skip('skipped: no CUDA device', () => {});
    });
  }
}
