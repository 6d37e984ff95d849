// Public surface of @cinder/core.

export * from './config.js';
export * from './deadline.js';
export * from './errors.js';
export * from './linked-list.js';
export * from './logger.js';
export * from './tick-list.js';
export * from './types.js';
export * from './uri.js';
