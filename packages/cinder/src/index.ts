// Public surface of @cinder/cinder.
export {};
