// Public surface of @cinder/echoserver: the echo server object and its command line, for use in
// other programs' tests (the executable is cinder-echoserver, src/main.ts).

export {
  type EchoIo,
  type EchoPlan,
  ExitCode,
  OBJECT_NAME,
  parseEchoArgs,
  runEchoServer,
  USAGE,
  UsageError,
} from './cli.js';
export { EchoServer, type EchoServerOptions } from './echo-server.js';
