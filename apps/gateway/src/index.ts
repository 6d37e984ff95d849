// @cinder/gateway: Pyro's HTTP gateway as a library (startGateway) and its command line.
export { Gateway, type GatewayOptions, type RunningGateway, startGateway } from './gateway.js';
export { type GatewayPlan, parseGatewayArgs, USAGE } from './gateway-cli.js';
export { pyJsonDumps } from './py-json.js';
