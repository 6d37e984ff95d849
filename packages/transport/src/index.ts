// Public surface of @cinder/transport.
export * from './transport.js';
