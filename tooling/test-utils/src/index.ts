// Shared test helpers (see the individual modules).
export * from './child.js';
export * from './paths.js';
export * from './vectors.js';
