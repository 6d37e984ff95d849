// A 50 MB Uint8Array as argument and as result, between processes: the bytes arrive intact (SHA-256
// on both ends), with the transfer rate and the peak RSS (VmHWM) of client and daemon reported and
// bounded, so a copy too many per message shows up here.
import { createHash } from 'node:crypto';
import { connect, type Remote } from '@cinder/cinder';
import { stopAllChildren } from '@cinder/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { peakRss, type Workbench } from './fixtures/objects.js';
import { type RunningServer, startServer } from './helpers.js';

const MB = 1024 * 1024;
const SIZE = 50 * MB;

let server: RunningServer;
let bench: Remote<Workbench>;

beforeAll(async () => {
  server = await startServer(['tcp', '127.0.0.1']);
  bench = connect<Workbench>(server.uri.replace('test.calc', 'test.bench'));
  await bench.$bind();
}, 30_000);

afterAll(async () => {
  await bench?.$release();
  await stopAllChildren();
});

const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');
const rate = (bytes: number, ms: number) => `${(bytes / MB / (ms / 1000)).toFixed(0)} MB/s`;

describe('a 50 MB Uint8Array', () => {
  it('crosses as an argument, as a result, and both ways in one call', async () => {
    const data = new Uint8Array(SIZE);
    for (let i = 0; i < SIZE; i += 4096) data[i] = (i >>> 12) & 0xff;
    data[SIZE - 1] = 0xab;
    const digest = sha256(data);

    let t0 = performance.now();
    expect(await bench.sha256(data)).toBe(digest);
    const upMs = performance.now() - t0;

    t0 = performance.now();
    const made = await bench.makeBytes(SIZE, 7);
    const downMs = performance.now() - t0;
    expect(made).toBeInstanceOf(Uint8Array);
    expect(made.length).toBe(SIZE);
    expect(made[SIZE - 1]).toBe(((SIZE - 1) * 31 + 7) & 0xff);
    expect(made[12345]).toBe((12345 * 31 + 7) & 0xff);

    t0 = performance.now();
    const back = await bench.echoBytes(data);
    const roundMs = performance.now() - t0;
    expect(back.length).toBe(SIZE);
    expect(sha256(back)).toBe(digest);

    const serverPeak = await bench.peakRss();
    const clientPeak = peakRss();
    console.log(
      `50 MB: client→server ${upMs.toFixed(0)} ms (${rate(SIZE, upMs)}), server→client ${downMs.toFixed(0)} ms (${rate(SIZE, downMs)}), echo ${roundMs.toFixed(0)} ms (${rate(2 * SIZE, roundMs)}); peak RSS client ${(clientPeak / MB).toFixed(0)} MB, daemon ${(serverPeak / MB).toFixed(0)} MB`,
    );
    expect(serverPeak).toBeGreaterThan(SIZE);
    expect(serverPeak).toBeLessThan(400 * MB);
    // the client is the vitest worker (its own baseline included)
    expect(clientPeak).toBeLessThan(600 * MB);
  }, 60_000);
});
