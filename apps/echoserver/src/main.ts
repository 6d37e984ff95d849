#!/usr/bin/env node
// The cinder-echoserver executable: parses the command line, logs with pino to stderr, runs the
// echo server until SIGINT/SIGTERM (or a client's shutdown()), and exits with a meaningful code.
import { planOrExit, stopSignal } from '@cinder/cinder/cli';
import { pino } from 'pino';
import { ExitCode, parseEchoArgs, runEchoServer, USAGE } from './cli.js';

async function main(): Promise<number> {
  const out = {
    stdout: (text: string) => process.stdout.write(text),
    stderr: (text: string) => process.stderr.write(text),
  };
  const plan = planOrExit('cinder-echoserver', USAGE, out, () =>
    parseEchoArgs(process.argv.slice(2), process.env),
  );
  if (typeof plan === 'number') return plan;
  const logger = pino(
    { name: 'cinder-echoserver', level: plan.logLevel },
    pino.destination({ fd: 2, sync: true }),
  );
  return runEchoServer(plan, {
    ...out,
    // A second signal while closing means "now" (stopSignal exits then).
    stopRequested: stopSignal(),
    logger,
  });
}

main().then(
  (code) => {
    process.exitCode = code;
    // Nothing may keep the process alive once the server is closed (stopSignal's handlers
    // are the only listeners left); exit explicitly all the same.
    setImmediate(() => process.exit(code));
  },
  (err: unknown) => {
    process.stderr.write(
      `cinder-echoserver: unexpected error: ${err instanceof Error ? err.message : String(err)}\n`,
    );
    process.exit(ExitCode.FAILURE);
  },
);
