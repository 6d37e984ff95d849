// Public surface of @cinder/nameserver.
export {};
