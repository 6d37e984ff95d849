// Injected into every module of the browser build: a free `Buffer` means this one.
export { Buffer } from './buffer.js';
