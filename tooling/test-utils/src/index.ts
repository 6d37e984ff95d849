// Shared test helpers (see the individual modules).

export * from './call-counts.js';
export * from './certs.js';
export * from './child.js';
export * from './etcd.js';
export * from './markdown.js';
export * from './paths.js';
export * from './ports.js';
export * from './pyrender.js';
export * from './raw-client.js';
export * from './scratch.js';
export * from './vectors.js';
