// Public surface of @cinder/protocol.
export {};
