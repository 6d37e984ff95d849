// How often functions ran, by name, from V8's precise coverage: what a test counts when the work a
// change removes (a decode, a timer armed again) leaves no other trace.

/**
 * Runs `body` with V8's precise coverage on: `take(name)` gives how often functions named `name`
 * ran since coverage started or since the last take (every take resets the counts).
 */
export async function withCallCounts(
  body: (take: (name: string) => Promise<number>) => Promise<void>,
): Promise<void> {
  const { Session } = await import('node:inspector');
  const inspector = new Session();
  inspector.connect();
  const post = <T>(method: string, params: object = {}) =>
    new Promise<T>((resolve, reject) =>
      inspector.post(method, params, (err, result) => (err ? reject(err) : resolve(result as T))),
    );
  type Coverage = {
    result: Array<{ functions: Array<{ functionName: string; ranges: Array<{ count: number }> }> }>;
  };
  try {
    await post('Profiler.enable');
    await post('Profiler.startPreciseCoverage', { callCount: true, detailed: false });
    await body(async (name) => {
      let calls = 0;
      for (const script of (await post<Coverage>('Profiler.takePreciseCoverage')).result)
        for (const f of script.functions) if (f.functionName === name) calls += f.ranges[0]!.count;
      return calls;
    });
  } finally {
    await post('Profiler.stopPreciseCoverage').catch(() => {});
    inspector.disconnect();
  }
}
