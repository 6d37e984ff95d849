// The default limits fit together: a batch of exactly maxBatchSize one-argument echo calls fits the
// default decode budget (maxDecodeItems) in all five serializers and runs in full, one more call is
// refused by the batch limit (not the decode budget), and a single value just over the budget is
// refused by the decode budget. Both limits are the defaults, read from the configuration, so the
// test follows them if they change (docs/security.md, "Event-loop time per frame").
import { connect, Daemon, defaultConfig, expose, type SerializerName } from '@cinder/cinder';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

@expose
class Echo {
  calls = 0;
  echo<T>(value: T): T {
    this.calls++;
    return value;
  }
  add(a: number, b: number): number {
    this.calls++;
    return a + b;
  }
}

const { maxBatchSize, maxDecodeItems } = defaultConfig();
const SERIALIZERS: SerializerName[] = ['cbor', 'json', 'msgpack', 'serpent', 'marshal'];

let daemon: Daemon;
const echo = new Echo();
let uri: string;

beforeAll(async () => {
  daemon = await Daemon.start({ useEnvironment: false });
  uri = daemon.register(echo, 'budget.echo').toString();
});

afterAll(async () => {
  await daemon?.close();
});

describe.each(SERIALIZERS)('%s, default limits', (serializer) => {
  it(`a batch of exactly maxBatchSize (${maxBatchSize}) echo calls passes the decode budget and runs in full; one more is refused by the batch limit`, async () => {
    await using p = connect<Echo>(uri, { serializer, useEnvironment: false });
    const before = echo.calls;
    const batch = p.$batch();
    for (let i = 0; i < maxBatchSize; i++) batch.echo(`v${i}`);
    const results = await batch.$run();
    expect(results.length).toBe(maxBatchSize);
    for (let i = 0; i < maxBatchSize; i++) if (results[i] !== `v${i}`) expect(results[i]).toBe(`v${i}`);
    expect(echo.calls - before).toBe(maxBatchSize);

    const over = p.$batch();
    for (let i = 0; i < maxBatchSize + 1; i++) over.echo(i);
    const calls = echo.calls;
    await expect(over.$run()).rejects.toThrow(
      new RegExp(`batch too large: ${maxBatchSize + 1} calls \\(max ${maxBatchSize}\\)`),
    );
    expect(echo.calls).toBe(calls);
  }, 60_000);

  it('a batch of maxBatchSize two-argument calls (6 values each, as in the bench batched scenario) fits too', async () => {
    await using p = connect<Echo>(uri, { serializer, useEnvironment: false });
    const batch = p.$batch();
    for (let i = 0; i < maxBatchSize; i++) batch.add(i, 1);
    const results = await batch.$run();
    expect(results.length).toBe(maxBatchSize);
    for (let i = 0; i < maxBatchSize; i++) if (results[i] !== i + 1) expect(results[i]).toBe(i + 1);
  }, 60_000);

  it(`one value of 80 % of maxDecodeItems (${maxDecodeItems}) is echoed; one of maxDecodeItems is refused by the decode budget`, async () => {
    await using p = connect<Echo>(uri, { serializer, useEnvironment: false });
    const fits = Array.from({ length: Math.floor(maxDecodeItems * 0.8) }, (_, i) => i);
    expect(await p.echo(fits)).toEqual(fits);
    const calls = echo.calls;
    const over = Array.from({ length: maxDecodeItems }, (_, i) => i);
    await expect(p.echo(over)).rejects.toThrow(new RegExp(`more than maxItems=${maxDecodeItems} values`));
    expect(echo.calls).toBe(calls);
  }, 60_000);
});
