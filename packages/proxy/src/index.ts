// Public surface of @cinder/proxy.
export {};
