/**
 * The server side of Cinder: the `Daemon`, the exposure functions and decorators (`expose`,
 * `oneway`, `behavior`, `params`), and `currentContext()` inside a served call.
 *
 * @module @cinder/daemon
 */
// Public surface of @cinder/daemon: the server, plus the exposure decorators and call context it
// serves with (re-exported from the engine, @cinder/rpc, so server code needs only this package).
export {
  type BehaviorOptions,
  behavior,
  behaviorOf,
  type CallContext,
  currentContext,
  currentCorrelationId,
  type ExposedAttribute,
  type ExposedMethod,
  type ExposeOptions,
  type Exposure,
  expose,
  exposeAll,
  exposureOf,
  type InstanceMode,
  isExposed,
  oneway,
  params,
  type Resource,
  setParams,
} from '@cinder/rpc';
export {
  Daemon,
  type DaemonListener,
  type DaemonListenOptions,
  type DaemonOptions,
  type HandshakeContext,
  type RegisterOptions,
} from './daemon.js';
export { DaemonObject } from './daemon-object.js';
export { isStreamable, StreamRegistry } from './stream-registry.js';
