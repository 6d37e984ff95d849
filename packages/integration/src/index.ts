// Public surface of @cinder/integration.
export {};
