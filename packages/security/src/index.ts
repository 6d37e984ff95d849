// Public surface of @cinder/security.
export {};
