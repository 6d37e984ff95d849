#!/usr/bin/env node
// The cinder-gateway executable: Pyro's HTTP gateway in its own process, logging with pino to
// stderr, printing its URL on stdout, and shutting down cleanly on SIGINT/SIGTERM.
import { ExitCode, oneLine, planOrExit, stopSignal } from '@cinder/cinder/cli';
import { pino } from 'pino';
import { type RunningGateway, startGateway } from './gateway.js';
import { parseGatewayArgs, USAGE } from './gateway-cli.js';

const io = {
  stdout: (text: string) => process.stdout.write(text),
  stderr: (text: string) => process.stderr.write(text),
};

async function main(): Promise<number> {
  const plan = planOrExit('cinder-gateway', USAGE, io, () =>
    parseGatewayArgs(process.argv.slice(2), process.env),
  );
  if (typeof plan === 'number') return plan;
  const logger = pino(
    { name: 'cinder-gateway', level: plan.logLevel },
    pino.destination({ fd: 2, sync: true }),
  );
  let gateway: RunningGateway;
  try {
    gateway = await startGateway({ ...plan.options, logger });
  } catch (err) {
    logger.debug({ err }, 'start failed');
    io.stderr(`cinder-gateway: error: ${oneLine(err)}\n`);
    return ExitCode.FAILURE;
  }
  if (plan.options.config.gatewayExpose === null) {
    logger.warn('no exposure pattern (-e REGEX or CINDER_GATEWAY_EXPOSE): every name is refused');
  }
  io.stdout(`URL = ${gateway.url}\n`);
  const signal = await stopSignal();
  logger.info({ signal }, 'shutting down');
  await gateway.close();
  return ExitCode.OK;
}

main().then(
  (code) => {
    process.exitCode = code;
    setImmediate(() => process.exit(code));
  },
  (err: unknown) => {
    io.stderr(`cinder-gateway: unexpected error: ${oneLine(err)}\n`);
    process.exit(ExitCode.FAILURE);
  },
);
