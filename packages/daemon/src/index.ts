// Public surface of @cinder/daemon: the server, plus the exposure decorators and call context it
// serves with (re-exported from @cinder/proxy so server code needs only this package).
export {
  behavior,
  type CallContext,
  currentContext,
  expose,
  exposeAll,
  type InstanceMode,
  oneway,
  params,
  setParams,
} from '@cinder/proxy';
export { Daemon, type DaemonOptions, type HandshakeContext, type RegisterOptions } from './daemon.js';
export { DaemonObject } from './daemon-object.js';
export { isStreamable, StreamRegistry } from './streams.js';
