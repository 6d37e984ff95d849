// Public surface of @cinder/protocol.
export * from './message.js';
