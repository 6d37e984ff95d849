// Public surface of @cinder/daemon.
export {};
