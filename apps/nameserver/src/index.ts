// Public surface of @cinder/nameserver: the two command-line tools as functions, for embedding and
// testing. The executables are dist/ns.js (cinder-ns) and dist/nsc.js (cinder-nsc).
export { ExitCode } from '@cinder/cinder/cli';
export type { CliIo } from './cli.js';
export { announce, NS_USAGE, type NsPlan, parseNsArgs } from './ns-cli.js';
export { NSC_USAGE, runNsc } from './nsc-cli.js';
