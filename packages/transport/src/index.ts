// Public surface of @cinder/transport.
export {};
