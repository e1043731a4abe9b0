/**
 * The devices a suite runs on: always 'cpu', plus 'cuda' when a CUDA device is usable. Suites wrap their
 * describes in describeDevices() (or describeCuda() for CUDA-only suites); on a machine without a GPU the
 * CUDA copy is one skipped test named "skipped: no CUDA device", and the CPU runs are exactly what they were.
 *
 * LMF_REQUIRE_CUDA=1 (set by the GPU check, scripts/device_check_node.sh) turns that skipped test into a
 * failing one that names the reason, so a GPU run whose driver or runtime is broken cannot pass without
 * running a kernel.
 */
import { afterAll, beforeAll, describe, it } from 'vitest';

import { cudaAvailable, DeviceError, setDefaultDevice, type Device } from '../lib/index.js';

const info = cudaAvailable();
export const hasCuda = info.available;
export const cudaRequired = process.env.LMF_REQUIRE_CUDA === '1';
export const devices: Device[] = hasCuda ? ['cpu', 'cuda'] : ['cpu'];

let told = false;

/** The stand-in for a CUDA suite on a machine without CUDA: skipped, or failing under LMF_REQUIRE_CUDA=1. */
function noCuda(name: string): void {
  if (!told) {
    console.log(`skipped: no CUDA device (${info.reason})`);
    told = true;
  }
  describe(`${name} [cuda]`, () => {
    if (cudaRequired)
      it('CUDA is required (LMF_REQUIRE_CUDA=1) but not available', () => {
        throw new DeviceError('tests', `LMF_REQUIRE_CUDA=1 but CUDA is not available: ${info.reason}`);
      });
    else it.skip('skipped: no CUDA device', () => {});
  });
}

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
  if (!hasCuda) noCuda(name);
}

/** describe(name, fn) for a suite that only means something on CUDA; without CUDA as describeDevices' stand-in. */
export function describeCuda(name: string, fn: () => void): void {
  if (hasCuda) describe(name, fn);
  else noCuda(name);
}
