// Find an object by name through a name server (PYRONAME:). Run: node examples/name-server.mjs
import { connect, expose, serve, startNameServer } from '@cinder/cinder';

class Weather {
  today() {
    return 'sunny';
  }
}
expose(Weather);

const ns = await startNameServer({ host: '127.0.0.1', port: 0, noBroadcast: true });
const config = { nsHost: '127.0.0.1', nsPort: Number(ns.uri.port) };
const { daemon } = await serve(
  { 'example.weather': Weather },
  { host: '127.0.0.1', port: 0, useNameServer: true, config },
);
const weather = connect('PYRONAME:example.weather', { config, timeoutMs: 5000 });
try {
  console.log(await weather.today()); // → sunny
} finally {
  await weather.$release();
  await daemon.close();
  await ns.close();
}
