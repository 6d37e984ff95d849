#!/usr/bin/env node
// The cinder-ns executable: a name server in its own process, logging with pino to stderr,
// printing its URI on stdout, and shutting down cleanly on SIGINT/SIGTERM.
import { dropPrivilegesOnceBound, ExitCode, oneLine, planOrExit, stopSignal } from '@cinder/cinder/cli';
import { startNameServer } from '@cinder/naming';
import { pino } from 'pino';
import { announce, NS_USAGE, parseNsArgs } from './ns-cli.js';

const io = {
  stdout: (text: string) => process.stdout.write(text),
  stderr: (text: string) => process.stderr.write(text),
  env: process.env,
};

async function main(): Promise<number> {
  const plan = planOrExit('cinder-ns', NS_USAGE, io, () => parseNsArgs(process.argv.slice(2), process.env));
  if (typeof plan === 'number') return plan;
  const logger = pino({ name: 'cinder-ns', level: plan.logLevel }, pino.destination({ fd: 2, sync: true }));
  let ns: Awaited<ReturnType<typeof startNameServer>>;
  try {
    ns = await startNameServer({ ...plan.options, logger });
  } catch (err) {
    logger.debug({ err }, 'start failed');
    io.stderr(`cinder-ns: error: ${oneLine(err)}\n`);
    return ExitCode.FAILURE;
  }
  if (plan.privileges) {
    // Bound, keys and storage opened: nothing else needs root. Synchronous, so nothing is served before.
    try {
      const state = dropPrivilegesOnceBound(plan.privileges, plan.options.unixSocket);
      logger.info({ uid: state.uid, gid: state.gid }, 'dropped privileges');
    } catch (err) {
      io.stderr(`cinder-ns: error: ${oneLine(err)}\n`);
      await ns.close().catch(() => {});
      return ExitCode.FAILURE;
    }
  }
  announce(ns, io);
  // A second signal while closing means "now" (stopSignal exits then).
  const signal = await stopSignal();
  logger.info({ signal }, 'shutting down');
  try {
    await ns.close();
  } catch (err) {
    io.stderr(`cinder-ns: error while shutting down: ${oneLine(err)}\n`);
    return ExitCode.FAILURE;
  }
  return ExitCode.OK;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    io.stderr(`cinder-ns: unexpected error: ${oneLine(err)}\n`);
    process.exitCode = ExitCode.FAILURE;
  },
);
